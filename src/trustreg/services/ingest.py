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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from sqlalchemy.orm import Session, sessionmaker

from trustreg.services import assessments
from trustreg.services.feed_reader import FeedFormat, FeedRow, RowProblem, detect_format
from trustreg.services.feed_worker import validated_chunks_in_worker
from trustreg.services.feeds import (
    FEEDS,
    Feed,
    ValidatedChunk,
    check_header,
    chunks,
    validate_chunk,
    validated_file_chunks,
)
from trustreg.services.ingest_chunk import ChunkOutcome, Rejection
from trustreg.services.registry import validation_context
from trustreg.store import writes
from trustreg.store.db import background_checkpoints, transaction

REJECT_COLUMNS = ("row", "field", "reason", "original_row")
# Below this size a reader process costs more to start than it saves.
READER_PROCESS_MIN_BYTES = 8 << 20


@dataclass(frozen=True, slots=True)
class ImportOptions:
    # The identifier key (setting ``identifier_key``): identifiers are stored and found
    # by their keyed hash. Required: a wrong key would store persons nobody can find.
    identifier_key: str = field(kw_only=True)
    file_format: str | None = None
    encoding: str | None = None
    rejects_path: Path | None = None
    actor: str = "cli"
    chunk_rows: int = 2000
    max_line_bytes: int = 1 << 20
    max_name_chars: int = 200
    # Files at least this large are read and validated by a second process (None: never).
    reader_process_min_bytes: int | None = READER_PROCESS_MIN_BYTES


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
    progress: Callable[[int, ImportReport], None] | None = None,
) -> ImportReport:
    """Import one feed file; raise InputFileError if the file cannot be read at all.

    ``progress`` is called after each chunk is committed, with the bytes read so far
    and the report so far: the rows it counts are stored and stay stored.
    """
    feed = FEEDS[feed_name]
    fmt = detect_format(path, options.file_format, options.encoding)
    check_header(path, fmt, feed, options.max_line_bytes)
    with transaction(factory) as session:
        ctx = validation_context(session, utcnow().date(), options.max_name_chars)
    min_bytes = options.reader_process_min_bytes
    read = (
        validated_chunks_in_worker
        if min_bytes is not None and path.stat().st_size >= min_bytes
        else validated_file_chunks
    )
    validated = read(path, fmt, feed_name, ctx, options.chunk_rows, options.max_line_bytes)
    rejects = RejectsWriter(options.rejects_path or default_rejects_path(path))
    try:
        with background_checkpoints(factory.kw["bind"]):
            report = _run_batch(
                factory, feed, feed_name, validated, path, fmt, options, rejects.write, progress
            )
    finally:
        rejects.close()
        validated.close()  # stops a reader process at once when the import fails
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
) -> ImportReport:
    """Import rows that were already read (e.g. from an API body) as one batch."""
    feed = FEEDS[feed_name]
    with transaction(factory) as session:
        ctx = validation_context(session, utcnow().date(), options.max_name_chars)
    validated = (validate_chunk(feed, ctx, c, 0) for c in chunks(rows, options.chunk_rows))
    return _run_batch(factory, feed, feed_name, validated, path, fmt, options, on_rejections)


def _run_batch(
    factory: sessionmaker[Session],
    feed: Feed,
    feed_name: str,
    validated: Iterable[ValidatedChunk],
    path: Path,
    fmt: FeedFormat,
    options: ImportOptions,
    on_rejections: Callable[[Sequence[Rejection]], None],
    progress: Callable[[int, ImportReport], None] | None = None,
) -> ImportReport:
    batch_id = _start(factory, feed_name, path, fmt.file_format, fmt.encoding, options)
    report = ImportReport(batch_id, fmt.file_format, fmt.encoding)
    try:
        for chunk in validated:
            on_rejections(_apply_chunk(factory, feed, batch_id, chunk, report, path.name, options))
            if progress:
                progress(chunk.bytes_read, report)
    except BaseException:
        _finish(factory, batch_id, "failed", report, options.actor)
        raise
    _finish(factory, batch_id, "finished", report, options.actor)
    return report


def _apply_chunk(
    factory: sessionmaker[Session],
    feed: Feed,
    batch_id: int,
    chunk: ValidatedChunk,
    report: ImportReport,
    source: str,
    options: ImportOptions,
) -> list[Rejection]:
    with transaction(factory) as session:
        writes.lock_imports(session)  # another import's chunk waits for this one
        now = utcnow()
        outcome = feed.apply(session, batch_id, source, chunk.items, now, options.identifier_key)
        assessments.refresh(session, outcome.subjects, now, fresh=outcome.new_subjects)
        writes.add_batch_counts(
            session,
            batch_id,
            {
                "read": chunk.size,
                "created": outcome.created,
                "updated": outcome.updated,
                "unchanged": outcome.unchanged,
                "rejected": len(chunk.problems) + len(outcome.rejections),
            },
        )
    report.rows_read += chunk.size
    report.add(outcome, len(chunk.problems))
    return sorted(chunk.problems + outcome.rejections, key=lambda r: r.row)


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
