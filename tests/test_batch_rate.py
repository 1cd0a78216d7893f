"""``batch.rate.rate_all``: the batch gives every subject what the core gives it alone.

Run on SQLite and on PostgreSQL (the ``factory`` fixture): a registry of a few hundred
demo subjects, imported through the real import, whose records then get more history
(satisfied, revoked, corrected, recorded out of order, effective after the rating
date), so each rule of ``facts_as_known`` is exercised.
"""

from __future__ import annotations

import csv
import json
import pickle
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, Table, func, select
from sqlalchemy.orm import Session, sessionmaker

from trustreg.batch.facts import resolve_facts
from trustreg.batch.rate import BatchError, RateSummary, rate_all
from trustreg.config import PLACEHOLDER_IDENTIFIER_KEY
from trustreg.core.rating import RecordVersion, evaluate, facts_as_known, schedule
from trustreg.core.rulebook import Rulebook, parse_rulebook
from trustreg.demo import (
    RECORD_COLUMNS,
    SUBJECT_COLUMNS,
    demo_authorities,
    generate_records,
    generate_subjects,
)
from trustreg.errors import TrustRegError
from trustreg.services import registry
from trustreg.services.ingest import ImportOptions, import_file
from trustreg.store import queries
from trustreg.store.bulk import bulk_insert
from trustreg.store.db import transaction
from trustreg.store.models import (
    Assessment,
    ListEntry,
    Record,
    RecordStatusChange,
    Subject,
)

SUBJECTS = 300
# Yesterday, so no generated date is "in the future" for the import whatever the time zone.
TODAY = datetime.now(UTC).date() - timedelta(days=1)
AS_OF = TODAY


def write_csv(path: Path, columns: Iterable[str], rows: Iterable[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)
    return path


def engine_of(factory: sessionmaker[Session]) -> Engine:
    return cast(Engine, factory.kw["bind"])


def rulebook(factory: sessionmaker[Session]) -> Rulebook:
    with transaction(factory) as session:
        return queries.rulebook_in_force(session, AS_OF)


def add_history(factory: sessionmaker[Session]) -> None:
    """More versions for some records, one rule of ``facts_as_known`` each."""
    with transaction(factory) as session:
        records = session.execute(
            select(Record.id, Record.record_type, Record.effective_from).order_by(Record.id)
        ).all()
        first_entry = session.scalar(select(func.max(RecordStatusChange.id))) or 0
        base = datetime.now(UTC) - timedelta(days=1)  # every entry before "now"
        entries: list[dict[str, Any]] = []
        for n, (record_id, record_type, effective) in enumerate(records):
            entry = {"record_id": record_id, "actor": "test", "reason": "test", "batch_id": None}
            if n % 5 == 0:  # satisfied a month after it took effect (maybe after AS_OF)
                since = effective + timedelta(days=30)
                entries.append(
                    entry
                    | {"status": "satisfied", "changed_at": base + timedelta(seconds=n)}
                    | {"record_type": record_type, "effective_from": effective}
                    | {"status_since": since}
                )
            elif n % 7 == 0:  # revoked
                entries.append(
                    entry
                    | {"status": "revoked", "changed_at": base + timedelta(seconds=n)}
                    | {"record_type": record_type, "effective_from": effective}
                    | {"status_since": effective + timedelta(days=1)}
                )
            elif n % 11 == 0:  # corrected: another type, a later date
                entries.append(
                    entry
                    | {"status": "active", "changed_at": base + timedelta(seconds=n)}
                    | {"record_type": "admin_penalty_general"}
                    | {"effective_from": effective + timedelta(days=3), "status_since": effective}
                )
            elif n % 13 == 0:  # a later entry recorded as of an earlier moment: it loses
                entries.append(
                    entry
                    | {"status": "repaired", "changed_at": base - timedelta(days=4000)}
                    | {"record_type": record_type, "effective_from": effective}
                    | {"status_since": effective}
                )
            elif n % 17 == 0:  # corrected to take effect after the rating date
                entries.append(
                    entry
                    | {"status": "active", "changed_at": base + timedelta(seconds=n)}
                    | {"record_type": record_type, "effective_from": AS_OF + timedelta(days=9)}
                    | {"status_since": AS_OF + timedelta(days=9)}
                )
        table = cast(Table, RecordStatusChange.__table__)
        bulk_insert(session, table, entries)
        assert session.scalar(select(func.max(RecordStatusChange.id))) > first_entry


@pytest.fixture
def populated(factory: sessionmaker[Session], tmp_path: Path) -> sessionmaker[Session]:
    """A registry of SUBJECTS demo subjects, their records and extra history."""
    for authority in demo_authorities():
        registry.add_authority(factory, authority.code, authority.kind, authority.name)
    subjects = list(generate_subjects(SUBJECTS, 5, TODAY))
    options = ImportOptions(identifier_key=PLACEHOLDER_IDENTIFIER_KEY)
    path = write_csv(tmp_path / "subjects.csv", SUBJECT_COLUMNS, subjects)
    assert import_file(factory, "subjects", path, options).rejected == 0
    path = write_csv(tmp_path / "records.csv", RECORD_COLUMNS, generate_records(subjects, 5, TODAY))
    assert import_file(factory, "records", path, options).rejected == 0
    add_history(factory)
    return factory


def versions_by_subject(factory: sessionmaker[Session]) -> dict[int, list[RecordVersion]]:
    """Every subject's record versions, read through the ORM, one subject at a time."""
    found: dict[int, list[RecordVersion]] = {}
    with transaction(factory) as session:
        for subject_id in session.scalars(select(Subject.id)):
            rows = session.execute(
                select(RecordStatusChange, Record)
                .join(Record, Record.id == RecordStatusChange.record_id)
                .where(Record.subject_id == subject_id)
            ).all()
            found[subject_id] = [
                RecordVersion(
                    record_id=record.id,
                    entry_id=entry.id,
                    recorded_at=naive_utc(entry.changed_at),
                    record_type=entry.record_type or record.record_type,
                    effective_from=entry.effective_from or record.effective_from,
                    status=entry.status,
                    status_since=entry.status_since or record.effective_from,
                    reference=record.reference,
                    published_from=record.published_from,
                )
                for entry, record in rows
            ]
    return found


def naive_utc(moment: datetime) -> datetime:
    # SQLite hands back naive UTC, PostgreSQL aware datetimes.
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def stored(factory: sessionmaker[Session]) -> dict[int, Assessment]:
    with transaction(factory) as session:
        return {a.subject_id: a for a in session.scalars(select(Assessment))}


def open_entries(factory: sessionmaker[Session]) -> list[tuple[int, str, date, date, list[int]]]:
    with transaction(factory) as session:
        rows = session.execute(
            select(
                ListEntry.subject_id,
                ListEntry.list_code,
                ListEntry.entered_on,
                ListEntry.scheduled_exit,
                ListEntry.record_ids,
            ).where(ListEntry.ended_on.is_(None))
        ).all()
    return sorted((s, code, entered, exit_on, list(ids)) for s, code, entered, exit_on, ids in rows)


def test_batch_equals_evaluate_for_every_subject(
    populated: sessionmaker[Session], tmp_path: Path
) -> None:
    rules = rulebook(populated)
    output = tmp_path / "ratings.parquet"
    calls: list[tuple[int, int]] = []
    summary = rate_all(
        engine_of(populated),
        rules,
        AS_OF,
        output=output,
        workers=2,
        progress=lambda *a: calls.append(a),
    )

    versions = versions_by_subject(populated)
    assessments = stored(populated)
    assert set(assessments) == set(versions)
    assert summary.subjects == len(versions) >= SUBJECTS
    assert summary.records == sum(len({v.record_id for v in vs}) for vs in versions.values())
    assert (summary.as_of, summary.rulebook_version) == (AS_OF, rules.version)
    assert calls[-1] == (summary.subjects, summary.subjects)
    expected_entries = []
    overdue_subjects = 0
    for subject_id, subject_versions in versions.items():
        facts = facts_as_known(subject_versions, AS_OF)
        expected = evaluate(subject_id, facts, rules, AS_OF)
        upcoming, overdue = schedule(facts, rules, AS_OF)
        overdue_subjects += bool(overdue)
        got = assessments[subject_id]
        assert (got.points, got.grade) == (expected.points, expected.grade), subject_id
        assert got.lists == [m.list_code for m in expected.lists]
        assert json.loads(got.explanation) == expected.to_dict()
        assert (got.as_of, got.rulebook_version) == (AS_OF, rules.version)
        # As online: a record past its publicity but not yet marked expired makes the
        # subject due for `maintain` on the rating day.
        assert got.next_change == (AS_OF if overdue else upcoming), subject_id
        expected_entries += [
            (subject_id, m.list_code, m.entered_on, m.scheduled_exit, list(m.record_ids))
            for m in expected.lists
        ]
    assert open_entries(populated) == sorted(expected_entries)
    # The data exercise what they should: several grades, every list, some future days.
    assert len(summary.grades) >= 3
    assert sum(summary.grades.values()) == summary.subjects
    assert set(summary.lists) == set(rules.lists)
    assert any(a.next_change for a in assessments.values())
    assert overdue_subjects > 0

    table = pq.read_table(output)
    assert table.column_names == ["subject_id", "points", "grade", "lists"]
    lists_type = table.schema.field("lists").type
    assert pa.types.is_list(lists_type)
    assert pa.types.is_string(lists_type.value_type)
    rows = {r["subject_id"]: r for r in table.to_pylist()}
    assert len(rows) == table.num_rows == summary.subjects
    for subject_id, row in rows.items():
        got = assessments[subject_id]
        assert (row["points"], row["grade"], row["lists"]) == (got.points, got.grade, got.lists)


def test_rerun_is_idempotent_and_ends_listings_no_longer_held(
    populated: sessionmaker[Session],
) -> None:
    rules = rulebook(populated)
    engine = engine_of(populated)
    first = rate_all(engine, rules, AS_OF, workers=2)
    before, entries = stored(populated), open_entries(populated)

    again = rate_all(engine, rules, AS_OF, workers=2)
    after = stored(populated)
    assert (again.entries_opened, again.entries_closed) == (0, 0)
    assert open_entries(populated) == entries
    assert again.grades == first.grades
    assert again.lists == first.lists
    for subject_id, assessment in before.items():
        assert (after[subject_id].points, after[subject_id].explanation) == (
            assessment.points,
            assessment.explanation,
        )

    # A listed subject's records are revoked: its listing ends on the rating date.
    listed_subject = entries[0][0]
    with transaction(populated) as session:
        record_ids = session.scalars(select(Record.id).where(Record.subject_id == listed_subject))
        bulk_insert(
            session,
            cast(Table, RecordStatusChange.__table__),
            [
                {
                    "record_id": record_id,
                    "status": "revoked",
                    "changed_at": datetime.now(UTC),
                    "actor": "test",
                    "reason": "quashed on appeal",
                    "batch_id": None,
                    "record_type": None,  # an entry from before versions: the record's own
                    "effective_from": None,
                    "status_since": None,
                }
                for record_id in record_ids
            ],
        )
    third = rate_all(engine, rules, AS_OF, workers=2)
    assert third.entries_closed == len([e for e in entries if e[0] == listed_subject])
    assert third.entries_opened == 0
    assert open_entries(populated) == [e for e in entries if e[0] != listed_subject]
    assert stored(populated)[listed_subject].lists == []
    with transaction(populated) as session:
        ended = session.scalars(
            select(ListEntry.ended_on).where(ListEntry.subject_id == listed_subject)
        ).all()
    assert ended
    assert set(ended) == {AS_OF}


def test_subjects_without_records_get_the_starting_points(
    factory: sessionmaker[Session],
) -> None:
    engine = engine_of(factory)
    now = datetime.now(UTC)
    with transaction(factory) as session:
        bulk_insert(
            session,
            cast(Table, Subject.__table__),
            [
                {"kind": "legal_entity", "display_name": f"S{n}", "created_at": now}
                | {"updated_at": now}
                for n in range(5)
            ],
        )
    rules = rulebook(factory)
    summary = rate_all(engine, rules, AS_OF, workers=1)
    start = rules.rating.starting_points
    assert summary == RateSummary(
        subjects=5,
        records=0,
        seconds=summary.seconds,
        grades={rules.rating.grade(start): 5},
        lists={},
        rulebook_version=rules.version,
        as_of=AS_OF,
        steps=summary.steps,
    )
    assert [(a.points, a.lists) for a in stored(factory).values()] == [(start, [])] * 5


def test_an_empty_store_rates_no_one(factory: sessionmaker[Session], tmp_path: Path) -> None:
    output = tmp_path / "none.parquet"
    summary = rate_all(engine_of(factory), rulebook(factory), AS_OF, output=output, workers=2)
    assert (summary.subjects, summary.records) == (0, 0)
    assert pq.read_table(output).num_rows == 0


def test_a_duckdb_failure_names_the_step_and_shows_the_sql(tmp_path: Path) -> None:
    rules = registry.read_rulebook(Path(__file__).parents[1] / "rulebooks" / "model.toml")
    missing = tmp_path / "no-snapshot"
    with (
        duckdb.connect() as con,
        pytest.raises(BatchError) as caught,
    ):
        resolve_facts(con, missing, tmp_path / "facts.parquet", rules, AS_OF)
    error = caught.value
    assert isinstance(error, TrustRegError)
    assert error.step == "resolve facts"
    assert "batch step 'resolve facts' failed (duckdb)" in str(error)
    assert "-- SQL:" in str(error)
    assert "arg_max(" in str(error)
    assert str(missing / "*.parquet") in error.sql
    # Raised in a worker process, it reaches the parent whole.
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), str(copy), copy.step, copy.sql) == (
        BatchError,
        str(error),
        error.step,
        error.sql,
    )


def test_an_in_memory_store_is_refused() -> None:
    from trustreg.store.db import make_engine

    engine = make_engine("sqlite://")
    rules = registry.read_rulebook(Path(__file__).parents[1] / "rulebooks" / "model.toml")
    with pytest.raises(TrustRegError, match="in a file or on a server"):
        rate_all(engine, rules, AS_OF)


def test_a_new_rulebook_version_keeps_the_entries_it_still_holds(
    populated: sessionmaker[Session],
) -> None:
    rules = rulebook(populated)
    engine = engine_of(populated)
    rate_all(engine, rules, AS_OF, workers=2)
    with transaction(populated) as session:
        before = dict(
            session.execute(
                select(ListEntry.id, ListEntry.scheduled_exit).where(ListEntry.ended_on.is_(None))
            ).all()
        )
    # The same rules under a new version, but defaulters listed for a year, not two.
    text = rules.source_text.replace(f'version = "{rules.version}"', 'version = "9999.1"')
    text = text.replace(
        'list = "dishonest_defaulters"\nlisting_days = 730',
        ('list = "dishonest_defaulters"\nlisting_days = 365'),
    )
    # ... and its consequences no longer than the shorter listing, as the loader requires.
    text = text.replace("max_days = 730", "max_days = 365")
    shorter = parse_rulebook(text)
    assert shorter.record_types["judgment_defaulter"].list_effects[0].listing_days == 365

    summary = rate_all(engine, shorter, AS_OF, workers=2)
    assert summary.rulebook_version == "9999.1"
    with transaction(populated) as session:
        after = session.execute(
            select(ListEntry.id, ListEntry.scheduled_exit, ListEntry.rulebook_version).where(
                ListEntry.ended_on.is_(None)
            )
        ).all()
        versions = set(session.scalars(select(Assessment.rulebook_version)))
    assert versions == {"9999.1"}
    assert {version for _id, _exit, version in after} == {"9999.1"}
    kept = {entry_id: exit_on for entry_id, exit_on, _version in after if entry_id in before}
    assert kept  # most listings are still held: the same entries, not new ones
    assert any(kept[i] < before[i] for i in kept)  # a defaulter now leaves sooner
    assert summary.entries_closed == len(set(before) - set(kept))
    assert summary.entries_opened == len(after) - len(kept)
