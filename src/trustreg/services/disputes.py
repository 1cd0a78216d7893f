"""Disputes: a subject (or whoever acts for it) challenges a record.

Filing is open from the record's public page: the registry must hear a challenge to
what it publishes, and the record shows "disputed" with the day an answer is due
(``dispute_days`` of its record type, 30 by default) wherever it is shown. The name
and contact of whoever filed are kept for the answer only: never published, and the
audit entry of the filing holds neither.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from trustreg.errors import NotFound, ValidationError
from trustreg.store import queries
from trustreg.store.db import transaction
from trustreg.store.models import Dispute, Record
from trustreg.store.writes import append_audit

RELATIONS = ("subject", "representative")
OPEN_STATUSES = ("received",)
LIMITS = {"filed_by": (2, 200), "contact": (5, 200), "grounds": (20, 4000)}


@dataclass(frozen=True, slots=True)
class DisputeForm:
    """What whoever disputes a record tells the registry."""

    filed_by: str
    relation: str
    contact: str
    grounds: str


def check_form(form: DisputeForm) -> DisputeForm:
    """The form with spaces trimmed; ValidationError naming the first bad field."""
    if form.relation not in RELATIONS:
        raise ValidationError("relation", f"must be one of {', '.join(RELATIONS)}")
    cleaned = {}
    for field, (shortest, longest) in LIMITS.items():
        value = (
            " ".join(str(getattr(form, field)).split())
            if field != "grounds"
            else (str(getattr(form, field)).strip())
        )
        if not shortest <= len(value) <= longest:
            raise ValidationError(
                field, f"has {len(value)} characters; between {shortest} and {longest}"
            )
        cleaned[field] = value
    return DisputeForm(cleaned["filed_by"], form.relation, cleaned["contact"], cleaned["grounds"])


def file_dispute(
    factory: sessionmaker[Session],
    record_id: int,
    form: DisputeForm,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Store a dispute of the record; its public view (id, filed_on, answer_due)."""
    form = check_form(form)
    now = now or datetime.now(UTC)
    with transaction(factory) as session:
        record = session.get(Record, record_id)
        if record is None:
            raise NotFound(f"no record with id {record_id}")
        rule = queries.rulebook_in_force(session, now.date()).record_types.get(record.record_type)
        days = rule.dispute_days if rule else 30
        dispute = Dispute(
            record_id=record.id,
            subject_id=record.subject_id,
            filed_at=now,
            filed_by=form.filed_by,
            relation=form.relation,
            contact=form.contact,
            grounds=form.grounds,
            status="received",
            answer_due=now.date() + timedelta(days=days),
        )
        session.add(dispute)
        session.flush()
        append_audit(
            session,
            actor="public",
            action="dispute_filed",
            target=f"record:{record.id}",
            detail={"dispute": dispute.id, "answer_due": dispute.answer_due.isoformat()},
            now=now,
        )
        return dispute_view(dispute)


def dispute_view(dispute: Dispute) -> dict[str, Any]:
    """What the public sees of a dispute: that it is open, since when, until when."""
    return {
        "id": dispute.id,
        "status": dispute.status,
        "filed_on": dispute.filed_at.date().isoformat(),
        "answer_due": dispute.answer_due.isoformat(),
    }


def open_disputes(session: Session, record_ids: Collection[int]) -> dict[int, dict[str, Any]]:
    """The earliest open dispute of each of these records that has one."""
    if not record_ids:
        return {}
    found: dict[int, dict[str, Any]] = {}
    rows = session.scalars(
        select(Dispute)
        .where(Dispute.record_id.in_(list(record_ids)), Dispute.status.in_(OPEN_STATUSES))
        .order_by(Dispute.answer_due, Dispute.id)
    )
    for dispute in rows:
        found.setdefault(dispute.record_id, dispute_view(dispute))
    return found
