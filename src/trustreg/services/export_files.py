"""Writing rows to files for the open-data export: CSV, JSON Lines, Parquet.

Each writer streams: it holds at most one batch of rows. :func:`write_file` writes under
a temporary name, renames the file into place and returns its size and SHA-256.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from trustreg.core.spreadsheet import defuse

Row = dict[str, Any]
Columns = Sequence[tuple[str, pa.DataType]]
T = TypeVar("T")
BATCH = 5_000


@dataclass(frozen=True, slots=True)
class ExportedFile:
    name: str
    dataset: str
    rows: int
    sha256: str
    bytes: int


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


Writer = Callable[[Path], int]  # writes a file at the path, returns its row count


def write_csv(path: Path, columns: Columns, rows: Iterator[Row]) -> int:
    count = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([name for name, _ in columns])
        for row in rows:
            # Names, references and summaries defused: a spreadsheet must not run them.
            writer.writerow([defuse(_text(row[name])) for name, _ in columns])
            count += 1
    return count


def write_jsonl(path: Path, columns: Columns, rows: Iterator[Row]) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(
                json.dumps({n: row[n] for n, _ in columns}, ensure_ascii=False, default=_day)
            )
            handle.write("\n")
            count += 1
    return count


def write_parquet(path: Path, columns: Columns, rows: Iterator[Row]) -> int:
    schema = pa.schema(list(columns))
    count = 0
    with pq.ParquetWriter(path, schema) as writer:
        for chunk in chunks(rows, BATCH):
            data = {name: [row[name] for row in chunk] for name, _ in columns}
            writer.write_table(pa.Table.from_pydict(data, schema=schema))
            count += len(chunk)
    return count


TABLE_WRITERS: dict[str, Callable[[Path, Columns, Iterator[Row]], int]] = {
    "csv": write_csv,
    "jsonl": write_jsonl,
    "parquet": write_parquet,
}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _day(value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def write_file(directory: Path, name: str, dataset: str, writer: Writer) -> ExportedFile:
    """Write under a temporary name, then rename into place (atomic on one file system)."""
    final = directory / name
    temporary = directory / f".{name}.{os.getpid()}.tmp"
    try:
        rows = writer(temporary)
        os.replace(temporary, final)
    finally:
        temporary.unlink(missing_ok=True)
    with final.open("rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    return ExportedFile(name, dataset, rows, digest, final.stat().st_size)
