"""My file: everything the registry holds about a subject, for its representatives.

Free and immediate: no request to file, no waiting. A representative linked to the
subject (``accounts.link_subject``) sees, on a page, as JSON or as PDF:

- the subject as held: names, masked identifiers (the registry keeps no other form
  of a person's number), kind, region, birth date;
- every record with its status history, its publication day (records still in their
  notice period are marked), disputes and repair applications with their state;
- the assessment today with the explanation of every point, the consequences in
  force, and the list entries, past and present;
- the notifications sent to the subject;
- the access log: who looked the subject up, when, for what purpose, by which
  channel, and what they were shown (``services.audit.access_log``).

Who may see it (:func:`check_reader`): nobody anonymous (401); a signed-in account
without the scope ``myfile`` is refused (403) whatever subject it asks for; a
representative asking for a subject it does not represent gets 404 with the same
words whether the subject exists or not, so the answer tells nothing about others.
Each reading is an audit entry ``own_file`` (it is not in the access log: the access
log lists the others who looked).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from trustreg.errors import Forbidden, NotFound, Unauthorized
from trustreg.services import audit, subjects
from trustreg.services.access import OWN_FILE, Grant, log_lookups
from trustreg.services.accounts import Actor
from trustreg.store import queries
from trustreg.store.db import transaction
from trustreg.store.models import Dispute, ListEntry, Record
from trustreg.store.models_access import (
    Account,
    EvidenceFile,
    Notification,
    RepairApplication,
)

FORMAT = "trustreg-my-file/1"
SECTIONS = (
    "subject",
    "records",
    "in_notice",
    "assessment",
    "consequences",
    "list_entries",
    "notifications",
    "access_log",
)


def check_reader(actor: Actor, subject_id: int) -> None:
    """Refuse anyone but a representative of the subject (see the module's words)."""
    if not actor.signed_in:
        raise Unauthorized("sign in as a representative of the subject to see its file")
    if not actor.may("myfile"):
        raise Forbidden(
            "only a subject's representatives see its file (an account or token with the "
            "scope 'myfile')"
        )
    if not actor.represents(subject_id):
        raise NotFound(f"no file of subject {subject_id} among the subjects you represent")


def my_file(
    factory: sessionmaker[Session], actor: Actor, subject_id: int, now: datetime, channel: str
) -> dict[str, Any]:
    """Everything held about the subject, for one of its representatives; the reading
    is logged (``own_file``) in the same transaction."""
    check_reader(actor, subject_id)
    with transaction(factory) as session:
        subject = queries.subject_by_id(session, subject_id)
        if subject is None:  # purged since the link was made
            raise NotFound(f"no file of subject {subject_id} among the subjects you represent")
        view = subjects.subject_view(session, subject, masked=False)
        today = now.date()
        records = _records(session, view["records"], subject_id, today)
        built = {
            "format": FORMAT,
            "generated_at": _utc(now).isoformat(),
            "subject": {k: view[k] for k in _IDENTITY},
            "records": records,
            "in_notice": [r["id"] for r in records if r["in_notice"]],
            "assessment": view["assessment"],
            "consequences": view["consequences"],
            "list_entries": _list_entries(session, subject_id, today),
            "notifications": _notifications(session, subject_id),
            "access_log": _access_log(session, subject_id),
        }
        log_lookups(
            session, Grant(actor.label, OWN_FILE, own=True), [(subject_id, {})], channel, now
        )
    return built


_IDENTITY = (
    "id",
    "kind",
    "name",
    "names",
    "identifiers",
    "country",
    "region",
    "birth_date",
    "registered_on",
)


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything the registry writes is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _day(moment: datetime | None) -> str | None:
    return _utc(moment).isoformat() if moment else None


def _records(
    session: Session, shown: list[dict[str, Any]], subject_id: int, today: date
) -> list[dict[str, Any]]:
    """The subject's records (as on its profile) with publication day, notice, every
    dispute and repair application, and the evidence sent with them."""
    ids = [r["id"] for r in shown]
    published = dict(
        session.execute(select(Record.id, Record.published_from).where(Record.id.in_(ids))).all()
    )
    evidence = _evidence(session, ids)
    disputes: dict[int, list[dict[str, Any]]] = {}
    for d in session.scalars(
        select(Dispute).where(Dispute.subject_id == subject_id).order_by(Dispute.id)
    ):
        disputes.setdefault(d.record_id, []).append(_dispute(d, evidence))
    repairs: dict[int, list[dict[str, Any]]] = {}
    for a in session.scalars(
        select(RepairApplication)
        .where(RepairApplication.subject_id == subject_id)
        .order_by(RepairApplication.id)
    ):
        repairs.setdefault(a.record_id, []).append(_repair(a, evidence))
    found = []
    for record in shown:
        day = published.get(record["id"])
        found.append(
            record
            | {
                "published_from": day.isoformat() if day else None,
                "in_notice": day is not None and day > today,
                "disputes": disputes.get(record["id"], []),
                "repair_applications": repairs.get(record["id"], []),
            }
        )
    return found


def _evidence(session: Session, record_ids: list[int]) -> dict[tuple[str, int], list[Any]]:
    """The evidence files of these records' disputes and repairs (not their content)."""
    found: dict[tuple[str, int], list[Any]] = {}
    if not record_ids:
        return found
    rows = session.execute(
        select(
            EvidenceFile.owner_kind,
            EvidenceFile.owner_id,
            EvidenceFile.filename,
            EvidenceFile.content_type,
            EvidenceFile.size,
            EvidenceFile.sha256,
        )
        .where(EvidenceFile.record_id.in_(record_ids))
        .order_by(EvidenceFile.id)
    )
    for kind, owner, filename, content_type, size, sha256 in rows:
        found.setdefault((kind, owner), []).append(
            {"filename": filename, "content_type": content_type, "size": size, "sha256": sha256}
        )
    return found


def _dispute(d: Dispute, evidence: dict[tuple[str, int], list[Any]]) -> dict[str, Any]:
    # Who filed and their contact are the filer's data, kept for the answer only.
    return {
        "id": d.id,
        "filed_at": _day(d.filed_at),
        "relation": d.relation,
        "grounds": d.grounds,
        "status": d.status,
        "answer_due": d.answer_due.isoformat(),
        "reverify_requested_at": _day(d.reverify_requested_at),
        "suspended_at": _day(d.suspended_at),
        "decision": d.decision,
        "decided_at": _day(d.decided_at),
        "reasons": d.outcome,
        "evidence": evidence.get(("dispute", d.id), []),
    }


def _repair(a: RepairApplication, evidence: dict[tuple[str, int], list[Any]]) -> dict[str, Any]:
    return {
        "id": a.id,
        "filed_at": _day(a.filed_at),
        "grounds": a.grounds,
        "status": a.status,
        "answer_due": a.answer_due.isoformat(),
        "decided_at": _day(a.decided_at),
        "reasons": a.reasons,
        "evidence": evidence.get(("repair", a.id), []),
    }


def _list_entries(session: Session, subject_id: int, today: date) -> list[dict[str, Any]]:
    """Every list entry of the subject, open and ended, newest first, with titles."""
    rulebook = queries.rulebook_in_force(session, today)
    rows = session.scalars(
        select(ListEntry)
        .where(ListEntry.subject_id == subject_id)
        .order_by(ListEntry.entered_on.desc(), ListEntry.id.desc())
    )
    found = []
    for entry in rows:
        listed = rulebook.lists.get(entry.list_code)
        found.append(
            {
                "list": entry.list_code,
                "title_zh": listed.title_zh if listed else entry.list_code,
                "title_en": listed.title_en if listed else entry.list_code,
                "entered_on": entry.entered_on.isoformat(),
                "scheduled_exit": entry.scheduled_exit.isoformat(),
                "ended_on": entry.ended_on.isoformat() if entry.ended_on else None,
                "open": entry.ended_on is None,
                "records": list(entry.record_ids or []),
                "rulebook_version": entry.rulebook_version,
            }
        )
    return found


def _notifications(session: Session, subject_id: int) -> list[dict[str, Any]]:
    """What the registry told the subject, newest first."""
    rows = session.scalars(
        select(Notification)
        .where(Notification.subject_id == subject_id, Notification.account_id.is_(None))
        .order_by(Notification.id.desc())
    )
    return [
        {
            "kind": n.kind,
            "record": n.record_id,
            "detail": n.detail,
            "created_at": _day(n.created_at),
        }
        for n in rows
    ]


def _access_log(session: Session, subject_id: int) -> list[dict[str, Any]]:
    """Who looked, when, why and what they saw, newest first, with the organisation
    behind each account."""
    entries = [a.to_dict() for a in audit.access_log(session, subject_id)]
    usernames = {e["actor"].partition(":")[2] for e in entries if ":" in e["actor"]}
    organisations = dict(
        session.execute(
            select(Account.username, Account.organisation).where(
                Account.username.in_(sorted(usernames))
            )
        ).all()
    )
    for entry in entries:
        username = entry["actor"].partition(":")[2]
        entry["organisation"] = organisations.get(username) or None
    return entries
