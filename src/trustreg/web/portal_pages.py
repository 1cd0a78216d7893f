"""Portal pages of the published lists and the registry statistics.

They call the same services as ``/api/v1/lists`` and ``/api/v1/statistics`` and work
without JavaScript: the list filters are a GET form, paging is a "Next page" link
carrying the API's cursor, and the charts are SVG drawn here (``web.charts``).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from trustreg.errors import NotFound, ValidationError
from trustreg.services import lists, registry, statistics
from trustreg.store.lists import EntryFilter
from trustreg.web import charts
from trustreg.web.deps import Sessions, render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
FILTERS = ("region", "record_type", "entered_from", "entered_to")

Text = Annotated[str, Query(max_length=64)]


@router.get("/lists", response_class=HTMLResponse)
def lists_page(request: Request, factory: Sessions) -> Response:
    """Every published list with its legal basis and number of open entries."""
    return render(request, "lists.html", {"lists": lists.published_lists(factory)})


def _day(field: str, text: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ValidationError(field, "not a day (YYYY-MM-DD)") from exc


def _entry_filter(code: str, chosen: dict[str, str]) -> EntryFilter:
    return EntryFilter(
        code,
        chosen["region"] or None,
        chosen["record_type"] or None,
        _day("entered_from", chosen["entered_from"]),
        _day("entered_to", chosen["entered_to"]),
    )


def _next_url(request: Request, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    params = {k: v for k, v in request.query_params.items() if v and k != "cursor"}
    return f"{request.url.path}?{urlencode(params | {'cursor': cursor})}"


@router.get("/lists/{code}", response_class=HTMLResponse)
def list_page(
    request: Request,
    code: str,
    factory: Sessions,
    region: Text = "",
    record_type: Text = "",
    entered_from: Text = "",
    entered_to: Text = "",
    cursor: Annotated[str, Query(max_length=200)] = "",
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = PAGE_SIZE,
) -> Response:
    """The open entries of one list, filtered, a page at a time."""
    published = {item["code"]: item for item in lists.published_lists(factory)}
    if code not in published:
        raise NotFound(f"no published list '{code}'")
    chosen = {
        "region": region.strip(),
        "record_type": record_type,
        "entered_from": entered_from,
        "entered_to": entered_to,
    }
    where = _entry_filter(code, chosen)
    page = lists.entries_page(factory, where, cursor or None, limit)
    filters = {k: v for k, v in chosen.items() if v}
    context = {
        "list": published[code],
        "chosen": chosen,
        "record_types": registry.rulebook_in_force(factory).record_types.values(),
        "entries": page.entries,
        "matching": lists.entry_count(factory, where),
        "next_url": _next_url(request, page.next_cursor),
        "first_url": f"{request.url.path}?{urlencode(filters)}" if cursor else None,
        "csv_url": f"/api/v1/lists/{code}/entries.csv"
        + (f"?{urlencode(filters)}" if filters else ""),
    }
    return render(request, "list.html", context)


@router.get("/statistics", response_class=HTMLResponse)
def statistics_page(request: Request, factory: Sessions) -> Response:
    """Counts of the registry, with listings and exits per month and the grades as
    charts drawn on the server."""
    figures = statistics.statistics(factory)
    rulebook = registry.rulebook_in_force(factory)
    # Grades from the best band down; any grade not in the rulebook comes last.
    order = [band.grade for band in rulebook.rating.bands]
    order += [grade for grade in figures["grades"] if grade not in order]
    context: dict[str, Any] = {
        "stats": figures,
        "by_region": statistics.open_entries_by_region(factory),
        "list_titles": {
            code: (item.title_zh, item.title_en) for code, item in rulebook.lists.items()
        },
        "record_titles": {
            code: (t.title_zh, t.title_en) for code, t in rulebook.record_types.items()
        },
        "grades": [(grade, figures["grades"].get(grade, 0)) for grade in order],
        "bar_chart": charts.bar_chart,
        "Series": charts.Series,
    }
    return render(request, "statistics.html", context)
