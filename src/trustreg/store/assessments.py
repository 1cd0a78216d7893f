"""Reads and writes of assessments, list entries and record versions."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from trustreg.core.rating import Assessment as CoreAssessment
from trustreg.core.rating import ListMembership, RecordFact, RecordVersion
from trustreg.store.bulk import bulk_insert
from trustreg.store.db import write_lock
from trustreg.store.models import (
    Assessment,
    ListEntry,
    Record,
    RecordStatusChange,
    Subject,
)


def lock_subjects(session: Session, subject_ids: Collection[int]) -> None:
    """Make other transactions that re-evaluate any of these subjects wait for this one.

    What it reads of their records from here on stays current until it commits, so no
    one stores an assessment that misses records another transaction has just written
    (SQLite: the one write lock; PostgreSQL: the subjects' rows, locked in id order).
    """
    write_lock(session)
    locked = select(Subject.id).where(Subject.id.in_(sorted(subject_ids))).order_by(Subject.id)
    session.execute(locked.with_for_update()).all()  # SQLite: a plain read, no lock


def record_versions(
    session: Session, subject_ids: Collection[int]
) -> dict[int, list[RecordVersion]]:
    """Every history entry of these subjects' records, as core record versions."""
    found: dict[int, list[RecordVersion]] = {sid: [] for sid in subject_ids}
    if not subject_ids:
        return found
    rows = session.connection().execute(
        select(
            Record.subject_id,
            RecordStatusChange.record_id,
            RecordStatusChange.id,
            RecordStatusChange.changed_at,
            func.coalesce(RecordStatusChange.record_type, Record.record_type),
            func.coalesce(RecordStatusChange.effective_from, Record.effective_from),
            RecordStatusChange.status,
            func.coalesce(RecordStatusChange.status_since, Record.effective_from),
            Record.reference,
            Record.published_from,
        )
        .join(Record, Record.id == RecordStatusChange.record_id)
        .where(Record.subject_id.in_(list(subject_ids)))
    )
    for row in rows:
        found[row[0]].append(
            RecordVersion(
                record_id=row[1],
                entry_id=row[2],
                recorded_at=_aware(row[3]),
                record_type=row[4],
                effective_from=_as_date(row[5]),
                status=row[6],
                status_since=_as_date(row[7]),
                reference=row[8],
                published_from=row[9],
            )
        )
    return found


def _as_date(value: date | str) -> date:
    # coalesce() loses the column type on SQLite, which then hands back the stored text.
    return value if isinstance(value, date) else date.fromisoformat(value)


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything the registry writes is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def all_subject_ids(session: Session) -> list[int]:
    return list(session.scalars(select(Subject.id).order_by(Subject.id)))


def due_subjects(session: Session, on: date) -> list[int]:
    """Subjects whose assessment changes by itself on or before ``on``."""
    return list(
        session.scalars(
            select(Assessment.subject_id).where(
                Assessment.next_change.is_not(None), Assessment.next_change <= on
            )
        )
    )


def replace_assessments(
    session: Session,
    assessments: Sequence[tuple[CoreAssessment, date | None]],
    now: datetime,
) -> None:
    """Store these subjects' assessments, replacing what was there (one upsert)."""
    if not assessments:
        return
    bulk_insert(
        session,
        cast(Table, Assessment.__table__),
        [
            {
                "subject_id": a.subject,
                "as_of": a.as_of,
                "rulebook_version": a.rulebook_version,
                "points": a.points,
                "grade": a.grade,
                "lists": json.dumps([m.list_code for m in a.lists]),
                # A stored explanation (written by `rate --all`) would no longer match.
                "explanation": None,
                "computed_at": now,
                "next_change": next_day,
            }
            for a, next_day in assessments
        ],
        upsert_key="subject_id",
    )


def sync_list_entries(
    session: Session,
    assessments: Iterable[CoreAssessment],
    today: date,
    fresh: Collection[int] = (),
) -> tuple[int, int]:
    """Open list entries the assessments hold, close those they no longer hold, and
    bring held ones up to date (a new decision may move the scheduled exit).

    ``fresh`` subjects were created in this transaction and have no entries to look up.
    Returns (opened, closed). An entry is the same while its list and entry date are.
    """
    by_subject = {a.subject: a for a in assessments}
    if not by_subject:
        return 0, 0
    known_subjects = [sid for sid in by_subject if sid not in fresh]
    open_entries = (
        session.connection()
        .execute(
            select(
                ListEntry.id,
                ListEntry.subject_id,
                ListEntry.list_code,
                ListEntry.entered_on,
                ListEntry.scheduled_exit,
                ListEntry.record_ids,
            ).where(ListEntry.subject_id.in_(known_subjects), ListEntry.ended_on.is_(None))
        )
        .all()
        if known_subjects
        else []
    )
    held = {
        (m_subject, m.list_code, m.entered_on): m
        for m_subject, a in by_subject.items()
        for m in a.lists
    }
    known = {(row[1], row[2], row[3]): row for row in open_entries}
    to_close = [row[0] for key, row in known.items() if key not in held]
    if to_close:
        session.execute(update(ListEntry).where(ListEntry.id.in_(to_close)).values(ended_on=today))
    _update_held(session, known, held, by_subject)
    new = [
        {
            "subject_id": sid,
            "list_code": membership.list_code,
            "entered_on": membership.entered_on,
            "scheduled_exit": membership.scheduled_exit,
            "ended_on": None,
            "record_ids": json.dumps(list(membership.record_ids)),
            "rulebook_version": by_subject[sid].rulebook_version,
        }
        for (sid, _code, _entered), membership in held.items()
        if (sid, membership.list_code, membership.entered_on) not in known
    ]
    bulk_insert(session, cast(Table, ListEntry.__table__), new)
    return len(new), len(to_close)


def _update_held(
    session: Session,
    known: dict[tuple[int, str, date], Any],
    held: dict[tuple[int, str, date], ListMembership],
    by_subject: dict[int, CoreAssessment],
) -> None:
    changes = [
        {
            "entry_id": row[0],
            "exit": held[key].scheduled_exit,
            "records": list(held[key].record_ids),
            "version": by_subject[key[0]].rulebook_version,
        }
        for key, row in known.items()
        if key in held
        and (row[4] != held[key].scheduled_exit or list(row[5]) != list(held[key].record_ids))
    ]
    if changes:
        table = cast(Table, ListEntry.__table__)
        session.connection().execute(
            update(table)
            .where(table.c.id == bindparam("entry_id"))
            .values(
                scheduled_exit=bindparam("exit"),
                record_ids=bindparam("records"),
                rulebook_version=bindparam("version"),
            ),
            changes,
        )


def expire_records(session: Session, ended: Sequence[tuple[int, date]], now: datetime) -> None:
    """Mark records whose publicity ended as expired, each with a history entry."""
    if not ended:
        return
    for record_id, end in ended:
        session.execute(
            update(Record)
            .where(Record.id == record_id)
            .values(status="expired", status_since=end, updated_at=now)
        )
    rows = session.execute(
        select(Record.id, Record.record_type, Record.effective_from).where(
            Record.id.in_([r for r, _ in ended])
        )
    ).all()
    ends = dict(ended)
    bulk_insert(
        session,
        cast(Table, RecordStatusChange.__table__),
        [
            {
                "record_id": record_id,
                "status": "expired",
                "changed_at": now,
                "actor": "registry",
                "reason": "publicity period ended",
                "batch_id": None,
                "record_type": record_type,
                "effective_from": effective_from,
                "status_since": ends[record_id],
            }
            for record_id, record_type, effective_from in rows
        ],
    )


def unassessed_subjects(session: Session) -> list[int]:
    """Subjects without any stored assessment."""
    return list(
        session.scalars(
            select(Subject.id)
            .outerjoin(Assessment, Assessment.subject_id == Subject.id)
            .where(Assessment.subject_id.is_(None))
        )
    )


def current_facts(session: Session, subject_ids: Collection[int]) -> dict[int, list[RecordFact]]:
    """These subjects' records as they stand now, as core facts.

    For "today, as known now" this equals ``facts_as_known`` over all versions (the
    newest version of a record is its row), at the cost of one indexed read.
    """
    found: dict[int, list[RecordFact]] = {sid: [] for sid in subject_ids}
    if not subject_ids:
        return found
    rows = session.connection().execute(
        select(
            Record.subject_id,
            Record.id,
            Record.record_type,
            Record.effective_from,
            Record.status,
            func.coalesce(Record.status_since, Record.effective_from),
            Record.reference,
            Record.published_from,
        ).where(Record.subject_id.in_(list(subject_ids)))
    )
    for row in rows:
        found[row[0]].append(
            RecordFact(
                id=row[1],
                record_type=row[2],
                effective_from=row[3],
                status=row[4],
                status_since=_as_date(row[5]),
                reference=row[6],
                published_from=row[7],
            )
        )
    return found
