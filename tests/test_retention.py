"""Retention: ``maintain`` deletes a person's records once their retention has passed,
then the person, and leaves one audit entry without personal data (both backends).

No test waits: ``maintain`` is run with ``now`` years ahead.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.feeds import (
    KEY,
    REGULATOR,
    add_authorities,
    record_row,
    ric,
    run_import,
    subject_row,
    write_csv,
    write_subjects,
)
from trustreg.core.matching import Thresholds
from trustreg.core.rating import RecordFact
from trustreg.core.rulebook import RecordType
from trustreg.services import assessments, audit, disputes, screening
from trustreg.services.retention import purge_day
from trustreg.services.screening import CheckQuery, RegistryIndex
from trustreg.store.db import transaction
from trustreg.store.models import (
    Assessment,
    AuditEntry,
    Base,
    Dispute,
    Identifier,
    ListEntry,
    Record,
    RecordStatusChange,
    Subject,
    SubjectName,
)
from trustreg.store.purge import RECORD_DEPENDENTS, SUBJECT_DEPENDENTS

TODAY = datetime.now(UTC).date()
OLD = TODAY - timedelta(days=100)  # judgments: published until +630, purged from +810
RECENT = TODAY - timedelta(days=10)
PERSON, PERSON_NAME, ALIAS = ric(1), "王芳", "Wang Fang"
LATER, TWICE = ric(3), ric(4)


def person(value: str, name: str) -> dict[str, str]:
    return {
        "subject_kind": "individual",
        "id_scheme": "ric",
        "id_value": value,
        "subject_name": name,
    }


def judgment(n: int, subject: int, effective: date, **changes: str) -> dict[str, str]:
    return record_row(
        n,
        subject=subject,
        decided_on=(effective - timedelta(days=5)).isoformat(),
        effective_from=effective.isoformat(),
        **changes,
    )


def populate(factory: sessionmaker[Session], tmp_path: Path) -> None:
    """A person with an old judgment (and a dispute of it), a company with the same, a
    person judged recently, and a person with an old judgment and a recent penalty."""
    add_authorities(factory)
    subject = subject_row(
        0,
        kind="individual",
        id_scheme="ric",
        id_value=PERSON,
        name=PERSON_NAME,
        alt_names=ALIAS,
        birth_date="1980-05-17",
        registered_on="",
    )
    assert (
        run_import(factory, "subjects", write_subjects(tmp_path / "s.csv", [subject])).rejected == 0
    )
    penalty = {
        "authority": REGULATOR,
        "record_type": "admin_penalty_serious",
        "amount": "",
        "currency": "",
    }
    rows = [
        judgment(1, 0, OLD, **person(PERSON, PERSON_NAME)),
        judgment(2, 2, OLD),
        judgment(3, 0, RECENT, **person(LATER, "李娜")),
        judgment(4, 0, OLD, **person(TWICE, "张伟")),
        judgment(5, 0, RECENT, **person(TWICE, "张伟"), **penalty),
    ]
    report = run_import(factory, "records", write_csv(tmp_path / "r.csv", rows))
    assert (report.created, report.rejected) == (len(rows), 0)
    form = disputes.DisputeForm(PERSON_NAME, "subject", "wang.fang@example.org", "x" * 40)
    disputes.file_dispute(factory, record_of(factory, 1), form)


def reference(n: int) -> str:
    return str(record_row(n)["reference"])


def record_of(factory: sessionmaker[Session], n: int) -> int:
    with transaction(factory) as session:
        return int(session.scalars(select(Record.id).where(Record.reference == reference(n))).one())


def subject_of(factory: sessionmaker[Session], n: int) -> int:
    return int(_one(factory, select(Record.subject_id).where(Record.reference == reference(n))))


def _one(factory: sessionmaker[Session], query: Any) -> Any:
    with transaction(factory) as session:
        return session.scalars(query).one()


def count(factory: sessionmaker[Session], model: Any, *where: Any) -> int:
    with transaction(factory) as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def purges(factory: sessionmaker[Session]) -> list[AuditEntry]:
    with transaction(factory) as session:
        query = select(AuditEntry).where(AuditEntry.action == "retention_purge")
        return list(session.scalars(query.order_by(AuditEntry.id)))


def close_listing(factory: sessionmaker[Session], subject_id: int, record_id: int) -> int:
    """A listing of the subject that ended, caused by that record alone; its id."""
    with transaction(factory) as session:
        entry = ListEntry(
            subject_id=subject_id,
            list_code="dishonest_defaulters",
            entered_on=OLD,
            scheduled_exit=OLD + timedelta(days=730),
            ended_on=OLD + timedelta(days=730),
            record_ids=[record_id],
            rulebook_version="test",
        )
        session.add(entry)
        session.flush()
        return entry.id


def moment(days: int) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)


def test_maintain_purges_a_persons_records_then_the_person(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    populate(factory, tmp_path)
    person_id, twice_id = subject_of(factory, 1), subject_of(factory, 4)
    purged_records = [record_of(factory, 1), record_of(factory, 4)]

    # Publicity over, retention not yet: everything expires, nothing goes.
    early = assessments.maintain(factory, moment(800))
    assert (early.expired, early.retention.records) == (4, 0)
    assert count(factory, Record) == 5
    assert purges(factory) == []
    with transaction(factory) as session:
        [run] = session.scalars(select(AuditEntry).where(AuditEntry.action == "maintain"))
    assert (run.actor, run.target) == ("registry", "registry")
    assert json.loads(run.detail) == {"subjects": early.subjects, "expired": 4}
    closed = close_listing(factory, twice_id, purged_records[1])

    report = assessments.maintain(factory, moment(810))
    assert (report.retention.records, report.retention.subjects) == (2, 1)
    assert report.retention.by_type == {"judgment_defaulter": 2}
    assert report.retention.rows["disputes"] == 1
    # The person: every row about them is gone.
    assert count(factory, Subject, Subject.id == person_id) == 0
    for model in (Identifier, SubjectName, Assessment, ListEntry, Dispute):
        assert count(factory, model, model.subject_id == person_id) == 0, model
    assert count(factory, RecordStatusChange, RecordStatusChange.record_id.in_(purged_records)) == 0
    # What stays: the company's record (not personal data), the recent judgment, and
    # the person with a recent penalty, less the old judgment and the listing it caused.
    with transaction(factory) as session:
        left = sorted(session.scalars(select(Record.reference)))
        listings = session.scalars(
            select(ListEntry.record_ids).where(ListEntry.subject_id == twice_id)
        )
        cited = {record for ids in listings for record in ids}
    assert left == sorted(reference(n) for n in (2, 3, 5))
    assert count(factory, ListEntry, ListEntry.id == closed) == 0
    assert not cited & set(purged_records)
    assert count(factory, Subject, Subject.id == twice_id) == 1

    [entry] = purges(factory)
    detail = json.loads(entry.detail)
    assert (entry.actor, entry.target) == ("registry", "record_type:judgment_defaulter")
    assert detail == {
        "as_of": moment(810).date().isoformat(),
        "records": 2,
        "record_ids": sorted(purged_records),
        "subjects": 1,
    }
    text = entry.target + entry.detail
    for personal in (PERSON, PERSON_NAME, ALIAS, TWICE, "张伟", reference(1), reference(4), "履行"):
        assert personal not in text

    again = assessments.maintain(factory, moment(810))
    assert (again.retention.records, again.retention.subjects) == (0, 0)
    assert len(purges(factory)) == 1
    assert audit.verify(factory).intact


def test_a_person_within_retention_is_untouched(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    populate(factory, tmp_path)
    later = subject_of(factory, 3)
    names_before = count(factory, SubjectName, SubjectName.subject_id == later)
    report = assessments.maintain(factory, moment(880))  # its judgment goes from +900
    assert report.retention.records == 2
    assert count(factory, Subject, Subject.id == later) == 1
    assert count(factory, Identifier, Identifier.subject_id == later) == 1
    assert count(factory, SubjectName, SubjectName.subject_id == later) == names_before
    assert count(factory, Record, Record.reference == reference(3)) == 1


def test_the_purge_day_of_each_status() -> None:
    rule = RecordType(
        code="t",
        title_zh="t",
        title_en="t",
        legal_basis="law",
        category="c",
        polarity="negative",
        subject_kinds=("individual",),
        authority_kinds=("court",),
        publicity_days=365,
        notice_days=0,
        indicates_dishonesty=False,
        public_until_satisfied=True,
        retention_days=30,
    )
    start, since = date(2024, 1, 1), date(2024, 3, 1)
    active = RecordFact(1, "t", start)
    assert purge_day(active, rule) == start + timedelta(days=365 + 30)
    for status in ("satisfied", "repaired", "expired", "revoked"):
        fact = RecordFact(1, "t", start, status, since)
        assert purge_day(fact, rule) == since + timedelta(days=30), status


def test_every_reference_to_a_purged_row_is_purged_too() -> None:
    """A new table that points at records, subjects or any table the purge deletes
    from needs a line in ``store.purge`` (or ON DELETE CASCADE), or a purge would
    fail on its foreign key."""
    dependents = (*RECORD_DEPENDENTS, *SUBJECT_DEPENDENTS)
    listed = {(d.table, str(d.column.key)) for d in dependents}
    purged = {"records", "subjects"} | {d.table for d in dependents}
    for table in Base.metadata.sorted_tables:
        for key in table.foreign_keys:
            if key.column.table.name not in purged or key.ondelete == "CASCADE":
                continue
            if (table.name, key.column.table.name) == ("records", "subjects"):
                continue  # the purge deletes a person's records before the person
            assert (table.name, key.parent.name) in listed, f"{table.name}.{key.parent.name}"


def test_a_purged_person_leaves_a_warm_screening_index(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    populate(factory, tmp_path)
    index = RegistryIndex(factory, Thresholds(0.85, 0.60), identifier_key=KEY)
    query = CheckQuery(name=PERSON_NAME, kind="individual")
    before = screening.check(index, query, purpose="credit", actor="cli")
    assert [c["subject"] for c in before["candidates"]][:1] == [subject_of(factory, 1)]
    assessments.maintain(factory, moment(810))
    index.expire()  # rather than wait out the second within which it is fresh
    after = screening.check(index, query, purpose="credit", actor="cli")
    assert subject_of_purged(after) == []
    # The deletion also started a full rebuild behind the answers: let it end before
    # the store closes.
    assert index.settle(timeout=60)


def subject_of_purged(answer: dict[str, Any]) -> list[Any]:
    return [c for c in answer["candidates"] if c["name"] == PERSON_NAME]
