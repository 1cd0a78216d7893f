"""``trustreg screen INPUT -o OUTPUT --engine duckdb|spark``: a whole file, in a batch.

The file is read and validated here, as the online screening reads it
(``services.screening_file``: the same columns, rejects and messages), into Parquet.
The engine (``batch.screen_engines``) then prepares every subject of a snapshot and
every query with the core's functions, chooses candidates by the online index's rule
in SQL (``batch.screen_plan``) and scores them with ``core.matching.compare``
(``batch.screen_core``). The answers are written to OUTPUT with the columns of the
online screening, in input order, by one writer whatever the engine: so two engines
that agree give the same file, byte for byte.

Persons are screened only with a declared purpose, and every person a result shows
is logged in the store's audit, as in the online screening. OUTPUT is written beside
its place and renamed into it when complete.
"""

from __future__ import annotations

import csv
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
from sqlalchemy.orm import Session, sessionmaker

from trustreg.batch import screen_core as core
from trustreg.batch.rate import Compute
from trustreg.batch.screen_engines import DuckDBEngine, ScreenEngine, duckdb_pool, spark_engine
from trustreg.batch.screen_plan import (
    SLICED_SOURCE,
    SLICED_STEP,
    answers_sql,
    plan,
    postings_sql,
    shared_sql,
    subjects_sql,
)
from trustreg.batch.snapshot import ASSESSMENTS, IDENTIFIERS, NAMES, SUBJECTS
from trustreg.batch.snapshot_files import SnapshotFiles, open_snapshot, taken
from trustreg.batch.steps import BatchError, sql_path
from trustreg.core.identifiers import key_check_value
from trustreg.core.matching import Thresholds
from trustreg.core.spreadsheet import defuse_row
from trustreg.core.vocabulary import PURPOSES
from trustreg.errors import ValidationError
from trustreg.services import screening
from trustreg.services.feed_reader import LineSource, detect_format, read_rows
from trustreg.services.screening_file import (
    REJECT_COLUMNS,
    RESULT_COLUMNS,
    SCREEN_COLUMNS,
    ScreenOptions,
    ScreenReport,
    validated_queries,
)
from trustreg.store.db import transaction

SCREEN_TABLES = (SUBJECTS, NAMES, IDENTIFIERS, ASSESSMENTS)
RAW_SCHEMA = pa.schema(
    [
        ("row_no", pa.int64()),
        ("name", pa.string()),
        ("kind", pa.string()),
        ("id_scheme", pa.string()),
        ("id_value", pa.string()),  # a person's number already hashed with the key
        ("country", pa.string()),
        ("birth_date", pa.string()),
        ("address", pa.string()),
    ]
)
REFS_SCHEMA = pa.schema([("row_no", pa.int64()), ("ref", pa.string())])
WRITE_ROWS = 50_000  # queries per Parquet batch while reading the file
LOG_CHUNK = 5_000  # persons shown per audit transaction


@dataclass(frozen=True, slots=True)
class BatchScreen:
    """A batch screening: where from (``snapshot``, or a fresh one of the store), how."""

    options: ScreenOptions
    thresholds: Thresholds
    identifier_key: str
    compute: Compute = field(default_factory=Compute)
    snapshot: Path | None = None


def screen_batch(
    factory: sessionmaker[Session], job: BatchScreen, source: Path, target: Path
) -> ScreenReport:
    """Screen every row of ``source`` into ``target``; see the module docstring."""
    started = time.perf_counter()
    options = job.options
    if options.purpose is not None and options.purpose not in PURPOSES:
        raise ValidationError("purpose", f"'{options.purpose}' is not one of {PURPOSES}")
    if options.resume:
        raise ValidationError("--resume", "is for --engine index: a batch starts afresh")
    report = ScreenReport()
    with tempfile.TemporaryDirectory(prefix="trustreg-screen-", dir=job.compute.work_dir) as tmp:
        work = Path(tmp)
        files = _snapshot(factory, job, work)
        rejects = _read_queries(source, work, target, job, report)
        with _engine(job, work) as engine:
            _run(engine, files, job, work)
            answers = engine.folder("answers")
        people = _write_answers(answers, target, report)
    _log_people(factory, options, people)
    report.rejects_path = rejects
    report.seconds = time.perf_counter() - started
    return report


def _snapshot(factory: sessionmaker[Session], job: BatchScreen, work: Path) -> SnapshotFiles:
    """The snapshot given, if its numbers were hashed with our key; else a new one."""
    if job.snapshot is not None:
        files = open_snapshot(job.snapshot)
        check = files.identifier_key_check
        if check is not None and check != key_check_value(job.identifier_key):
            raise ValidationError(
                "--snapshot",
                f"{job.snapshot} was taken of a store with another identifier key: "
                "its persons' numbers would never meet the queries'",
            )
        return files
    folder = work / "snapshot"
    engine = factory.kw["bind"]
    workers = max(1, job.options.workers)
    snapshot = taken(engine, folder, workers, SCREEN_TABLES)
    manifest = {"tables": snapshot.rows}
    return SnapshotFiles(folder, manifest)


def _read_queries(
    source: Path, work: Path, target: Path, job: BatchScreen, report: ScreenReport
) -> Path | None:
    """Validate the file into ``refs`` and ``raw`` Parquet; rejected rows to the
    rejects file beside ``target`` (returned, if any row was rejected)."""
    options = job.options
    feed = detect_format(source, options.file_format, options.encoding)
    for name in ("refs", "raw"):
        (work / name).mkdir()
    rejects_path = target.with_name(target.stem + ".rejects.csv")  # as online
    refs, raw = [], []
    with (
        source.open("rb") as handle,
        pq.ParquetWriter(work / "refs" / "part-0.parquet", REFS_SCHEMA) as refs_out,
        pq.ParquetWriter(work / "raw" / "part-0.parquet", RAW_SCHEMA) as raw_out,
        _rejects(rejects_path) as reject,
    ):
        lines = LineSource(handle, feed.encoding, options.max_line_bytes)
        rows = read_rows(lines, feed.file_format, SCREEN_COLUMNS, ("ref", "name"))
        for item in validated_queries(rows, 0, options, job.identifier_key):
            if len(item) == 4:
                reject(item)
                report.rejected += 1
                continue
            number, ref, party = item
            refs.append((number, ref))
            scheme, value = party.identifiers[0] if party.identifiers else (None, None)
            details = (party.country, party.birth_date, party.address)
            raw.append((number, party.name, party.kind, scheme, value, *details))
            if len(raw) >= WRITE_ROWS:
                _flush(refs, refs_out, REFS_SCHEMA)
                _flush(raw, raw_out, RAW_SCHEMA)
        _flush(refs, refs_out, REFS_SCHEMA)
        _flush(raw, raw_out, RAW_SCHEMA)
    if report.rejected:
        return rejects_path
    rejects_path.unlink(missing_ok=True)
    return None


def _flush(rows: list[tuple[Any, ...]], writer: Any, schema: Any) -> None:
    columns = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in schema]
    writer.write_table(pa.table(columns, schema=schema))
    rows.clear()


@contextmanager
def _rejects(path: Path) -> Iterator[Any]:
    """A writer of rejected rows; the file is gone again if the reading fails."""
    try:
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")  # as online
            writer.writerow(REJECT_COLUMNS)
            yield lambda item: writer.writerow(defuse_row(item))
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _engine(job: BatchScreen, work: Path) -> AbstractContextManager[ScreenEngine]:
    workers = max(1, job.options.workers)
    if job.compute.engine == "spark":
        return spark_engine(work, job.compute.spark_master, workers)
    return _duckdb_engine(work, workers)


@contextmanager
def _duckdb_engine(work: Path, workers: int) -> Iterator[ScreenEngine]:
    with duckdb_pool(workers) as pool:
        engine = DuckDBEngine(work, pool, workers)
        try:
            yield engine
        finally:
            engine.close()


def _run(engine: ScreenEngine, files: SnapshotFiles, job: BatchScreen, work: Path) -> None:
    """Every step of the plan, in order, on ``engine`` (the queries read into ``work``)."""
    for table in SCREEN_TABLES:
        engine.load(table.name, files.table(table.name))
    engine.load("refs", work / "refs")
    engine.load("raw", work / "raw")
    dialect = engine.dialect
    engine.python(
        "entries", subjects_sql(dialect), core.prepare_entries, core.ENTRY_SCHEMA, core.ENTRY_DDL
    )
    engine.python(
        "queries", "SELECT * FROM raw", core.prepare_queries, core.QUERY_SCHEMA, core.QUERY_DDL
    )
    size = engine.count("entries")
    for name, sql in plan(dialect, size):
        if name == SLICED_STEP:
            engine.sliced(name, SLICED_SOURCE, shared_sql, postings_sql(SLICED_SOURCE))
        else:
            engine.sql(name, sql)
    options = job.options
    scoring = partial(
        core.score_groups, size, job.thresholds, options.top, options.purpose is not None
    )
    engine.python("scored", "SELECT * FROM groups", scoring, core.SCORED_SCHEMA, core.SCORED_DDL)
    engine.sql("answers", answers_sql())


def _write_answers(answers: Path, target: Path, report: ScreenReport) -> list[dict[str, Any]]:
    """The result CSV from the answers, in input order; returns the persons shown."""
    partial_path = target.with_name(target.name + ".partial")
    people: list[dict[str, Any]] = []
    con = duckdb.connect()
    sql = f"SELECT * FROM read_parquet({sql_path(answers / '*.parquet')}) ORDER BY row_no, rank"
    try:
        reader = con.sql(sql).to_arrow_reader(WRITE_ROWS)
    except duckdb.Error as exc:
        raise BatchError("write answers", sql, str(exc)) from exc
    with partial_path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")  # as online
        writer.writerow(RESULT_COLUMNS)
        for batch in reader:
            for row in batch.to_pylist():
                writer.writerow(defuse_row(_csv_row(row, report)))
                if row["person"]:
                    people.append(
                        {"subject": row["subject_id"], "score": row["score"]}
                        | {"decision": row["decision"]}
                    )
    con.close()
    os.replace(partial_path, target)
    return people


def _csv_row(row: dict[str, Any], report: ScreenReport) -> list[Any]:
    """One answer as the online screening writes it (and counts it)."""
    if row["rank"] <= 1:
        report.rows += 1
        decision = row["decision"]
        report.matched += decision == "match"
        report.review += decision == "review"
        report.no_match += decision == "no_match"
    if row["rank"] == 0:
        return [row["ref"], "", "", "", "", "", "no_match", "", "", row["explanation"]]
    matched = f"{row['scheme']}:{row['value']}" if row["scheme"] else ""
    return [
        row["ref"],
        row["rank"],
        row["subject_id"],
        matched,
        row["display_name"],
        f"{row['score']:.4f}",
        row["decision"],
        ";".join(row["lists"] or ()),
        row["grade"] or "",
        row["explanation"],
    ]


def _log_people(
    factory: sessionmaker[Session], options: ScreenOptions, people: list[dict[str, Any]]
) -> None:
    """Every person a result showed, in the audit (and so in that person's access log)."""
    for start in range(0, len(people), LOG_CHUNK):
        with transaction(factory) as session:
            screening.log_person_checks(
                session, options.actor, options.purpose, "screen", people[start : start + LOG_CHUNK]
            )
