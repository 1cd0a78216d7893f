"""Screening a whole file: every counterparty of a customer or supplier file, at once.

Input: CSV or JSON Lines with :data:`SCREEN_COLUMNS` (``ref`` and ``name`` required),
UTF-8 or GB18030, read as a stream. Output: CSV with :data:`RESULT_COLUMNS`, at most
``top`` rows per query (the candidates that reached the review threshold, best first)
or one ``no_match`` row. Rows that cannot be screened go to ``OUTPUT.rejects.csv`` with
the reason; the others are screened all the same.

The answers are written to ``OUTPUT.partial`` with a progress file beside it after
every chunk; a run that is interrupted is continued with ``resume`` and the file is
renamed into place only when complete, so a partial output never looks finished.
Queries are matched in worker processes forked after the index is built (they share
it); the parent reads, writes and looks up standings, a bounded number of chunks ahead.
"""

from __future__ import annotations

import csv
import json
import multiprocessing
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.pool import AsyncResult
from pathlib import Path
from typing import Any, TextIO

from trustreg.core.layered import LayeredIndex
from trustreg.core.matching import Party, with_hashed_numbers
from trustreg.core.spreadsheet import defuse_row
from trustreg.core.vocabulary import PERSON_KINDS, PURPOSES
from trustreg.errors import Conflict, TrustRegError, ValidationError
from trustreg.services import screening
from trustreg.services.feed_reader import FeedRow, LineSource, RowProblem, detect_format, read_rows
from trustreg.store import screening as store
from trustreg.store.db import transaction

SCREEN_COLUMNS = (
    "ref",
    "name",
    "kind",
    "id_scheme",
    "id_value",
    "country",
    "birth_date",
    "address",
)
RESULT_COLUMNS = (
    "ref", "rank", "subject_id", "matched_id", "matched_name", "score", "decision", "lists",
    "grade", "explanation",
)  # fmt: skip
REJECT_COLUMNS = ("row", "ref", "field", "reason")
COUNTS = ("rows", "matched", "review", "no_match", "rejected")
CHUNK = 1_000
AHEAD = 4  # chunks in flight per worker

Query = tuple[int, str, Party]  # row number, ref, party
Found = tuple[
    int, str, list[tuple[int, float, str, str]]
]  # ... and (subject, score, decision, why)

_WORKER_INDEX: LayeredIndex | None = None  # set before the workers fork; they share it


@dataclass(frozen=True, slots=True)
class ScreenOptions:
    top: int = 3
    resume: bool = False
    purpose: str | None = None
    actor: str = "cli"
    workers: int = 2
    file_format: str | None = None
    encoding: str | None = None
    max_line_bytes: int = 1_048_576


@dataclass
class ScreenReport:
    rows: int = 0
    matched: int = 0
    review: int = 0
    no_match: int = 0
    rejected: int = 0
    resumed_after: int = 0
    seconds: float = 0.0
    rejects_path: Path | None = None

    @property
    def exit_code(self) -> int:
        """0 every row screened; 1 some rows rejected (see the rejects file)."""
        return 1 if self.rejected else 0


def screen_file(
    registry: screening.RegistryIndex,
    source: Path,
    target: Path,
    options: ScreenOptions,
    progress: Callable[[int], None] | None = None,
) -> ScreenReport:
    """Screen every row of ``source`` into ``target``; see the module docstring."""
    started = time.perf_counter()
    if options.purpose is not None and options.purpose not in PURPOSES:
        raise ValidationError("purpose", f"'{options.purpose}' is not one of {PURPOSES}")
    if not 1 <= options.top <= screening.MAX_TOP:
        raise ValidationError("top", f"must be between 1 and {screening.MAX_TOP}")
    feed = detect_format(source, options.file_format, options.encoding)
    run = _Run(source, target, options)
    report = ScreenReport(resumed_after=run.done)
    for name, count in run.counts.items():
        setattr(report, name, count)
    try:
        index, shown = registry.current()
        with source.open("rb") as handle:
            lines = LineSource(handle, feed.encoding, options.max_line_bytes)
            rows = read_rows(lines, feed.file_format, SCREEN_COLUMNS, ("ref", "name"))
            queries = validated_queries(rows, run.done, options, registry.identifier_key)
            for found in _matched(index, _chunks(queries), options):
                _write_chunk(registry, shown, found, run, options, report)
                if progress:
                    progress(lines.bytes_read)
    except BaseException:
        run.abandon()
        raise
    run.finish(report)
    report.seconds = time.perf_counter() - started
    return report


class _Run:
    """The output, rejects and progress files of one screening, resumable."""

    def __init__(self, source: Path, target: Path, options: ScreenOptions) -> None:
        self.target = target
        self.partial = target.with_name(target.name + ".partial")
        self.rejects = target.with_name(target.stem + ".rejects.csv")
        self.rejects_partial = self.rejects.with_name(self.rejects.name + ".partial")
        self.state = target.with_name(target.name + ".progress.json")
        self.key = {"source": str(source.resolve()), "size": source.stat().st_size}
        self.key["top"] = options.top
        self.done = 0
        self.counts: dict[str, int] = {}
        saved = self._saved()
        if saved and not options.resume:
            raise Conflict(
                f"{self.partial} holds an interrupted screening; continue it with --resume "
                "or delete it to start again"
            )
        if options.resume and saved:
            if {k: saved.get(k) for k in self.key} != self.key:
                raise Conflict(f"{self.partial} was screened from another file or --top")
            self.done = int(saved["rows_done"])
            self.counts = {k: int(v) for k, v in saved["counts"].items()}
            self.out = self._reopen(self.partial, int(saved["out_bytes"]))
            self.rej = self._reopen(self.rejects_partial, int(saved["rej_bytes"]))
        else:
            self.state.unlink(missing_ok=True)  # left without its partial: of no use
            self.out = self.partial.open("w", encoding="utf-8", newline="")
            self.rej = self.rejects_partial.open("w", encoding="utf-8", newline="")
            csv.writer(self.out, lineterminator="\n").writerow(RESULT_COLUMNS)
            csv.writer(self.rej, lineterminator="\n").writerow(REJECT_COLUMNS)
        self.out_csv = csv.writer(self.out, lineterminator="\n")
        self.rej_csv = csv.writer(self.rej, lineterminator="\n")

    def _saved(self) -> dict[str, Any] | None:
        if not self.state.is_file() or not self.partial.is_file():
            return None
        saved: dict[str, Any] = json.loads(self.state.read_text(encoding="utf-8"))
        return saved

    @staticmethod
    def _reopen(path: Path, size: int) -> TextIO:
        handle = path.open("r+", encoding="utf-8", newline="")
        handle.truncate(size)
        handle.seek(size)
        return handle

    def checkpoint(self, last_row: int, report: ScreenReport) -> None:
        """Everything up to ``last_row`` is on disk: remember where to go on from."""
        self.out.flush()
        self.rej.flush()
        self.done = last_row
        counts = {k: getattr(report, k) for k in COUNTS}
        state = {**self.key, "rows_done": last_row, "counts": counts}
        state |= {"out_bytes": self.out.tell(), "rej_bytes": self.rej.tell()}
        temporary = self.state.with_name(self.state.name + ".tmp")
        temporary.write_text(json.dumps(state), encoding="utf-8")
        temporary.replace(self.state)

    def abandon(self) -> None:
        """Close the files of a run that failed; one that saved no progress (a bad header,
        say) leaves nothing behind, one that did stays for ``resume``."""
        self.out.close()
        self.rej.close()
        if not self.state.is_file():
            self.partial.unlink(missing_ok=True)
            self.rejects_partial.unlink(missing_ok=True)

    def finish(self, report: ScreenReport) -> None:
        self.out.close()
        self.rej.close()
        self.partial.replace(self.target)
        if report.rejected:
            self.rejects_partial.replace(self.rejects)
            report.rejects_path = self.rejects
        else:
            self.rejects_partial.unlink()
            self.rejects.unlink(missing_ok=True)
        self.state.unlink(missing_ok=True)


def validated_queries(
    rows: Iterator[FeedRow | RowProblem], done: int, options: ScreenOptions, key: str
) -> Iterator[Query | tuple[int, str, str, str]]:
    """Each row after row ``done`` as a query (a person's number hashed with the
    identifier ``key``, as the index compares it), or as a rejection (row, ref, field,
    reason). The batch engines read a file through this too (``batch.screen``)."""
    for row in rows:
        if row.number <= done:
            continue
        if isinstance(row, RowProblem):
            yield (row.number, "", row.field, row.reason)
            continue
        fields = row.fields
        ref = fields.get("ref", "").strip()
        try:
            yield (row.number, ref, with_hashed_numbers(_party(fields, options), key))
        except TrustRegError as exc:
            field = exc.field if isinstance(exc, ValidationError) else "row"
            reason = exc.reason if isinstance(exc, ValidationError) else exc.detail
            yield (row.number, ref, field, reason)


def _party(fields: dict[str, str], options: ScreenOptions) -> Party:
    if not fields.get("ref", "").strip():
        raise ValidationError("ref", "is empty; every query needs its own reference")
    scheme, value = fields.get("id_scheme", "").strip(), fields.get("id_value", "").strip()
    if bool(scheme) != bool(value):
        raise ValidationError("id_scheme" if value else "id_value", "give both or neither")
    kind = fields.get("kind", "").strip() or None
    if kind in PERSON_KINDS and options.purpose is None:
        raise ValidationError("kind", "screening persons needs a declared purpose (--purpose)")
    query = screening.CheckQuery(
        name=fields.get("name", ""),
        kind=kind,
        identifier=f"{scheme}:{value}" if scheme else None,
        country=fields.get("country", "").strip() or None,
        birth_date=fields.get("birth_date", "").strip() or None,
        address=fields.get("address", "").strip() or None,
    )
    return screening.query_party(query, id_field="id_value")


def _chunks(
    items: Iterator[Query | tuple[int, str, str, str]],
) -> Iterator[list[Query | tuple[int, str, str, str]]]:
    chunk: list[Query | tuple[int, str, str, str]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _match_chunk(
    chunk: Sequence[Query | tuple[int, str, str, str]], top: int, persons: bool
) -> list[Found | tuple[int, str, str, str]]:
    index = _WORKER_INDEX
    assert index is not None
    done: list[Found | tuple[int, str, str, str]] = []
    for item in chunk:
        if len(item) == 4:
            done.append(item)  # a rejection passes through, in its place
            continue
        number, ref, party = item
        found = index.search(party, top, persons)
        done.append(
            (
                number,
                ref,
                [(c.subject_id, c.score, c.decision, c.comparison.explanation) for c in found],
            )
        )
    return done


def _matched(
    index: LayeredIndex, chunks: Iterator[list[Any]], options: ScreenOptions
) -> Iterator[list[Any]]:
    """Match chunks in worker processes, in order, a few chunks ahead of the writer."""
    global _WORKER_INDEX
    _WORKER_INDEX = index
    persons = options.purpose is not None
    if options.workers <= 1:
        for chunk in chunks:
            yield _match_chunk(chunk, options.top, persons)
        return
    with multiprocessing.get_context("fork").Pool(options.workers) as pool:
        pending: deque[AsyncResult[list[Any]]] = deque()
        for chunk in chunks:
            pending.append(pool.apply_async(_match_chunk, (chunk, options.top, persons)))
            if len(pending) >= options.workers * AHEAD:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def _write_chunk(
    registry: screening.RegistryIndex,
    shown: dict[int, screening.Shown],
    found: list[Any],
    run: _Run,
    options: ScreenOptions,
    report: ScreenReport,
) -> None:
    ids = [c[0] for item in found if len(item) == 3 for c in item[2]]
    people: list[dict[str, Any]] = []
    with transaction(registry.factory) as session:
        standing = store.standings(session, ids)
        for item in found:
            if len(item) == 4:
                run.rej_csv.writerow(defuse_row(item))
                report.rejected += 1
                continue
            report.rows += 1
            people += _write_answers(item, shown, standing, run, options, report)
        if people:
            screening.log_person_checks(session, options.actor, options.purpose, "screen", people)
    run.checkpoint(found[-1][0], report)


def _write_answers(
    item: Found,
    shown: dict[int, screening.Shown],
    standing: dict[int, tuple[str, list[str]]],
    run: _Run,
    options: ScreenOptions,
    report: ScreenReport,
) -> list[dict[str, Any]]:
    _number, ref, candidates = item
    kept = [c for c in candidates if c[2] != "no_match"][: options.top]
    if not kept:
        report.no_match += 1
        best = f"best candidate scored {candidates[0][1]:.4f}" if candidates else "no candidate"
        run.out_csv.writerow(defuse_row([ref, "", "", "", "", "", "no_match", "", "", best]))
        return []
    report.matched += kept[0][2] == "match"
    report.review += kept[0][2] == "review"
    people = []
    for rank, (subject_id, score, decision, why) in enumerate(kept, start=1):
        subject = shown[subject_id]
        grade, lists = standing.get(subject_id, ("", []))
        row = [ref, rank, subject_id, subject.matched_id, subject.name, f"{score:.4f}", decision]
        # The ref and the name are text of others: defused, a spreadsheet opens this.
        run.out_csv.writerow(defuse_row([*row, ";".join(lists), grade, why]))
        if subject.kind in PERSON_KINDS:
            people.append({"subject": subject_id, "score": score, "decision": decision})
    return people
