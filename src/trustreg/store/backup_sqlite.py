"""Backing up and restoring the embedded SQLite store.

Backup: SQLite's online backup API copies every page in one step, inside one read
transaction, so the copy is one consistent snapshot; in WAL mode the server's writers
go on meanwhile. The copy is switched to a rollback journal, so the backup is one
self-contained file, and checked with ``PRAGMA integrity_check``.

Restore: the backup API again, now from the backup file into the store, as one write
transaction of the store's own: a restore stopped half-way is rolled back by SQLite
and leaves the old content. Before that, a connection takes the store's lock in
exclusive mode without waiting: it fails while any other connection (a running
server, even an idle one) has the store open, and the restore refuses.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import Engine, create_engine
from sqlalchemy.pool import NullPool

from trustreg.errors import Conflict, InputFileError, NotFound
from trustreg.store.backups import (
    BackupFailed,
    StoreFacts,
    count_mismatches,
    describe_rows,
    non_empty,
    read_facts,
)

MAGIC = b"SQLite format 3\x00"


def database_path(engine: Engine) -> Path:
    """The file of a SQLite store."""
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupFailed(f"{engine.url}: only a SQLite store in a file can be backed up")
    return Path(database).resolve()


@contextmanager
def read_only_engine(path: Path) -> Iterator[Engine]:
    """A read-only engine on a SQLite file (the copy or a backup: never written)."""
    uri = f"file:{quote(str(path))}?mode=ro"
    engine = create_engine(
        "sqlite://",
        creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False),
        poolclass=NullPool,
    )
    try:
        yield engine
    finally:
        engine.dispose()


def _integrity_problems(connection: sqlite3.Connection) -> list[str]:
    rows = connection.execute("PRAGMA integrity_check").fetchall()
    return [] if [r[0] for r in rows] == ["ok"] else [str(r[0]) for r in rows[:5]]


def _row_counts(connection: sqlite3.Connection) -> dict[str, int]:
    names = connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name"
    ).fetchall()
    return {
        name: int(connection.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0])
        for (name,) in names
    }


class SqliteBackups:
    """:class:`trustreg.store.backups.BackupEngine` for SQLite."""

    kind = "sqlite"

    def dump(self, engine: Engine, partial: Path) -> StoreFacts:
        source_path = database_path(engine)
        if not source_path.is_file():
            raise NotFound(f"no SQLite store at {source_path}: nothing to back up")
        try:
            with (
                closing(sqlite3.connect(source_path, timeout=30)) as source,
                closing(sqlite3.connect(partial)) as copy,
            ):
                # pages=-1: all pages in one step, i.e. one read transaction, one snapshot.
                source.backup(copy, pages=-1)
                copy.execute("PRAGMA journal_mode=DELETE")  # one file, no -wal beside it
                problems = _integrity_problems(copy)
        except sqlite3.Error as exc:
            raise BackupFailed(f"{source_path}: the online backup failed ({exc})") from exc
        if problems:
            raise BackupFailed(
                f"the copy of {source_path} fails PRAGMA integrity_check: {'; '.join(problems)}"
            )
        with read_only_engine(partial) as copy_engine, copy_engine.connect() as connection:
            return read_facts(connection)

    @contextmanager
    def audit_store(self, engine: Engine, partial: Path) -> Iterator[Engine]:
        with read_only_engine(partial) as copy_engine:
            yield copy_engine

    def check_file(self, path: Path) -> None:
        with path.open("rb") as handle:
            if handle.read(len(MAGIC)) != MAGIC:
                raise InputFileError(f"{path}: not a SQLite database file")

    def restore(self, engine: Engine, path: Path, facts: StoreFacts, force: bool) -> None:
        self._check_backup(path, facts)
        target = database_path(engine)
        target.parent.mkdir(parents=True, exist_ok=True)
        with closing(_exclusive(target)) as store:
            if not force and (held := non_empty(_row_counts(store))):
                raise Conflict(
                    f"the store {target} is not empty ({describe_rows(held)}): a restore "
                    "replaces everything in it; add --force to do so"
                )
            try:
                with closing(sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True)) as b:
                    b.backup(store, pages=-1)
            except sqlite3.Error as exc:
                raise BackupFailed(f"restoring {path} into {target} failed ({exc})") from exc
            if wrong := count_mismatches(_row_counts(store), facts.tables):
                raise BackupFailed(f"{target} after the restore: {'; '.join(wrong)}")

    def _check_backup(self, path: Path, expected: StoreFacts) -> None:
        """The backup file is a sound database holding what its manifest lists."""
        uri = f"file:{quote(str(path))}?mode=ro"
        try:
            with closing(sqlite3.connect(uri, uri=True)) as backup:
                problems = _integrity_problems(backup)
        except sqlite3.DatabaseError as exc:
            raise InputFileError(f"{path}: not a readable SQLite database ({exc})") from exc
        if problems:
            raise InputFileError(f"{path}: fails PRAGMA integrity_check: {'; '.join(problems)}")
        with read_only_engine(path) as engine, engine.connect() as connection:
            found = read_facts(connection)
        wrong = count_mismatches(found.tables, expected.tables)
        if found.audit_head_hash != expected.audit_head_hash:
            wrong.append(
                f"the audit log ends at {found.audit_head_hash}, the manifest says "
                f"{expected.audit_head_hash}"
            )
        if wrong:
            raise InputFileError(f"{path} does not match its manifest: {'; '.join(wrong)}")


def _exclusive(target: Path) -> sqlite3.Connection:
    """A connection holding the store's exclusive lock (kept until it closes), or
    Conflict if any other connection has the store open."""
    store = sqlite3.connect(target, timeout=0, isolation_level=None)
    try:
        # In exclusive locking mode the lock taken by BEGIN EXCLUSIVE outlives COMMIT;
        # taking it fails at once while another connection has the WAL store open.
        store.execute("PRAGMA locking_mode=EXCLUSIVE")
        store.execute("BEGIN EXCLUSIVE")
        store.execute("COMMIT")
    except sqlite3.DatabaseError as exc:
        store.close()
        if "locked" in str(exc):
            raise Conflict(
                f"the store {target} is in use ({exc}): stop the server and any other "
                "trustreg command using it, then restore"
            ) from exc
        # A damaged store is evidence too: it is for the operator to move it away.
        raise BackupFailed(
            f"{target} cannot be opened as a SQLite database ({exc}): move it (and any "
            f"{target.name}-wal, {target.name}-shm beside it) out of the way, then restore"
        ) from exc
    return store
