"""The pages a look-up of a person goes through (``services.access`` decides).

A person's profile or record first answers with a page saying who may look and why:
anonymous visitors get a sign-in link, accounts without leave the reason, and a
verified checker a form to declare the purpose. The form is a POST with the CSRF
token, because a look-up is logged in the checker's name and another site must not
be able to make one happen. The subject's representatives see their own subject at
once; a reviewer sees a person whose dispute or repair awaits a decision. Whatever
the rulebook publishes about the person (``persons_public`` records and the list
entries they cause) is shown to everyone, masked, as the lists show it.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.orm import Session, sessionmaker

from trustreg.core.vocabulary import PURPOSES
from trustreg.errors import Forbidden, Unauthorized, ValidationError
from trustreg.services import access, certificates
from trustreg.services.accounts import Actor
from trustreg.web.auth import now_of
from trustreg.web.deps import render


def gate_page(
    request: Request,
    factory: sessionmaker[Session],
    actor: Actor,
    *,
    action: str,
    subject_id: int | None = None,
    refused: Unauthorized | Forbidden | None = None,
    error: ValidationError | None = None,
    query: str = "",
) -> Response:
    """Who may look and why; the purpose form for a verified checker (posting to
    ``action``); and what the rulebook publishes of the person anyway."""
    if actor.may_look_up_persons and refused is None:
        mode, reason = "purpose", ""
    elif not actor.signed_in:
        mode, reason = "sign_in", ""
    else:
        mode = "refused"
        reason = refused.detail if refused is not None else access.refusal(actor)
    public = None
    if subject_id is not None:
        public = access.public_person(factory, subject_id, now_of(request).date())
    context: dict[str, Any] = {
        "p": public,
        "mode": mode,
        "reason": reason,
        "error": error,
        "action": action,
        "query": query,
        "purposes": PURPOSES,
        "chosen": "",
        "next_path": request.url.path,
    }
    status = 422 if error is not None else (refused.status if refused is not None else 200)
    return render(request, "purpose.html", context, status_code=status)


def profile(request: Request, view: dict[str, Any]) -> Response:
    """A subject's profile page (a person's only once through the gate)."""
    context = {
        "s": view,
        "consequences": with_list_titles(view),
        "certifiable": view["kind"] in certificates.CERTIFICATE_KINDS,
    }
    return render(request, "subject.html", context)


def person_profile(
    request: Request,
    factory: sessionmaker[Session],
    actor: Actor,
    view: dict[str, Any],
    purpose: str | None,
) -> Response:
    """A person's profile through the gate: ``purpose`` None is a first visit (only
    representatives and reviewers may go straight through), a string is the form's."""
    action = f"/subjects/{view['id']}"
    direct = actor.represents(view["id"]) or actor.role == "reviewer"
    if purpose is None and not direct:
        # An account that may never look here (an operator, an authority, an
        # unverified checker, another subject's representative) is refused at once,
        # as on a record's page; a visitor is asked to sign in, a verified checker
        # for a purpose.
        first = Forbidden(access.refusal(actor)) if _never_looks(actor) else None
        return gate_page(
            request, factory, actor, action=action, subject_id=view["id"], refused=first
        )
    try:
        shown = access.through_gate(factory, actor, view, purpose, "page", now_of(request))
    except ValidationError as exc:
        return gate_page(request, factory, actor, action=action, subject_id=view["id"], error=exc)
    except (Unauthorized, Forbidden) as exc:
        refused = _refused(actor, exc, purpose)
        return gate_page(
            request, factory, actor, action=action, subject_id=view["id"], refused=refused
        )
    return profile(request, shown)


def record_view(
    request: Request,
    factory: sessionmaker[Session],
    actor: Actor,
    record_id: int,
    purpose: str | None,
) -> dict[str, Any] | Response:
    """A record's view for its page, or the gate page when it is a person's record that
    ``actor`` may not see (yet): ``purpose`` None is a first visit, a string the form's."""
    action = f"/records/{record_id}"
    try:
        return access.record_for(factory, actor, record_id, purpose, "page", now_of(request))
    except ValidationError as exc:
        return gate_page(request, factory, actor, action=action, error=exc)
    except (Unauthorized, Forbidden) as exc:
        refused = _refused(actor, exc, purpose)
        return gate_page(request, factory, actor, action=action, refused=refused)


def _never_looks(actor: Actor) -> bool:
    return actor.signed_in and not actor.may_look_up_persons


def _refused(
    actor: Actor, exc: Unauthorized | Forbidden, purpose: str | None
) -> Unauthorized | Forbidden | None:
    """The refusal to show, or None when a first visit is simply asked for a purpose
    (a verified checker) or to sign in (anonymous)."""
    if purpose is None and (actor.may_look_up_persons or not actor.signed_in):
        return None
    return exc


def with_list_titles(view: dict[str, Any]) -> list[dict[str, Any]]:
    """The view's consequences in force, each with the titles of the list causing it."""
    memberships = {m["list"]: m for m in view["assessment"]["lists"]}
    shown = []
    for consequence in view["consequences"]:
        membership = memberships.get(consequence["list"], {})
        shown.append(
            {
                **consequence,
                "list_title_zh": membership.get("title_zh", consequence["list"]),
                "list_title_en": membership.get("title_en", ""),
            }
        )
    return shown
