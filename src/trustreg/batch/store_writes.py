"""Store writes of the re-rating job: one subject range at a time.

These belong with the store's other writes (``store/``) and can move there; they live
here for now so the batch job is one package. Each function works in the caller's
transaction; the job commits one range at a time, so a reader never sees a subject
without an assessment, and a failed run leaves whole ranges old or new.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

from sqlalchemy import ColumnElement, String, Table, and_, delete, select, true, update
from sqlalchemy import cast as sa_cast
from sqlalchemy.orm import Session

from trustreg.batch.worker import MembershipRow
from trustreg.store.bulk import bulk_insert
from trustreg.store.models import Assessment, ListEntry


def _in_range(column: Any, low: int | None, high: int) -> ColumnElement[bool]:
    lower = column >= low if low is not None else true()
    return and_(lower, column <= high)


def replace_assessments(
    session: Session, low: int | None, high: int, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Replace the assessments of subject ids ``low`` (None: from the first) to ``high``."""
    table = cast(Table, Assessment.__table__)
    session.execute(delete(table).where(_in_range(table.c.subject_id, low, high)))
    bulk_insert(session, table, rows)


@dataclass
class EntryChanges:
    opened: int = 0
    closed: int = 0
    updated: int = 0


def sync_list_entries(
    session: Session,
    low: int | None,
    high: int,
    held: Sequence[MembershipRow],
    as_of: date,
    rulebook_version: str,
) -> EntryChanges:
    """Make the open list entries of subjects ``low``..``high`` the memberships ``held``.

    An entry is the same while its subject, list and entry date are: such an entry
    stays open (its scheduled exit and records brought up to date); an open entry no
    longer held ends on ``as_of``; a membership with no open entry opens one. A second
    open entry with the same key (none should exist) is ended too.
    """
    wanted = {(s, code, entered): (exit_on, ids) for s, code, entered, exit_on, ids in held}
    table = cast(Table, ListEntry.__table__)
    # Core, not the ORM, and the record ids as their JSON text: ranges of a nation hold
    # hundreds of thousands of open entries, and only the changed ones need more.
    stored = session.connection().execute(
        select(
            table.c.id,
            table.c.subject_id,
            table.c.list_code,
            table.c.entered_on,
            table.c.scheduled_exit,
            sa_cast(table.c.record_ids, String),
            table.c.rulebook_version,
        )
        .where(table.c.ended_on.is_(None), _in_range(table.c.subject_id, low, high))
        .order_by(table.c.id)
    )
    seen: set[tuple[int, str, date]] = set()
    ended: list[dict[str, Any]] = []
    refreshed: list[dict[str, Any]] = []
    for entry_id, subject_id, code, entered, exit_on, record_ids, version in stored:
        key = (subject_id, code, entered)
        if key not in wanted or key in seen:
            ended.append({"id": entry_id, "ended_on": as_of})
            continue
        seen.add(key)
        new_exit, new_ids = wanted[key]
        if (exit_on, record_ids, version) != (new_exit, new_ids, rulebook_version):
            refreshed.append(
                {
                    "id": entry_id,
                    "scheduled_exit": new_exit,
                    "record_ids": json.loads(new_ids),
                    "rulebook_version": rulebook_version,
                }
            )
    for batch in (ended, refreshed):
        if batch:
            session.execute(update(ListEntry), batch)
    new = [
        {
            "subject_id": subject_id,
            "list_code": code,
            "entered_on": entered,
            "scheduled_exit": exit_on,
            "ended_on": None,
            "record_ids": ids,
            "rulebook_version": rulebook_version,
        }
        for (subject_id, code, entered), (exit_on, ids) in wanted.items()
        if (subject_id, code, entered) not in seen
    ]
    bulk_insert(session, cast(Table, ListEntry.__table__), new)
    return EntryChanges(opened=len(new), closed=len(ended), updated=len(refreshed))
