"""Shared shapes of the screening benchmark: records, queries, results and their figures.

The benchmark keeps its own record type so that the peers run even where
``trustreg.core.matching`` is not importable; ``Record`` has the fields of ``Party``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any


@dataclass(frozen=True, slots=True)
class Record:
    """One party as the benchmark holds it; the fields of ``trustreg`` ``Party``."""

    id: int
    name: str
    kind: str | None = None
    identifiers: tuple[tuple[str, str], ...] = ()
    country: str | None = None
    birth_date: str | None = None
    address: str | None = None
    other_names: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Query:
    """A query with its truth: the registry id it should find, or None (a hard negative)."""

    record: Record
    truth: int | None
    variant: str


@dataclass
class Dataset:
    """A registry and the queries screened against it."""

    name: str
    registry: list[Record]
    queries: list[Query]
    # The raw FEBRL tables (registry, queries) with a ``unique_id`` column, for Splink.
    frames: tuple[Any, Any] | None = None

    @cached_property
    def by_id(self) -> dict[int, Record]:
        return {r.id: r for r in self.registry}


@dataclass(frozen=True, slots=True)
class Top:
    """A query's best candidate; ``predicted`` when the system calls it a match."""

    subject_id: int | None
    score: float
    predicted: bool
    detail: str = ""  # the system's own account, shown with the misses


@dataclass
class Outcome:
    """What one system answered for every query of a dataset, and how long it took."""

    system: str
    threshold: str
    tops: list[Top]
    seconds: float
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Figures:
    """Quality figures of one system on one dataset."""

    queries: int
    positives: int
    rank1: int
    tp: int
    fp: int
    hard_negatives: int
    hard_negatives_matched: int

    @property
    def recall_at_1(self) -> float:
        return self.rank1 / self.positives if self.positives else float("nan")

    @property
    def precision(self) -> float:
        predicted = self.tp + self.fp
        return self.tp / predicted if predicted else float("nan")

    @property
    def recall(self) -> float:
        return self.tp / self.positives if self.positives else float("nan")

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def figures(queries: Sequence[Query], tops: Sequence[Top]) -> Figures:
    """Score a system's top candidates against the truth.

    A query's top candidate is a true positive when predicted and the true record, a
    false positive when predicted and anything else (including every match of a hard
    negative); recall is over the queries that have a true record.
    """
    if len(queries) != len(tops):
        raise ValueError(f"{len(tops)} answers for {len(queries)} queries")
    positives = rank1 = tp = fp = negatives = negatives_matched = 0
    for query, top in zip(queries, tops, strict=True):
        right = query.truth is not None and top.subject_id == query.truth
        if query.truth is None:
            negatives += 1
            negatives_matched += top.predicted
        else:
            positives += 1
            rank1 += right
        if top.predicted:
            tp += right
            fp += not right
    return Figures(len(queries), positives, rank1, tp, fp, negatives, negatives_matched)


def timed(run: Callable[[], tuple[list[Top], list[str]]]) -> tuple[list[Top], list[str], float]:
    """Run a system and return its answers, notes and wall time in seconds."""
    started = time.perf_counter()
    tops, notes = run()
    return tops, notes, time.perf_counter() - started
