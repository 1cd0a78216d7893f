"""What a reviewer's decision does to a record (``services.disputes`` and
``services.repair`` call these inside their own transaction).

Every change of a record's status or content here adds a history entry: a version of
the record with the reviewer and the reasons, so ``core.rating.facts_as_known``
answers "what was published when" the same before and after.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import pycountry
from sqlalchemy import select
from sqlalchemy.orm import Session

from trustreg.core.validation import MAX_AMOUNT_CENTS, MAX_SUMMARY
from trustreg.errors import ValidationError
from trustreg.store.models import Record, RecordStatusChange

SUSPENDED, REMOVED = "suspended", "removed"


@dataclass(frozen=True, slots=True)
class Correction:
    """The fields a reviewer corrects (None: unchanged). ``amount`` as written, e.g.
    ``12000.00``; ``currency`` only needed when the record had no amount."""

    amount: str | None = None
    currency: str | None = None
    effective_from: date | None = None
    summary: str | None = None


def set_status(
    session: Session,
    record: Record,
    status: str,
    since: date | None,
    now: datetime,
    actor: str,
    reason: str,
) -> None:
    """Give a record a status (possibly the same) with a history entry."""
    record.status = status
    record.status_since = since
    record.updated_at = now
    session.add(
        RecordStatusChange(
            record_id=record.id,
            status=status,
            changed_at=now,
            actor=actor,
            reason=reason,
            batch_id=None,
            record_type=record.record_type,
            effective_from=record.effective_from,
            status_since=since if since is not None else record.effective_from,
        )
    )


def restored(session: Session, record: Record) -> tuple[str, date | None]:
    """The status a record returns to after a dispute: its own, or, if it was suspended
    for want of a decision, the one it had before (with the day it began)."""
    if record.status != SUSPENDED:
        return record.status, record.status_since
    before = session.scalars(
        select(RecordStatusChange)
        .where(RecordStatusChange.record_id == record.id, RecordStatusChange.status != SUSPENDED)
        .order_by(RecordStatusChange.id.desc())
        .limit(1)
    ).first()
    if before is None:
        return "active", record.effective_from
    return before.status, before.status_since


@dataclass(frozen=True, slots=True)
class Decision:
    """A reviewer's decision on a dispute: ``upheld``, ``corrected`` or ``removed``,
    the reasons, and for ``corrected`` the corrected fields."""

    decision: str
    reasons: str
    correction: Correction = Correction()


def apply_decision(
    session: Session,
    record: Record,
    dispute_id: int,
    chosen: Decision,
    reasons: str,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Apply the decision to the record; returns what changed (the status and the names
    of corrected fields, for the audit entry: no personal data)."""
    today = now.date()
    decision, correction = chosen.decision, chosen.correction
    if decision == "removed":
        reason = f"dispute {dispute_id}: removed by the reviewer. {reasons}"
        set_status(session, record, REMOVED, today, now, actor, reason)
        return {"status": REMOVED}
    status, since = restored(session, record)
    if decision == "upheld":
        reason = f"dispute {dispute_id}: upheld by the reviewer. {reasons}"
        set_status(session, record, status, since, now, actor, reason)
        return {"status": status}
    changes = correct(record, correction, today)
    if status == "active" and "effective_from" in changes:
        since = record.effective_from  # an active record's status runs from its effect
    listed = "; ".join(f"{k} {old} → {new}" for k, (old, new) in changes.items())
    reason = f"dispute {dispute_id}: corrected by the reviewer ({listed}). {reasons}"
    set_status(session, record, status, since, now, actor, reason)
    return {"status": status, "fields": sorted(changes)}


def correct(record: Record, correction: Correction, today: date) -> dict[str, tuple[str, str]]:
    """Apply the corrected fields to the record; ValidationError naming a bad field, or
    if nothing would change. Returns each changed field's old and new value (the
    summary's as its length: it may be long)."""
    changes: dict[str, tuple[str, str]] = {}
    if correction.amount is not None and correction.amount.strip():
        cents = parse_amount(correction.amount)
        currency = (correction.currency or record.currency or "").strip().upper()
        if currency not in _currencies():
            raise ValidationError("currency", f"'{currency[:10]}' is not an ISO 4217 code")
        if (cents, currency) != (record.amount_cents, record.currency):
            old = f"{amount_text(record.amount_cents)} {record.currency or ''}".strip()
            changes["amount"] = (old, f"{amount_text(cents)} {currency}")
            record.amount_cents, record.currency = cents, currency
    if correction.effective_from is not None and correction.effective_from != record.effective_from:
        day = correction.effective_from
        if day < record.decided_on:
            raise ValidationError(
                "effective_from", f"{day} is before decided_on {record.decided_on}"
            )
        if day > today:
            raise ValidationError("effective_from", f"{day} is in the future")
        changes["effective_from"] = (record.effective_from.isoformat(), day.isoformat())
        record.effective_from = day
    if correction.summary is not None and correction.summary.strip() != record.summary:
        summary = correction.summary.strip()
        if len(summary) > MAX_SUMMARY:
            raise ValidationError("summary", f"has {len(summary)} characters; at most 2000")
        if "\x00" in summary:  # PostgreSQL cannot store it
            raise ValidationError("summary", "must not contain a NUL character (U+0000)")
        changes["summary"] = (f"{len(record.summary)} characters", f"{len(summary)} characters")
        record.summary = summary
    if not changes:
        raise ValidationError(
            "correction", "changes nothing: give the corrected amount, effective date or summary"
        )
    return changes


def parse_amount(text: str) -> int:
    """Hundredths of the unit from ``12,000.50``; ValidationError if not such a number."""
    cleaned = text.strip().replace(",", "")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation as exc:
        raise ValidationError("amount", f"'{cleaned[:40]}' is not a number") from exc
    cents = amount * 100
    if not amount.is_finite() or amount < 0 or cents != cents.to_integral_value():
        raise ValidationError("amount", f"{cleaned} is negative or has more than two decimals")
    if cents >= MAX_AMOUNT_CENTS:
        raise ValidationError("amount", f"{cleaned} is too large")
    return int(cents)


@lru_cache(maxsize=1)
def _currencies() -> frozenset[str]:
    return frozenset(c.alpha_3 for c in pycountry.currencies)


def amount_text(cents: int | None) -> str:
    return "none" if cents is None else f"{cents // 100}.{cents % 100:02d}"
