"""Disputes: a subject challenges a record, and a reviewer decides.

Filing (:func:`dispute_record`) needs a signed-in representative of the record's
subject (scope ``dispute``): grounds and up to five evidence files
(``services.evidence``). The registry then owes an answer by ``answer_due``, the
filing day plus the record type's ``dispute_days`` (30 by default), and asks the
source authority to re-verify the record (its accounts are notified). Filing changes
nothing in the rating: the record keeps its status, and "disputed" is shown from the
open dispute wherever the record is.

Deadline (:func:`enforce_deadlines`, run daily by ``trustreg maintain``): a dispute
still open after its ``answer_due`` suspends the record from publication. The record
gets the registry status ``suspended`` (void in the core, with a history entry, so
``facts_as_known`` reproduces what was published when) until a decision.

Decision (:func:`decide`, scope ``review``), in one transaction: **upheld** (reasons
required; the record as it was, its status restored), **corrected** (the reviewer's
corrected amount, effective date or summary; history entry with the reasons) or
**removed** (status ``removed``, void; the authority's resubmission of the same
reference is rejected, only a new decision under a new reference brings the fact
back). Assessments and list entries are brought up to date at once, the subject is
notified, and so is every account that checked the subject in the last 12 months
(``services.audit.checkers_of``: look-ups of persons are logged; organisations are
public and their look-ups are not, so nobody is known to tell). Reasons go on the
record's public timeline: reviewers write them without personal data.

:func:`file_dispute` records a dispute that reached the registry by other means (a
letter the operator enters); it checks the form but not who sent it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from trustreg.core.rating import VOID_STATUSES
from trustreg.errors import Conflict, Forbidden, NotFound, ValidationError
from trustreg.services import assessments, audit, evidence, notifications
from trustreg.services.accounts import Actor, require
from trustreg.services.dispute_decisions import Decision, apply_decision, set_status
from trustreg.store import queries
from trustreg.store.db import transaction
from trustreg.store.models import Dispute, Record
from trustreg.store.models_access import Account
from trustreg.store.writes import append_audit

RELATIONS = ("subject", "representative")
OPEN_STATUSES = ("received",)
DECIDED = "decided"
DECISIONS = ("upheld", "corrected", "removed")
LIMITS = {"filed_by": (2, 200), "contact": (5, 200), "grounds": (20, 4000)}
REASONS = (10, 4000)
DEFAULT_DISPUTE_DAYS = 30
CHECKED_WITHIN = timedelta(days=365)  # "everyone who checked the subject in 12 months"
REVERIFY_REQUESTED = "reverify_requested"
WHO_MAY = (
    "only a representative of the record's subject can dispute it: sign in with a "
    "representative account linked to the subject (the registry links it once it has "
    "checked the mandate; see docs/rights.md)"
)


@dataclass(frozen=True, slots=True)
class DisputeForm:
    """A dispute received by other means (a letter): who sent it and how to answer."""

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
        value = str(getattr(form, field))
        value = value.strip() if field == "grounds" else " ".join(value.split())
        check_length(field, value, shortest, longest)
        cleaned[field] = value
    return DisputeForm(cleaned["filed_by"], form.relation, cleaned["contact"], cleaned["grounds"])


def check_length(field: str, value: str, shortest: int, longest: int) -> None:
    """A text of a dispute or repair case: its length, and no NUL (no text needs one,
    and PostgreSQL cannot store it)."""
    if "\x00" in value:
        raise ValidationError(field, "must not contain a NUL character (U+0000)")
    if not shortest <= len(value) <= longest:
        raise ValidationError(
            field, f"has {len(value)} characters; between {shortest} and {longest}"
        )


def dispute_record(
    factory: sessionmaker[Session],
    actor: Actor,
    record_id: int,
    grounds: str,
    uploads: Sequence[evidence.Upload],
    now: datetime,
) -> dict[str, Any]:
    """File a dispute of a record as a representative of its subject, with evidence;
    returns the dispute's view. 401/403 for anyone else, 409 if the record already
    has an open dispute or was removed."""
    require(actor, "dispute", "dispute a record")
    grounds = grounds.strip()
    check_length("grounds", grounds, *LIMITS["grounds"])
    files = evidence.check_uploads(uploads)
    with transaction(factory) as session:
        record = _record(session, record_id)
        if not actor.represents(record.subject_id):
            raise Forbidden(WHO_MAY)
        form = DisputeForm(actor.organisation or actor.username, "representative", "", grounds)
        dispute = _file(session, record, form, now, actor)
        evidence.store(session, "dispute", dispute.id, record.id, files, now)
        return dispute_view(dispute)


def file_dispute(
    factory: sessionmaker[Session],
    record_id: int,
    form: DisputeForm,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Record a dispute received by other means (see the module's words)."""
    form = check_form(form)
    now = now or datetime.now(UTC)
    with transaction(factory) as session:
        return dispute_view(_file(session, _record(session, record_id), form, now, None))


def _record(session: Session, record_id: int) -> Record:
    record = session.get(Record, record_id)
    if record is None:
        raise NotFound(f"no record with id {record_id}")
    return record


def _file(
    session: Session, record: Record, form: DisputeForm, now: datetime, actor: Actor | None
) -> Dispute:
    if record.status == "removed":
        raise Conflict(f"record {record.id} was removed after a dispute; there is nothing left")
    held = open_disputes(session, [record.id]).get(record.id)
    if held is not None:
        raise Conflict(
            f"record {record.id} already has an open dispute (number {held['id']}, answer "
            f"due by {held['answer_due']}); the reviewer decides it first"
        )
    rule = queries.rulebook_in_force(session, now.date()).record_types.get(record.record_type)
    dispute = Dispute(
        record_id=record.id,
        subject_id=record.subject_id,
        filed_at=now,
        filed_by=form.filed_by,
        relation=form.relation,
        contact=form.contact or (f"account:{actor.username}" if actor else ""),
        grounds=form.grounds,
        status="received",
        answer_due=now.date() + timedelta(days=rule.dispute_days if rule else 30),
        account_id=actor.account_id if actor else None,
        reverify_requested_at=now,
    )
    session.add(dispute)
    session.flush()
    _ask_to_reverify(session, record, dispute, now)
    append_audit(
        session,
        actor=actor.label if actor else "public",
        action="dispute_filed",
        target=f"record:{record.id}",
        detail={"dispute": dispute.id, "answer_due": dispute.answer_due.isoformat()},
        now=now,
    )
    return dispute


def _ask_to_reverify(session: Session, record: Record, dispute: Dispute, now: datetime) -> None:
    """Tell the source authority's accounts that a record of theirs is disputed."""
    accounts = session.scalars(
        select(Account.id).where(
            Account.authority_id == record.authority_id, Account.disabled_at.is_(None)
        )
    ).all()
    detail = {
        "dispute": dispute.id,
        "record": record.id,
        "reference": record.reference,
        "record_type": record.record_type,
        "answer_due": dispute.answer_due.isoformat(),
        "asked": "please verify the record again and resubmit, correct or revoke it",
    }
    notifications.notify_accounts(
        session, accounts, REVERIFY_REQUESTED, detail, now, record.subject_id, record.id
    )


def dispute_view(dispute: Dispute) -> dict[str, Any]:
    """What anyone sees of a dispute: that it is open or decided, since and until when,
    whether the record is suspended for want of an answer, and the decision."""
    return {
        "id": dispute.id,
        "status": dispute.status,
        "filed_on": dispute.filed_at.date().isoformat(),
        "answer_due": dispute.answer_due.isoformat(),
        "suspended_on": dispute.suspended_at.date().isoformat() if dispute.suspended_at else None,
        "decision": dispute.decision,
        "decided_on": dispute.decided_at.date().isoformat() if dispute.decided_at else None,
        "reasons": dispute.outcome if dispute.decision else None,
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


def last_decisions(session: Session, record_ids: Collection[int]) -> dict[int, dict[str, Any]]:
    """The latest decided dispute of each of these records that has one."""
    if not record_ids:
        return {}
    rows = session.scalars(
        select(Dispute)
        .where(Dispute.record_id.in_(list(record_ids)), Dispute.status == DECIDED)
        .order_by(Dispute.decided_at, Dispute.id)
    )
    return {d.record_id: dispute_view(d) for d in rows}


# ------------------------------------------------------------------ deadlines


def enforce_deadlines(factory: sessionmaker[Session], now: datetime) -> int:
    """Suspend from publication the records of open disputes whose ``answer_due`` has
    passed without a decision, and re-evaluate their subjects; returns how many
    disputes were overdue. Idempotent: a dispute is suspended once."""
    today = now.date()
    with transaction(factory) as session:
        overdue = session.scalars(
            select(Dispute)
            .where(
                Dispute.status.in_(OPEN_STATUSES),
                Dispute.answer_due < today,
                Dispute.suspended_at.is_(None),
            )
            .order_by(Dispute.id)
        ).all()
        subjects = set()
        for dispute in overdue:
            dispute.suspended_at = now
            record = session.get(Record, dispute.record_id)
            if record is None or record.status in VOID_STATUSES:
                continue  # revoked meanwhile: nothing is published to suspend
            reason = (
                f"dispute {dispute.id} not decided by {dispute.answer_due.isoformat()}: "
                "suspended from publication until it is decided"
            )
            set_status(session, record, "suspended", today, now, "registry", reason)
            append_audit(
                session,
                "registry",
                "dispute_overdue",
                f"record:{record.id}",
                {"dispute": dispute.id, "answer_due": dispute.answer_due.isoformat()},
                now,
            )
            subjects.add(record.subject_id)
        assessments.refresh(session, sorted(subjects), now)
        return len(overdue)


# ------------------------------------------------------------------ decisions


def decide(
    factory: sessionmaker[Session],
    actor: Actor,
    dispute_id: int,
    decision: Decision,
    now: datetime,
) -> dict[str, Any]:
    """Decide an open dispute (see the module's words); returns the dispute's view."""
    require(actor, "review", "decide disputes")
    if decision.decision not in DECISIONS:
        raise ValidationError("decision", f"must be one of {', '.join(DECISIONS)}")
    reasons = decision.reasons.strip()
    check_length("reasons", reasons, *REASONS)
    with transaction(factory) as session:
        dispute = session.get(Dispute, dispute_id)
        if dispute is None:
            raise NotFound(f"no dispute {dispute_id}")
        if dispute.status not in OPEN_STATUSES:
            decided = dispute.decided_at.date().isoformat() if dispute.decided_at else "?"
            raise Conflict(f"dispute {dispute_id} was decided on {decided} ({dispute.decision})")
        record = _record(session, dispute.record_id)
        what = apply_decision(session, record, dispute.id, decision, reasons, actor.label, now)
        dispute.status, dispute.decision, dispute.outcome = DECIDED, decision.decision, reasons
        dispute.decided_at, dispute.decided_by = now, actor.label
        assessments.refresh(session, [record.subject_id], now)
        detail = {"dispute": dispute.id, "decision": decision.decision, "changed": what}
        append_audit(session, actor.label, "dispute_decided", f"record:{record.id}", detail, now)
        _tell(session, record, dispute, now)
        return dispute_view(dispute)


def _tell(session: Session, record: Record, dispute: Dispute, now: datetime) -> None:
    """Tell the subject, and everyone who checked it in the last 12 months."""
    detail = {
        "dispute": dispute.id,
        "record": record.id,
        "reference": record.reference,
        "record_type": record.record_type,
        "decision": dispute.decision,
        "reasons": dispute.outcome,
        "decided_on": now.date().isoformat(),
    }
    notifications.notify_subject(
        session, record.subject_id, notifications.DISPUTE_DECIDED, detail, now, record.id
    )
    checkers = checker_accounts(session, record.subject_id, now - CHECKED_WITHIN)
    told = {k: v for k, v in detail.items() if k != "reasons"}  # the subject's business
    notifications.notify_accounts(
        session, checkers, notifications.DISPUTE_DECIDED, told, now, record.subject_id, record.id
    )


def checker_accounts(session: Session, subject_id: int, since: datetime) -> list[int]:
    """The accounts that looked the subject up since ``since``: the audit log names
    them by label (``role:username``, ``services.accounts.Actor.label``)."""
    usernames = {
        label.split(":", 1)[1]
        for label in audit.checkers_of(session, subject_id, since)
        if ":" in label
    }
    if not usernames:
        return []
    return list(
        session.scalars(
            select(Account.id).where(
                Account.username.in_(sorted(usernames)), Account.disabled_at.is_(None)
            )
        )
    )


# ------------------------------------------------------------------ the queue


def queue_items(session: Session, today: date) -> list[dict[str, Any]]:
    """Every open dispute, for the reviewer queue: the record, the subject, grounds,
    evidence, deadline and whether it is overdue or the record suspended."""
    rows = session.execute(
        select(Dispute, Record)
        .join(Record, Record.id == Dispute.record_id)
        .where(Dispute.status.in_(OPEN_STATUSES))
        .order_by(Dispute.answer_due, Dispute.id)
    ).all()
    files = evidence.listed(session, "dispute", [d.id for d, _ in rows])
    return [
        {
            "kind": "dispute",
            "id": dispute.id,
            "record": record_brief(record),
            "subject": record.subject_id,
            "filed_on": dispute.filed_at.date().isoformat(),
            "answer_due": dispute.answer_due.isoformat(),
            "overdue": dispute.answer_due < today,
            "suspended": dispute.suspended_at is not None,
            "grounds": dispute.grounds,
            "evidence": files.get(dispute.id, []),
        }
        for dispute, record in rows
    ]


def record_brief(record: Record) -> dict[str, Any]:
    return {
        "id": record.id,
        "record_type": record.record_type,
        "reference": record.reference,
        "status": record.status,
        "effective_from": record.effective_from.isoformat(),
        "amount_cents": record.amount_cents,
        "currency": record.currency,
        "summary": record.summary,
    }


def require_case_reader(actor: Actor, subject_id: int, what: str) -> None:
    """A dispute or a repair application is read by reviewers and by the subject's
    representatives; Forbidden for anyone else (``what``: "a dispute", …)."""
    if not (actor.may("review") or actor.represents(subject_id)):
        raise Forbidden(f"{what} is for the reviewers and the subject's representatives")


def dispute_for(factory: sessionmaker[Session], actor: Actor, dispute_id: int) -> dict[str, Any]:
    """One dispute with its grounds and evidence, for a reviewer or a representative of
    the subject: 401 for anonymous visitors, 403 for any other account."""
    if not actor.signed_in:
        require(actor, "review", "see a dispute")
    with transaction(factory) as session:
        dispute = session.get(Dispute, dispute_id)
        if dispute is None:
            raise NotFound(f"no dispute {dispute_id}")
        require_case_reader(actor, dispute.subject_id, "a dispute")
        record = _record(session, dispute.record_id)
        files = evidence.listed(session, "dispute", [dispute.id]).get(dispute.id, [])
        return dispute_view(dispute) | {
            "record": record_brief(record),
            "subject": dispute.subject_id,
            "grounds": dispute.grounds,
            "evidence": files,
        }
