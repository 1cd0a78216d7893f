"""What a backup says about the store it copies, and what each engine must do.

:class:`StoreFacts` (schema revision, rows per table, audit chain head) is read from
a copy in the same snapshot the copy was made from, so a restore can prove it put
back exactly that. The engine-specific work sits behind :class:`BackupEngine`:
``backup_sqlite`` (the sqlite3 online backup API) and ``backup_postgres``
(``pg_dump`` / ``pg_restore``).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, func, inspect, select, table, text

from trustreg.errors import TrustRegError
from trustreg.store.db import alembic_config
from trustreg.store.models import AuditEntry
from trustreg.store.writes import GENESIS_HASH

ALEMBIC_TABLE = "alembic_version"


class BackupFailed(TrustRegError):
    """A backup or restore that could not be done or did not check out (exit 1)."""

    title = "Backup or restore failed"


@dataclass(frozen=True, slots=True)
class StoreFacts:
    """What one snapshot of a store holds, for the manifest and for checking a restore."""

    revision: str | None  # the Alembic revision (None: not a trustreg store)
    tables: dict[str, int]  # rows per table
    audit_head_id: int | None  # the newest audit entry (None: empty log)
    audit_head_hash: str = GENESIS_HASH
    extra: dict[str, str] = field(default_factory=dict)  # engine details (schema, version)


def read_facts(connection: Connection) -> StoreFacts:
    """The facts of the store ``connection`` sees (call it inside the copy's snapshot)."""
    names = inspect(connection).get_table_names()
    tables = {name: row_count(connection, name) for name in sorted(names)}
    revision = None
    if ALEMBIC_TABLE in tables:
        revision = connection.scalar(text(f"SELECT version_num FROM {ALEMBIC_TABLE}"))
    head = None
    if AuditEntry.__tablename__ in tables:
        query = select(AuditEntry.id, AuditEntry.entry_hash).order_by(AuditEntry.id.desc())
        head = connection.execute(query.limit(1)).first()
    if head is None:
        return StoreFacts(revision, tables, None)
    return StoreFacts(revision, tables, int(head[0]), str(head[1]))


def row_count(connection: Connection, name: str) -> int:
    return int(connection.scalar(select(func.count()).select_from(table(name))) or 0)


def unknown_revision(engine: Engine, revision: str) -> str | None:
    """None if this code's migrations know ``revision``, else the newest they know
    (the store then comes from a newer trustreg)."""
    scripts = ScriptDirectory.from_config(alembic_config(engine))
    try:
        if scripts.get_revision(revision) is not None:
            return None
    except CommandError:
        pass
    return scripts.get_current_head() or "none"


def non_empty(tables: Mapping[str, int]) -> dict[str, int]:
    """The tables that hold rows (the schema version table aside)."""
    return {name: n for name, n in tables.items() if n and name != ALEMBIC_TABLE}


def describe_rows(tables: Mapping[str, int], limit: int = 4) -> str:
    """'subjects 4, records 4, … (9 tables)' for a message."""
    shown = ", ".join(f"{name} {n:,}" for name, n in list(tables.items())[:limit])
    more = f", … ({len(tables)} tables)" if len(tables) > limit else ""
    return shown + more


class BackupEngine(Protocol):
    """What backing up and restoring one kind of store takes."""

    kind: str  # "sqlite" or "postgresql": the store kind a manifest names

    def dump(self, engine: Engine, partial: Path) -> StoreFacts:
        """Write a consistent copy of the whole store to the new file ``partial`` (while
        others may write to the store) and return the facts of that copy."""
        ...

    def audit_store(self, engine: Engine, partial: Path) -> AbstractContextManager[Engine]:
        """An engine on which the copy's audit chain can be verified."""
        ...

    def check_file(self, path: Path) -> None:
        """InputFileError unless ``path`` is a backup file of this kind."""
        ...

    def restore(self, engine: Engine, path: Path, facts: StoreFacts, force: bool) -> None:
        """Replace the store's content by the backup's, all or nothing; refuse a store in
        use, and one that holds rows unless ``force``; check the rows per table
        against ``facts`` before the store is changed for good."""
        ...


def count_mismatches(found: Mapping[str, int], expected: Mapping[str, int]) -> list[str]:
    """'subjects: 3 rows, the manifest says 4' for every table that differs."""
    wrong = []
    for name, n in expected.items():
        got = found.get(name)
        if got != n:
            shown = "missing" if got is None else f"{got:,} rows"
            wrong.append(f"{name}: {shown}, the manifest says {n:,}")
    return wrong
