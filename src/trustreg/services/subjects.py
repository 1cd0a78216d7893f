"""Looking subjects up and presenting everything the registry holds on one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from trustreg.core.eligibility import consequence_dict, consequences_in_force
from trustreg.core.identifiers import Identifier, mask_identifier, parse_identifier
from trustreg.core.rating import RecordFact, publicity_end
from trustreg.core.rulebook import RecordType
from trustreg.core.vocabulary import PERSON_KINDS
from trustreg.errors import NotFound
from trustreg.services import assessments, disputes
from trustreg.store import queries
from trustreg.store.db import transaction
from trustreg.store.models import Record, RecordStatusChange, Subject


def find_by_identifier(factory: sessionmaker[Session], text: str, masked: bool) -> dict[str, Any]:
    """The subject holding ``scheme:value``, as a view; NotFound if none."""
    identifier = parse_identifier(text)
    with transaction(factory) as session:
        subject = queries.subject_by_identifier(session, identifier)
        if subject is None:
            raise NotFound(f"no subject with identifier {identifier}")
        return subject_view(session, subject, masked)


def find_by_id(factory: sessionmaker[Session], subject_id: int, masked: bool) -> dict[str, Any]:
    with transaction(factory) as session:
        subject = queries.subject_by_id(session, subject_id)
        if subject is None:
            raise NotFound(f"no subject with id {subject_id}")
        return subject_view(session, subject, masked)


def find_record(factory: sessionmaker[Session], record_id: int) -> dict[str, Any]:
    """One record with its provenance and status history, and the subject it concerns
    (a person's identifiers masked, as everywhere in public)."""
    with transaction(factory) as session:
        found = queries.record_with_history(session, record_id)
        if found is None:
            raise NotFound(f"no record with id {record_id}")
        record, authority, history = found
        subject = queries.subject_by_id(session, record.subject_id)
        assert subject is not None  # a record always has its subject
        person = subject.kind in PERSON_KINDS
        identifiers = [
            _identifier_text(Identifier(i.scheme, i.value), person)
            for i in sorted(subject.identifiers, key=lambda i: i.scheme)
        ]
        types = queries.record_types(session)
        disputed = disputes.open_disputes(session, [record.id])
        view = _record_view(record, authority, history, types.get(record.record_type), disputed)
        view["subject"] = {
            "id": subject.id,
            "kind": subject.kind,
            "name": subject.display_name,
            "identifiers": identifiers,
        }
        return view


def subject_view(session: Session, subject: Subject, masked: bool) -> dict[str, Any]:
    """A subject with identifiers, names and records (with status history).

    ``masked`` hides person identifiers and birth dates, for anyone but the operator.
    """
    person = subject.kind in PERSON_KINDS
    today = datetime.now(UTC).date()
    current = assessments.assess(session, subject.id, today)
    assessment = current.to_dict()
    rulebook = queries.rulebook_in_force(session, today)
    types = rulebook.record_types
    consequences = [
        consequence_dict(c) for c in consequences_in_force(current, rulebook, subject.kind)
    ]
    for membership in assessment["lists"]:
        listed = rulebook.lists[membership["list"]]
        membership["title_zh"], membership["title_en"] = listed.title_zh, listed.title_en
    rows = queries.subject_records(session, subject.id)
    disputed = disputes.open_disputes(session, [record.id for record, _, _ in rows])
    records = [
        _record_view(record, authority, history, types.get(record.record_type), disputed)
        for record, authority, history in rows
    ]
    return {
        "id": subject.id,
        "kind": subject.kind,
        "name": subject.display_name,
        "country": subject.country,
        "region": subject.region,
        "birth_date": None if masked or not subject.birth_date else subject.birth_date.isoformat(),
        "registered_on": subject.registered_on.isoformat() if subject.registered_on else None,
        "identifiers": [
            _identifier_text(Identifier(i.scheme, i.value), masked and person)
            for i in sorted(subject.identifiers, key=lambda i: i.scheme)
        ],
        "names": [
            {"name": n.name, "kind": n.kind}
            for n in sorted(subject.names, key=lambda n: (n.kind != "original", n.kind, n.name))
        ],
        "assessment": assessment,
        # What the list memberships mean today, for every decision, and until when.
        "consequences": consequences,
        "records": records,
    }


def _record_view(
    record: Record,
    authority: str,
    history: list[RecordStatusChange],
    rule: RecordType | None,
    disputed: dict[int, dict[str, Any]],
) -> dict[str, Any]:
    fact = RecordFact(
        record.id, record.record_type, record.effective_from, record.status, record.status_since
    )
    publicity_ends = publicity_end(fact, rule) if rule else None
    return {
        "id": record.id,
        "authority": authority,
        "reference": record.reference,
        "record_type": record.record_type,
        "title_zh": rule.title_zh if rule else None,
        "title_en": rule.title_en if rule else None,
        "legal_basis": rule.legal_basis if rule else None,
        "decided_on": record.decided_on.isoformat(),
        "effective_from": record.effective_from.isoformat(),
        "amount": _amount(record.amount_cents),
        "currency": record.currency,
        "status": record.status,
        "summary": record.summary,
        # The first day the record is no longer published (the rating's own rule: earlier
        # once satisfied, for types published only while unsatisfied); then kept for
        # retention_days, unpublished.
        "publicity_ends": publicity_ends.isoformat() if publicity_ends else None,
        "public_until_satisfied": rule.public_until_satisfied if rule else False,
        "dispute": disputed.get(record.id),
        "provenance": {
            "batch": record.batch_id,
            "source_file": record.source_file,
            "source_row": record.source_row,
        },
        "status_history": [
            {
                "status": h.status,
                "at": h.changed_at.isoformat(),
                "actor": h.actor,
                "reason": h.reason,
            }
            for h in history
        ],
    }


def _identifier_text(identifier: Identifier, masked: bool) -> str:
    if masked:
        return f"{identifier.scheme}:{mask_identifier(identifier)}"
    return str(identifier)


def _amount(cents: int | None) -> str | None:
    if cents is None:
        return None
    return f"{cents // 100}.{cents % 100:02d}"
