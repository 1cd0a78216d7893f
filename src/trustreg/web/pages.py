"""HTML pages (the full portal is its own issue; these show the registry works)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from trustreg.errors import NotFound, ValidationError
from trustreg.services import subjects
from trustreg.services.stats import registry_counts
from trustreg.web.deps import Sessions, render

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, factory: Sessions) -> Response:
    counts, recent = registry_counts(factory)
    return render(request, "home.html", {"counts": counts, "recent": recent})


@router.get("/search")
def search(
    request: Request, factory: Sessions, q: Annotated[str, Query(max_length=200)] = ""
) -> Response:
    try:
        view = subjects.find_by_identifier(factory, q, masked=True)
    except (NotFound, ValidationError) as exc:
        counts, recent = registry_counts(factory)
        return render(
            request,
            "home.html",
            {"counts": counts, "recent": recent, "query": q, "message": exc.detail},
            status_code=404 if isinstance(exc, NotFound) else 422,
        )
    return RedirectResponse(f"/subjects/{view['id']}", status_code=303)


@router.get("/subjects/{subject_id}", response_class=HTMLResponse)
def subject_page(request: Request, subject_id: int, factory: Sessions) -> Response:
    view = subjects.find_by_id(factory, subject_id, masked=True)
    return render(request, "subject.html", {"s": view})
