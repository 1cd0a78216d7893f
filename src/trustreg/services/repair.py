"""Credit repair: a subject that has put things right applies to end a record's
publication early, and a reviewer decides.

Who and when (:func:`eligibility`): a representative of the record's subject (scope
``dispute``), for a record whose type sets ``repair_after_days`` in the rulebook,
from ``effective_from + repair_after_days`` on, while the record is published
(``active`` or ``satisfied``). Before that day the refusal names it.

The application carries grounds (what was done to rectify) and up to five evidence
files (``services.evidence``); the registry owes an answer within the type's
``dispute_days``. **Approved**: the record's status becomes ``repaired`` (an ending
status: its publicity and listings end that day), assessments and list entries are
brought up to date at once. **Rejected**: the reasons are kept and shown to the
subject on the record's page and in its notifications. Either way the subject is
notified (``REPAIR_DECIDED``).

A judgment its authority reports ``satisfied`` needs no application: for types whose
list effect says ``exit_when_satisfied`` the listing ends on the day of satisfaction
by the rating's own rule (``core.rating``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from trustreg.core.rulebook import RecordType
from trustreg.errors import Conflict, Forbidden, NotFound, ValidationError
from trustreg.services import assessments, disputes, evidence, notifications
from trustreg.services.accounts import Actor, require
from trustreg.services.dispute_decisions import set_status
from trustreg.store import queries
from trustreg.store.db import transaction
from trustreg.store.models import Record
from trustreg.store.models_access import RepairApplication
from trustreg.store.writes import append_audit

REPAIRABLE_STATUSES = ("active", "satisfied")
OPEN = "received"
DECISIONS = ("approved", "rejected")
GROUNDS = (20, 4000)
WHO_MAY = (
    "only a representative of the record's subject can apply for its repair: sign in "
    "with a representative account linked to the subject"
)


@dataclass(frozen=True, slots=True)
class Eligibility:
    """Whether a record may be repaired now; if not, why; and from which day."""

    eligible: bool
    earliest: date | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "eligible": self.eligible,
            "earliest": self.earliest.isoformat() if self.earliest else None,
            "reason": self.reason,
        }


def eligibility(record: Record, rule: RecordType | None, today: date) -> Eligibility:
    """Whether the subject may apply for repair of this record today."""
    if rule is None or rule.repair_after_days is None:
        never = f"records of type {record.record_type} cannot be repaired (the rulebook "
        return Eligibility(False, None, never + "sets no repair_after_days for it)")
    earliest = record.effective_from + timedelta(days=rule.repair_after_days)
    if record.status not in REPAIRABLE_STATUSES:
        return Eligibility(
            False, earliest, f"the record is {record.status}: only a published record is repaired"
        )
    if today < earliest:
        return Eligibility(
            False, earliest, f"repair may be applied for from {earliest.isoformat()} on"
        )
    return Eligibility(True, earliest, "")


def record_eligibility(session: Session, record: Record, today: date) -> Eligibility:
    rule = queries.rulebook_in_force(session, today).record_types.get(record.record_type)
    return eligibility(record, rule, today)


def apply(
    factory: sessionmaker[Session],
    actor: Actor,
    record_id: int,
    grounds: str,
    uploads: Sequence[evidence.Upload],
    now: datetime,
) -> dict[str, Any]:
    """Apply for repair of a record as a representative of its subject, with evidence;
    returns the application's view. 401/403 for anyone else, 422 naming the earliest
    day when it is too early, 409 if an application is already open."""
    require(actor, "dispute", "apply for credit repair")
    grounds = grounds.strip()
    disputes.check_length("grounds", grounds, *GROUNDS)
    files = evidence.check_uploads(uploads)
    with transaction(factory) as session:
        record = session.get(Record, record_id)
        if record is None:
            raise NotFound(f"no record with id {record_id}")
        if not actor.represents(record.subject_id):
            raise Forbidden(WHO_MAY)
        allowed = record_eligibility(session, record, now.date())
        if not allowed.eligible:
            raise ValidationError("record", allowed.reason)
        held = open_applications(session, [record.id]).get(record.id)
        if held is not None:
            raise Conflict(
                f"record {record.id} already has an open repair application (number "
                f"{held['id']}, answer due by {held['answer_due']})"
            )
        rule = queries.rulebook_in_force(session, now.date()).record_types[record.record_type]
        application = RepairApplication(
            record_id=record.id,
            subject_id=record.subject_id,
            account_id=actor.account_id,
            filed_at=now,
            grounds=grounds,
            status=OPEN,
            answer_due=now.date() + timedelta(days=rule.dispute_days),
        )
        session.add(application)
        session.flush()
        evidence.store(session, "repair", application.id, record.id, files, now)
        detail = {"application": application.id, "answer_due": application.answer_due.isoformat()}
        append_audit(session, actor.label, "repair_applied", f"record:{record.id}", detail, now)
        return application_view(application)


def decide(
    factory: sessionmaker[Session],
    actor: Actor,
    application_id: int,
    decision: str,
    reasons: str,
    now: datetime,
) -> dict[str, Any]:
    """Approve or reject an open application (reasons required to reject); returns its
    view. Approval makes the record ``repaired`` and updates assessments at once."""
    require(actor, "review", "decide repair applications")
    if decision not in DECISIONS:
        raise ValidationError("decision", f"must be one of {', '.join(DECISIONS)}")
    reasons = reasons.strip()
    if decision == "rejected" or reasons:
        disputes.check_length("reasons", reasons, *disputes.REASONS)
    with transaction(factory) as session:
        application = session.get(RepairApplication, application_id)
        if application is None:
            raise NotFound(f"no repair application {application_id}")
        if application.status != OPEN:
            raise Conflict(f"repair application {application_id} was already {application.status}")
        record = session.get(Record, application.record_id)
        assert record is not None  # an application always has its record
        if decision == "approved":
            if record.status not in REPAIRABLE_STATUSES:
                raise Conflict(f"record {record.id} is {record.status}; it cannot be repaired now")
            why = f"repair application {application.id} approved by the reviewer. {reasons}"
            set_status(session, record, "repaired", now.date(), now, actor.label, why.strip())
            assessments.refresh(session, [record.subject_id], now)
        application.status, application.reasons = decision, reasons or None
        application.decided_at, application.decided_by = now, actor.label
        detail = {"application": application.id, "decision": decision}
        append_audit(session, actor.label, "repair_decided", f"record:{record.id}", detail, now)
        told = detail | {
            "record": record.id,
            "reference": record.reference,
            "record_type": record.record_type,
            "reasons": reasons or None,
            "decided_on": now.date().isoformat(),
        }
        notifications.notify_subject(
            session, record.subject_id, notifications.REPAIR_DECIDED, told, now, record.id
        )
        return application_view(application)


def application_view(application: RepairApplication) -> dict[str, Any]:
    decided = application.decided_at
    return {
        "id": application.id,
        "record": application.record_id,
        "status": application.status,
        "filed_on": application.filed_at.date().isoformat(),
        "answer_due": application.answer_due.isoformat(),
        "decided_on": decided.date().isoformat() if decided else None,
        "reasons": application.reasons,
    }


def open_applications(session: Session, record_ids: Collection[int]) -> dict[int, dict[str, Any]]:
    """The open application of each of these records that has one."""
    if not record_ids:
        return {}
    rows = session.scalars(
        select(RepairApplication)
        .where(RepairApplication.record_id.in_(list(record_ids)), RepairApplication.status == OPEN)
        .order_by(RepairApplication.id)
    )
    return {a.record_id: application_view(a) for a in rows}


def record_state(
    factory: sessionmaker[Session], record_id: int, today: date, party: bool
) -> dict[str, Any]:
    """For a record's page: whether repair may be applied for today (and from when),
    and, for a party (the subject's representative or a reviewer), the latest
    application with the reviewer's reasons."""
    with transaction(factory) as session:
        record = session.get(Record, record_id)
        if record is None:
            raise NotFound(f"no record with id {record_id}")
        allowed = record_eligibility(session, record, today)
        latest = latest_application(session, record_id) if party else None
    return {"eligibility": allowed.to_dict(), "application": latest}


def latest_application(session: Session, record_id: int) -> dict[str, Any] | None:
    """The newest application for a record, open or decided."""
    row = session.scalars(
        select(RepairApplication)
        .where(RepairApplication.record_id == record_id)
        .order_by(RepairApplication.id.desc())
        .limit(1)
    ).first()
    return application_view(row) if row else None


def queue_items(session: Session, today: date) -> list[dict[str, Any]]:
    """Every open application, for the reviewer queue (as ``disputes.queue_items``)."""
    rows = session.execute(
        select(RepairApplication, Record)
        .join(Record, Record.id == RepairApplication.record_id)
        .where(RepairApplication.status == OPEN)
        .order_by(RepairApplication.answer_due, RepairApplication.id)
    ).all()
    files = evidence.listed(session, "repair", [a.id for a, _ in rows])
    return [
        {
            "kind": "repair",
            "id": application.id,
            "record": disputes.record_brief(record),
            "subject": record.subject_id,
            "filed_on": application.filed_at.date().isoformat(),
            "answer_due": application.answer_due.isoformat(),
            "overdue": application.answer_due < today,
            "suspended": False,
            "grounds": application.grounds,
            "evidence": files.get(application.id, []),
        }
        for application, record in rows
    ]


def review_queue(
    factory: sessionmaker[Session], actor: Actor, now: datetime
) -> list[dict[str, Any]]:
    """Open disputes and repair applications for reviewers, by deadline: the overdue
    first (their deadline is the earliest), disputes before applications on a tie."""
    require(actor, "review", "see the review queue")
    today = now.date()
    with transaction(factory) as session:
        items = disputes.queue_items(session, today) + queue_items(session, today)
    order = {"dispute": 0, "repair": 1}
    return sorted(items, key=lambda i: (i["answer_due"], order[i["kind"]], i["id"]))


def application_for(
    factory: sessionmaker[Session], actor: Actor, application_id: int
) -> dict[str, Any]:
    """One application with grounds and evidence, for a reviewer or a representative of
    the subject: 401 for anonymous visitors, 403 for any other account."""
    if not actor.signed_in:
        require(actor, "review", "see a repair application")
    with transaction(factory) as session:
        application = session.get(RepairApplication, application_id)
        if application is None:
            raise NotFound(f"no repair application {application_id}")
        disputes.require_case_reader(actor, application.subject_id, "a repair application")
        record = session.get(Record, application.record_id)
        assert record is not None
        files = evidence.listed(session, "repair", [application.id]).get(application.id, [])
        return application_view(application) | {
            "record": disputes.record_brief(record),
            "subject": application.subject_id,
            "grounds": application.grounds,
            "evidence": files,
        }
