"""Deleting a person's records and, once none is left, the person (retention).

Every table that holds rows about a record or a subject is named once, below: a new
table that refers to records or subjects is one more line there, and the purge
removes its rows too. Which records are due is decided by ``services.retention``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from trustreg.core.vocabulary import PERSON_KINDS
from trustreg.store.models import (
    Assessment,
    Certificate,
    Dispute,
    Identifier,
    ListEntry,
    Record,
    RecordStatusChange,
    Subject,
    SubjectName,
)
from trustreg.store.models_access import (
    AccountSubject,
    EvidenceFile,
    Notification,
    RepairApplication,
)

# Bulk deletes: the session holds none of these rows, so it need not look for them.
_NO_SYNC = {"synchronize_session": False}


@dataclass(frozen=True, slots=True)
class Dependent:
    """Rows of a table that point at a record (or subject): directly by ``column``, or
    through a parent row (``through``: the parent's key and its own reference)."""

    column: InstrumentedAttribute[int] | InstrumentedAttribute[int | None]
    through: tuple[InstrumentedAttribute[int], InstrumentedAttribute[int]] | None = None

    @property
    def table(self) -> str:
        return str(self.column.class_.__tablename__)

    def rows_of(self, ids: Collection[int]) -> ColumnElement[bool]:
        if self.through is None:
            return self.column.in_(ids)
        key, reference = self.through
        return self.column.in_(select(key).where(reference.in_(ids)))


# The rows that go with a record, deleted before it, children before parents. E.g. a
# table of files attached to disputes: Dependent(DisputeFile.dispute_id, (Dispute.id,
# Dispute.record_id)), above the disputes' line. A foreign key declared ON DELETE
# CASCADE (watches and their webhook deliveries) needs no line: the database follows
# it. tests/test_retention.py fails for a reference to records or subjects that is in
# neither place.
RECORD_DEPENDENTS: tuple[Dependent, ...] = (
    Dependent(EvidenceFile.record_id),
    Dependent(RepairApplication.record_id),
    Dependent(Notification.record_id),
    Dependent(Dispute.record_id),
    Dependent(RecordStatusChange.record_id),
)
# The rows that go with a person once no record of theirs is left, then the subject.
SUBJECT_DEPENDENTS: tuple[Dependent, ...] = (
    Dependent(Notification.subject_id),
    Dependent(AccountSubject.subject_id),
    Dependent(RepairApplication.subject_id),
    Dependent(Dispute.subject_id),
    Dependent(Certificate.subject_id),
    Dependent(ListEntry.subject_id),
    Dependent(Assessment.subject_id),
    Dependent(SubjectName.subject_id),
    Dependent(Identifier.subject_id),
)


@dataclass(frozen=True, slots=True)
class Candidate:
    """What deciding a record's purge day needs."""

    id: int
    subject_id: int
    record_type: str
    effective_from: date
    status: str
    status_since: date


def candidates(
    session: Session,
    after_id: int,
    limit: int,
    effective_by: date,
    ended: Collection[str],
    ended_by: date,
) -> list[Candidate]:
    """The next records of persons (by id) that may be due: those that took effect by
    ``effective_by``, or whose status is one of ``ended`` since ``ended_by`` or before.

    A cheap necessary condition read over the records in id order, one chunk at a time;
    the caller decides each one exactly.
    """
    since = func.coalesce(Record.status_since, Record.effective_from)
    query = (
        select(
            Record.id,
            Record.subject_id,
            Record.record_type,
            Record.effective_from,
            Record.status,
            since,
        )
        .join(Subject, Subject.id == Record.subject_id)
        .where(
            Record.id > after_id,
            Subject.kind.in_(PERSON_KINDS),
            or_(
                Record.effective_from <= effective_by,
                and_(Record.status.in_(list(ended)), since <= ended_by),
            ),
        )
        .order_by(Record.id)
        .limit(limit)
    )
    return [
        Candidate(r[0], r[1], r[2], _day(r[3]), r[4], _day(r[5]))
        for r in session.connection().execute(query)
    ]


def records_by_id(session: Session, record_ids: Collection[int]) -> list[Candidate]:
    """These records of persons as they stand now (the others are left out)."""
    if not record_ids:
        return []
    query = (
        select(
            Record.id,
            Record.subject_id,
            Record.record_type,
            Record.effective_from,
            Record.status,
            func.coalesce(Record.status_since, Record.effective_from),
        )
        .join(Subject, Subject.id == Record.subject_id)
        .where(Record.id.in_(list(record_ids)), Subject.kind.in_(PERSON_KINDS))
    )
    return [
        Candidate(r[0], r[1], r[2], _day(r[3]), r[4], _day(r[5]))
        for r in session.connection().execute(query)
    ]


def _day(value: date | str) -> date:
    # SQLite returns COALESCE over dates as text.
    return value if isinstance(value, date) else date.fromisoformat(value)


def records_of(session: Session, subject_ids: Collection[int]) -> list[tuple[int, int]]:
    """(subject id, record id) of every record of these subjects."""
    if not subject_ids:
        return []
    rows = session.execute(
        select(Record.subject_id, Record.id).where(Record.subject_id.in_(list(subject_ids)))
    )
    return [(row[0], row[1]) for row in rows]


def delete_records(session: Session, record_ids: Sequence[int]) -> dict[str, int]:
    """Delete these records and every row that goes with them; rows deleted per table."""
    counts = _delete_dependents(session, RECORD_DEPENDENTS, record_ids)
    done = session.execute(
        delete(Record).where(Record.id.in_(record_ids)), execution_options=_NO_SYNC
    )
    counts["records"] = _rowcount(done)
    return counts


def delete_persons(session: Session, subject_ids: Sequence[int]) -> dict[str, int]:
    """Delete these persons, with every row about them, if no record of theirs is left.

    Returns rows deleted per table; ``subjects`` counts the persons removed.
    """
    if not subject_ids:
        return {}
    kept = select(Record.subject_id).where(Record.subject_id.in_(subject_ids))
    gone = list(
        session.scalars(
            select(Subject.id).where(
                Subject.id.in_(subject_ids),
                Subject.kind.in_(PERSON_KINDS),
                Subject.id.not_in(kept),
            )
        )
    )
    if not gone:
        return {}
    counts = _delete_dependents(session, SUBJECT_DEPENDENTS, gone)
    done = session.execute(delete(Subject).where(Subject.id.in_(gone)), execution_options=_NO_SYNC)
    counts["subjects"] = _rowcount(done)
    return counts


def _delete_dependents(
    session: Session, dependents: Sequence[Dependent], ids: Collection[int]
) -> dict[str, int]:
    counts: dict[str, int] = {}
    for dependent in dependents:
        model = dependent.column.class_
        done = session.execute(
            delete(model).where(dependent.rows_of(ids)), execution_options=_NO_SYNC
        )
        counts[dependent.table] = counts.get(dependent.table, 0) + _rowcount(done)
    return counts


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def closed_listings_of(
    session: Session, subject_ids: Collection[int]
) -> list[tuple[int, list[int]]]:
    """(id, record ids) of the ended list entries of these subjects."""
    if not subject_ids:
        return []
    rows = session.execute(
        select(ListEntry.id, ListEntry.record_ids).where(
            ListEntry.subject_id.in_(list(subject_ids)), ListEntry.ended_on.is_not(None)
        )
    )
    return [(row[0], list(row[1] or [])) for row in rows]


def delete_listings(session: Session, listing_ids: Sequence[int]) -> int:
    if not listing_ids:
        return 0
    done = session.execute(
        delete(ListEntry).where(ListEntry.id.in_(listing_ids)), execution_options=_NO_SYNC
    )
    return _rowcount(done)
