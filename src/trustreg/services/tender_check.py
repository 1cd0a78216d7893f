"""A tender check: a file of bidders in, one eligibility answer per bidder out.

A procurement office sends a CSV with an ``identifier`` column (``SCHEME:VALUE``) and
any columns of its own (bidder name, lot, ...); each row comes back with the columns
of :data:`ANSWER_COLUMNS` appended. The answers come from
:func:`trustreg.services.eligibility.check_many`, the same function as a single check.
A row that cannot be answered (bad identifier, not in the registry, a person checked
without purpose) keeps its columns and says why in ``error``; the other rows are
answered all the same.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy.orm import Session, sessionmaker

from trustreg.core.spreadsheet import defuse
from trustreg.errors import InputFileError, TrustRegError
from trustreg.services.eligibility import EligibilityQuery, check_many

ANSWER_COLUMNS = (
    "subject",
    "name",
    "answer",
    "eligible_from",
    "consequences",
    "lists",
    "records",
    "legal_basis",
    "error",
)
OUTPUT_FORMATS = ("csv", "jsonl")


@dataclass(frozen=True, slots=True)
class Bidders:
    """The rows of a bidders file, with its header (the caller's own columns kept)."""

    header: tuple[str, ...]
    rows: tuple[dict[str, str], ...]


@dataclass(frozen=True, slots=True)
class TenderReport:
    rows: int
    eligible: int
    restricted: int
    excluded: int
    errors: int
    seconds: float

    @property
    def exit_code(self) -> int:
        """0 every bidder answered; 1 some rows could not be (see their ``error``)."""
        return 1 if self.errors else 0


def read_bidders(data: bytes, where: str, max_rows: int | None = None) -> Bidders:
    """Parse a bidders CSV (UTF-8 with or without BOM, or GB18030)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise InputFileError(f"{where}: neither UTF-8 nor GB18030 text") from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    header = tuple(cell.strip() for cell in next(reader, []))
    if "identifier" not in header:
        raise InputFileError(
            f"{where}: the header needs an 'identifier' column (SCHEME:VALUE); it has "
            f"{', '.join(header) or 'nothing'}"
        )
    clashes = [c for c in header if c in ANSWER_COLUMNS] + [
        c for c in set(header) if header.count(c) > 1
    ]
    if clashes:
        raise InputFileError(f"{where}: column '{clashes[0]}' is repeated or an answer column")
    rows = []
    for line, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            raise InputFileError(f"{where}: line {line} has {len(cells)} cells, not {len(header)}")
        row = dict(zip(header, cells, strict=True))  # the office's own cells, untouched
        row["identifier"] = row["identifier"].strip()
        rows.append(row)
        if max_rows is not None and len(rows) > max_rows:
            raise InputFileError(f"{where}: more than {max_rows} bidders; split the file")
    return Bidders(header, tuple(rows))


def answer_bidders(
    factory: sessionmaker[Session],
    bidders: Bidders,
    query: EligibilityQuery,
    *,
    identifier_key: str,
) -> list[dict[str, Any] | TrustRegError]:
    """One answer (or error) per bidder, in order."""
    identifiers = [row["identifier"] for row in bidders.rows]
    return check_many(factory, identifiers, query, identifier_key=identifier_key)


def answer_cells(answer: dict[str, Any] | TrustRegError) -> dict[str, str]:
    """The answer columns of one row: codes and references joined with '; '."""
    if isinstance(answer, TrustRegError):
        return dict.fromkeys(ANSWER_COLUMNS, "") | {"error": answer.detail}
    consequences = answer["consequences"]
    records = {f"{r['authority']} {r['reference']}" for c in consequences for r in c["records"]}
    bases = {c["legal_basis"] for c in consequences}
    return {
        "subject": str(answer["subject"]),
        "name": answer["name"],
        "answer": answer["answer"],
        "eligible_from": answer["eligible_from"],
        "consequences": "; ".join(
            f"{c['code']} ({c['effect']}, ends on {c['ends_on']})" for c in consequences
        ),
        "lists": "; ".join(sorted({c["list"] for c in consequences})),
        "records": "; ".join(sorted(records)),
        "legal_basis": " | ".join(sorted(bases)),
        "error": "",
    }


def write_answers(
    handle: TextIO,
    bidders: Bidders,
    answers: Sequence[dict[str, Any] | TrustRegError],
    output_format: str = "csv",
) -> None:
    """CSV: the bidder's columns and the answer columns. JSON Lines: the bidder's
    columns under ``bidder`` and the whole answer (or ``error``)."""
    if output_format == "jsonl":
        for row, answer in zip(bidders.rows, answers, strict=True):
            item = {"error": answer.detail} if isinstance(answer, TrustRegError) else answer
            handle.write(json.dumps({"bidder": row, **item}, ensure_ascii=False) + "\n")
        return
    writer = csv.DictWriter(handle, [*bidders.header, *ANSWER_COLUMNS], lineterminator="\n")
    writer.writeheader()
    for row, answer in zip(bidders.rows, answers, strict=True):
        # Defused: a registered name (or the office's own cell) is never a formula.
        writer.writerow({k: defuse(v) for k, v in (row | answer_cells(answer)).items()})


def check_file(
    factory: sessionmaker[Session],
    source: Path,
    target: Path,
    query: EligibilityQuery,
    *,
    identifier_key: str,
) -> TenderReport:
    """Answer every bidder of ``source`` into ``target`` (.jsonl: JSON Lines, else CSV).

    The answers are written to a temporary file renamed into place, so ``target`` is
    either whole or absent.
    """
    started = time.perf_counter()
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise InputFileError(f"{source}: cannot be read ({exc.strerror})") from exc
    bidders = read_bidders(data, str(source))
    answers = answer_bidders(factory, bidders, query, identifier_key=identifier_key)
    partial = target.with_name(target.name + ".partial")
    output_format = "jsonl" if target.suffix == ".jsonl" else "csv"
    with partial.open("w", encoding="utf-8", newline="") as handle:
        write_answers(handle, bidders, answers, output_format)
    partial.replace(target)
    counts = dict.fromkeys(("eligible", "restricted", "excluded", "error"), 0)
    for answer in answers:
        counts["error" if isinstance(answer, TrustRegError) else answer["answer"]] += 1
    return TenderReport(
        rows=len(answers),
        eligible=counts["eligible"],
        restricted=counts["restricted"],
        excluded=counts["excluded"],
        errors=counts["error"],
        seconds=time.perf_counter() - started,
    )
