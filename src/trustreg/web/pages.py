"""HTML pages (the full portal is its own issue; these show the registry works)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from trustreg.config import Settings
from trustreg.core.identifiers import parse_masked
from trustreg.core.validation import SCHEME_KINDS
from trustreg.core.vocabulary import PERSON_KINDS, PURPOSES
from trustreg.errors import Forbidden, NotFound, Unauthorized, ValidationError
from trustreg.services import (
    access,
    lists,
    registry,
    rulebook_views,
    screening,
    subjects,
)
from trustreg.services.screening import RegistryIndex
from trustreg.services.stats import recent_list_changes, registry_counts
from trustreg.web import purpose_pages
from trustreg.web.account_pages import form_of
from trustreg.web.auth import CurrentActor, now_of
from trustreg.web.deps import Id, Sessions, render

# Re-exported: the certificate routes take it from here.
from trustreg.web.purpose_pages import with_list_titles as with_list_titles

router = APIRouter(include_in_schema=False)
# A USCC typed without its scheme: eighteen letters and digits.
USCC_LIKE = re.compile(r"[0-9A-HJ-NP-RT-UW-Y]{2}[0-9]{6}[0-9A-HJ-NP-RT-UW-Y]{10}", re.IGNORECASE)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, factory: Sessions) -> Response:
    return _home(request, factory, "", "", 200)


@router.get("/search")
def search(
    request: Request,
    factory: Sessions,
    actor: CurrentActor,
    q: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """An identifier opens its subject; a person's number masked as the lists publish
    it finds those list entries; anything else is a name, answered with the candidates
    of a counterparty check (organisations: persons need a purpose, declared by a
    verified checker in a form that posts back here, and are logged).

    A person's full number is not even looked up here: it asks for the purpose first
    (see :func:`search_with_purpose`), so nobody learns without leave whether the
    registry holds anything on that person."""
    text = " ".join(q.split())
    masked = parse_masked(text)
    if masked is not None:
        entries = lists.published_persons(factory, masked)
        return render(request, "published_persons.html", {"query": text, "entries": entries})
    if ":" in text or USCC_LIKE.fullmatch(text):
        identifier = text if ":" in text else f"uscc:{text}"
        if _person_number(identifier):
            return purpose_pages.gate_page(request, factory, actor, action="/search", query=text)
        try:
            settings: Settings = request.app.state.settings
            view = subjects.find_by_identifier(
                factory, identifier, masked=True, identifier_key=settings.identifier_key
            )
        except (NotFound, ValidationError) as exc:
            status = 404 if isinstance(exc, NotFound) else 422
            return _home(request, factory, text, exc.detail, status)
        return RedirectResponse(f"/subjects/{view['id']}", status_code=303)
    registry: RegistryIndex = request.app.state.screening
    try:
        answer = screening.check(registry, screening.CheckQuery(text), top=10)
    except ValidationError as exc:
        return _home(request, factory, text, exc.reason, 422)
    context = {"query": text, "candidates": answer["candidates"], "purpose": None}
    return render(request, "results.html", context | {"purposes": PURPOSES})


def _person_number(identifier: str) -> bool:
    scheme = identifier.partition(":")[0].strip().lower()
    return set(SCHEME_KINDS.get(scheme, ("",))) <= set(PERSON_KINDS)


@router.post("/search")
async def search_with_purpose(request: Request, factory: Sessions, actor: CurrentActor) -> Response:
    """A verified checker's search with a declared purpose (a CSRF-checked form: the
    look-up is logged in the checker's name): a person's number opens that person's
    profile, a name lists persons among the candidates."""
    fields = await form_of(request)
    text = " ".join(fields.get("q", "").split())[:200]
    purpose = fields.get("purpose", "")
    now = now_of(request)
    try:
        if ":" in text or USCC_LIKE.fullmatch(text):
            identifier = text if ":" in text else f"uscc:{text}"
            settings: Settings = request.app.state.settings
            view = access.subject_by_identifier_for(
                factory, actor, identifier, purpose, "page", now, settings.identifier_key
            )
            return purpose_pages.profile(request, view)
        registry: RegistryIndex = request.app.state.screening
        query = screening.CheckQuery(text)
        answer = screening.check(registry, query, 10, purpose, actor=actor, channel="page")
    except (Unauthorized, Forbidden) as exc:
        return purpose_pages.gate_page(
            request, factory, actor, action="/search", query=text, refused=exc
        )
    except ValidationError as exc:
        if exc.field == "purpose":
            return purpose_pages.gate_page(
                request, factory, actor, action="/search", query=text, error=exc
            )
        return _home(request, factory, text, exc.reason, 422)
    except NotFound as exc:
        return _home(request, factory, text, exc.detail, 404)
    context = {"query": text, "candidates": answer["candidates"], "purpose": purpose}
    return render(request, "results.html", context | {"purposes": PURPOSES})


def _home(request: Request, factory: Sessions, query: str, message: str, status: int) -> Response:
    counts = registry_counts(factory)
    changes = recent_list_changes(factory)
    context = {"counts": counts, "changes": changes, "query": query, "message": message}
    return render(request, "home.html", context, status_code=status)


@router.get("/subjects/{subject_id}", response_class=HTMLResponse)
def subject_page(
    request: Request, subject_id: Id, factory: Sessions, actor: CurrentActor
) -> Response:
    """A subject's profile. A person's goes through the gate (``web.purpose_pages``):
    who may look and why, the purpose form for a verified checker, and what the
    rulebook publishes of the person for everyone else."""
    view = subjects.find_by_id(factory, subject_id, masked=True)
    if access.is_person(view["kind"]):
        return purpose_pages.person_profile(request, factory, actor, view, None)
    return purpose_pages.profile(request, view)


@router.post("/subjects/{subject_id}", response_class=HTMLResponse)
async def subject_lookup(
    request: Request, subject_id: Id, factory: Sessions, actor: CurrentActor
) -> Response:
    """A person's profile for the purpose declared in the form (CSRF-checked)."""
    fields = await form_of(request)
    view = subjects.find_by_id(factory, subject_id, masked=True)
    if not access.is_person(view["kind"]):
        return RedirectResponse(f"/subjects/{subject_id}", status_code=303)
    purpose = fields.get("purpose", "")
    return purpose_pages.person_profile(request, factory, actor, view, purpose)


@router.get("/rulebook", response_class=HTMLResponse)
def rulebook_page(request: Request, factory: Sessions) -> Response:
    """The rulebook in force today, in plain words, and the history of its versions with
    what each changed."""
    context = {
        "rb": registry.rulebook_in_force(factory),
        "history": rulebook_views.history(factory),
    }
    return render(request, "rulebook.html", context)
