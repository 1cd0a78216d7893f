"""Applying a chunk of validated record rows to the store.

Notice. A new record of a type with ``notice_days`` is published only from
``published_from``, the day it arrived plus the notice period (unless its type says
``publish_during_notice``), and its subject is told at once, with that day and how to
dispute. A record a reviewer removed after a dispute stays removed: a resubmission of
its reference is rejected, and only a new decision under a new reference brings the
fact back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from operator import itemgetter
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from trustreg.core.rulebook import RecordType
from trustreg.core.validation import RecordInput
from trustreg.services.feed_reader import FeedRow
from trustreg.services.ingest_chunk import ChunkOutcome
from trustreg.services.notifications import NOTICE
from trustreg.store import queries, writes
from trustreg.store.models import Record
from trustreg.store.models_access import Notification

# Fields an authority's resubmission may change; anything else is provenance.
COMPARED = (
    "record_type",
    "subject_id",
    "decided_on",
    "effective_from",
    "amount_cents",
    "currency",
    "status",
    "summary",
)
# Statuses the registry sets itself; a resubmission saying "active" does not undo them.
REGISTRY_STATUSES = ("disputed", "repaired", "expired", "suspended", "removed")
# Only the authority's revocation ends a suspension; anything else waits for the decision.
ENDS_SUSPENSION = ("revoked",)


class RecordItem(tuple[Any, ...]):
    """A validated record row as the importer uses it: a plain tuple with names.

    A reader process sends millions of these; a tuple subclass without a Python
    ``__new__`` unpickles several times faster than named tuples or dataclasses.
    """

    __slots__ = ()
    number: int = property(itemgetter(0))  # type: ignore[assignment]
    raw: str = property(itemgetter(1))  # type: ignore[assignment]
    authority_id: int = property(itemgetter(2))  # type: ignore[assignment]
    authority_code: str = property(itemgetter(3))  # type: ignore[assignment]
    reference: str = property(itemgetter(4))  # type: ignore[assignment]
    record_type: str = property(itemgetter(5))  # type: ignore[assignment]
    subject_kind: str = property(itemgetter(6))  # type: ignore[assignment]
    identifier: tuple[str, str] = property(itemgetter(7))  # type: ignore[assignment]
    subject_name: str = property(itemgetter(8))  # type: ignore[assignment]
    decided_on: date = property(itemgetter(9))  # type: ignore[assignment]
    effective_from: date = property(itemgetter(10))  # type: ignore[assignment]
    amount_cents: int | None = property(itemgetter(11))  # type: ignore[assignment]
    currency: str | None = property(itemgetter(12))  # type: ignore[assignment]
    status: str = property(itemgetter(13))  # type: ignore[assignment]
    summary: str = property(itemgetter(14))  # type: ignore[assignment]
    notified_on: date | None = property(itemgetter(15))  # type: ignore[assignment]


def pack(row: FeedRow, record: RecordInput) -> RecordItem:
    """A validated row in the form the importer takes (see ``RecordItem``)."""
    return RecordItem(
        (
            row.number,
            row.raw,
            record.authority.id,
            record.authority.code,
            record.reference,
            record.record_type,
            record.subject_kind,
            (record.identifier.scheme, record.identifier.value),
            record.subject_name,
            record.decided_on,
            record.effective_from,
            record.amount_cents,
            record.currency,
            record.status,
            record.summary,
            record.notified_on,
        )
    )


@dataclass
class _Plan:
    """What one chunk changes besides inserting new records."""

    changes: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    unchanged: list[tuple[int, int, int]] = field(default_factory=list)


def apply(
    session: Session,
    batch_id: int,
    source: str,
    items: Sequence[RecordItem],
    now: datetime,
    key: str,
) -> ChunkOutcome:
    """Create, update or leave each record; reject in-file duplicates and kind conflicts.

    New records are inserted first, skipping keys already stored; only when some
    were skipped are the stored ones read back and compared. A fresh feed thus
    costs no look-up of its records at all. Subjects are found and created by the
    keyed hash of their identifier under ``key``.
    """
    outcome = ChunkOutcome()
    rules = queries.rulebook_in_force(session, now.date()).record_types
    subjects = _subject_ids(session, batch_id, items, now, outcome, key)
    refused = {r.row for r in outcome.rejections}
    seen: dict[tuple[int, str], int] = {}
    candidates: list[tuple[RecordItem, dict[str, Any]]] = []
    for record in items:
        subject_id = subjects.get(record.identifier)
        if subject_id is None or record.number in refused:
            continue  # rejected while resolving the subject
        first = seen.setdefault((record.authority_id, record.reference), record.number)
        if first != record.number:
            _reject_repeat(outcome, record, first)
            continue
        values = _values(record, subject_id, batch_id, source, now)
        notified = record.notified_on or now.date()
        values["published_from"] = published_from(rules.get(record.record_type), notified)
        candidates.append((record, values))
    outcome.created = writes.insert_records(session, [v for _, v in candidates], batch_id, now)
    if outcome.created:
        _give_notice(session, batch_id, [v for _, v in candidates], rules, now)
    if outcome.created < len(candidates):
        _resubmitted(session, batch_id, candidates, now, outcome)
    outcome.subjects.update(v["subject_id"] for _, v in candidates)
    return outcome


def published_from(rule: RecordType | None, notified: date) -> date | None:
    """The first day a record whose subject was notified on ``notified`` (the day it
    arrived, or the day its authority gave notice) may be published; None: no
    notice period, or its type publishes during the notice."""
    if rule is None or rule.notice_days <= 0 or rule.publish_during_notice:
        return None
    return notified + timedelta(days=rule.notice_days)


def _give_notice(
    session: Session,
    batch_id: int,
    rows: Sequence[dict[str, Any]],
    rules: Mapping[str, RecordType],
    now: datetime,
) -> None:
    """Tell the subject of every record just created whose type has a notice period:
    which record, from when it is published, and where to dispute it."""
    noticed = [t for t, rule in rules.items() if rule.notice_days > 0]
    numbers = [r["source_row"] for r in rows if r["record_type"] in noticed]
    if not numbers:
        return
    created = session.execute(
        select(
            Record.id,
            Record.subject_id,
            Record.record_type,
            Record.reference,
            Record.published_from,
        ).where(
            Record.batch_id == batch_id,
            Record.source_row.between(min(numbers), max(numbers)),
            Record.created_at == now,
            Record.record_type.in_(noticed),
            Record.status != "revoked",
        )
    ).all()
    notices = [
        {
            "subject_id": subject_id,
            "record_id": record_id,
            "kind": NOTICE,
            "detail": notice_detail(record_id, record_type, reference, publish, now.date()),
            "created_at": now,
        }
        for record_id, subject_id, record_type, reference, publish in created
    ]
    if notices:
        # A Core executemany on the table: an import may create millions of records,
        # and the ORM's bulk path costs several times more per row.
        session.execute(insert(Notification.__table__), notices)  # type: ignore[arg-type]


def notice_detail(
    record_id: int, record_type: str, reference: str, publish: date | None, today: date
) -> dict[str, Any]:
    """What the notice of a new record tells its subject."""
    return {
        "record": record_id,
        "record_type": record_type,
        "reference": reference,
        "published_from": (publish or today).isoformat(),
        "dispute": f"/records/{record_id}/dispute",
        "how_to_dispute": (
            "A representative of the subject, signed in, can dispute the record with "
            "reasons and evidence on its page, before or after it is published."
        ),
    }


def _reject_repeat(outcome: ChunkOutcome, row: RecordItem, first: int) -> None:
    outcome.reject(
        row.number,
        "reference",
        f"same authority and reference as row {first} of this file",
        row.raw,
    )


def _resubmitted(
    session: Session,
    batch_id: int,
    candidates: Sequence[tuple[RecordItem, dict[str, Any]]],
    now: datetime,
    outcome: ChunkOutcome,
) -> None:
    """Handle the rows whose record was already stored: repeat, unchanged or update."""
    stored = writes.find_records(session, [(r.authority_id, r.reference) for r, _ in candidates])
    plan = _Plan()
    for record, values in candidates:
        old = stored[(record.authority_id, record.reference)]
        if old["seen_batch_id"] == batch_id:
            if old["seen_row"] != record.number:  # else: this very row inserted it just now
                _reject_repeat(outcome, record, old["seen_row"])
            continue
        if old["status"] == "removed":
            outcome.reject(
                record.number,
                "reference",
                f"record {old['id']} with this reference was removed after a dispute; "
                "a new decision needs a new reference",
                record.raw,
            )
            continue
        _plan_update(plan, old, values, record, batch_id, record.number, now)
    writes.update_records(session, plan.changes)
    writes.mark_seen(session, Record, plan.unchanged)
    writes.add_status_changes(session, plan.history)
    outcome.updated += len(plan.changes)
    outcome.unchanged += len(plan.unchanged)


def _plan_update(
    plan: _Plan,
    old: dict[str, Any],
    values: dict[str, Any],
    record: RecordItem,
    batch_id: int,
    row_number: int,
    now: datetime,
) -> None:
    if old["status"] in REGISTRY_STATUSES and values["status"] == "active":
        values["status"] = old["status"]
    if old["status"] == "suspended" and values["status"] not in ENDS_SUSPENSION:
        values["status"] = old["status"]
    changed = [f for f in COMPARED if old[f] != values[f]]
    if not changed:
        plan.unchanged.append((old["id"], batch_id, row_number))
        return
    del values["created_at"]
    # The notice period ran from the record's first arrival; a resubmission keeps it.
    values.pop("published_from", None)
    # A new status takes effect the day the registry learns it; otherwise it keeps its day.
    values["status_since"] = now.date() if "status" in changed else old["status_since"]
    plan.changes.append({"id": old["id"], **values})
    reason = f"updated by the authority: {', '.join(changed)}"
    plan.history.append(_history(old["id"], values, record, batch_id, now, reason))


def _values(
    record: RecordItem, subject_id: int, batch_id: int, source: str, now: datetime
) -> dict[str, Any]:
    return {
        "authority_id": record.authority_id,
        "reference": record.reference,
        "record_type": record.record_type,
        "subject_id": subject_id,
        "decided_on": record.decided_on,
        "effective_from": record.effective_from,
        "amount_cents": record.amount_cents,
        "currency": record.currency,
        "status": record.status,
        "status_since": record.effective_from,
        "summary": record.summary,
        "batch_id": batch_id,
        "source_file": source[-500:],
        "source_row": record.number,
        "seen_batch_id": batch_id,
        "seen_row": record.number,
        "created_at": now,
        "updated_at": now,
    }


def _history(
    record_id: int,
    values: dict[str, Any],
    record: RecordItem,
    batch_id: int,
    now: datetime,
    reason: str,
) -> dict[str, Any]:
    """A history entry: the change, and the record as it stands after it."""
    return {
        "record_id": record_id,
        "status": values["status"],
        "changed_at": now,
        "actor": f"authority:{record.authority_code}",
        "reason": reason,
        "batch_id": batch_id,
        "record_type": values["record_type"],
        "effective_from": values["effective_from"],
        "status_since": values["status_since"],
    }


def _subject_ids(
    session: Session,
    batch_id: int,
    items: Sequence[RecordItem],
    now: datetime,
    outcome: ChunkOutcome,
    key: str,
) -> dict[tuple[str, str], int]:
    """Find or create the subject of each row; reject rows whose kind contradicts the store."""
    known = writes.find_subjects(session, [r.identifier for r in items], key)
    ids = {ident: k.id for ident, k in known.items()}
    kinds = {ident: k.kind for ident, k in known.items()}
    new: dict[tuple[str, str], writes.NewSubject] = {}
    for record in items:
        ident = record.identifier
        kind = kinds.get(ident) or (new[ident].fields["kind"] if ident in new else None)
        if kind is not None and kind != record.subject_kind:
            outcome.reject(
                record.number,
                "subject_kind",
                f"{ident[0]}:{ident[1]} is registered as a {kind}, not a {record.subject_kind}",
                record.raw,
            )
            continue
        if ident not in ids and ident not in new:
            new[ident] = writes.NewSubject(
                ident,
                _subject_fields(record, batch_id, now),
                [(record.subject_name, "original")],
            )
    created = writes.create_subjects(session, batch_id, list(new.values()), key)
    outcome.new_subjects.update(created)
    ids.update(zip(new, created, strict=True))
    return ids


def _subject_fields(record: RecordItem, batch_id: int, now: datetime) -> dict[str, Any]:
    ident = record.identifier
    country = (
        "CN"
        if ident[0] in ("uscc", "ric")
        else (ident[1].split(":", 1)[0] if ident[0] in ("passport", "registry") else None)
    )
    return {
        "kind": record.subject_kind,
        "display_name": record.subject_name,
        "country": country,
        "region": None,
        "birth_date": None,
        "registered_on": None,
        "batch_id": batch_id,
        "source_row": record.number,
        "seen_batch_id": batch_id,
        "seen_row": record.number,
        "created_at": now,
        "updated_at": now,
    }
