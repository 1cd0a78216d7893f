"""Applying a chunk of validated business-register rows to the store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from trustreg.core.identifiers import Identifier
from trustreg.core.validation import SubjectInput
from trustreg.services.feed_reader import FeedRow
from trustreg.services.ingest_chunk import ChunkOutcome
from trustreg.store import writes
from trustreg.store.models import Subject

COMPARED = ("display_name", "country", "region", "birth_date", "registered_on")


def apply(
    session: Session,
    batch_id: int,
    source: str,
    items: Sequence[tuple[FeedRow, SubjectInput]],
    now: datetime,
    key: str,
) -> ChunkOutcome:
    """Create new subjects, update changed ones (a new name keeps the old as former).

    Subjects are found and stored by the keyed hash of their identifier under ``key``.
    """
    del source  # subjects keep the batch and row; the batch names the file
    outcome = ChunkOutcome()
    known = writes.find_subjects(session, [s.identifier for _, s in items], key)
    seen: dict[Identifier, int] = {}
    new: list[writes.NewSubject] = []
    existing: list[tuple[FeedRow, SubjectInput, int]] = []
    for row, subject in items:
        first = seen.setdefault(subject.identifier, row.number)
        old = known.get(subject.identifier)
        if first != row.number or (old is not None and old.seen_batch_id == batch_id):
            where = first if first != row.number else old.seen_row if old else first
            outcome.reject(
                row.number, "id_value", f"same identifier as row {where} of this file", row.raw
            )
        elif old is not None and old.kind != subject.kind:
            outcome.reject(
                row.number, "kind", f"{subject.identifier} is registered as a {old.kind}", row.raw
            )
        elif old is None:
            names = [(subject.name, "original")] + [(n, "alias") for n in subject.alt_names]
            new.append(
                writes.NewSubject(subject.identifier, _fields(subject, batch_id, row, now), names)
            )
        else:
            existing.append((row, subject, old.id))
    outcome.new_subjects.update(writes.create_subjects(session, batch_id, new, key))
    outcome.subjects.update(outcome.new_subjects)
    outcome.created += len(new)
    _update_existing(session, batch_id, existing, now, outcome)
    return outcome


def _fields(subject: SubjectInput, batch_id: int, row: FeedRow, now: datetime) -> dict[str, Any]:
    return {
        "kind": subject.kind,
        "display_name": subject.name,
        "country": subject.country,
        "region": subject.region,
        "birth_date": subject.birth_date,
        "registered_on": subject.registered_on,
        "batch_id": batch_id,
        "source_row": row.number,
        "seen_batch_id": batch_id,
        "seen_row": row.number,
        "created_at": now,
        "updated_at": now,
    }


def _update_existing(
    session: Session,
    batch_id: int,
    existing: Sequence[tuple[FeedRow, SubjectInput, int]],
    now: datetime,
    outcome: ChunkOutcome,
) -> None:
    stored = writes.subject_rows(session, [sid for _, _, sid in existing])
    names = writes.subject_names(session, [sid for _, _, sid in existing])
    changes: list[dict[str, Any]] = []
    new_names: list[tuple[int, str, str]] = []
    seen: list[tuple[int, int, int]] = []
    for row, subject, sid in existing:
        fields = _fields(subject, batch_id, row, now)
        wanted = {(subject.name, "original")} | {(n, "alias") for n in subject.alt_names}
        missing = wanted - names[sid]
        changed = [f for f in COMPARED if stored[sid][f] != fields[f]]
        if not changed and not missing:
            outcome.unchanged += 1
            seen.append((sid, batch_id, row.number))
            continue
        if "display_name" in changed:
            writes.retire_original_name(session, sid)
            missing.add((subject.name, "original"))
            if (stored[sid]["display_name"], "former") not in names[sid]:
                new_names.append((sid, stored[sid]["display_name"], "former"))
        new_names.extend((sid, n, k) for n, k in missing)
        del fields["created_at"]
        changes.append({"id": sid, **fields})
    writes.update_subjects(session, changes)
    writes.mark_seen(session, Subject, seen)
    writes.add_names(session, new_names)
    outcome.updated += len(changes)
