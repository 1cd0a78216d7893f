"""The demo's people: one account of each role, and due process under way.

``trustreg demo`` prints the accounts and passwords (demo only: they are fixed so a
reader of the README can sign in) and leaves one dispute and one repair application
waiting in the reviewer's queue, filed by the representative through the same
services the pages use.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from trustreg.core.vocabulary import PERSON_KINDS
from trustreg.services import accounts, disputes, repair
from trustreg.services.evidence import Upload
from trustreg.store.db import transaction
from trustreg.store.models import Record, Subject

DEMO_AUTHORITY = "court-bj-1"


@dataclass(frozen=True, slots=True)
class DemoAccount:
    username: str
    role: str
    password: str
    note: str


ACCOUNTS = (
    DemoAccount("operator", "operator", "demo-operator-2026", "creates and verifies accounts"),
    DemoAccount(
        "court-clerk", "authority", "demo-court-clerk-2026", f"submits {DEMO_AUTHORITY}'s records"
    ),
    DemoAccount(
        "bank-checker",
        "checker",
        "demo-bank-checker-2026",
        "verified; looks up persons with a purpose",
    ),
    DemoAccount(
        "subject-rep",
        "representative",
        "demo-subject-rep-2026",
        "speaks for a listed person: my file, dispute, repair",
    ),
    DemoAccount(
        "reviewer", "reviewer", "demo-reviewer-2026", "decides disputes and repair applications"
    ),
)
DISPUTE_GROUNDS = (
    "The judgment was paid in full on 2026-09-30; the court's receipt is attached. "
    "The record still says it is unpaid."
)
REPAIR_GROUNDS = (
    "The penalty was paid and the cause was put right; the regulator's letter confirming "
    "it is attached."
)


def create_demo_accounts(factory: sessionmaker[Session], now: datetime) -> str:
    """Create the accounts, file the dispute and the repair application; returns the
    lines ``trustreg demo`` prints."""
    person, disputed, repairable = _pick_subject(factory, now)
    for spec in ACCOUNTS:
        accounts.create_account(
            factory,
            spec.username,
            spec.password,
            spec.role,
            now,
            display_name=spec.username,
            organisation="Demo Bank" if spec.role == "checker" else "",
            authority=DEMO_AUTHORITY if spec.role == "authority" else None,
            actor="demo",
        )
    accounts.verify(factory, "bank-checker", now, "demo")
    accounts.link_subject(factory, "subject-rep", person, now, "demo")
    representative = accounts.actor_of_account(factory, "subject-rep")
    receipt = Upload("receipt.txt", b"Receipt: judgment paid in full on 2026-09-30.\n")
    dispute = disputes.dispute_record(
        factory, representative, disputed, DISPUTE_GROUNDS, [receipt], now
    )
    lines = ["demo accounts (demo passwords; sign in at /account/sign-in):"]
    lines += [f"  {a.role:<15} {a.username:<13} {a.password:<24} {a.note}" for a in ACCOUNTS]
    lines.append(f"  dispute {dispute['id']} on record {disputed} awaits the reviewer")
    if repairable is not None:
        letter = Upload("letter.txt", b"The regulator confirms the cause was put right.\n")
        application = repair.apply(
            factory, representative, repairable, REPAIR_GROUNDS, [letter], now
        )
        lines.append(
            f"  repair application {application['id']} on record {repairable} awaits the reviewer"
        )
    lines.append(f"  the representative's file: /my-file/{person}")
    return "\n".join(lines)


def _pick_subject(factory: sessionmaker[Session], now: datetime) -> tuple[int, int, int | None]:
    """A person with a published record to dispute and, if the demo has one, another
    record that may be repaired now; the first such person by id."""
    with transaction(factory) as session:
        rows = session.execute(
            select(Record, Subject.id)
            .join(Subject, Subject.id == Record.subject_id)
            .where(Subject.kind.in_(PERSON_KINDS), Record.status == "active")
            .order_by(Subject.id, Record.id)
        ).all()
        by_subject: dict[int, list[Record]] = {}
        for record, subject_id in rows:
            by_subject.setdefault(subject_id, []).append(record)
        fallback: tuple[int, int, int | None] | None = None
        for subject_id, records in by_subject.items():
            fallback = fallback or (subject_id, records[0].id, None)
            for candidate in records:
                if repair.record_eligibility(session, candidate, now.date()).eligible:
                    others = [r.id for r in records if r.id != candidate.id]
                    if others:
                        return subject_id, others[0], candidate.id
    if fallback is None:
        raise LookupError("the demo registry holds no person with a published record")
    return fallback
