"""The public JSON API under ``/api/v1``: lists and their entries, the rulebook, and
statistics; and the ETag helper the subject endpoints answer with."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from trustreg.services import lists, rulebook_views, statistics
from trustreg.store.lists import EntryFilter
from trustreg.web.deps import Day, Sessions
from trustreg.web.openapi import CSV, problems

router = APIRouter(prefix="/api/v1", tags=["public"])
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def canonical_json(body: Any) -> bytes:
    """The one spelling of a JSON body: sorted keys, no spaces, UTF-8."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def etag_response(request: Request, body: Any) -> Response:
    """``body`` as JSON with a strong ETag of its canonical form; 304 when the client's
    ``If-None-Match`` names it already."""
    content = canonical_json(body)
    tag = '"' + hashlib.sha256(content).hexdigest() + '"'
    headers = {"ETag": tag, "Cache-Control": "no-cache"}
    wanted = request.headers.get("if-none-match", "")
    # If-None-Match compares weakly (RFC 9110 13.1.2): a W/ prefix does not matter.
    offered = {t.strip().removeprefix("W/") for t in wanted.split(",")}
    if tag in offered or "*" in offered:
        return Response(status_code=304, headers=headers)
    return Response(content, media_type="application/json", headers=headers)


@router.get("/lists")
def get_lists(factory: Sessions) -> dict[str, Any]:
    """Each published list of the rulebook in force: code, titles, kind, legal basis,
    its consequences and the number of its open entries."""
    return {"lists": lists.published_lists(factory)}


def _filter(
    code: str,
    region: str | None,
    record_type: str | None,
    entered_from: date | None,
    entered_to: date | None,
) -> EntryFilter:
    return EntryFilter(code, region, record_type, entered_from, entered_to)


Region = Annotated[str | None, Query(description="Only subjects of this region")]
RecordTypeParam = Annotated[
    str | None, Query(description="Only subjects holding a record of this type")
]
EnteredFrom = Annotated[Day | None, Query(description="Entered on or after this day")]
EnteredTo = Annotated[Day | None, Query(description="Entered on or before this day")]


@router.get("/lists/{code}/entries", response_model=None, responses=problems(404))
def get_entries(
    request: Request,
    code: str,
    factory: Sessions,
    region: Region = None,
    record_type: RecordTypeParam = None,
    entered_from: EnteredFrom = None,
    entered_to: EnteredTo = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Entries per page")] = (
        DEFAULT_LIMIT
    ),
    cursor: Annotated[
        str | None, Query(description="The opaque cursor of the previous page's `next` link")
    ] = None,
) -> JSONResponse:
    """Open entries of a list, oldest listing first, a page at a time.

    Pages are cut by key (entry day, entry id), so a walk with the `next` links sees
    every entry once even while entries are added. Person identifiers are masked.
    """
    where = _filter(code, region, record_type, entered_from, entered_to)
    page = lists.entries_page(factory, where, cursor, limit)
    following = (
        str(request.url.include_query_params(cursor=page.next_cursor)) if page.next_cursor else None
    )
    headers = {"Link": f'<{following}>; rel="next"'} if following else None
    body = {"list": code, "entries": page.entries, "next": following}
    return JSONResponse(body, headers=headers)


@router.get(
    "/lists/{code}/entries.csv",
    response_class=StreamingResponse,
    responses=CSV | problems(404),
)
def get_entries_csv(
    code: str,
    factory: Sessions,
    region: Region = None,
    record_type: RecordTypeParam = None,
    entered_from: EnteredFrom = None,
    entered_to: EnteredTo = None,
) -> StreamingResponse:
    """The whole filtered list as CSV (UTF-8), streamed; record ids space-separated."""
    where = _filter(code, region, record_type, entered_from, entered_to)
    chunks = lists.entries_csv(factory, where)
    return StreamingResponse(
        chunks,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{code}.csv"'},
    )


@router.get("/rulebook")
def get_rulebook(factory: Sessions) -> dict[str, Any]:
    """The rulebook in force: version, lists with consequences, record types with legal
    basis, points and periods, and the grade bands."""
    return rulebook_views.in_force(factory)


@router.get("/rulebook/versions")
def get_rulebook_versions(factory: Sessions) -> dict[str, Any]:
    """Every rulebook version loaded, oldest first, marking the one in force."""
    return {"versions": rulebook_views.versions(factory)}


@router.get("/rulebook/diff", responses=problems(404))
def get_rulebook_diff(
    factory: Sessions,
    old: Annotated[str, Query(alias="from", description="The older version")],
    new: Annotated[str, Query(alias="to", description="The newer version")],
) -> dict[str, Any]:
    """The record types (rules) and consequences added, removed and changed from one
    version to another."""
    return rulebook_views.diff(factory, old, new)


@router.get("/statistics")
def get_statistics(factory: Sessions) -> dict[str, Any]:
    """Subjects by kind, records by type and status, open entries by list, the grade
    distribution, and listings and exits per month over the last 24 months."""
    return statistics.statistics(factory)
