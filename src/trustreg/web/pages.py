"""HTML pages (the full portal is its own issue; these show the registry works)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from trustreg.core.identifiers import parse_masked
from trustreg.errors import NotFound, ValidationError
from trustreg.services import (
    certificates,
    lists,
    registry,
    rulebook_views,
    screening,
    subjects,
)
from trustreg.services.screening import RegistryIndex
from trustreg.services.stats import recent_list_changes, registry_counts
from trustreg.web.deps import Sessions, render

router = APIRouter(include_in_schema=False)
# A USCC typed without its scheme: eighteen letters and digits.
USCC_LIKE = re.compile(r"[0-9A-HJ-NP-RT-UW-Y]{2}[0-9]{6}[0-9A-HJ-NP-RT-UW-Y]{10}", re.IGNORECASE)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, factory: Sessions) -> Response:
    return _home(request, factory, "", "", 200)


@router.get("/search")
def search(
    request: Request, factory: Sessions, q: Annotated[str, Query(max_length=200)] = ""
) -> Response:
    """An identifier opens its subject; a person's number masked as the lists publish
    it finds those list entries; anything else is a name, answered with the candidates
    of a counterparty check (organisations: persons need a purpose)."""
    text = " ".join(q.split())
    masked = parse_masked(text)
    if masked is not None:
        entries = lists.published_persons(factory, masked)
        return render(request, "published_persons.html", {"query": text, "entries": entries})
    if ":" in text or USCC_LIKE.fullmatch(text):
        identifier = text if ":" in text else f"uscc:{text}"
        try:
            view = subjects.find_by_identifier(factory, identifier, masked=True)
        except (NotFound, ValidationError) as exc:
            status = 404 if isinstance(exc, NotFound) else 422
            return _home(request, factory, text, exc.detail, status)
        return RedirectResponse(f"/subjects/{view['id']}", status_code=303)
    registry: RegistryIndex = request.app.state.screening
    try:
        answer = screening.check(registry, screening.CheckQuery(text), top=10)
    except ValidationError as exc:
        return _home(request, factory, text, exc.reason, 422)
    return render(request, "results.html", {"query": text, "candidates": answer["candidates"]})


def _home(request: Request, factory: Sessions, query: str, message: str, status: int) -> Response:
    counts = registry_counts(factory)
    changes = recent_list_changes(factory)
    context = {"counts": counts, "changes": changes, "query": query, "message": message}
    return render(request, "home.html", context, status_code=status)


@router.get("/subjects/{subject_id}", response_class=HTMLResponse)
def subject_page(request: Request, subject_id: int, factory: Sessions) -> Response:
    view = subjects.find_by_id(factory, subject_id, masked=True)
    context = {
        "s": view,
        "consequences": with_list_titles(view),
        "certifiable": view["kind"] in certificates.CERTIFICATE_KINDS,
    }
    return render(request, "subject.html", context)


@router.get("/rulebook", response_class=HTMLResponse)
def rulebook_page(request: Request, factory: Sessions) -> Response:
    """The rulebook in force today, in plain words, and the history of its versions with
    what each changed."""
    context = {
        "rb": registry.rulebook_in_force(factory),
        "history": rulebook_views.history(factory),
    }
    return render(request, "rulebook.html", context)


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
