"""A Parquet snapshot of the serving store: every record version, every subject id.

Batch jobs never work on the serving store itself: they copy what they need out of it
in one read transaction (so subjects and record versions agree with each other),
streaming big ``fetchmany`` batches from the raw DBAPI cursor into Parquet files, and
then work on those with DuckDB. Memory stays flat whatever the size of the store.

The engine differences (how a read transaction that sees one state begins, whether the
cursor must be a server-side one to stream, whether dates come back as text) live in
``BACKENDS`` and nowhere else. Dates and times are left as the driver gives them (ISO
text from SQLite, date and datetime from PostgreSQL); readers cast them (DuckDB's
``CAST(... AS DATE)`` takes either).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
from sqlalchemy import Engine

from trustreg.batch.steps import guarded

FETCH_ROWS = 100_000

# One row per history entry: each is a version of its record (models.RecordStatusChange).
# Entries from before the versions were kept fall back on the record's own columns,
# exactly as ``store.assessments.record_versions`` reads them for one subject.
VERSIONS_SQL = """
SELECT r.id, r.subject_id, r.reference, h.id, h.changed_at,
       COALESCE(h.record_type, r.record_type),
       COALESCE(h.effective_from, r.effective_from),
       h.status,
       COALESCE(h.status_since, r.effective_from)
FROM record_status_history h JOIN records r ON r.id = h.record_id
"""
# Column name and kind; a backend decides the Parquet type of the dates and times.
VERSIONS_COLUMNS = (
    ("record_id", "int"),
    ("subject_id", "int"),
    ("reference", "text"),
    ("entry_id", "int"),
    ("changed_at", "timestamp"),  # UTC
    ("record_type", "text"),
    ("effective_from", "date"),
    ("status", "text"),
    ("status_since", "date"),
)
SUBJECTS_SQL = "SELECT id FROM subjects ORDER BY id"
SUBJECTS_COLUMNS = (("subject_id", "int"),)
ARROW_TYPES = {"int": pa.int64(), "text": pa.string()}


@dataclass(frozen=True, slots=True)
class SnapshotBackend:
    # Run first on the DBAPI connection: the reads after it see one state of the store.
    begin: str
    # A cursor that streams a large result rather than holding it all (name: a label).
    cursor: Callable[[Any, str], Any]
    # The Parquet types of dates and times as the driver hands them over. SQLite's ISO
    # text is kept as text: DuckDB parses it far faster than Python could.
    temporal_types: Mapping[str, Any]

    def schema(self, columns: Sequence[tuple[str, str]]) -> Any:
        types = {**ARROW_TYPES, **self.temporal_types}
        return pa.schema([(name, types[kind]) for name, kind in columns])


def _client_cursor(connection: Any, _name: str) -> Any:
    return connection.cursor()


def _server_cursor(connection: Any, name: str) -> Any:
    # psycopg: a named cursor is a server-side one; fetchmany then streams.
    return connection.driver_connection.cursor(name=name)


BACKENDS: Mapping[str, SnapshotBackend] = {
    "sqlite": SnapshotBackend(
        "BEGIN", _client_cursor, {"date": pa.string(), "timestamp": pa.string()}
    ),
    "postgresql": SnapshotBackend(
        "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ",
        _server_cursor,
        {"date": pa.date32(), "timestamp": pa.timestamp("us")},
    ),
}


@dataclass(frozen=True, slots=True)
class Snapshot:
    versions: Path
    subjects: Path
    version_rows: int
    subject_rows: int


def take_snapshot(engine: Engine, folder: Path) -> Snapshot:
    """Copy every record version and every subject id into Parquet files in ``folder``."""
    backend = BACKENDS[engine.dialect.name]
    errors = engine.dialect.loaded_dbapi.Error
    connection = engine.raw_connection()
    try:
        connection.rollback()  # whatever the pool left open: the snapshot starts afresh
        with guarded("snapshot", backend.begin, errors, engine.dialect.name):
            connection.cursor().execute(backend.begin)
        subjects = folder / "subjects.parquet"
        with guarded("snapshot subjects", SUBJECTS_SQL, errors, engine.dialect.name):
            subject_rows = _copy(
                backend, connection, "trustreg_subjects", SUBJECTS_SQL, SUBJECTS_COLUMNS, subjects
            )
        versions = folder / "versions.parquet"
        with guarded("snapshot record versions", VERSIONS_SQL, errors, engine.dialect.name):
            version_rows = _copy(
                backend, connection, "trustreg_versions", VERSIONS_SQL, VERSIONS_COLUMNS, versions
            )
    finally:
        connection.rollback()
        connection.close()
    return Snapshot(versions, subjects, version_rows, subject_rows)


def _copy(
    backend: SnapshotBackend,
    connection: Any,
    name: str,
    sql: str,
    columns: Sequence[tuple[str, str]],
    path: Path,
) -> int:
    schema = backend.schema(columns)
    cursor = backend.cursor(connection, name)
    rows = 0
    try:
        cursor.execute(sql)
        with pq.ParquetWriter(path, schema, compression="snappy") as writer:
            while batch := cursor.fetchmany(FETCH_ROWS):
                writer.write_batch(_record_batch(batch, schema))
                rows += len(batch)
    finally:
        cursor.close()
    return rows


def _record_batch(rows: Sequence[Sequence[Any]], schema: Any) -> Any:
    columns = zip(*rows, strict=True)
    arrays = [pa.array(values, f.type) for f, values in zip(schema, columns, strict=True)]
    return pa.record_batch(arrays, schema=schema)
