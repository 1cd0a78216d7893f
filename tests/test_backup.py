"""Backups: ``trustreg backup`` and ``trustreg restore`` on SQLite and PostgreSQL.

A registry with subjects, records, accounts, a dispute with an evidence file, a
watch and audit entries is backed up and restored into a fresh store: every row of
every table comes back, a person is still found by number (under the same identifier
key), and the audit chain verifies up to the head the manifest names. A backup taken
while another thread writes is one consistent snapshot. Every refusal (missing file,
wrong kind, damaged file, newer schema, store in use or not empty) leaves the store
exactly as it was.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, MetaData, select, text
from sqlalchemy.orm import Session, sessionmaker

from tests.accounts import find_person
from tests.conftest import RULEBOOK
from tests.due_process import GROUNDS, PDF, opened
from tests.feeds import KEY, cli_env, one_error_line, ric, run_cli, uscc
from tests.pgserver import PostgresServer
from trustreg.config import Settings
from trustreg.errors import Conflict, InputFileError, NotFound
from trustreg.services import audit, backup, disputes, evidence, registry, subjects, watch
from trustreg.services.backup_manifest import manifest_path, read_manifest
from trustreg.store.backup_postgres import find_tools
from trustreg.store.backups import BackupFailed, read_facts
from trustreg.store.db import make_engine, migrate, session_factory

_fresh = itertools.count()


@pytest.fixture
def fresh(request: pytest.FixtureRequest, store_url: str, tmp_path: Path) -> Any:
    """Makes URLs of new, empty stores of the same kind as ``store_url``."""

    def make() -> str:
        n = next(_fresh)
        if store_url.startswith("sqlite"):
            return f"sqlite:///{tmp_path / f'fresh{n}' / 'registry.db'}"
        server: PostgresServer = request.getfixturevalue("postgres_server")
        name = f"r{os.getpid()}_{n}"
        admin = make_engine(server.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return server.url(name)

    return make


def everything(store: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary-key order (read on an engine of its own,
    closed after: a connection left open would count as the store being in use)."""
    engine = make_engine(store.url.render_as_string(hide_password=False))
    meta = MetaData()
    meta.reflect(engine)
    found = {}
    with engine.connect() as connection:
        for name, table in sorted(meta.tables.items()):
            order = list(table.primary_key.columns) or list(table.columns)
            found[name] = [tuple(r) for r in connection.execute(select(table).order_by(*order))]
    engine.dispose()
    return found


def small_store(url: str, authority: str) -> Engine:
    """An initialised store with one authority of its own."""
    engine = make_engine(url)
    factory = registry.initialise(engine, RULEBOOK)
    registry.add_authority(factory, authority, "court", f"Court {authority}")
    return engine


def now() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------ the round trip


def test_restore_into_a_fresh_store_finds_everything(
    settings: Settings, tmp_path: Path, fresh: Any
) -> None:
    path = tmp_path / "backups" / "registry.backup"
    with opened(settings, tmp_path) as world:
        rep, bank = world.actor("rep"), world.actor("bank")
        upload = evidence.Upload("receipt.pdf", PDF)
        disputes.dispute_record(world.factory, rep, world.records["firm"], GROUNDS, [upload], now())
        asked = watch.WatchRequest(f"uscc:{uscc(1)}")
        watch.create_watch(world.factory, bank, asked, now(), identifier_key=KEY, production=False)
        person = find_person(world.client, ric(1))  # a logged look-up of a person
        source = world.factory.kw["bind"]
        made = backup.backup(source, path, now())
        before, head = everything(source), audit.verify(world.factory).head_hash

    manifest = read_manifest(path)
    assert manifest == made.manifest
    for written in (path, manifest_path(path)):  # personal data: its owner's only
        assert written.stat().st_mode & 0o077 == 0
    assert manifest.audit_head_hash == head
    assert manifest.tables["evidence_files"] == 1
    assert manifest.tables["watches"] == 1
    assert manifest.tables["disputes"] == 1
    assert manifest.tables == {name: len(rows) for name, rows in before.items()}

    target = make_engine(fresh())
    restored = backup.restore(target, path)
    assert restored.audit.intact
    assert restored.audit.head_hash == head
    after = everything(target)
    assert after == before  # every row of every table, evidence bytes included
    factory = session_factory(target)
    view = subjects.find_by_identifier(factory, f"ric:{ric(1)}", masked=False, identifier_key=KEY)
    assert view["id"] == person
    with pytest.raises(NotFound):  # the key is not in the backup: another finds no one
        subjects.find_by_identifier(
            factory, f"ric:{ric(1)}", masked=False, identifier_key="another key"
        )
    assert audit.verify(factory, expect_head=head).intact
    target.dispose()


def test_an_online_backup_is_one_snapshot_while_another_thread_writes(
    factory: sessionmaker[Session], tmp_path: Path, fresh: Any
) -> None:
    """Each write adds an authority and its audit entry in one transaction: in the
    backup, the two counts agree and the chain verifies, whatever moment it caught."""
    written = 0
    failed: list[BaseException] = []
    progress = threading.Condition()
    stop = threading.Event()

    def writer() -> None:
        nonlocal written
        try:
            for n in itertools.count():
                if stop.is_set():
                    return
                registry.add_authority(factory, f"load-{n}", "court", f"Court {n}", None, "load")
                with progress:
                    written += 1
                    progress.notify_all()
        except BaseException as exc:
            failed.append(exc)
            with progress:
                progress.notify_all()
            raise

    def wait_for(count: int) -> None:
        with progress:
            # The timeout only keeps a broken writer from hanging the run.
            progress.wait_for(lambda: written >= count or failed, timeout=300)
        assert not failed, failed
        assert written >= count

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        wait_for(3)
        path = tmp_path / "online.backup"
        made = backup.backup(factory.kw["bind"], path, now())
        wait_for(made.manifest.tables["authorities"] + 3)  # it went on writing after
    finally:
        stop.set()
        thread.join()
    target = make_engine(fresh())
    restored = backup.restore(target, path)  # checks the rows per table and the chain
    with target.connect() as connection:
        authorities = connection.scalar(
            text("SELECT count(*) FROM authorities WHERE code LIKE 'load-%'")
        )
        logged = connection.scalar(
            text("SELECT count(*) FROM audit_entries WHERE action = 'authority.add'")
        )
    assert authorities == logged == made.manifest.tables["authorities"] >= 3
    assert restored.audit.checked == made.manifest.audit_entries
    target.dispose()


def test_an_older_backup_is_migrated_to_this_schema(tmp_path: Path, fresh: Any) -> None:
    old = make_engine(fresh())
    migrate(old, "0008")
    made = backup.backup(old, tmp_path / "old.backup", now())
    old.dispose()
    assert made.manifest.alembic_revision == "0008"
    target = make_engine(fresh())
    restored = backup.restore(target, tmp_path / "old.backup")
    with target.connect() as connection:
        facts = read_facts(connection)
    assert restored.revision == facts.revision != "0008"
    assert "watches" in facts.tables  # made by a later migration
    target.dispose()


# -------------------------------------------------------------------- refusals


def test_refusals_name_the_problem_and_leave_the_store_as_it_was(
    store_url: str, tmp_path: Path, fresh: Any
) -> None:
    source = small_store(fresh(), "court-source")
    path = tmp_path / "b" / "source.backup"
    manifest = backup.backup(source, path, now()).manifest
    source.dispose()
    target = small_store(store_url, "court-target")
    target.dispose()
    as_it_was = everything(target)
    kind = "sqlite" if store_url.startswith("sqlite") else "postgresql"
    other = "postgresql" if kind == "sqlite" else "sqlite"

    def refused(
        error: type[Exception] | tuple[type[Exception], ...],
        bad: Path,
        *words: str,
        force: bool = False,
    ) -> None:
        with pytest.raises(error) as caught:
            backup.restore(target, bad, force)
        for word in words:
            assert word in str(caught.value), str(caught.value)
        assert everything(target) == as_it_was

    refused(InputFileError, tmp_path / "b" / "nothing.backup", "no such backup file")
    refused(Conflict, path, "is not empty", "--force")
    wrong_kind = copy_backup(path, tmp_path / "kind", store=other)
    refused(InputFileError, wrong_kind, f"backup of a {other} store", f"is {kind}", force=True)
    newer = copy_backup(path, tmp_path / "newer", alembic_revision="9999")
    refused(Conflict, newer, "newer trustreg", "9999", force=True)
    damaged = copy_backup(path, tmp_path / "damaged")
    with damaged.open("r+b") as handle:
        handle.seek(damaged.stat().st_size // 2)
        handle.write(b"\x00garbage\x00")
    refused(InputFileError, damaged, "is damaged", "SHA-256", force=True)
    cut = copy_backup(path, tmp_path / "cut")
    os.truncate(cut, cut.stat().st_size // 2)
    refused(InputFileError, cut, "is damaged", force=True)
    # A file of the other kind under a manifest rewritten to match it byte for byte.
    stranger = tmp_path / "stranger.backup"
    stranger.write_bytes((b"SQLite format 3\x00" if kind != "sqlite" else b"PGDMP") * 100)
    sha = hashlib.sha256(stranger.read_bytes()).hexdigest()
    posing = copy_backup(path, tmp_path / "posing", sha256=sha)
    posing.write_bytes(stranger.read_bytes())
    refused(
        InputFileError,
        posing,
        "not a SQLite database" if kind == "sqlite" else "not a PostgreSQL dump",
    )
    miscounted = copy_backup(path, tmp_path / "count", tables=manifest.tables | {"authorities": 5})
    refused(
        (InputFileError, BackupFailed), miscounted, "authorities", "manifest says 5", force=True
    )
    other_head = copy_backup(path, tmp_path / "head", audit_head_hash="ab" * 32)
    refused((InputFileError, BackupFailed), other_head, "ab" * 32, force=True)
    manifest_path(cut).unlink()
    refused(InputFileError, cut, "manifest is missing", force=True)
    with in_use(store_url):
        refused(Conflict, path, "in use" if kind == "sqlite" else "other connection", force=True)

    restored = backup.restore(target, path, force=True)  # now it replaces the store
    assert restored.audit.intact
    codes = [row[1] for row in everything(target)["authorities"]]
    assert codes == ["court-source"]
    target.dispose()


def copy_backup(path: Path, folder: Path, **manifest_changes: Any) -> Path:
    """A copy of a backup and its manifest, with the manifest's fields changed."""
    folder.mkdir()
    copy = folder / path.name
    copy.write_bytes(path.read_bytes())
    data = json.loads(manifest_path(path).read_text()) | manifest_changes
    manifest_path(copy).write_text(json.dumps(data))
    return copy


class in_use:  # noqa: N801 - used like a function
    """Another connection holding the store open, idle, as a running server's pool does."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)

    def __enter__(self) -> None:
        self.connection = self.engine.connect()
        self.connection.execute(text("SELECT count(*) FROM subjects")).all()
        self.connection.commit()

    def __exit__(self, *_exc: object) -> None:
        self.connection.close()
        self.engine.dispose()


def test_a_backup_does_not_overwrite_and_leaves_no_partial_file(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    engine = small_store(sqlite_settings.sqlalchemy_url, "court-1")
    path = tmp_path / "b" / "one.backup"
    backup.backup(engine, path, now())
    with pytest.raises(Conflict, match="exists"):
        backup.backup(engine, path, now())
    with pytest.raises(InputFileError, match="is a folder"):
        backup.backup(engine, tmp_path / "b", now())
    # A store whose audit log was tampered with is not backed up as if all were well.
    raw = sqlite3.connect(tmp_path / "registry.db")
    raw.execute("DROP TRIGGER audit_entries_no_update")
    raw.execute("UPDATE audit_entries SET actor = 'someone else' WHERE id = 1")
    raw.commit()
    raw.close()
    with pytest.raises(BackupFailed, match="audit log in the copy does not verify"):
        backup.backup(engine, path, now(), force=True)
    assert sorted(p.name for p in path.parent.iterdir()) == ["one.backup", "one.backup.json"]
    engine.dispose()


@pytest.mark.postgres
def test_older_postgresql_client_programs_are_refused_by_name(
    postgres_server: PostgresServer,
) -> None:
    found = find_tools(postgres_server_major(postgres_server))
    assert (found.bindir / "pg_dump").exists()
    with pytest.raises(BackupFailed, match=r"server is version 99, but the newest pg_dump"):
        find_tools(99)


def postgres_server_major(server: PostgresServer) -> int:
    engine = make_engine(server.url())
    with engine.connect() as connection:
        major = int(connection.scalar(text("SHOW server_version_num")) or 0) // 10_000
    engine.dispose()
    return major


# ------------------------------------------------------------------------ the CLI


def test_cli_backup_and_restore(tmp_path: Path) -> None:
    engine = small_store(cli_env(tmp_path)["TRUSTREG_DATABASE_URL"], "court-1")
    engine.dispose()
    made = run_cli(tmp_path, "backup", "b/r.backup")
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith(f"backup written: {tmp_path / 'b' / 'r.backup'} (")
    assert "audit log: 2 entries" in made.stdout

    again = run_cli(tmp_path, "restore", "b/r.backup")
    assert again.returncode == 4
    assert "is not empty" in again.stderr
    assert "--force" in again.stderr

    (tmp_path / "r.db").unlink()
    for sidecar in ("r.db-wal", "r.db-shm"):
        (tmp_path / sidecar).unlink(missing_ok=True)
    restored = run_cli(tmp_path, "restore", "b/r.backup")
    assert restored.returncode == 0, restored.stderr
    lines = restored.stdout.splitlines()
    assert lines[0].startswith(f"restored {tmp_path / 'b' / 'r.backup'} (a sqlite backup of ")
    assert any(line.startswith("rows: ") and "authorities 1" in line for line in lines)
    assert lines[-1].startswith("audit log intact: 2 entries checked")

    (tmp_path / "b" / "r.backup").write_bytes(b"SQLite format 3\x00 not the same")
    damaged = run_cli(tmp_path, "restore", "--force", "b/r.backup")
    assert damaged.returncode == 2
    assert "is damaged" in one_error_line(damaged)
