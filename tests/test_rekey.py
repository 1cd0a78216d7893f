"""Changing the identifier key: every identifier moves to the new key or none does.

After ``rekey`` persons are found by their full number only under the new key, and
organisations too; records, subjects and the audit chain are untouched. A person whose
number no feed holds stops the change. A process started with a key other than the
store's refuses to run (the key check). Store tests run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import RULEBOOK
from tests.feeds import (
    KEY,
    TRUSTREG,
    add_authorities,
    cli_env,
    record_row,
    ric,
    run_import,
    subject_row,
    uscc,
    write_csv,
    write_subjects,
)
from trustreg.config import Settings
from trustreg.core.identifiers import Identifier as IdentifierValue
from trustreg.errors import ConfigurationError, Conflict, InputFileError
from trustreg.services import audit, registry
from trustreg.services.rekey import rekey_identifiers
from trustreg.store import queries
from trustreg.store.db import make_engine, transaction
from trustreg.store.models import AuditEntry, Identifier, Record

NEW_KEY = "a-new-identifier-key-of-forty-characters!"
NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
PERSONS = (1, 2, 3)
COMPANIES = (10, 11)


def person_row(n: int) -> dict[str, str]:
    return subject_row(
        n, kind="individual", id_scheme="ric", id_value=ric(n), name=f"王{n}", registered_on=""
    )


@pytest.fixture
def registry_with_persons(
    factory: sessionmaker[Session], tmp_path: Path
) -> tuple[sessionmaker[Session], Path]:
    """Three persons and two companies, each with a record; returns the subjects feed."""
    add_authorities(factory)
    rows = [person_row(n) for n in PERSONS] + [subject_row(n) for n in COMPANIES]
    feed = write_subjects(tmp_path / "subjects.csv", rows)
    run_import(factory, "subjects", feed)
    records = [record_row(n, subject=n) for n in COMPANIES] + [
        record_row(n, subject_kind="individual", id_scheme="ric", id_value=ric(n)) for n in PERSONS
    ]
    run_import(factory, "records", write_csv(tmp_path / "records.csv", records))
    return factory, feed


def found(factory: sessionmaker[Session], scheme: str, value: str, key: str) -> bool:
    with transaction(factory) as session:
        return (
            queries.subject_by_identifier(session, IdentifierValue(scheme, value), key) is not None
        )


def hashes(factory: sessionmaker[Session]) -> list[str]:
    with transaction(factory) as session:
        return list(session.scalars(select(Identifier.value_hash).order_by(Identifier.id)))


def test_rekey_moves_every_identifier_to_the_new_key(
    registry_with_persons: tuple[sessionmaker[Session], Path],
) -> None:
    factory, feed = registry_with_persons
    with transaction(factory) as session:
        records_before = session.scalar(select(func.count()).select_from(Record))
    report = rekey_identifiers(factory, KEY, NEW_KEY, [feed], NOW, "test")
    assert (report.person_identifiers, report.organisation_identifiers) == (3, 2)
    for n in PERSONS:
        assert found(factory, "ric", ric(n), NEW_KEY)
        assert not found(factory, "ric", ric(n), KEY)
    for n in COMPANIES:
        assert found(factory, "uscc", uscc(n), NEW_KEY)
        assert not found(factory, "uscc", uscc(n), KEY)
    with transaction(factory) as session:
        assert session.scalar(select(func.count()).select_from(Record)) == records_before
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "identifiers.rekey")
        ).one()
        assert NEW_KEY not in str(entry.detail)
        assert ric(1) not in str(entry.detail)
    assert audit.verify(factory, None).intact


def test_a_person_missing_from_the_feeds_stops_the_change(
    registry_with_persons: tuple[sessionmaker[Session], Path], tmp_path: Path
) -> None:
    factory, _feed = registry_with_persons
    partial = write_subjects(tmp_path / "partial.csv", [person_row(1), person_row(2)])
    before = hashes(factory)
    with pytest.raises(Conflict, match="1 person identifier") as raised:
        rekey_identifiers(factory, KEY, NEW_KEY, [partial], NOW, "test")
    assert "nothing was changed" in raised.value.detail
    assert hashes(factory) == before
    assert found(factory, "ric", ric(3), KEY)


def test_a_records_feed_also_carries_the_numbers_and_a_dry_run_changes_nothing(
    registry_with_persons: tuple[sessionmaker[Session], Path], tmp_path: Path
) -> None:
    factory, _feed = registry_with_persons
    records = [
        record_row(n, subject_kind="individual", id_scheme="ric", id_value=ric(n)) for n in PERSONS
    ]
    feed = write_csv(tmp_path / "records-again.csv", records)
    before = hashes(factory)
    report = rekey_identifiers(factory, KEY, NEW_KEY, [feed], NOW, "test", dry_run=True)
    assert report.dry_run
    assert report.person_identifiers == 3
    assert hashes(factory) == before
    rekey_identifiers(factory, KEY, NEW_KEY, [feed], NOW, "test")
    assert found(factory, "ric", ric(2), NEW_KEY)


@pytest.mark.parametrize(
    ("new_key", "reason"),
    [("", "empty"), ("short", "too short"), (NEW_KEY, "same as the current one")],
)
def test_bad_new_keys_are_refused(
    registry_with_persons: tuple[sessionmaker[Session], Path], new_key: str, reason: str
) -> None:
    factory, feed = registry_with_persons
    with pytest.raises(InputFileError, match=reason):
        rekey_identifiers(
            factory, NEW_KEY if new_key == NEW_KEY else KEY, new_key, [feed], NOW, "test"
        )


def test_a_process_with_another_key_refuses_to_start(settings: Settings) -> None:
    engine = make_engine(settings.sqlalchemy_url)
    try:
        registry.initialise(engine, settings.rulebook, KEY)  # the first run records it
        registry.initialise(engine, settings.rulebook, KEY)
        with pytest.raises(ConfigurationError, match="TRUSTREG_IDENTIFIER_KEY is not the key"):
            registry.initialise(engine, settings.rulebook, NEW_KEY)
    finally:
        engine.dispose()


def test_the_command_rekeys_and_the_old_key_is_refused_afterwards(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    engine = make_engine(env["TRUSTREG_DATABASE_URL"])
    factory = registry.initialise(engine, RULEBOOK, KEY)
    add_authorities(factory)
    feed = write_subjects(tmp_path / "subjects.csv", [person_row(1), subject_row(10)])
    run_import(factory, "subjects", feed)
    engine.dispose()

    def run(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(TRUSTREG), *args],
            cwd=tmp_path,
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=120,
        )

    done = run("identifiers", "rekey", str(feed), TRUSTREG_NEW_IDENTIFIER_KEY=NEW_KEY)
    assert done.returncode == 0, done.stderr
    assert "moved 1 person and 1 organisation identifiers" in done.stdout
    refused = run("audit", "verify")  # still configured with the old key
    assert refused.returncode == ConfigurationError.exit_code
    assert "TRUSTREG_IDENTIFIER_KEY is not the key" in refused.stderr
    accepted = run("audit", "verify", TRUSTREG_IDENTIFIER_KEY=NEW_KEY)
    assert accepted.returncode == 0, accepted.stderr
