"""A Parquet snapshot of the serving store: every record version, every subject id.

Batch jobs never work on the serving store itself: they copy what they need out of it
into Parquet files and work on those with DuckDB. The copy is made by several reader
processes at once, each streaming one id range in big ``fetchmany`` batches from a raw
DBAPI cursor into its own Parquet file, so memory stays flat and the copy takes a
fraction of the time one reader would (turning rows into Python objects is the cost).

All readers see one state of the store. The parent first *holds* a state, then each
reader *joins* it before reading, and only when all have joined does the parent let go:

- SQLite: the parent takes the write lock (``BEGIN IMMEDIATE``); a reader's read
  transaction, begun meanwhile, sees the last commit, the same for all. Writers wait
  (``busy_timeout``) until the readers have joined, a second or so.
- PostgreSQL: the parent exports its repeatable-read snapshot (``pg_export_snapshot``)
  and each reader imports it (``SET TRANSACTION SNAPSHOT``), as ``pg_dump -j`` does.

These engine differences (with whether a cursor must be a server-side one to stream,
and whether dates come back as text) live in ``BACKENDS`` and nowhere else. Dates and
times are stored as the driver gives them (ISO text from SQLite, date and datetime from
PostgreSQL); DuckDB's ``CAST(... AS DATE)`` reads either.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.pool import AsyncResult, Pool
from multiprocessing.synchronize import Semaphore
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
from sqlalchemy import Engine

from trustreg.batch import process
from trustreg.batch.steps import BatchError, guarded, sql_text

FETCH_ROWS = 50_000

# One row per history entry: each is a version of its record (models.RecordStatusChange).
# Entries from before the versions were kept fall back on the record's own columns,
# exactly as ``store.assessments.record_versions`` reads them for one subject.
VERSIONS_SQL = """
SELECT r.id, r.subject_id, r.reference, h.id, h.changed_at,
       COALESCE(h.record_type, r.record_type),
       COALESCE(h.effective_from, r.effective_from),
       h.status,
       COALESCE(h.status_since, r.effective_from),
       r.published_from
FROM record_status_history h JOIN records r ON r.id = h.record_id
WHERE r.id BETWEEN {low} AND {high}
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
    ("published_from", "date"),  # the record's, the same in every version
)
SUBJECTS_SQL = "SELECT id FROM subjects WHERE id BETWEEN {low} AND {high} ORDER BY id"
SUBJECTS_COLUMNS = (("subject_id", "int"),)
BOUNDS_SQL = "SELECT (SELECT min(id) FROM records), (SELECT max(id) FROM records), " + (
    "(SELECT min(id) FROM subjects), (SELECT max(id) FROM subjects)"
)
ARROW_TYPES = {"int": pa.int64(), "text": pa.string()}
JOIN_TIMEOUT = 300.0  # seconds the parent waits for the readers to join its state


@dataclass(frozen=True, slots=True)
class SnapshotBackend:
    # The parent: fix the state every reader will see; returns what a reader needs.
    hold: Callable[[Any], str]
    # A reader: begin a transaction that sees the state the parent holds.
    join: Callable[[Any, str], None]
    # A cursor that streams a large result rather than holding it all (name: a label).
    cursor: Callable[[Any, str], Any]
    # The Parquet types of dates and times as the driver hands them over.
    temporal_types: Mapping[str, Any]

    def schema(self, columns: Sequence[tuple[str, str]]) -> Any:
        types = {**ARROW_TYPES, **self.temporal_types}
        return pa.schema([(name, types[kind]) for name, kind in columns])


def _sqlite_hold(connection: Any) -> str:
    connection.cursor().execute("BEGIN IMMEDIATE")
    return ""


def _sqlite_join(connection: Any, _token: str) -> None:
    cursor = connection.cursor()
    cursor.execute("BEGIN")
    cursor.execute("SELECT count(*) FROM sqlite_master").fetchall()  # the read begins here


def _postgres_hold(connection: Any) -> str:
    cursor = connection.cursor()
    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    cursor.execute("SELECT pg_export_snapshot()")
    return str(cursor.fetchone()[0])


def _postgres_join(connection: Any, token: str) -> None:
    cursor = connection.cursor()
    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    cursor.execute(f"SET TRANSACTION SNAPSHOT {sql_text(token)}")


def _client_cursor(connection: Any, _name: str) -> Any:
    return connection.cursor()


def _server_cursor(connection: Any, name: str) -> Any:
    # psycopg: a named cursor is a server-side one; fetchmany then streams.
    return connection.driver_connection.cursor(name=name)


BACKENDS: Mapping[str, SnapshotBackend] = {
    "sqlite": SnapshotBackend(
        _sqlite_hold, _sqlite_join, _client_cursor, {"date": pa.string(), "timestamp": pa.string()}
    ),
    "postgresql": SnapshotBackend(
        _postgres_hold,
        _postgres_join,
        _server_cursor,
        {"date": pa.date32(), "timestamp": pa.timestamp("us")},
    ),
}


@dataclass(frozen=True, slots=True)
class Snapshot:
    versions: Path  # a folder of Parquet files
    subjects: Path  # a folder of Parquet files, each sorted by subject id
    version_rows: int
    subject_rows: int


@dataclass(frozen=True, slots=True)
class ReadTask:
    """One reader's share: record and subject ids ``low`` to ``high``, inclusive."""

    token: str
    folder: Path
    index: int
    records: tuple[int, int]
    subjects: tuple[int, int]


def take_snapshot(
    engine: Engine, folder: Path, pool: Pool, joined: Semaphore, readers: int
) -> Snapshot:
    """Copy every record version and subject id into Parquet files under ``folder``.

    ``readers`` tasks run in ``pool`` (whose processes ``process.init_worker`` set up
    with ``joined``), each over one id range, all over one state of the store.
    """
    versions, subjects = folder / "versions", folder / "subjects"
    versions.mkdir()
    subjects.mkdir()
    with _held(engine) as (token, bounds):
        tasks = [
            ReadTask(token, folder, i, records, people)
            for i, (records, people) in enumerate(
                zip(
                    _split(bounds[0], bounds[1], readers),
                    _split(bounds[2], bounds[3], readers),
                    strict=True,
                )
            )
        ]
        pending = [pool.apply_async(read_part, (task,)) for task in tasks]
        _wait_joined(joined, pending)
    counts = [result.get() for result in pending]
    return Snapshot(versions, subjects, sum(c[0] for c in counts), sum(c[1] for c in counts))


@contextmanager
def _held(engine: Engine) -> Iterator[tuple[str, tuple[int | None, ...]]]:
    backend = BACKENDS[engine.dialect.name]
    errors = engine.dialect.loaded_dbapi.Error
    connection = engine.raw_connection()
    try:
        connection.rollback()  # whatever the pool left open: the snapshot starts afresh
        with guarded("snapshot: hold one state", BOUNDS_SQL, errors, engine.dialect.name):
            token = backend.hold(connection)
            cursor = connection.cursor()
            cursor.execute(BOUNDS_SQL)
            bounds = tuple(cursor.fetchone() or (None,) * 4)
        yield token, bounds
    finally:
        connection.rollback()
        connection.close()


def _split(low: int | None, high: int | None, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous ranges covering ``low``..``high`` (empty ones if no rows)."""
    if low is None or high is None:
        return [(1, 0)] * parts
    size = (high - low) // parts + 1
    return [
        (low + i * size, high if i == parts - 1 else low + (i + 1) * size - 1) for i in range(parts)
    ]


def _wait_joined(joined: Semaphore, pending: Sequence[AsyncResult[tuple[int, int]]]) -> None:
    deadline = time.monotonic() + JOIN_TIMEOUT
    waiting = len(pending)
    while waiting:
        if joined.acquire(timeout=0.05):
            waiting -= 1
            continue
        for result in pending:
            if result.ready() and not result.successful():
                result.get()  # raises the reader's error
        if time.monotonic() > deadline:
            raise BatchError(
                "snapshot: readers join", "", "the reader processes did not start", "python"
            )


def read_part(task: ReadTask) -> tuple[int, int]:
    """In a worker: join the held state, copy one id range; return (versions, subjects)."""
    with process.without_gc():
        return _read_part(task)


def _read_part(task: ReadTask) -> tuple[int, int]:
    engine = process.store_engine()
    backend = BACKENDS[engine.dialect.name]
    errors = engine.dialect.loaded_dbapi.Error
    name = engine.dialect.name
    connection = engine.raw_connection()
    try:
        with guarded("snapshot: join the held state", "", errors, name):
            connection.rollback()
            backend.join(connection, task.token)
        process.signal_joined()
        sql = SUBJECTS_SQL.format(low=task.subjects[0], high=task.subjects[1])
        path = task.folder / "subjects" / f"part-{task.index}.parquet"
        with guarded("snapshot subjects", sql, errors, name):
            subject_rows = _copy(backend, connection, "subjects", sql, SUBJECTS_COLUMNS, path)
        sql = VERSIONS_SQL.format(low=task.records[0], high=task.records[1])
        path = task.folder / "versions" / f"part-{task.index}.parquet"
        with guarded("snapshot record versions", sql, errors, name):
            version_rows = _copy(backend, connection, "versions", sql, VERSIONS_COLUMNS, path)
    finally:
        connection.rollback()
        connection.close()
    return version_rows, subject_rows


def _copy(
    backend: SnapshotBackend,
    connection: Any,
    name: str,
    sql: str,
    columns: Sequence[tuple[str, str]],
    path: Path,
) -> int:
    schema = backend.schema(columns)
    cursor = backend.cursor(connection, f"trustreg_snapshot_{name}")
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
