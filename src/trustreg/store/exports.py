"""Reads for the open-data export, streamed in batches by keyset pagination.

The registry may hold millions of list entries and records, so nothing here loads a
whole table: each reader asks for the next ``batch`` rows after the last id it saw
(``WHERE id > :last ORDER BY id LIMIT :batch``), which costs the same on page one
and on page ten thousand, on SQLite and PostgreSQL alike. The readers select columns,
not ORM objects, so the session's identity map does not grow as the export runs.

What may be published is the service's business (``services.export``); these readers
only narrow the rows in SQL as far as the rule allows, so person rows of types that are
not public are never read at all.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import date
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Select, and_, exists, not_, or_, select
from sqlalchemy.orm import Session

from trustreg.core.vocabulary import PERSON_KINDS
from trustreg.store.models import Authority, Identifier, ListEntry, Record, Subject
from trustreg.store.screening import MAIN_SCHEMES

BATCH = 5_000


class EntryRow(NamedTuple):
    """An open list entry with its subject."""

    id: int
    list_code: str
    subject_id: int
    subject_kind: str
    subject_name: str
    entered_on: date
    scheduled_exit: date
    record_ids: tuple[int, ...]


class RecordRow(NamedTuple):
    """A record that may be published, with its authority and subject."""

    id: int
    authority: str
    reference: str
    record_type: str
    subject_id: int
    subject_kind: str
    subject_name: str
    decided_on: date
    effective_from: date
    status: str
    status_since: date | None


class SubjectRow(NamedTuple):
    id: int
    kind: str
    name: str
    country: str | None
    region: str | None


class RecordRef(NamedTuple):
    """What a list entry cites of a record that caused it."""

    authority: str
    reference: str
    record_type: str


def _visible_records(
    public_person_types: Collection[str], since: date, until: date, void: Collection[str]
) -> ColumnElement[bool]:
    """Records that may still be published on ``until``: effective by then and past
    their notice period, after ``since`` (the longest publicity period ago), not void,
    and about an organisation or of a type whose person records are public. Publicity
    ends are the core's to judge."""
    return and_(
        Record.effective_from <= until,
        Record.effective_from > since,
        or_(Record.published_from.is_(None), Record.published_from <= until),
        not_(Record.status.in_(list(void))),
        or_(
            not_(Subject.kind.in_(PERSON_KINDS)),
            Record.record_type.in_(list(public_person_types)),
        ),
    )


def open_entries(session: Session, batch: int = BATCH) -> Iterator[EntryRow]:
    """Every list entry not yet ended, in id order."""
    last = 0
    while True:
        rows = session.execute(
            _entry_rows()
            .where(ListEntry.ended_on.is_(None), ListEntry.id > last)
            .order_by(ListEntry.id)
            .limit(batch)
        ).all()
        for row in rows:
            yield EntryRow(*row[:7], tuple(int(i) for i in row[7] or ()))
        if len(rows) < batch:
            return
        last = rows[-1][0]


def candidate_records(
    session: Session,
    public_person_types: Collection[str],
    window: tuple[date, date],
    void: Collection[str],
    batch: int = BATCH,
) -> Iterator[RecordRow]:
    """Records that may be published within ``window`` (see ``_visible_records``), in id order."""
    last = 0
    visible = _visible_records(public_person_types, window[0], window[1], void)
    while True:
        rows = session.execute(
            _record_rows().where(visible, Record.id > last).order_by(Record.id).limit(batch)
        ).all()
        for row in rows:
            yield RecordRow(*row)
        if len(rows) < batch:
            return
        last = rows[-1][0]


def candidate_subjects(
    session: Session,
    public_person_types: Collection[str],
    window: tuple[date, date],
    void: Collection[str],
    batch: int = BATCH,
) -> Iterator[list[SubjectRow]]:
    """Batches of subjects (in id order) with an open list entry or a record that may
    be published; the caller decides which of them to show."""
    last = 0
    listed = exists().where(ListEntry.subject_id == Subject.id, ListEntry.ended_on.is_(None))
    recorded = exists().where(
        Record.subject_id == Subject.id,
        _visible_records(public_person_types, window[0], window[1], void),
    )
    while True:
        rows = session.execute(
            select(Subject.id, Subject.kind, Subject.display_name, Subject.country, Subject.region)
            .where(Subject.id > last, or_(listed, recorded))
            .order_by(Subject.id)
            .limit(batch)
        ).all()
        if rows:
            yield [SubjectRow(*row) for row in rows]
        if len(rows) < batch:
            return
        last = rows[-1][0]


def records_of(
    session: Session,
    subject_ids: Collection[int],
    public_person_types: Collection[str],
    window: tuple[date, date],
    void: Collection[str],
) -> list[RecordRow]:
    """The records of these subjects that may be published (see ``_visible_records``)."""
    if not subject_ids:
        return []
    rows = session.execute(
        _record_rows().where(
            Record.subject_id.in_(list(subject_ids)),
            _visible_records(public_person_types, window[0], window[1], void),
        )
    ).all()
    return [RecordRow(*row) for row in rows]


def open_entries_of(session: Session, subject_ids: Collection[int]) -> list[EntryRow]:
    """The open list entries of these subjects."""
    if not subject_ids:
        return []
    rows = session.execute(
        _entry_rows().where(
            ListEntry.ended_on.is_(None), ListEntry.subject_id.in_(list(subject_ids))
        )
    ).all()
    return [EntryRow(*row[:7], tuple(int(i) for i in row[7] or ())) for row in rows]


def main_identifiers(session: Session, subject_ids: Collection[int]) -> dict[int, tuple[str, str]]:
    """Each subject's main identifier (scheme, value): the first of ``MAIN_SCHEMES`` it has."""
    if not subject_ids:
        return {}
    found: dict[int, tuple[str, str]] = {}
    rank = {scheme: n for n, scheme in enumerate(MAIN_SCHEMES)}
    rows = session.execute(
        select(Identifier.subject_id, Identifier.scheme, Identifier.value).where(
            Identifier.subject_id.in_(list(subject_ids))
        )
    )
    for subject_id, scheme, value in rows:
        held = found.get(subject_id)
        if held is None or rank.get(scheme, len(rank)) < rank.get(held[0], len(rank)):
            found[subject_id] = (scheme, value)
    return found


def record_refs(session: Session, record_ids: Collection[int]) -> dict[int, RecordRef]:
    """Authority, reference and type of each of these records."""
    if not record_ids:
        return {}
    rows = session.execute(
        select(Record.id, Authority.code, Record.reference, Record.record_type)
        .join(Authority, Authority.id == Record.authority_id)
        .where(Record.id.in_(list(record_ids)))
    )
    return {row[0]: RecordRef(row[1], row[2], row[3]) for row in rows}


def _record_rows() -> Select[*tuple[Any, ...]]:
    """The columns of a ``RecordRow``, with the authority and subject they name."""
    return (
        select(
            Record.id,
            Authority.code,
            Record.reference,
            Record.record_type,
            Record.subject_id,
            Subject.kind,
            Subject.display_name,
            Record.decided_on,
            Record.effective_from,
            Record.status,
            Record.status_since,
        )
        .join(Authority, Authority.id == Record.authority_id)
        .join(Subject, Subject.id == Record.subject_id)
    )


def _entry_rows() -> Select[int, str, int, str, str, date, date, list[int]]:
    """The columns of an ``EntryRow``, with the subject it names."""
    return select(
        ListEntry.id,
        ListEntry.list_code,
        ListEntry.subject_id,
        Subject.kind,
        Subject.display_name,
        ListEntry.entered_on,
        ListEntry.scheduled_exit,
        ListEntry.record_ids,
    ).join(Subject, Subject.id == ListEntry.subject_id)
