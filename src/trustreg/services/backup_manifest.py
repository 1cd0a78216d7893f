"""The manifest written beside every backup (``PATH.json``): what the backup holds.

It names the store kind, the schema revision, the rows per table, the audit chain's
head and the SHA-256 of the backup file, so that a restore can refuse a damaged or
unsuitable file before it touches the store, and prove afterwards that it put back
exactly what was copied.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from trustreg.errors import InputFileError
from trustreg.store.backups import StoreFacts

FORMAT = "trustreg-backup/1"
SUFFIX = ".json"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_HASH = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class Manifest:
    """What one backup file holds, and how to know it is still the same file."""

    created_at: str  # ISO 8601, UTC
    store: str  # sqlite or postgresql
    file: str  # the backup file's name (the manifest sits beside it)
    size: int
    sha256: str
    alembic_revision: str
    trustreg_version: str
    tables: dict[str, int]
    audit_entries: int
    audit_head_id: int | None
    audit_head_hash: str
    engine: dict[str, str] = field(default_factory=dict)
    format: str = FORMAT

    @property
    def facts(self) -> StoreFacts:
        return StoreFacts(
            self.alembic_revision,
            dict(self.tables),
            self.audit_head_id,
            self.audit_head_hash,
            dict(self.engine),
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"


def manifest_path(backup: Path) -> Path:
    return backup.with_name(backup.name + SUFFIX)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def read_manifest(backup: Path) -> Manifest:
    """The manifest of ``backup``; InputFileError naming the file and what is wrong."""
    path = manifest_path(backup)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputFileError(
            f"{path}: the backup's manifest is missing (every backup is written with one)"
        ) from exc
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputFileError(f"{path}: not a readable manifest ({exc})") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputFileError(f"{path}: not a trustreg backup manifest (format {FORMAT})")
    try:
        manifest = Manifest(**data)
    except TypeError as exc:
        raise InputFileError(f"{path}: manifest fields are missing or unknown ({exc})") from exc
    _check_fields(path, manifest)
    return manifest


def _check_fields(path: Path, m: Manifest) -> None:
    """The values a restore puts into SQL or compares must have their expected shapes."""
    problems: list[str] = []

    def need(ok: Any, what: str) -> None:
        if not ok:
            problems.append(what)

    need(isinstance(m.tables, dict) and m.tables, "tables: a non-empty object")
    if isinstance(m.tables, dict):
        for name, rows in m.tables.items():
            need(_NAME.match(str(name)), f"tables: '{name}' is not a table name")
            need(isinstance(rows, int) and rows >= 0, f"tables.{name}: a row count")
    need(isinstance(m.sha256, str) and _HASH.match(m.sha256), "sha256: 64 hex digits")
    need(isinstance(m.audit_head_hash, str) and _HASH.match(m.audit_head_hash), "audit_head_hash")
    need(isinstance(m.alembic_revision, str) and m.alembic_revision, "alembic_revision")
    need(isinstance(m.size, int), "size: a number of bytes")
    schema = m.engine.get("schema") if isinstance(m.engine, dict) else None
    need(schema is None or _NAME.match(str(schema)), "engine.schema: a schema name")
    if problems:
        raise InputFileError(f"{path}: bad manifest: {'; '.join(problems)}")
