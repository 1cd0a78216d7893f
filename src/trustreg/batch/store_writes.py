"""Store writes of the re-rating job: one subject range at a time.

These belong with the store's other writes (``store/``) and can move there; they live
here for now so the batch job is one package. Each function works in the caller's
transaction; the job commits one range at a time, so a failed run leaves whole ranges
old or new, never a subject half-written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

from sqlalchemy import String, Table, select, update
from sqlalchemy import cast as sa_cast
from sqlalchemy.orm import Session

from trustreg.store.bulk import bulk_insert
from trustreg.store.models import Assessment, ListEntry

# subject_id, list_code, entered_on, scheduled_exit, record_ids (JSON text)
MembershipRow = tuple[int, str, date, date, str]


def replace_assessments(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Store these assessments, each replacing its subject's (one upsert).

    Every column is written, the explanation too: none of the old row is left.
    """
    bulk_insert(session, cast(Table, Assessment.__table__), rows, upsert_key="subject_id")


@dataclass
class EntryChanges:
    opened: int = 0
    closed: int = 0
    updated: int = 0


def sync_list_entries(
    session: Session,
    low: int,
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
    seen: set[tuple[int, str, date]] = set()
    ended: list[dict[str, Any]] = []
    refreshed: list[dict[str, Any]] = []
    for entry_id, subject_id, code, entered, exit_on, record_ids, version in _open_entries(
        session, low, high
    ):
        key = (subject_id, code, entered)
        if key not in wanted or key in seen:
            ended.append({"id": entry_id, "ended_on": as_of})
            continue
        seen.add(key)
        new_exit, new_ids = wanted[key]
        if (exit_on, record_ids, version) != (new_exit, new_ids, rulebook_version):
            refreshed.append(
                {"id": entry_id, "scheduled_exit": new_exit, "record_ids": json.loads(new_ids)}
                | {"rulebook_version": rulebook_version}
            )
    for changes in (ended, refreshed):
        if changes:
            session.execute(update(ListEntry), changes)  # by primary key, one executemany
    new = [
        {"subject_id": subject_id, "list_code": code, "entered_on": entered}
        | {"scheduled_exit": exit_on, "ended_on": None, "record_ids": ids}
        | {"rulebook_version": rulebook_version}
        for (subject_id, code, entered), (exit_on, ids) in wanted.items()
        if (subject_id, code, entered) not in seen
    ]
    bulk_insert(session, cast(Table, ListEntry.__table__), new)
    return EntryChanges(opened=len(new), closed=len(ended), updated=len(refreshed))


def _open_entries(session: Session, low: int, high: int) -> Iterable[tuple[Any, ...]]:
    """The open entries of subjects ``low``..``high``, record ids as their JSON text.

    Core, not the ORM, and no JSON decoding: a nation's ranges hold hundreds of
    thousands of open entries, and only the few that changed need more.
    """
    table = cast(Table, ListEntry.__table__)
    return (
        session.connection()
        .execute(
            select(
                table.c.id,
                table.c.subject_id,
                table.c.list_code,
                table.c.entered_on,
                table.c.scheduled_exit,
                sa_cast(table.c.record_ids, String),
                table.c.rulebook_version,
            )
            .where(table.c.ended_on.is_(None), table.c.subject_id.between(low, high))
            .order_by(table.c.id)
        )
        .tuples()
    )
