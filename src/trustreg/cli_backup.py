"""``trustreg backup`` and ``trustreg restore``: the whole store to one file and back."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from trustreg.cli_common import out
from trustreg.config import Settings
from trustreg.store.db import make_engine

if TYPE_CHECKING:  # the services load when a backup command runs, not on every command
    from trustreg.services.backup_manifest import Manifest


def backup_command(
    path: Annotated[
        Path, typer.Argument(help="The backup file to write; its manifest goes to PATH.json")
    ],
    force: Annotated[bool, typer.Option("--force", help="Replace PATH if it exists")] = False,
) -> None:
    """Copy the whole store to PATH, consistently, while the server may go on running.

    SQLite: the online backup API; PostgreSQL: pg_dump --format=custom (the client
    programs must be at least as new as the server). The copy is checked (integrity,
    audit chain) before it is renamed to PATH; PATH.json lists what it holds and its
    SHA-256. Not in it: TRUSTREG_IDENTIFIER_KEY, TRUSTREG_SECRET_KEY and the files
    under TRUSTREG_DATA_DIR; keep the keys apart from the backups.
    """
    from trustreg.services import backup

    engine = make_engine(Settings().sqlalchemy_url)
    try:
        result = backup.backup(engine, path, datetime.now(UTC), force)
    finally:
        engine.dispose()
    m = result.manifest
    out.print(
        f"backup written: {result.path} ({m.size:,} bytes, sha256 {m.sha256}), "
        f"manifest {result.manifest_path}",
        highlight=False,
    )
    _print_contents(m)


def restore_command(
    path: Annotated[Path, typer.Argument(help="A backup file written by `trustreg backup`")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace a store that holds data (it is lost)")
    ] = False,
) -> None:
    """Restore the store (TRUSTREG_DATABASE_URL, or the SQLite file in TRUSTREG_DATA_DIR)
    from a backup. STOP THE SERVER FIRST: the restore refuses a store in use.

    Before touching the store it checks the backup's SHA-256 against PATH.json, its
    kind (SQLite or PostgreSQL) and that its schema is not newer than this trustreg's;
    it refuses a store that holds data unless --force. It restores all or nothing,
    migrates to this version's schema and verifies the row counts and the audit chain
    (up to the head in PATH.json). Run with the same TRUSTREG_IDENTIFIER_KEY as the
    registry that was backed up: persons are found by number only under that key.
    """
    from trustreg.services import backup

    engine = make_engine(Settings().sqlalchemy_url)
    try:
        result = backup.restore(engine, path, force)
    finally:
        engine.dispose()
    m = result.manifest
    migrated = f", migrated to {result.revision}" if result.revision != m.alembic_revision else ""
    out.print(
        f"restored {result.path} (a {m.store} backup of {m.created_at}, schema "
        f"{m.alembic_revision}{migrated}) into {engine.url.render_as_string()}",
        highlight=False,
    )
    _print_contents(m)
    out.print(result.audit.summary(), highlight=False)


def _print_contents(m: Manifest) -> None:
    rows = ", ".join(f"{name} {n:,}" for name, n in m.tables.items() if n)
    out.print(f"rows: {rows}", highlight=False)
    out.print(
        f"audit log: {m.audit_entries:,} entries, head {m.audit_head_id or 0} {m.audit_head_hash}",
        highlight=False,
    )
