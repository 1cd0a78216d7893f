"""Import of the subjects and records feeds: validate, commit in chunks, report.

The loop is the same for both feeds: read rows (``feed_reader``), validate each with
the pure core, hand a chunk of valid inputs to the feed's ``apply`` function, which
writes it through the store and may reject more rows (duplicates, conflicts), then
commit the chunk together with the batch's counters. A row counts as imported only
once its chunk is committed, so a killed import loses nothing it reported, and
running it again finishes the file: already-stored rows come back as unchanged.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TextIO

from sqlalchemy.orm import Session, sessionmaker

from trustreg.core.validation import (
    RECORD_COLUMNS,
    RECORD_REQUIRED,
    SUBJECT_COLUMNS,
    SUBJECT_REQUIRED,
    ValidationContext,
    validate_record_row,
    validate_subject_row,
)
from trustreg.errors import ValidationError
from trustreg.services import ingest_records, ingest_subjects
from trustreg.services.feed_reader import (
    FeedFormat,
    FeedRow,
    LineSource,
    RowProblem,
    detect_format,
    read_rows,
)
from trustreg.services.ingest_chunk import ChunkOutcome, Rejection
from trustreg.services.registry import validation_context
from trustreg.store import writes
from trustreg.store.db import transaction

REJECT_COLUMNS = ("row", "field", "reason", "original_row")


class Applier(Protocol):
    def __call__(
        self,
        session: Session,
        batch_id: int,
        source: str,
        items: Sequence[tuple[FeedRow, Any]],
        now: datetime,
    ) -> ChunkOutcome: ...


@dataclass(frozen=True, slots=True)
class Feed:
    columns: Sequence[str]
    required: Sequence[str]
    validate: Callable[[Mapping[str, str], ValidationContext], Any]
    apply: Applier


FEEDS: Mapping[str, Feed] = {
    "subjects": Feed(
        SUBJECT_COLUMNS, SUBJECT_REQUIRED, validate_subject_row, ingest_subjects.apply
    ),
    "records": Feed(RECORD_COLUMNS, RECORD_REQUIRED, validate_record_row, ingest_records.apply),
}


@dataclass(frozen=True, slots=True)
class ImportOptions:
    file_format: str | None = None
    encoding: str | None = None
    rejects_path: Path | None = None
    actor: str = "cli"
    chunk_rows: int = 5000
    max_line_bytes: int = 1 << 20
    max_name_chars: int = 200


@dataclass
class ImportReport:
    """The outcome of one import, as printed by the CLI and returned by the API."""

    batch_id: int
    file_format: str
    encoding: str
    rows_read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    rejects_path: Path | None = None

    @property
    def exit_code(self) -> int:
        return 1 if self.rejected else 0

    def add(self, outcome: ChunkOutcome, problems: int) -> None:
        self.created += outcome.created
        self.updated += outcome.updated
        self.unchanged += outcome.unchanged
        self.rejected += len(outcome.rejections) + problems


def default_rejects_path(path: Path) -> Path:
    """``records.csv`` -> ``records.rejects.csv`` beside the input."""
    return path.with_name(f"{path.stem}.rejects.csv")


def utcnow() -> datetime:
    return datetime.now(UTC)


def import_file(
    factory: sessionmaker[Session],
    feed_name: str,
    path: Path,
    options: ImportOptions,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import one feed file; raise InputFileError if the file cannot be read at all."""
    feed = FEEDS[feed_name]
    fmt = detect_format(path, options.file_format, options.encoding)
    with path.open("rb") as handle:
        source = LineSource(handle, fmt.encoding, options.max_line_bytes)
        rows = read_rows(source, fmt.file_format, feed.columns, feed.required)
        first = next(rows, None)  # a bad header raises here, before any batch exists
        rows = itertools.chain([first] if first else [], rows)
        rejects = RejectsWriter(options.rejects_path or default_rejects_path(path))
        try:
            report = import_rows(
                factory,
                feed_name,
                rows,
                path,
                fmt,
                options,
                rejects.write,
                lambda: progress(source.bytes_read) if progress else None,
            )
        finally:
            rejects.close()
    report.rejects_path = rejects.path if rejects.count else None
    return report


def import_rows(
    factory: sessionmaker[Session],
    feed_name: str,
    rows: Iterable[FeedRow | RowProblem],
    path: Path,
    fmt: FeedFormat,
    options: ImportOptions,
    on_rejections: Callable[[Sequence[Rejection]], None],
    on_chunk: Callable[[], None] = lambda: None,
) -> ImportReport:
    """Import rows that were already read (from a file or an API body) as one batch."""
    feed = FEEDS[feed_name]
    with transaction(factory) as session:
        ctx = validation_context(session, utcnow().date(), options.max_name_chars)
    batch_id = _start(factory, feed_name, path, fmt.file_format, fmt.encoding, options)
    report = ImportReport(batch_id, fmt.file_format, fmt.encoding)
    try:
        for chunk in _chunks(iter(rows), options.chunk_rows):
            rejected = _import_chunk(factory, feed, ctx, batch_id, chunk, report, path.name)
            on_rejections(rejected)
            on_chunk()
    except BaseException:
        _finish(factory, batch_id, "failed", report, options.actor)
        raise
    _finish(factory, batch_id, "finished", report, options.actor)
    return report


def _chunks(
    rows: Iterator[FeedRow | RowProblem], size: int
) -> Iterator[list[FeedRow | RowProblem]]:
    while chunk := list(itertools.islice(rows, size)):
        yield chunk


def _import_chunk(
    factory: sessionmaker[Session],
    feed: Feed,
    ctx: ValidationContext,
    batch_id: int,
    chunk: Sequence[FeedRow | RowProblem],
    report: ImportReport,
    source: str,
) -> list[Rejection]:
    problems: list[Rejection] = []
    items: list[tuple[FeedRow, Any]] = []
    for row in chunk:
        if isinstance(row, RowProblem):
            problems.append(Rejection(row.number, row.field, row.reason, row.raw))
            continue
        try:
            items.append((row, feed.validate(row.fields, ctx)))
        except ValidationError as exc:
            problems.append(Rejection(row.number, exc.field, exc.reason, row.raw))
    with transaction(factory) as session:
        outcome = feed.apply(session, batch_id, source, items, utcnow())
        writes.add_batch_counts(
            session,
            batch_id,
            {
                "read": len(chunk),
                "created": outcome.created,
                "updated": outcome.updated,
                "unchanged": outcome.unchanged,
                "rejected": len(problems) + len(outcome.rejections),
            },
        )
    report.rows_read += len(chunk)
    report.add(outcome, len(problems))
    return sorted(problems + outcome.rejections, key=lambda r: r.row)


def _start(
    factory: sessionmaker[Session],
    feed_name: str,
    path: Path,
    file_format: str,
    encoding: str,
    options: ImportOptions,
) -> int:
    with transaction(factory) as session:
        now = utcnow()
        batch_id = writes.start_batch(
            session,
            kind=feed_name,
            source_file=str(path)[-500:],
            file_format=file_format,
            encoding=encoding,
            actor=options.actor,
            started_at=now,
        )
        writes.append_audit(
            session,
            options.actor,
            "import.start",
            f"batch:{batch_id}",
            {"feed": feed_name, "file": path.name},
            now,
        )
    return batch_id


def _finish(
    factory: sessionmaker[Session], batch_id: int, status: str, report: ImportReport, actor: str
) -> None:
    with transaction(factory) as session:
        now = utcnow()
        writes.finish_batch(session, batch_id, status, now)
        writes.append_audit(
            session,
            actor,
            f"import.{status}",
            f"batch:{batch_id}",
            {
                "read": report.rows_read,
                "created": report.created,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "rejected": report.rejected,
            },
            now,
        )


class RejectsWriter:
    """The rejection report: created on the first rejected row, flushed every chunk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._handle: TextIO | None = None

    def write(self, rejections: Sequence[Rejection]) -> None:
        if not rejections:
            return
        if self._handle is None:
            self._handle = self.path.open("w", encoding="utf-8", newline="")
            csv.writer(self._handle).writerow(REJECT_COLUMNS)
        writer = csv.writer(self._handle)
        for r in rejections:
            writer.writerow((r.row, r.field, r.reason, r.raw.rstrip("\r\n")))
        self._handle.flush()
        self.count += len(rejections)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
