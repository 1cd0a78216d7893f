"""Backups of the store and restoring them (``trustreg backup`` / ``trustreg restore``).

A backup is one file (a SQLite database, or a ``pg_dump`` custom-format archive) and
its manifest ``PATH.json`` (:mod:`trustreg.services.backup_manifest`). It is taken
from one consistent snapshot while the server goes on serving and writing, written
under a temporary name in the target folder and renamed only once the copy checked
out, so PATH never holds half a backup.

A restore refuses, before it touches the store, a missing or damaged file (SHA-256),
one of the other store kind, one from a newer schema, a store in use and a store
that holds rows (unless ``force``). It then puts the backup back all or nothing,
migrates it to this code's schema and verifies the audit chain against the head the
manifest names.

Not in a backup: the keys (``TRUSTREG_IDENTIFIER_KEY``, ``TRUSTREG_SECRET_KEY``) and
the files under ``TRUSTREG_DATA_DIR`` (docs/operations.md, "Backups").
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path

from sqlalchemy import Engine, text

from trustreg.errors import Conflict, InputFileError
from trustreg.services import audit
from trustreg.services.backup_manifest import (
    Manifest,
    file_sha256,
    manifest_path,
    read_manifest,
)
from trustreg.store.backup_postgres import PostgresBackups
from trustreg.store.backup_sqlite import SqliteBackups
from trustreg.store.backups import (
    ALEMBIC_TABLE,
    BackupEngine,
    BackupFailed,
    StoreFacts,
    unknown_revision,
)
from trustreg.store.db import migrate, session_factory
from trustreg.store.models import AuditEntry

BACKENDS: dict[str, BackupEngine] = {"sqlite": SqliteBackups(), "postgresql": PostgresBackups()}


@dataclass(frozen=True, slots=True)
class BackupResult:
    path: Path
    manifest_path: Path
    manifest: Manifest
    audit: audit.AuditReport  # the copy's chain (PostgreSQL: the live chain up to its head)


@dataclass(frozen=True, slots=True)
class RestoreResult:
    path: Path
    manifest: Manifest
    revision: str  # the schema revision after migrating
    audit: audit.AuditReport


def backend_of(engine: Engine) -> BackupEngine:
    try:
        return BACKENDS[engine.dialect.name]
    except KeyError:
        raise BackupFailed(f"no backups for a {engine.dialect.name} store") from None


def trustreg_version() -> str:
    try:
        return metadata.version("trustreg")
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a bare checkout
        return "unknown"


# ---------------------------------------------------------------------------- backup


def backup(engine: Engine, path: Path, now: datetime, force: bool = False) -> BackupResult:
    """Copy the whole store to ``path`` and write its manifest ``path.json``.

    Conflict if either exists (unless ``force``); BackupFailed, with nothing left
    under ``path``, if the copy fails its checks (integrity, audit chain).
    """
    backend = backend_of(engine)
    path = path.absolute()
    written_manifest = manifest_path(path)
    if path.is_dir():
        raise InputFileError(f"{path} is a folder: give the backup file's name")
    if not force and (existing := [p for p in (path, written_manifest) if p.exists()]):
        raise Conflict(f"{existing[0]} exists: choose another name, or add --force")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial, partial_manifest = _partial(path), _partial(written_manifest)
    try:
        facts = backend.dump(engine, partial)
        if facts.revision is None:
            raise BackupFailed("the store has no trustreg schema (run trustreg init): no backup")
        report = _verify_copy(backend, engine, partial, facts)
        manifest = _manifest(backend.kind, path, partial, facts, now)
        _write_synced(partial_manifest, manifest.to_json().encode())
        _sync(partial)
        os.replace(partial, path)
        os.replace(partial_manifest, written_manifest)
        _sync(path.parent)
    finally:
        partial.unlink(missing_ok=True)
        partial_manifest.unlink(missing_ok=True)
    return BackupResult(path, written_manifest, manifest, report)


def _partial(path: Path) -> Path:
    """A new, empty file beside ``path`` (same file system: the rename is atomic)."""
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    os.close(handle)
    return Path(name)


def _verify_copy(
    backend: BackupEngine, engine: Engine, partial: Path, facts: StoreFacts
) -> audit.AuditReport:
    expect = facts.audit_head_hash if facts.audit_head_id is not None else None
    with backend.audit_store(engine, partial) as audited:
        report = audit.verify(session_factory(audited), expect)
    if not report.intact:
        raise BackupFailed(
            f"the audit log in the copy does not verify ({report.summary()}): no backup "
            "written; see `trustreg audit verify` and docs/operations.md"
        )
    return report


def _manifest(kind: str, path: Path, partial: Path, facts: StoreFacts, now: datetime) -> Manifest:
    assert facts.revision is not None
    return Manifest(
        created_at=now.isoformat(timespec="seconds"),
        store=kind,
        file=path.name,
        size=partial.stat().st_size,
        sha256=file_sha256(partial),
        alembic_revision=facts.revision,
        trustreg_version=trustreg_version(),
        tables=facts.tables,
        audit_entries=facts.tables.get(AuditEntry.__tablename__, 0),
        audit_head_id=facts.audit_head_id,
        audit_head_hash=facts.audit_head_hash,
        engine=facts.extra,
    )


def _write_synced(path: Path, content: bytes) -> None:
    with path.open("wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())


def _sync(path: Path) -> None:
    """Flush a file, or a folder's entries (the renames), to the disk."""
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


# --------------------------------------------------------------------------- restore


def check_backup(engine: Engine, path: Path) -> Manifest:
    """The manifest of a backup that may be restored into this store; otherwise the
    error naming what is wrong (nothing is changed)."""
    path = path.absolute()
    if not path.is_file():
        raise InputFileError(f"{path}: no such backup file")
    manifest = read_manifest(path)
    backend = backend_of(engine)
    if manifest.store != backend.kind:
        raise InputFileError(
            f"{path} is a backup of a {manifest.store} store, and this store "
            f"(TRUSTREG_DATABASE_URL) is {backend.kind}: restore it into a {manifest.store} store"
        )
    found = file_sha256(path)
    if found != manifest.sha256:
        raise InputFileError(
            f"{path} is damaged: its SHA-256 is {found}, its manifest says {manifest.sha256} "
            "(changed or cut short since the backup); nothing was restored"
        )
    backend.check_file(path)
    newest = unknown_revision(engine, manifest.alembic_revision)
    if newest is not None:
        raise Conflict(
            f"{path} comes from a newer trustreg (schema revision {manifest.alembic_revision}, "
            f"made by trustreg {manifest.trustreg_version}); this one knows revisions up to "
            f"{newest}: restore it with that version or a newer one"
        )
    return manifest


def restore(engine: Engine, path: Path, force: bool = False) -> RestoreResult:
    """Put the backup at ``path`` back into the store, migrate it and verify it.

    The store must not be in use (stop the server) and must be empty unless ``force``.
    """
    manifest = check_backup(engine, path)
    backend_of(engine).restore(engine, path.absolute(), manifest.facts, force)
    migrate(engine)
    with engine.connect() as connection:
        revision = str(connection.scalar(text(f"SELECT version_num FROM {ALEMBIC_TABLE}")))
    expect = manifest.audit_head_hash if manifest.audit_head_id is not None else None
    report = audit.verify(session_factory(engine), expect)
    engine.dispose()
    if not report.intact:
        raise BackupFailed(f"restored, but the audit log does not verify: {report.summary()}")
    return RestoreResult(path.absolute(), manifest, revision, report)
