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

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.pool import AsyncResult, Pool
from multiprocessing.synchronize import Semaphore
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
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
SUBJECTS_SQL = """
SELECT id, kind, display_name, country, region, birth_date FROM subjects
WHERE id BETWEEN {low} AND {high} ORDER BY id
"""
SUBJECTS_COLUMNS = (
    ("subject_id", "int"),
    ("kind", "text"),
    ("display_name", "text"),
    ("country", "text"),
    ("region", "text"),
    ("birth_date", "date"),
)
NAMES_SQL = """
SELECT subject_id, id, name, kind FROM subject_names
WHERE subject_id BETWEEN {low} AND {high} ORDER BY subject_id, id
"""
NAMES_COLUMNS = (("subject_id", "int"), ("name_id", "int"), ("name", "text"), ("kind", "text"))
# A person's number is stored masked (``value``) with its keyed hash (``value_hash``):
# the snapshot holds no more of it than the store does.
IDENTIFIERS_SQL = """
SELECT subject_id, id, scheme, value, value_hash FROM identifiers
WHERE subject_id BETWEEN {low} AND {high} ORDER BY subject_id, id
"""
IDENTIFIERS_COLUMNS = (
    ("subject_id", "int"),
    ("identifier_id", "int"),
    ("scheme", "text"),
    ("value", "text"),
    ("value_hash", "text"),
)
ASSESSMENTS_SQL = """
SELECT subject_id, as_of, rulebook_version, points, grade, lists FROM assessments
WHERE subject_id BETWEEN {low} AND {high} ORDER BY subject_id
"""
ASSESSMENTS_COLUMNS = (
    ("subject_id", "int"),
    ("as_of", "date"),
    ("rulebook_version", "text"),
    ("points", "int"),
    ("grade", "text"),
    ("lists", "json"),  # JSON text in the store, a list of list codes in Parquet
)


@dataclass(frozen=True, slots=True)
class SnapshotTable:
    """One table of a snapshot: its folder, query, columns and the ids it is split by."""

    name: str
    sql: str
    columns: tuple[tuple[str, str], ...]
    by: str  # "records" or "subjects": which id range a reader's part covers


# Rating needs the first two; the others complete a snapshot for ``trustreg snapshot``
# and for screening.
RECORDS = SnapshotTable("records", VERSIONS_SQL, VERSIONS_COLUMNS, "records")
SUBJECTS = SnapshotTable("subjects", SUBJECTS_SQL, SUBJECTS_COLUMNS, "subjects")
NAMES = SnapshotTable("names", NAMES_SQL, NAMES_COLUMNS, "subjects")
IDENTIFIERS = SnapshotTable("identifiers", IDENTIFIERS_SQL, IDENTIFIERS_COLUMNS, "subjects")
ASSESSMENTS = SnapshotTable("assessments", ASSESSMENTS_SQL, ASSESSMENTS_COLUMNS, "subjects")
RATING_TABLES = (RECORDS, SUBJECTS)
ALL_TABLES = (RECORDS, SUBJECTS, NAMES, IDENTIFIERS, ASSESSMENTS)
BOUNDS_SQL = "SELECT (SELECT min(id) FROM records), (SELECT max(id) FROM records), " + (
    "(SELECT min(id) FROM subjects), (SELECT max(id) FROM subjects)"
)
# The Parquet type of each kind of column: the same whatever the store, so a snapshot
# reads alike from SQLite and from PostgreSQL (and in Spark, which wants real dates).
PARQUET_TYPES = {
    "int": pa.int64(),
    "text": pa.string(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),  # UTC
    "json": pa.list_(pa.string()),
}
JOIN_TIMEOUT = 300.0  # seconds the parent waits for the readers to join its state


@dataclass(frozen=True, slots=True)
class SnapshotBackend:
    # The parent: fix the state every reader will see; returns what a reader needs.
    hold: Callable[[Any], str]
    # A reader: begin a transaction that sees the state the parent holds.
    join: Callable[[Any, str], None]
    # A cursor that streams a large result rather than holding it all (name: a label).
    cursor: Callable[[Any, str], Any]
    # Whether the driver hands dates, times and JSON over as text (SQLite's does).
    as_text: bool


def schema(columns: Sequence[tuple[str, str]]) -> Any:
    """The Parquet schema of a snapshot table."""
    return pa.schema([(name, PARQUET_TYPES[kind]) for name, kind in columns])


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
    "sqlite": SnapshotBackend(_sqlite_hold, _sqlite_join, _client_cursor, as_text=True),
    "postgresql": SnapshotBackend(_postgres_hold, _postgres_join, _server_cursor, as_text=False),
}


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Where each table's Parquet files are (``folder/<table>/part-N.parquet``)."""

    folder: Path
    rows: dict[str, int]  # rows copied per table
    described: dict[str, Any] = field(default_factory=dict)  # what ``describe`` read

    @property
    def versions(self) -> Path:
        return self.folder / RECORDS.name

    @property
    def subjects(self) -> Path:
        return self.folder / SUBJECTS.name

    @property
    def version_rows(self) -> int:
        return self.rows[RECORDS.name]

    @property
    def subject_rows(self) -> int:
        return self.rows[SUBJECTS.name]


@dataclass(frozen=True, slots=True)
class ReadTask:
    """One reader's share: record and subject ids ``low`` to ``high``, inclusive."""

    token: str
    folder: Path
    index: int
    records: tuple[int, int]
    subjects: tuple[int, int]
    tables: tuple[SnapshotTable, ...]


def take_snapshot(
    engine: Engine,
    folder: Path,
    pool: Pool,
    joined: Semaphore,
    readers: int,
    tables: Sequence[SnapshotTable] = RATING_TABLES,
    describe: Callable[[Any], dict[str, Any]] | None = None,
) -> Snapshot:
    """Copy ``tables`` into Parquet files under ``folder``, one folder per table.

    ``readers`` tasks run in ``pool`` (whose processes ``process.init_worker`` set up
    with ``joined``), each over one id range, all over one state of the store.
    ``describe(cursor)``, when given, reads more of that same state in the parent (the
    manifest of ``trustreg snapshot``).
    """
    for table in tables:
        (folder / table.name).mkdir(parents=True)
    with _held(engine) as (token, bounds, connection):
        described = describe(connection.cursor()) if describe else {}
        tasks = [
            ReadTask(token, folder, i, records, people, tuple(tables))
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
    rows = {table.name: 0 for table in tables}
    for result in pending:
        for name, count in result.get().items():
            rows[name] += count
    return Snapshot(folder, rows, described)


@contextmanager
def _held(engine: Engine) -> Iterator[tuple[str, tuple[int | None, ...], Any]]:
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
        yield token, bounds, connection
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


def _wait_joined(joined: Semaphore, pending: Sequence[AsyncResult[dict[str, int]]]) -> None:
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


def read_part(task: ReadTask) -> dict[str, int]:
    """In a worker: join the held state, copy one id range; return rows per table."""
    with process.without_gc():
        return _read_part(task)


def _read_part(task: ReadTask) -> dict[str, int]:
    engine = process.store_engine()
    backend = BACKENDS[engine.dialect.name]
    errors = engine.dialect.loaded_dbapi.Error
    name = engine.dialect.name
    connection = engine.raw_connection()
    rows: dict[str, int] = {}
    try:
        with guarded("snapshot: join the held state", "", errors, name):
            connection.rollback()
            backend.join(connection, task.token)
        process.signal_joined()
        for table in task.tables:
            low, high = task.records if table.by == "records" else task.subjects
            sql = table.sql.format(low=int(low), high=int(high))
            path = task.folder / table.name / f"part-{task.index}.parquet"
            with guarded(f"snapshot {table.name}", sql, errors, name):
                rows[table.name] = _copy(backend, connection, table, sql, path)
    finally:
        connection.rollback()
        connection.close()
    return rows


def _copy(
    backend: SnapshotBackend, connection: Any, table: SnapshotTable, sql: str, path: Path
) -> int:
    parquet_schema = schema(table.columns)
    kinds = [kind for _name, kind in table.columns]
    cursor = backend.cursor(connection, f"trustreg_snapshot_{table.name}")
    rows = 0
    try:
        cursor.execute(sql)
        with pq.ParquetWriter(path, parquet_schema, compression="snappy") as writer:
            while batch := cursor.fetchmany(FETCH_ROWS):
                writer.write_batch(_record_batch(batch, parquet_schema, kinds, backend.as_text))
                rows += len(batch)
    finally:
        cursor.close()
    return rows


def _record_batch(
    rows: Sequence[Sequence[Any]], parquet_schema: Any, kinds: list[str], text: bool
) -> Any:
    columns = zip(*rows, strict=True)
    arrays = [
        _array(values, f.type, kind, text)
        for f, kind, values in zip(parquet_schema, kinds, columns, strict=True)
    ]
    return pa.record_batch(arrays, schema=parquet_schema)


def _array(values: Sequence[Any], arrow_type: Any, kind: str, text: bool) -> Any:
    """One column: dates and times the driver gave as ISO text are cast (Arrow parses
    them); JSON lists are decoded where the driver left them as text."""
    if kind == "json":
        return pa.array([json.loads(v) if isinstance(v, str) else v for v in values], arrow_type)
    if text and kind in ("date", "timestamp"):
        return pc.cast(pa.array(values, pa.string()), arrow_type)
    return pa.array(values, arrow_type)
