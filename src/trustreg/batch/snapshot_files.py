"""``trustreg snapshot -o DIR``: the registry as Parquet files, the input of batch engines.

A snapshot folder holds one folder per table, each split into ``part-N.parquet`` files
(one per reader, each an id range: records by record id, the others by subject id),
and ``manifest.json``::

    DIR/manifest.json        format, when and from what it was taken, rows per table,
                             the identifier key's check value, the rulebook versions
    DIR/rulebooks/NNN.toml   each stored rulebook version's text, as loaded
    DIR/records/part-N.parquet      record_id, subject_id, reference, entry_id,
                                    changed_at, record_type, effective_from, status,
                                    status_since, published_from (one row per version)
    DIR/subjects/part-N.parquet     subject_id, kind, display_name, country, region,
                                    birth_date
    DIR/names/part-N.parquet        subject_id, name_id, name, kind
    DIR/identifiers/part-N.parquet  subject_id, identifier_id, scheme, value (as stored: a person's
                                    masked), value_hash (keyed)
    DIR/assessments/part-N.parquet  subject_id, as_of, rulebook_version, points, grade,
                                    lists

Every table is read in one state of the store (``batch.snapshot``). The folder is
written beside its final place and renamed into it when complete, so a folder with a
manifest is always a whole snapshot. A snapshot holds personal data as the store does
(masked numbers and their keyed hashes, names, birth dates): keep it where the store is.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from trustreg.batch.process import init_worker
from trustreg.batch.snapshot import ALL_TABLES, RATING_TABLES, SnapshotTable, take_snapshot
from trustreg.core.rulebook import Rulebook, parse_rulebook
from trustreg.errors import TrustRegError, ValidationError

FORMAT = 1
MANIFEST = "manifest.json"
RULEBOOKS = "rulebooks"


@dataclass(frozen=True, slots=True)
class SnapshotFiles:
    """A snapshot folder, as read back from its manifest."""

    folder: Path
    manifest: dict[str, Any]

    def table(self, name: str) -> Path:
        """The folder of one table's Parquet files."""
        return self.folder / name

    def glob(self, name: str) -> str:
        """A glob of one table's Parquet files (DuckDB's ``read_parquet`` takes it)."""
        return str(self.folder / name / "*.parquet")

    @property
    def rows(self) -> dict[str, int]:
        return {k: int(v) for k, v in self.manifest["tables"].items()}

    @property
    def identifier_key_check(self) -> str | None:
        check = self.manifest.get("identifier_key_check")
        return str(check) if check else None

    def rulebook(self, as_of: date, version: str | None = None) -> Rulebook:
        """The rulebook ``version``, or the one in force on ``as_of``, from the snapshot."""
        known = self.manifest.get("rulebooks", [])
        if version is not None:
            chosen = [r for r in known if r["version"] == version]
            if not chosen:
                names = ", ".join(r["version"] for r in known) or "none"
                raise ValidationError("--rulebook", f"'{version}' is not in the snapshot ({names})")
        else:
            chosen = [r for r in known if date.fromisoformat(r["effective_from"]) <= as_of][-1:]
            if not chosen:
                raise ValidationError(
                    "--as-of", f"no rulebook of the snapshot is in force on {as_of}"
                )
        text = (self.folder / RULEBOOKS / chosen[0]["file"]).read_text(encoding="utf-8")
        return parse_rulebook(text)


def open_snapshot(folder: Path) -> SnapshotFiles:
    """Read a snapshot folder's manifest, refusing what is not a whole snapshot."""
    path = folder / MANIFEST
    if not path.is_file():
        raise ValidationError("--snapshot", f"{folder} is not a snapshot (no {MANIFEST})")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValidationError("--snapshot", f"{path} cannot be read: {exc}") from exc
    if manifest.get("format") != FORMAT:
        raise ValidationError(
            "--snapshot", f"{path}: format {manifest.get('format')!r}, this version reads {FORMAT}"
        )
    missing = [t for t in manifest.get("tables", {}) if not (folder / t).is_dir()]
    if missing:
        raise ValidationError("--snapshot", f"{folder}: missing tables {', '.join(missing)}")
    return SnapshotFiles(folder, manifest)


@dataclass(frozen=True, slots=True)
class SnapshotSummary:
    folder: Path
    rows: dict[str, int]
    seconds: float


def write_snapshot(
    engine: Engine, target: Path, workers: int | None = None, force: bool = False
) -> SnapshotSummary:
    """Copy the store into a new snapshot folder ``target`` with ``workers`` readers.

    Refuses an existing, non-empty ``target`` unless ``force`` (which replaces it, once
    the new snapshot is complete).
    """
    started = time.perf_counter()
    if engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:"):
        raise TrustRegError("a snapshot needs a store in a file or on a server")
    if target.exists() and any(target.iterdir()) and not force:
        raise ValidationError("--output", f"{target} exists and is not empty (--force replaces it)")
    target.parent.mkdir(parents=True, exist_ok=True)
    readers = max(1, workers or os.cpu_count() or 1)
    snapshot = taken(
        engine, Path(tempfile.mkdtemp(prefix=".snapshot-", dir=target.parent)), readers, ALL_TABLES
    )
    building = snapshot.folder
    try:
        write_manifest(building, snapshot.rows, snapshot.described, engine.dialect.name)
        if target.exists():
            shutil.rmtree(target)
        building.rename(target)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return SnapshotSummary(target, snapshot.rows, time.perf_counter() - started)


def taken(
    engine: Engine,
    folder: Path,
    readers: int,
    tables: tuple[SnapshotTable, ...] = RATING_TABLES,
) -> Any:
    """``batch.snapshot.take_snapshot`` in a pool of its own, with the manifest's facts
    read in the same state (removes ``folder`` if it fails)."""
    context = multiprocessing.get_context("spawn")
    joined = context.Semaphore(0)
    url = engine.url.render_as_string(hide_password=False)
    try:
        with context.Pool(readers, initializer=init_worker, initargs=(joined, url)) as pool:
            return take_snapshot(engine, folder, pool, joined, readers, tables, describe)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def describe(cursor: Any) -> dict[str, Any]:
    """What the manifest says of the store, read in the snapshot's own state."""
    cursor.execute("SELECT version_num FROM alembic_version")
    revision = cursor.fetchone()
    cursor.execute("SELECT check_value FROM registry_keys WHERE purpose = 'identifier'")
    check = cursor.fetchone()
    cursor.execute(
        "SELECT version, effective_from, source_sha256, source_text FROM rulebook_versions "
        "ORDER BY effective_from, id"
    )
    rulebooks = [
        {"version": str(v), "effective_from": str(f)[:10], "sha256": str(h), "text": str(t)}
        for v, f, h, t in cursor.fetchall()
    ]
    return {
        "revision": revision[0] if revision else None,
        "identifier_key_check": check[0] if check else None,
        "rulebooks": rulebooks,
    }


def write_manifest(
    folder: Path, rows: dict[str, int], described: dict[str, Any], store: str
) -> None:
    """Write ``folder``'s manifest and rulebook files: ``rows`` per table, the store's
    facts as ``describe`` read them, ``store`` its engine's name. Tools that make
    snapshot folders of their own (``bench/scale_data.py``) call it too."""
    books = folder / RULEBOOKS
    books.mkdir()
    listed = []
    for number, book in enumerate(described.get("rulebooks", []), start=1):
        name = f"{number:03d}.toml"  # a version is free text: not a file name
        (books / name).write_text(book["text"], encoding="utf-8")
        listed.append(
            {k: book[k] for k in ("version", "effective_from", "sha256")} | {"file": name}
        )
    manifest = {
        "format": FORMAT,
        "taken_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "store": store,
        "revision": described.get("revision"),
        "identifier_key_check": described.get("identifier_key_check"),
        "tables": rows,
        "rulebooks": listed,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
