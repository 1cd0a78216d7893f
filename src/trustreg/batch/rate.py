"""Re-rating every subject: ``trustreg rate --all`` after a rulebook change or a restore.

The job runs in three steps over one snapshot of the store, all with the core's own
functions, so a subject's batch assessment is the one the web app shows for it:

1. **snapshot** (``batch.snapshot``): every record version and every subject id,
   copied from the serving store into Parquet in a temporary folder by parallel
   readers that all see one state of the store;
2. **resolve facts** (``batch.facts``, DuckDB): each record's facts as of the date,
   the rule of ``core.rating.facts_as_known`` in SQL, sorted by subject;
3. **evaluate and write** (``batch.worker``): contiguous subject-id ranges, in
   parallel worker processes, each calling ``core.rating.evaluate`` for every subject
   of its range and then, in one transaction, replacing the range's assessments and
   bringing its open list entries up to date (``batch.store_writes``).

With ``output`` the results also go to a Parquet file (``subject_id, points, grade,
lists``). Every DuckDB failure is a :class:`BatchError` naming the step and showing
the SQL.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from multiprocessing.pool import Pool
from pathlib import Path

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
from sqlalchemy import Engine

from trustreg.batch.facts import count_records, resolve_facts, subject_ranges
from trustreg.batch.process import init_worker
from trustreg.batch.snapshot import Snapshot, take_snapshot
from trustreg.batch.snapshot_files import SnapshotFiles
from trustreg.batch.spark_rate import rate_on_spark
from trustreg.batch.steps import DUCKDB_MEMORY, BatchError, guarded
from trustreg.batch.worker import OutputRow, RangeOutcome, RangeTask, evaluate_range
from trustreg.core.rulebook import Rulebook
from trustreg.errors import TrustRegError, ValidationError
from trustreg.store.db import background_checkpoints

__all__ = [
    "ENGINES",
    "OUTPUT_SCHEMA",
    "BatchError",
    "Compute",
    "RateSummary",
    "rate_all",
    "rate_snapshot",
]

# Subjects per range: large enough that a range's transaction is worth its commit,
# small enough that the workers share the work evenly and memory stays flat.
RANGE_SUBJECTS = 10_000
RANGES_PER_WORKER = 4  # at least, so no worker waits long for the last range
# "spawn" starts clean interpreters: no copy of the parent's engine, pool or threads.
START_METHOD = "spawn"
OUTPUT_SCHEMA = pa.schema(
    [
        ("subject_id", pa.int64()),
        ("points", pa.int64()),
        ("grade", pa.string()),
        ("lists", pa.list_(pa.string())),
    ]
)


@dataclass(frozen=True, slots=True)
class RateSummary:
    """What a re-rating did, for the CLI to print."""

    subjects: int
    records: int
    seconds: float
    grades: dict[str, int]
    lists: dict[str, int]  # subjects on each list
    rulebook_version: str
    as_of: date
    entries_opened: int = 0
    entries_closed: int = 0
    # Seconds spent in each step: snapshot, resolve facts, evaluate and write.
    steps: dict[str, float] = field(default_factory=dict)


@dataclass
class _Tally:
    subjects: int = 0
    grades: Counter[str] = field(default_factory=Counter)
    lists: Counter[str] = field(default_factory=Counter)
    opened: int = 0
    closed: int = 0

    def add(self, outcome: RangeOutcome) -> None:
        self.subjects += outcome.assessed
        self.grades.update(outcome.grades)
        self.lists.update(outcome.lists)
        self.opened += outcome.entries.opened
        self.closed += outcome.entries.closed


ENGINES = ("duckdb", "spark")


@dataclass(frozen=True, slots=True)
class Compute:
    """Which engine evaluates: ``duckdb`` (our worker processes) or ``spark``.

    ``spark_master`` is a Spark master URL (default: local on ``workers`` cores);
    ``work_dir`` the folder under which the job's files go (default: the system's
    temporary folder): on a cluster, one that every Spark worker can read and write.
    """

    engine: str = "duckdb"
    spark_master: str | None = None
    work_dir: Path | None = None

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValidationError("--engine", f"'{self.engine}' is not one of {', '.join(ENGINES)}")
        if self.spark_master and self.engine != "spark":
            raise ValidationError("--spark-master", "is for --engine spark")


def rate_all(
    engine: Engine,
    rulebook: Rulebook,
    as_of: date,
    output: Path | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    compute: Compute | None = None,
) -> RateSummary:
    """Re-evaluate every subject on ``as_of`` under ``rulebook`` and store the results.

    Replaces the stored assessment of every subject in the snapshot, ends the list
    entries no longer held and opens the new ones. With ``output``, also writes a
    Parquet file of ``subject_id, points, grade, lists``. ``workers`` processes read,
    evaluate and write (default: one per core); ``progress(done, total)`` is called as
    subjects are stored. ``compute`` chooses the engine. Raises BatchError when a step
    fails.
    """
    started = time.perf_counter()
    compute = compute or Compute()
    workers = max(1, workers or os.cpu_count() or 1)
    if engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:"):
        raise TrustRegError("rating everyone needs a store in a file or on a server")
    context = multiprocessing.get_context(START_METHOD)
    joined = context.Semaphore(0)
    # The workers open the store themselves (they write to it), password and all.
    url = engine.url.render_as_string(hide_password=False)
    steps: dict[str, float] = {}
    with (
        tempfile.TemporaryDirectory(prefix="trustreg-rate-", dir=compute.work_dir) as tmp,
        # Started first: the workers start up while the parent holds the snapshot state.
        context.Pool(workers, initializer=init_worker, initargs=(joined, url)) as pool,
    ):
        folder = Path(tmp)
        with _timed(steps, "snapshot"):
            snapshot = take_snapshot(engine, folder, pool, joined, readers=workers)
        job = _Job(folder, snapshot, rulebook, as_of, workers, output, engine)
        records, tally = _rate(job, pool, compute, progress, steps)
    return _summary(records, tally, rulebook, as_of, steps, started)


def rate_snapshot(
    snapshot: SnapshotFiles,
    rulebook: Rulebook,
    as_of: date,
    output: Path,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    compute: Compute | None = None,
) -> RateSummary:
    """Evaluate every subject of a snapshot folder (``trustreg snapshot``) on ``as_of``
    and write the results to ``output``; the store is neither read nor written."""
    started = time.perf_counter()
    compute = compute or Compute()
    workers = max(1, workers or os.cpu_count() or 1)
    context = multiprocessing.get_context(START_METHOD)
    steps: dict[str, float] = {}
    held = Snapshot(snapshot.folder, snapshot.rows)
    with (
        tempfile.TemporaryDirectory(prefix="trustreg-rate-", dir=compute.work_dir) as tmp,
        context.Pool(workers, initializer=init_worker, initargs=(context.Semaphore(0), "")) as pool,
    ):
        job = _Job(Path(tmp), held, rulebook, as_of, workers, output, None)
        records, tally = _rate(job, pool, compute, progress, steps)
    return _summary(records, tally, rulebook, as_of, steps, started)


@dataclass(frozen=True, slots=True)
class _Job:
    folder: Path  # the job's own files
    snapshot: Snapshot
    rulebook: Rulebook
    as_of: date
    workers: int
    output: Path | None
    store: Engine | None  # None: results go to the output only


def _rate(
    job: _Job,
    pool: Pool,
    compute: Compute,
    progress: Callable[[int, int], None] | None,
    steps: dict[str, float],
) -> tuple[int, _Tally]:
    """Evaluate with the chosen engine, then tally, write and store range by range."""
    if compute.engine == "spark":
        results = job.folder / "results"
        with _timed(steps, "evaluate on spark"):
            snapshot = job.snapshot
            rate_on_spark(
                snapshot.versions,
                snapshot.subjects,
                job.rulebook.source_text,
                job.as_of,
                results,
                compute.spark_master,
                job.workers,
            )
        with _timed(steps, "plan"):
            records, tasks = _plan(job, results)
        step = "store" if job.store else "collect"
    else:
        with _timed(steps, "resolve facts"):
            records, tasks = _plan(job, None)
        step = "evaluate and write" if job.store else "evaluate"
    with _timed(steps, step):
        tally = _evaluate(job.store, pool, tasks, job.output, progress, job.snapshot.subject_rows)
    return records, tally


def _summary(
    records: int,
    tally: _Tally,
    rulebook: Rulebook,
    as_of: date,
    steps: dict[str, float],
    started: float,
) -> RateSummary:
    return RateSummary(
        subjects=tally.subjects,
        records=records,
        seconds=time.perf_counter() - started,
        grades=dict(tally.grades),
        lists=dict(tally.lists),
        rulebook_version=rulebook.version,
        as_of=as_of,
        entries_opened=tally.opened,
        entries_closed=tally.closed,
        steps=steps,
    )


def _plan(job: _Job, results: Path | None) -> tuple[int, list[RangeTask]]:
    """Resolve the facts (unless another engine has evaluated: ``results``); return how
    many records there are and one task per subject range."""
    facts = job.folder / "facts.parquet"
    snapshot = job.snapshot
    with _duckdb(job.folder, job.workers) as con:
        if results is None:
            records = resolve_facts(con, snapshot.versions, facts, job.rulebook, job.as_of)
        else:
            records = count_records(con, snapshot.versions)
        per_range = _per_range(snapshot.subject_rows, job.workers)
        ranges = subject_ranges(con, snapshot.subjects, per_range)
    computed_at = datetime.now(UTC)
    text = job.rulebook.source_text
    write = job.store is not None
    return records, [
        RangeTask(
            r,
            facts,
            snapshot.subjects,
            text,
            job.as_of,
            computed_at,
            bool(job.output),
            write,
            results,
        )
        for r in ranges
    ]


def _evaluate(
    store: Engine | None,
    pool: Pool,
    tasks: list[RangeTask],
    output: Path | None,
    progress: Callable[[int, int], None] | None,
    total: int,
) -> _Tally:
    """Run the ranges in the workers; tally their outcomes, write the Parquet output."""
    tally = _Tally()
    # The workers write; on SQLite the parent copies the log into the database meanwhile.
    checkpoints = background_checkpoints(store) if store is not None else nullcontext()
    with _output(output) as write_output, checkpoints:
        for outcome in pool.imap(evaluate_range, tasks):
            tally.add(outcome)
            write_output(outcome.output)
            if progress is not None:
                progress(tally.subjects, total)
    return tally


def _per_range(subjects: int, workers: int) -> int:
    return max(1, min(RANGE_SUBJECTS, math.ceil(subjects / (workers * RANGES_PER_WORKER))))


@contextmanager
def _timed(steps: dict[str, float], step: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    steps[step] = time.perf_counter() - started


@contextmanager
def _duckdb(folder: Path, threads: int) -> Iterator[duckdb.DuckDBPyConnection]:
    config: dict[str, str | bool | int | float | list[str]] = {
        "threads": threads,
        "memory_limit": DUCKDB_MEMORY,
        "temp_directory": str(folder / "duckdb"),
    }
    with guarded("open duckdb", "", duckdb.Error, "duckdb"):
        con = duckdb.connect(":memory:", config=config)
    try:
        yield con
    finally:
        con.close()


@contextmanager
def _output(path: Path | None) -> Iterator[Callable[[list[OutputRow]], None]]:
    """A Parquet writer of the results, renamed into place only when all are written."""
    if path is None:
        yield lambda _rows: None
        return
    partial = path.with_name(f".{path.name}.partial")
    writer = pq.ParquetWriter(partial, OUTPUT_SCHEMA, compression="zstd")

    def write(rows: list[OutputRow]) -> None:
        if rows:
            subject_ids, points, grades, lists = zip(*rows, strict=True)
            columns = (subject_ids, points, grades, [list(codes) for codes in lists])
            arrays = [pa.array(c, f.type) for c, f in zip(columns, OUTPUT_SCHEMA, strict=True)]
            writer.write_table(pa.table(arrays, schema=OUTPUT_SCHEMA))

    try:
        yield write
    except BaseException:
        writer.close()
        partial.unlink(missing_ok=True)
        raise
    writer.close()
    os.replace(partial, path)
