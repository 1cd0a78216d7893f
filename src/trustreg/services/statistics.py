"""Public statistics of the registry: counts by kind, type, status, list and grade, and
listings and exits per month."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from trustreg.store import lists as store
from trustreg.store.db import transaction

MONTHS = 24


def month_starts(today: date, months: int = MONTHS) -> list[date]:
    """The first days of the last ``months`` months, oldest first, this month last."""
    starts = []
    year, month = today.year, today.month
    for _ in range(months):
        starts.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return starts[::-1]


def statistics(factory: sessionmaker[Session], today: date | None = None) -> dict[str, Any]:
    """Every figure of ``GET /api/v1/statistics``."""
    today = today or datetime.now(UTC).date()
    starts = month_starts(today)
    with transaction(factory) as session:
        records: dict[str, dict[str, int]] = {}
        for record_type, status, count in store.records_by_type_and_status(session):
            records.setdefault(record_type, {})[status] = count
        figures = {
            "subjects_by_kind": dict(sorted(store.subjects_by_kind(session).items())),
            "records_by_type_and_status": dict(sorted(records.items())),
            "open_entries_by_list": dict(sorted(store.open_counts(session).items())),
            "grades": dict(sorted(store.grade_counts(session).items())),
            "months": _months(session, starts),
        }
    return {"as_of": today.isoformat(), **figures}


def open_entries_by_region(factory: sessionmaker[Session]) -> dict[str, dict[str, int]]:
    """Open entries per list, then per region of the subject ("" when none is known)."""
    found: dict[str, dict[str, int]] = {}
    with transaction(factory) as session:
        for code, region, count in sorted(
            store.open_counts_by_region(session), key=lambda r: (r[0], r[1] or "")
        ):
            regions = found.setdefault(code, {})
            regions[region or ""] = regions.get(region or "", 0) + count
    return found


def _months(session: Session, starts: list[date]) -> list[dict[str, Any]]:
    listed = _per_month(store.entries_by_day(session, starts[0], ended=False))
    exited = _per_month(store.entries_by_day(session, starts[0], ended=True))
    return [
        {
            "month": f"{start:%Y-%m}",
            "listed": listed.get((start.year, start.month), 0),
            "exited": exited.get((start.year, start.month), 0),
        }
        for start in starts
    ]


def _per_month(days: list[tuple[date, int]]) -> Counter[tuple[int, int]]:
    months: Counter[tuple[int, int]] = Counter()
    for day, count in days:
        months[(day.year, day.month)] += count
    return months
