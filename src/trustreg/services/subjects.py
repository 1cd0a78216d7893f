"""Looking subjects up and presenting everything the registry holds on one."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from trustreg.core.eligibility import consequence_dict, consequences_in_force
from trustreg.core.identifiers import Identifier, mask_identifier, parse_identifier
from trustreg.core.rating import RecordFact, publicity_end
from trustreg.core.rulebook import RecordType
from trustreg.core.vocabulary import PERSON_KINDS
from trustreg.errors import NotFound
from trustreg.services import assessments, disputes
from trustreg.services.accounts import Actor
from trustreg.store import queries
from trustreg.store.db import transaction
from trustreg.store.models import Record, RecordStatusChange, Subject


def find_by_identifier(
    factory: sessionmaker[Session], text: str, masked: bool, *, identifier_key: str
) -> dict[str, Any]:
    """The subject holding ``scheme:value``, as a view; NotFound if none.

    Found by the identifier's keyed hash under ``identifier_key`` (the store's key):
    the full number works, though a person's is not kept.
    """
    identifier = parse_identifier(text)
    with transaction(factory) as session:
        subject = queries.subject_by_identifier(session, identifier, identifier_key)
        if subject is None:
            # Masked even here: answers are logged and forwarded (eligibility does the same).
            shown = f"{identifier.scheme}:{mask_identifier(identifier)}"
            raise NotFound(f"no subject with identifier {shown}")
        return subject_view(session, subject, masked)


def find_by_id(factory: sessionmaker[Session], subject_id: int, masked: bool) -> dict[str, Any]:
    with transaction(factory) as session:
        subject = queries.subject_by_id(session, subject_id)
        if subject is None:
            raise NotFound(f"no subject with id {subject_id}")
        return subject_view(session, subject, masked)


# Statuses whose record is no longer published: its content is withheld from the public.
WITHHELD_STATUSES = ("suspended", "removed")


def find_record(
    factory: sessionmaker[Session],
    record_id: int,
    viewer: Actor | str | None = None,
    today: date | None = None,
) -> dict[str, Any]:
    """One record with its provenance and status history, and the subject it concerns
    (a person's identifiers masked, as everywhere in public).

    A record still in its notice period is not published: only ``viewer`` a party to
    it sees it (:func:`sees_unpublished`); for anyone else it does not exist (404).
    A record suspended or removed after a dispute shows its timeline, not its content.
    """
    today = today or datetime.now(UTC).date()
    with transaction(factory) as session:
        found = queries.record_with_history(session, record_id)
        if found is None:
            raise NotFound(f"no record with id {record_id}")
        record, authority, history = found
        party = sees_unpublished(viewer, record.subject_id)
        if not party and in_notice(record, today):
            raise NotFound(f"no record with id {record_id}")
        subject = queries.subject_by_id(session, record.subject_id)
        assert subject is not None  # a record always has its subject
        person = subject.kind in PERSON_KINDS
        identifiers = [
            _identifier_text(Identifier(i.scheme, i.value), person)
            for i in sorted(subject.identifiers, key=lambda i: i.scheme)
        ]
        types = queries.record_types(session)
        disputed = disputes.open_disputes(session, [record.id])
        rule = types.get(record.record_type)
        view = _record_view(record, authority, history, rule, disputed, today, party)
        view["subject"] = {
            "id": subject.id,
            "kind": subject.kind,
            "name": subject.display_name,
            "identifiers": identifiers,
        }
        return view


def sees_unpublished(viewer: Actor | str | None, subject_id: int) -> bool:
    """Whether ``viewer`` sees a subject's records that are not (or no longer)
    published: its representatives, reviewers, the operator, and in-process tools."""
    if isinstance(viewer, str):
        return True
    if viewer is None:
        return False
    return viewer.represents(subject_id) or viewer.role in ("reviewer", "operator")


def in_notice(record: Record, today: date) -> bool:
    """Whether the record is still in its notice period (not yet published)."""
    return record.published_from is not None and record.published_from > today


def subject_view(
    session: Session, subject: Subject, masked: bool, include_notice: bool | None = None
) -> dict[str, Any]:
    """A subject with identifiers, names and records (with status history).

    ``masked`` hides birth dates, for anyone but the operator. A person's number is
    masked for everyone: the registry keeps no other form of it (docs/privacy.md).
    ``include_notice``: records still in their notice period are shown (marked
    ``in_notice_until``) and suspended or removed ones in full; by default only
    unmasked, for the operator and the subject's own file.
    """
    full = (not masked) if include_notice is None else include_notice
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
    if not full:
        rows = [row for row in rows if not in_notice(row[0], today)]
    disputed = disputes.open_disputes(session, [record.id for record, _, _ in rows])
    records = [
        _record_view(
            record, authority, history, types.get(record.record_type), disputed, today, full
        )
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
    today: date,
    full: bool,
) -> dict[str, Any]:
    fact = RecordFact(
        record.id, record.record_type, record.effective_from, record.status, record.status_since
    )
    publicity_ends = publicity_end(fact, rule) if rule else None
    withheld = not full and record.status in WITHHELD_STATUSES
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
        "amount": None if withheld else _amount(record.amount_cents),
        "currency": None if withheld else record.currency,
        "status": record.status,
        "summary": "" if withheld else record.summary,
        # The first day it may be published (its notice period's end), and that day
        # again while it has not come: the record is then shown only to its parties.
        "published_from": record.published_from.isoformat() if record.published_from else None,
        "in_notice_until": (
            record.published_from.isoformat()
            if record.published_from and in_notice(record, today)
            else None
        ),
        # The earliest day to apply for repair (None: the rulebook never repairs the type).
        "repair_from": _repair_from(record, rule),
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


def _repair_from(record: Record, rule: RecordType | None) -> str | None:
    if rule is None or rule.repair_after_days is None:
        return None
    return (record.effective_from + timedelta(days=rule.repair_after_days)).isoformat()


def _identifier_text(identifier: Identifier, masked: bool) -> str:
    if masked:
        return f"{identifier.scheme}:{mask_identifier(identifier)}"
    return str(identifier)


def _amount(cents: int | None) -> str | None:
    if cents is None:
        return None
    return f"{cents // 100}.{cents % 100:02d}"
