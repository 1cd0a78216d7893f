"""Re-rating every subject: ``trustreg rate --all`` after a rulebook change or a restore.

The job runs in four steps over one snapshot of the store, all with the core's own
functions, so a subject's batch assessment is the one the web app shows for it:

1. **snapshot** (``batch.snapshot``): every record version and every subject id,
   streamed from the serving store into Parquet in a temporary folder;
2. **resolve facts** (``batch.facts``, DuckDB): each record's facts as of the date,
   the rule of ``core.rating.facts_as_known`` in SQL, sorted by subject;
3. **evaluate** (``batch.worker``): contiguous subject-id ranges, in parallel worker
   processes, each calling ``core.rating.evaluate`` for every subject of its range;
4. **write back** (``batch.store_writes``): one transaction per range replaces the
   range's assessments and brings its open list entries up to date; optionally the
   results also go to a Parquet file (``subject_id, points, grade, lists``).

Every DuckDB failure is a :class:`BatchError` naming the step and showing the SQL.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import tempfile
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from multiprocessing.pool import AsyncResult, Pool
from pathlib import Path

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from trustreg.batch import store_writes
from trustreg.batch.facts import resolve_facts, subject_ranges
from trustreg.batch.snapshot import take_snapshot
from trustreg.batch.steps import BatchError
from trustreg.batch.worker import RangeResult, RangeTask, evaluate_range
from trustreg.core.rulebook import Rulebook
from trustreg.store.db import background_checkpoints, session_factory, transaction

__all__ = ["OUTPUT_SCHEMA", "BatchError", "RateSummary", "rate_all"]

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
    facts: int = 0
    grades: Counter[str] = field(default_factory=Counter)
    lists: Counter[str] = field(default_factory=Counter)
    opened: int = 0
    closed: int = 0

    def add(self, result: RangeResult, changes: store_writes.EntryChanges) -> None:
        self.subjects += len(result.assessments)
        self.facts += result.facts
        self.grades.update(row[2] for row in result.assessments)
        self.lists.update(code for codes in result.lists for code in codes)
        self.opened += changes.opened
        self.closed += changes.closed


def rate_all(
    engine: Engine,
    rulebook: Rulebook,
    as_of: date,
    output: Path | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RateSummary:
    """Re-evaluate every subject on ``as_of`` under ``rulebook`` and store the results.

    Replaces every stored assessment of the subjects in the snapshot, ends the list
    entries no longer held and opens the new ones. With ``output``, also writes a
    Parquet file of ``subject_id, points, grade, lists``. ``workers`` processes
    evaluate (default: one per core); ``progress(done, total)`` is called as subjects
    are written. Raises BatchError when a DuckDB step fails.
    """
    started = time.perf_counter()
    workers = max(1, workers or os.cpu_count() or 1)
    computed_at = datetime.now(UTC)
    with (
        tempfile.TemporaryDirectory(prefix="trustreg-rate-") as tmp,
        multiprocessing.get_context(START_METHOD).Pool(workers) as pool,  # starts meanwhile
    ):
        folder = Path(tmp)
        snapshot = take_snapshot(engine, folder)
        steps = {"snapshot": time.perf_counter() - started}
        facts = folder / "facts.parquet"
        with _duckdb(folder, workers) as con:
            records = resolve_facts(con, snapshot.versions, facts, rulebook, as_of)
            per_range = _per_range(snapshot.subject_rows, workers)
            ranges = subject_ranges(con, snapshot.subjects, per_range)
        steps["resolve facts"] = time.perf_counter() - started - sum(steps.values())
        tasks = [
            RangeTask(r, facts, snapshot.subjects, rulebook.source_text, as_of) for r in ranges
        ]
        tally = _Tally()
        factory = session_factory(engine)
        with _output(output) as write_output, background_checkpoints(engine):
            for result in _evaluated(pool, tasks, window=2 * workers):
                changes = _store(factory, result, as_of, rulebook.version, computed_at)
                write_output(result)
                tally.add(result, changes)
                if progress is not None:
                    progress(tally.subjects, snapshot.subject_rows)
        steps["evaluate and write"] = time.perf_counter() - started - sum(steps.values())
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


def _per_range(subjects: int, workers: int) -> int:
    return max(1, min(RANGE_SUBJECTS, math.ceil(subjects / (workers * RANGES_PER_WORKER))))


@contextmanager
def _duckdb(folder: Path, threads: int) -> Iterator[duckdb.DuckDBPyConnection]:
    config = {"threads": threads, "temp_directory": str(folder / "duckdb")}
    con = duckdb.connect(":memory:", config=config)
    try:
        yield con
    finally:
        con.close()


def _evaluated(pool: Pool, tasks: Sequence[RangeTask], window: int) -> Iterator[RangeResult]:
    """Results in range order, with at most ``window`` ranges in flight (flat memory)."""
    pending: deque[AsyncResult[RangeResult]] = deque()
    queue = iter(tasks)
    while True:
        while len(pending) < window and (task := next(queue, None)) is not None:
            pending.append(pool.apply_async(evaluate_range, (task,)))
        if not pending:
            return
        yield pending.popleft().get()


def _store(
    factory: sessionmaker[Session],
    result: RangeResult,
    as_of: date,
    version: str,
    computed_at: datetime,
) -> store_writes.EntryChanges:
    """One range in one transaction: its assessments and its open list entries."""
    span = result.subjects
    low = None if span.index == 0 else span.low  # the first range also clears any before it
    rows = [
        {
            "subject_id": subject_id,
            "as_of": as_of,
            "rulebook_version": version,
            "points": points,
            "grade": grade,
            "lists": lists,
            "explanation": explanation,
            "computed_at": computed_at,
            "next_change": next_change,
        }
        for subject_id, points, grade, lists, explanation, next_change in result.assessments
    ]
    with transaction(factory) as session:
        store_writes.replace_assessments(session, low, span.high, rows)
        return store_writes.sync_list_entries(
            session, low, span.high, result.memberships, as_of, version
        )


@contextmanager
def _output(path: Path | None) -> Iterator[Callable[[RangeResult], None]]:
    """A Parquet writer of the results, renamed into place only when all are written."""
    if path is None:
        yield lambda _result: None
        return
    partial = path.with_name(f".{path.name}.partial")
    writer = pq.ParquetWriter(partial, OUTPUT_SCHEMA, compression="zstd")

    def write(result: RangeResult) -> None:
        subject_ids, points, grades, *_ = zip(*result.assessments, strict=True)
        columns = (subject_ids, points, grades, [list(codes) for codes in result.lists])
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
