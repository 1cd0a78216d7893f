"""The tamper-evident audit log: ``verify`` finds an entry altered, removed or reordered
in the database itself, and the reads of a person's look-ups (both backends).

An attacker with database access can switch off the triggers that keep the log
append-only; :func:`tamper` does just that before it edits rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from tests.feeds import cli_url, one_error_line, run_cli
from trustreg.config import REPO_ROOT
from trustreg.services import audit, registry
from trustreg.store import writes
from trustreg.store.db import make_engine, transaction
from trustreg.store.models import AuditEntry

NOW = datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=UTC)


def append(factory: sessionmaker[Session], count: int) -> list[int]:
    """``count`` more entries (person look-ups of subjects 1, 2, 3, ...); their ids."""
    with transaction(factory) as session:
        for n in range(1, count + 1):
            detail = {"purpose": "contract", "check": "eligibility", "shown": {"answer": "ok"}}
            at = NOW + timedelta(minutes=n)
            writes.append_audit(
                session, f"bank-{n % 2}", "person_check", f"subject:{n}", detail, at
            )
    return ids(factory)


def ids(factory: sessionmaker[Session]) -> list[int]:
    with transaction(factory) as session:
        return list(session.scalars(select(AuditEntry.id).order_by(AuditEntry.id)))


def tamper(factory: sessionmaker[Session], *statements: str) -> None:
    """Switch off the append-only triggers, as an attacker could, and run ``statements``."""
    with transaction(factory) as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(
                text("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only")
            )
        else:
            session.execute(text("DROP TRIGGER audit_entries_no_update"))
            session.execute(text("DROP TRIGGER audit_entries_no_delete"))
        for statement in statements:
            session.execute(text(statement))


def swap(factory: sessionmaker[Session], first: int, second: int, columns: list[str]) -> None:
    """Exchange the ``columns`` of two entries (their ids stay)."""
    with transaction(factory) as session:
        rows = {
            row.id: row
            for row in session.execute(
                text(f"SELECT id, {', '.join(columns)} FROM audit_entries WHERE id IN (:a, :b)"),
                {"a": first, "b": second},
            )
        }
    statements = []
    if "entry_hash" in columns:  # unique: park one hash out of the way first
        statements.append(f"UPDATE audit_entries SET entry_hash = 'x' WHERE id = {first}")
    for target, source in ((second, first), (first, second)):
        values = ", ".join(f"{c} = :{c}_{source}" for c in columns)
        statements.append(f"UPDATE audit_entries SET {values} WHERE id = {target}")
    params = {f"{c}_{i}": getattr(rows[i], c) for i in (first, second) for c in columns}
    with transaction(factory) as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(
                text("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only")
            )
        else:
            session.execute(text("DROP TRIGGER IF EXISTS audit_entries_no_update"))
        for statement in statements:
            session.execute(text(statement), params)


# ---------------------------------------------------------------------- verify


def test_an_intact_chain_verifies_in_chunks(factory: sessionmaker[Session]) -> None:
    stored = append(factory, 6)
    with transaction(factory) as session:
        many = [(f"subject:{n}", {"check": "screen"}) for n in (7, 8, 9)]
        head = writes.append_audit_many(session, "hr", "person_check", many, NOW)
    report = audit.verify(factory, chunk=2)  # entries are read two at a time
    assert report.intact, report.summary()
    assert (report.checked, report.head_id, report.head_hash) == (
        len(stored) + 3,
        max(ids(factory)),
        head,
    )
    assert report.summary() == (
        f"audit log intact: {len(stored) + 3} entries checked, head {report.head_id} {head}"
    )
    assert audit.verify(factory, expect_head=head).intact


def test_an_entry_edited_in_the_database_is_named(factory: sessionmaker[Session]) -> None:
    stored = append(factory, 5)
    victim = stored[3]
    tamper(factory, f"UPDATE audit_entries SET detail = '{{}}' WHERE id = {victim}")
    report = audit.verify(factory, chunk=2)
    assert (report.bad_id, report.problem, report.checked) == (victim, "altered", 3)
    assert report.reason == "its hash does not match its content"
    assert report.summary().startswith(f"audit log broken at entry {victim} (altered)")


def test_an_entry_edited_and_rehashed_is_found_by_the_next(
    factory: sessionmaker[Session],
) -> None:
    """The attacker recomputes the edited entry's own hash: its successor still points
    at the old one."""
    stored = append(factory, 4)
    victim = stored[1]
    with transaction(factory) as session:
        entry = session.get(AuditEntry, victim)
        assert entry is not None
        forged = AuditEntry(
            at=entry.at, actor="nobody", action=entry.action, target=entry.target, detail="{}"
        )
        new_hash = writes.audit_hash(entry.prev_hash, forged)
    tamper(
        factory,
        f"UPDATE audit_entries SET actor = 'nobody', detail = '{{}}', entry_hash = '{new_hash}' "
        f"WHERE id = {victim}",
    )
    report = audit.verify(factory)
    assert (report.bad_id, report.problem, report.checked) == (victim, "altered", 2)


def test_a_removed_entry_is_named_by_the_gap(factory: sessionmaker[Session]) -> None:
    stored = append(factory, 5)
    gone = stored[2]
    tamper(factory, f"DELETE FROM audit_entries WHERE id = {gone}")
    report = audit.verify(factory)
    assert (report.bad_id, report.problem) == (gone + 1, "removed")
    assert report.reason == f"entries between {gone - 1} and {gone + 1} are missing"


def test_the_first_entries_removed(factory: sessionmaker[Session]) -> None:
    stored = append(factory, 3)
    tamper(factory, f"DELETE FROM audit_entries WHERE id = {stored[0]}")
    report = audit.verify(factory)
    assert (report.bad_id, report.problem, report.checked) == (stored[1], "removed", 0)


def test_entries_removed_from_the_end_need_the_head_kept_elsewhere(
    factory: sessionmaker[Session],
) -> None:
    append(factory, 3)
    yesterday = audit.verify(factory)
    tamper(factory, f"DELETE FROM audit_entries WHERE id = {yesterday.head_id}")
    assert audit.verify(factory).intact  # what is left is a consistent chain
    report = audit.verify(factory, expect_head=yesterday.head_hash)
    assert (report.problem, report.bad_id) == ("removed", None)
    assert yesterday.head_hash in report.reason


def test_two_entries_swapped_whole_are_reordered(factory: sessionmaker[Session]) -> None:
    stored = append(factory, 6)
    first, second = stored[2], stored[4]
    columns = ["at", "actor", "action", "target", "detail", "prev_hash", "entry_hash"]
    swap(factory, first, second, columns)
    report = audit.verify(factory)
    assert (report.bad_id, report.problem) == (first, "reordered")
    assert (
        report.reason
        == f"it follows entry {second - 1} in the chain but is stored after entry {first - 1}"
    )


def test_two_entries_contents_swapped_are_altered(factory: sessionmaker[Session]) -> None:
    stored = append(factory, 4)
    swap(factory, stored[1], stored[2], ["target", "detail"])
    report = audit.verify(factory)
    assert (report.bad_id, report.problem) == (stored[1], "altered")


# ----------------------------------------------------------------------- reads


def test_access_log_and_checkers(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as session:
        for n, (actor, target) in enumerate(
            [
                ("bank", "subject:7"),
                ("landlord", "subject:7"),
                ("bank", "subject:70"),
                ("bank", "subject:7"),
            ]
        ):
            detail = {"purpose": "credit", "check": "check", "shown": {"score": 0.9}}
            at = NOW + timedelta(days=30 * n)
            writes.append_audit(session, actor, "person_check", target, detail, at)
        writes.append_audit(session, "public", "dispute_filed", "subject:7", {}, NOW)
    with transaction(factory) as session:
        log = audit.access_log(session, 7)
        assert [(a.actor, a.at) for a in log] == [
            ("bank", NOW + timedelta(days=90)),
            ("landlord", NOW + timedelta(days=30)),
            ("bank", NOW),
        ]
        assert log[0].to_dict() == {
            "at": (NOW + timedelta(days=90)).isoformat(),
            "actor": "bank",
            "purpose": "credit",
            "check": "check",
            "shown": {"score": 0.9},
        }
        assert len(audit.access_log(session, 7, since=NOW + timedelta(days=1))) == 2
        assert audit.checkers_of(session, 7, NOW) == ["bank", "landlord"]
        assert audit.checkers_of(session, 7, NOW + timedelta(days=60)) == ["bank"]
        assert audit.checkers_of(session, 8, NOW) == []


def test_the_target_index_serves_a_subjects_look_ups(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as session:
        if session.get_bind().dialect.name != "sqlite":
            pytest.skip("the plan is read the SQLite way")
        plan = session.execute(
            text("EXPLAIN QUERY PLAN SELECT id FROM audit_entries WHERE target = 'subject:1'")
        ).all()
    assert "ix_audit_entries_target" in " ".join(str(row) for row in plan)


# ------------------------------------------------------------------------- CLI


@pytest.fixture
def cli_store(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(cli_url(tmp_path))
    yield registry.initialise(engine, REPO_ROOT / "rulebooks" / "model.toml")
    engine.dispose()


def test_cli_verify_and_show(cli_store: sessionmaker[Session], tmp_path: Path) -> None:
    stored = append(cli_store, 3)
    intact = run_cli(tmp_path, "audit", "verify")
    assert intact.returncode == 0, intact.stderr
    head = audit.verify(cli_store).head_hash
    assert intact.stdout.strip() == (
        f"audit log intact: {len(stored)} entries checked, head {stored[-1]} {head}"
    )
    again = run_cli(tmp_path, "audit", "verify", "--expect-head", head)
    assert again.returncode == 0, again.stderr

    shown = run_cli(tmp_path, "audit", "show", "--action", "person_check", "--json")
    assert shown.returncode == 0, shown.stderr
    entries = json.loads(shown.stdout)
    assert [e["target"] for e in entries] == ["subject:3", "subject:2", "subject:1"]
    assert entries[0]["detail"]["purpose"] == "contract"
    one = run_cli(tmp_path, "audit", "show", "--target", "subject:2", "--json")
    assert [e["id"] for e in json.loads(one.stdout)] == [stored[-2]]
    table = run_cli(tmp_path, "audit", "show", "--limit", "1")
    assert "person_check" in table.stdout
    assert "subject:3" in table.stdout
    assert run_cli(tmp_path, "audit", "show", "--target", "x").stdout.strip() == "no audit entries"

    tamper(cli_store, f"UPDATE audit_entries SET actor = 'x' WHERE id = {stored[1]}")
    broken = run_cli(tmp_path, "audit", "verify")
    assert broken.returncode == 1
    assert one_error_line(broken) == (
        f"error: audit log broken at entry {stored[1]} (altered): its hash does not match "
        "its content; 1 entries before it intact"
    )
    assert broken.stdout == ""
