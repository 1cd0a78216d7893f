"""Read queries of published lists and registry statistics.

List entries are read in keyset order ``(entered_on, id)``: a page starts after the
last key of the one before, so entries added or ended meanwhile never shift a page.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from trustreg.core.vocabulary import PERSON_KINDS
from trustreg.store.models import Assessment, Identifier, ListEntry, Record, Subject

EntryKey = tuple[date, int]


@dataclass(frozen=True, slots=True)
class EntryFilter:
    """Which open entries of one list to read."""

    list_code: str
    region: str | None = None
    # Entries of subjects holding a record of this type (the records behind the
    # listing are of the types that lead to it, so this is exact for one-type lists).
    record_type: str | None = None
    entered_from: date | None = None
    entered_to: date | None = None


@dataclass(frozen=True, slots=True)
class EntryRow:
    id: int
    subject_id: int
    kind: str
    name: str
    entered_on: date
    scheduled_exit: date
    record_ids: tuple[int, ...]

    @property
    def key(self) -> EntryKey:
        return (self.entered_on, self.id)


def open_counts(session: Session) -> dict[str, int]:
    """The number of open entries of every list that has any."""
    rows = session.execute(
        select(ListEntry.list_code, func.count())
        .where(ListEntry.ended_on.is_(None))
        .group_by(ListEntry.list_code)
    )
    return {row[0]: row[1] for row in rows}


def _open_entries_columns() -> Select[int, int, str, str, date, date, list[int]]:
    """The columns of an ``EntryRow``, for open entries."""
    return (
        select(
            ListEntry.id,
            ListEntry.subject_id,
            Subject.kind,
            Subject.display_name,
            ListEntry.entered_on,
            ListEntry.scheduled_exit,
            ListEntry.record_ids,
        )
        .join(Subject, Subject.id == ListEntry.subject_id)
        .where(ListEntry.ended_on.is_(None))
    )


def _entries_query(
    where: EntryFilter,
) -> Select[int, int, str, str, date, date, list[int]]:
    query = _open_entries_columns().where(ListEntry.list_code == where.list_code)
    if where.region is not None:
        query = query.where(Subject.region == where.region)
    if where.entered_from is not None:
        query = query.where(ListEntry.entered_on >= where.entered_from)
    if where.entered_to is not None:
        query = query.where(ListEntry.entered_on <= where.entered_to)
    if where.record_type is not None:
        query = query.where(
            exists().where(
                Record.subject_id == ListEntry.subject_id, Record.record_type == where.record_type
            )
        )
    return query


def open_entries(
    session: Session, where: EntryFilter, after: EntryKey | None, limit: int
) -> list[EntryRow]:
    """Up to ``limit`` open entries after the key ``after``, in key order."""
    query = _entries_query(where)
    if after is not None:
        # Spelled out rather than a row-value comparison, which SQLite indexes poorly.
        query = query.where(
            or_(
                ListEntry.entered_on > after[0],
                and_(ListEntry.entered_on == after[0], ListEntry.id > after[1]),
            )
        )
    query = query.order_by(ListEntry.entered_on, ListEntry.id).limit(limit)
    return [
        EntryRow(row[0], row[1], row[2], row[3], row[4], row[5], _ids(row[6]))
        for row in session.execute(query)
    ]


def open_person_entries(
    session: Session, scheme: str, masked: str, limit: int
) -> list[tuple[EntryRow, str, str]]:
    """Open list entries of persons whose ``scheme`` identifier, as stored (masked), is
    ``masked``: (entry, list code, identifier value), at most ``limit``, newest first."""
    query = (
        _open_entries_columns()
        .add_columns(ListEntry.list_code, Identifier.value)
        .join(Identifier, Identifier.subject_id == ListEntry.subject_id)
        .where(
            Subject.kind.in_(PERSON_KINDS),
            # A person's number is kept in its masked form: equal is found by the
            # (scheme, value) index on both engines.
            Identifier.scheme == scheme,
            Identifier.value == masked,
        )
        .order_by(ListEntry.entered_on.desc(), ListEntry.id.desc())
        .limit(limit)
    )
    return [
        (EntryRow(r[0], r[1], r[2], r[3], r[4], r[5], _ids(r[6])), r[7], r[8])
        for r in session.execute(query)
    ]


def _ids(value: object) -> tuple[int, ...]:
    # Bulk inserts write the JSON text itself; some drivers hand it back as text.
    loaded = json.loads(value) if isinstance(value, str) else value
    return tuple(int(i) for i in loaded) if isinstance(loaded, list) else ()


def identifiers_of(
    session: Session, subject_ids: Sequence[int]
) -> dict[int, list[tuple[str, str]]]:
    """Every identifier (scheme, value) of these subjects."""
    found: dict[int, list[tuple[str, str]]] = {}
    if not subject_ids:
        return found
    rows = session.execute(
        select(Identifier.subject_id, Identifier.scheme, Identifier.value).where(
            Identifier.subject_id.in_(list(subject_ids))
        )
    )
    for subject_id, scheme, value in rows:
        found.setdefault(subject_id, []).append((scheme, value))
    return found


def subjects_by_kind(session: Session) -> dict[str, int]:
    rows = session.execute(select(Subject.kind, func.count()).group_by(Subject.kind))
    return {row[0]: row[1] for row in rows}


def records_by_type_and_status(session: Session) -> Iterator[tuple[str, str, int]]:
    query = select(Record.record_type, Record.status, func.count()).group_by(
        Record.record_type, Record.status
    )
    yield from session.execute(query)


def grade_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(Assessment.grade, func.count()).group_by(Assessment.grade))
    return {row[0]: row[1] for row in rows}


def entries_by_day(session: Session, since: date, ended: bool) -> list[tuple[date, int]]:
    """Listings (or exits, when ``ended``) per day from ``since``: grouped by day, which
    both engines do alike, so months are summed by the caller."""
    column = ListEntry.ended_on if ended else ListEntry.entered_on
    rows = session.execute(select(column, func.count()).where(column >= since).group_by(column))
    return [(day, count) for day, count in rows if day is not None]


def count_open_entries(session: Session, where: EntryFilter) -> int:
    """How many open entries of one list pass the filter."""
    counted = select(func.count()).select_from(_entries_query(where).subquery())
    return int(session.execute(counted).scalar_one())


def open_counts_by_region(session: Session) -> list[tuple[str, str | None, int]]:
    """Open entries per list and region of the subject (None: no region known)."""
    query = (
        select(ListEntry.list_code, Subject.region, func.count())
        .join(Subject, Subject.id == ListEntry.subject_id)
        .where(ListEntry.ended_on.is_(None))
        .group_by(ListEntry.list_code, Subject.region)
    )
    return [(row[0], row[1], row[2]) for row in session.execute(query)]
