"""The two feeds, and turning a file into validated chunks.

Reading and validating are pure CPU work with no store access, so they can run in
the importing process or in a reader process beside it (``feed_worker``); either
way they produce the same :class:`ValidatedChunk` objects.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.orm import Session

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
from trustreg.services.feed_reader import FeedFormat, FeedRow, LineSource, RowProblem, read_rows
from trustreg.services.ingest_chunk import ChunkOutcome, Rejection


class Applier(Protocol):
    def __call__(
        self,
        session: Session,
        batch_id: int,
        source: str,
        items: Sequence[Any],
        now: datetime,
        key: str,
    ) -> ChunkOutcome: ...


def _pair(row: FeedRow, value: Any) -> tuple[FeedRow, Any]:
    return (FeedRow(row.number, {}, row.raw), value)


@dataclass(frozen=True, slots=True)
class Feed:
    columns: Sequence[str]
    required: Sequence[str]
    validate: Callable[[Mapping[str, str], ValidationContext], Any]
    apply: Applier
    # The form a validated row travels in to ``apply``: the fields are dropped once
    # validated, and the records feed (millions of rows) uses a plain tuple.
    pack: Callable[[FeedRow, Any], Any] = _pair


FEEDS: Mapping[str, Feed] = {
    "subjects": Feed(
        SUBJECT_COLUMNS, SUBJECT_REQUIRED, validate_subject_row, ingest_subjects.apply
    ),
    "records": Feed(
        RECORD_COLUMNS,
        RECORD_REQUIRED,
        validate_record_row,
        ingest_records.apply,
        ingest_records.pack,
    ),
}


@dataclass(frozen=True, slots=True)
class ValidatedChunk:
    """One chunk of a feed: the valid rows with their inputs, and the rejected ones."""

    size: int
    items: list[Any]  # what the feed's ``pack`` makes of each valid row
    problems: list[Rejection]
    bytes_read: int = 0


def validate_chunk(
    feed: Feed, ctx: ValidationContext, chunk: Sequence[FeedRow | RowProblem], bytes_read: int
) -> ValidatedChunk:
    """Validate every row of a chunk; the fields are dropped once validated."""
    problems: list[Rejection] = []
    items: list[Any] = []
    for row in chunk:
        if isinstance(row, RowProblem):
            problems.append(Rejection(row.number, row.field, row.reason, row.raw))
            continue
        try:
            value = feed.validate(row.fields, ctx)
        except ValidationError as exc:
            problems.append(Rejection(row.number, exc.field, exc.reason, row.raw))
            continue
        items.append(feed.pack(row, value))
    return ValidatedChunk(len(chunk), items, problems, bytes_read)


def chunks(rows: Iterable[FeedRow | RowProblem], size: int) -> Iterator[list[FeedRow | RowProblem]]:
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def check_header(path: Path, fmt: FeedFormat, feed: Feed, max_line_bytes: int) -> None:
    """Raise InputFileError for a file whose header is wrong, before any batch exists."""
    with path.open("rb") as handle:
        source = LineSource(handle, fmt.encoding, max_line_bytes)
        next(read_rows(source, fmt.file_format, feed.columns, feed.required), None)


def validated_file_chunks(
    path: Path,
    fmt: FeedFormat,
    feed_name: str,
    ctx: ValidationContext,
    chunk_rows: int,
    max_line_bytes: int,
) -> Generator[ValidatedChunk, None, None]:
    """Read and validate a feed file chunk by chunk, in this process."""
    feed = FEEDS[feed_name]
    with path.open("rb") as handle:
        source = LineSource(handle, fmt.encoding, max_line_bytes)
        rows = read_rows(source, fmt.file_format, feed.columns, feed.required)
        for chunk in chunks(rows, chunk_rows):
            yield validate_chunk(feed, ctx, chunk, source.bytes_read)
