"""Reading import files: CSV or JSON Lines, UTF-8 (BOM or not) or GB18030, streamed.

The reader never holds more than one line (bounded by ``max_line_bytes``) in memory,
so a file of any size reads in flat memory. A whole-file problem (missing, empty,
binary, undecodable sample, wrong header) raises :class:`InputFileError`; a problem
with one row is yielded as a :class:`RowProblem` so the good rows around it go on.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, NamedTuple

from trustreg.errors import InputFileError

SAMPLE_BYTES = 1 << 20
# A JSON text may spell a lone surrogate ("\ud800"): not Unicode text, so no store,
# file or answer can hold it (UTF-8 has no bytes for it).
_SURROGATE = re.compile("[\ud800-\udfff]")
SURROGATE_REASON = "contains a lone surrogate (\\ud800-\\udfff): not Unicode text"
FORMATS = ("csv", "jsonl")
ENCODINGS = ("utf-8", "gb18030")


class FeedRow(NamedTuple):
    """One data row: its row number (1 = first line of the file) and its fields."""

    number: int
    fields: dict[str, str]
    raw: str


@dataclass(frozen=True, slots=True)
class RowProblem:
    """A row that cannot even be split into fields."""

    number: int
    field: str
    reason: str
    raw: str


@dataclass(frozen=True, slots=True)
class FeedFormat:
    file_format: str
    encoding: str


def detect_format(path: Path, file_format: str | None, encoding: str | None) -> FeedFormat:
    """Decide format and encoding from the options, the file name and a sample."""
    if not path.is_file():
        raise InputFileError(f"{path}: no such file")
    with path.open("rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    if not sample.strip().removeprefix(codecs.BOM_UTF8).strip():
        raise InputFileError(f"{path}: the file is empty")
    nul = sample.find(b"\x00")
    if nul >= 0:
        raise InputFileError(f"{path}: looks like a binary file (NUL byte at offset {nul})")
    fmt = (file_format or "").lower() or (
        "jsonl" if path.suffix.lower() in (".jsonl", ".ndjson", ".json") else "csv"
    )
    if fmt not in FORMATS:
        raise InputFileError(f"{path}: unknown format '{fmt}'; use csv or jsonl")
    return FeedFormat(fmt, _encoding(path, sample, encoding))


def _encoding(path: Path, sample: bytes, given: str | None) -> str:
    if given:
        try:
            return codecs.lookup(given).name
        except LookupError as exc:
            raise InputFileError(f"unknown encoding '{given}'") from exc
    for candidate in ENCODINGS:
        try:
            # The sample may end inside a character: a final incomplete one is fine.
            codecs.getincrementaldecoder(candidate)().decode(sample, final=False)
        except UnicodeDecodeError:
            continue
        return candidate
    raise InputFileError(
        f"{path}: neither UTF-8 nor GB18030 text; give the encoding with --encoding"
    )


class LineSource:
    """Yields (line number, decoded line) with a bound on each line's length."""

    def __init__(self, handle: BinaryIO, encoding: str, max_line_bytes: int) -> None:
        self.handle = handle
        self.encoding = encoding
        self.max_line_bytes = max_line_bytes
        self.bytes_read = 0
        self.line_number = 0

    def __iter__(self) -> Iterator[tuple[int, str | RowProblem]]:
        first = True
        while True:
            line = self.handle.readline(self.max_line_bytes + 1)
            if not line:
                return
            self.line_number += 1
            self.bytes_read += len(line)
            if first and line.startswith(codecs.BOM_UTF8):
                line = line[len(codecs.BOM_UTF8) :]
            first = False
            if len(line) > self.max_line_bytes and not line.endswith(b"\n"):
                yield self.line_number, self._skip_long_line(line)
                continue
            try:
                yield self.line_number, line.decode(self.encoding)
            except UnicodeDecodeError as exc:
                yield (
                    self.line_number,
                    RowProblem(
                        self.line_number,
                        "row",
                        f"bytes at {exc.start} are not valid {self.encoding}; "
                        "give the right encoding with --encoding (utf-8 or gb18030)",
                        line[:200].decode(self.encoding, "replace"),
                    ),
                )

    def _skip_long_line(self, head: bytes) -> RowProblem:
        number = self.line_number
        while True:
            rest = self.handle.readline(self.max_line_bytes)
            self.bytes_read += len(rest)
            if not rest or rest.endswith(b"\n"):
                break
        return RowProblem(
            number,
            "row",
            f"line is longer than {self.max_line_bytes} bytes",
            head[:200].decode(self.encoding, "replace"),
        )


def read_rows(
    source: LineSource,
    file_format: str,
    columns: Sequence[str],
    required: Sequence[str],
) -> Iterator[FeedRow | RowProblem]:
    """Yield the rows of a feed; raise InputFileError for a bad header."""
    if file_format == "jsonl":
        return _read_jsonl(source, columns, required)
    return _read_csv(source, columns, required)


def _check_header(header: Sequence[str], columns: Sequence[str], required: Sequence[str]) -> None:
    unknown = [c for c in header if c not in columns]
    missing = [c for c in required if c not in header]
    duplicated = sorted({c for c in header if header.count(c) > 1})
    problems = []
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown column(s) {', '.join(unknown)}")
    if duplicated:
        problems.append(f"repeated column(s) {', '.join(duplicated)}")
    if problems:
        raise InputFileError(
            f"header: {'; '.join(problems)}. Expected columns: {', '.join(columns)}"
        )


def _read_csv(
    source: LineSource, columns: Sequence[str], required: Sequence[str]
) -> Iterator[FeedRow | RowProblem]:
    consumed: list[tuple[int, str]] = []
    problems: list[RowProblem] = []

    def text_lines() -> Iterator[str]:
        for _number, line in source:
            if isinstance(line, RowProblem):
                problems.append(line)
                continue
            consumed.append((_number, line))
            yield line

    reader = csv.reader(text_lines(), strict=True)
    header: list[str] | None = None
    while True:
        try:
            fields: list[str] | None = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            fields = None
            problems.append(RowProblem(_start(consumed), "row", f"not valid CSV: {exc}", ""))
        yield from problems
        problems.clear()
        start = _start(consumed)
        raw = "".join(line for _n, line in consumed)
        consumed.clear()
        if fields is None or not any(f.strip() for f in fields):
            continue
        if header is None:
            header = [f.strip().lower() for f in fields]
            _check_header(header, columns, required)
            continue
        if len(fields) != len(header):
            yield RowProblem(
                start, "row", f"has {len(fields)} fields; the header has {len(header)}", raw
            )
            continue
        yield FeedRow(start, dict(zip(header, fields, strict=True)), raw)
    yield from problems
    if header is None:
        raise InputFileError("the file has no header row")


def _start(consumed: Sequence[tuple[int, str]]) -> int:
    return consumed[0][0] if consumed else 0


def _read_jsonl(
    source: LineSource, columns: Sequence[str], required: Sequence[str]
) -> Iterator[FeedRow | RowProblem]:
    for number, line in source:
        if isinstance(line, RowProblem):
            yield line
            continue
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            yield RowProblem(number, "row", f"not valid JSON: {exc}", line)
            continue
        if not isinstance(data, dict):
            yield RowProblem(number, "row", "is not a JSON object", line)
            continue
        surrogate = surrogate_field(data)
        if surrogate is not None:
            yield RowProblem(number, surrogate, SURROGATE_REASON, line)
            continue
        unknown = [k for k in data if k not in columns]
        if unknown:
            yield RowProblem(number, unknown[0], "unknown field", line)
            continue
        missing = [c for c in required if c not in data]
        if missing:
            yield RowProblem(number, missing[0], "missing field", line)
            continue
        fields: dict[str, str] = {}
        for key, value in data.items():
            if isinstance(value, (dict, list)):
                yield RowProblem(number, key, "must be a string or a number", line)
                break
            fields[key] = "" if value is None else str(value)
        else:
            yield FeedRow(number, fields, line)


def surrogate_field(data: Mapping[str, object]) -> str | None:
    """The first field of a JSON object whose value holds a lone surrogate (``row`` if
    a name does), or None."""
    for key, value in data.items():
        if _SURROGATE.search(key):
            return "row"
        if isinstance(value, str) and _SURROGATE.search(value):
            return key
    return None
