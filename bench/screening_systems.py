"""The systems the screening benchmark compares, behind one small interface.

Each system is a ``System``: a name, the threshold it matches at (for the table), and a
``run(dataset)`` that builds whatever it needs from the registry, screens every query
and returns each query's top candidate. ``available()`` says why a system cannot run
here, or None.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import febrl
from screening_common import Dataset, Record, Top

RAPIDFUZZ_THRESHOLD = 90  # token_sort_ratio in 0..100; chosen once, not tuned per dataset
RAPIDFUZZ_CHUNK = 500  # queries per cdist call, to bound the score matrix's memory
OURS_MODULES = ("trustreg.core.matching", "trustreg.core.blocking")

Run = Callable[[Dataset], tuple[list[Top], list[str]]]


@dataclass(frozen=True)
class System:
    name: str
    threshold: str
    run: Run
    available: Callable[[Dataset], str | None]


def run_rapidfuzz(dataset: Dataset) -> tuple[list[Top], list[str]]:
    """Brute force: every query against every registry name, top 1, match at >= 90."""
    from rapidfuzz import fuzz, process, utils

    names = [r.name for r in dataset.registry]
    ids = [r.id for r in dataset.registry]
    queries = [q.record.name for q in dataset.queries]
    tops: list[Top] = []
    for start in range(0, len(queries), RAPIDFUZZ_CHUNK):
        scores = process.cdist(
            queries[start : start + RAPIDFUZZ_CHUNK],
            names,
            scorer=fuzz.token_sort_ratio,
            processor=utils.default_process,
            workers=2,
        )
        best = scores.argmax(axis=1)
        for column, score in zip(best, scores[np.arange(len(best)), best], strict=True):
            if score <= 0:
                tops.append(Top(None, 0.0, False))
            else:
                tops.append(Top(ids[column], score / 100, bool(score >= RAPIDFUZZ_THRESHOLD)))
    return tops, []


def ours_available(dataset: Dataset) -> str | None:
    del dataset
    missing = [m for m in OURS_MODULES if importlib.util.find_spec(m) is None]
    return f"{', '.join(missing)} not written yet" if missing else None


def _party(party_type: Any, record: Record) -> Any:
    return party_type(
        name=record.name,
        kind=record.kind,
        identifiers=record.identifiers,
        country=record.country,
        birth_date=record.birth_date,
        address=record.address,
        other_names=record.other_names,
    )


def run_ours(dataset: Dataset) -> tuple[list[Top], list[str]]:
    """trustreg's ScreeningIndex with its default thresholds; a match is decision "match"."""
    from trustreg.core.blocking import ScreeningIndex
    from trustreg.core.matching import Party, Thresholds

    index = ScreeningIndex.build(((r.id, _party(Party, r)) for r in dataset.registry), Thresholds())
    tops: list[Top] = []
    reviews = 0
    for query in dataset.queries:
        candidates = index.search(_party(Party, query.record), top=3)
        if not candidates:
            tops.append(Top(None, 0.0, False))
            continue
        best = max(candidates, key=lambda c: c.score)
        reviews += best.decision == "review"
        detail = (
            f"{best.decision}; agreed {','.join(best.agreed) or '-'};"
            f" disagreed {','.join(best.disagreed) or '-'}"
        )
        tops.append(Top(best.subject_id, best.score, best.decision == "match", detail))
    return tops, [f"{reviews} queries' top candidate was sent to review"]


def ours_thresholds() -> str:
    """The default thresholds of ours, as it prints them."""
    from trustreg.core.matching import Thresholds

    return repr(Thresholds())


def _splink_available(dataset: Dataset) -> str | None:
    if dataset.frames is not None:
        return None
    return (
        "not run: the set has one field, a name in two scripts; Fellegi-Sunter needs "
        "several independent fields and Splink has no transliteration"
    )


def systems() -> dict[str, System]:
    """Every system by its command-line name."""
    return {
        "splink": System(
            "Splink 5 (DuckDB)",
            f"p >= {febrl.SPLINK_THRESHOLD}",
            lambda d: febrl.run_splink(d, seed=42),
            _splink_available,
        ),
        "rapidfuzz": System(
            "rapidfuzz cdist", f"token_sort >= {RAPIDFUZZ_THRESHOLD}", run_rapidfuzz, lambda d: None
        ),
        "ours": System("trustreg (ours)", 'decision "match"', run_ours, ours_available),
    }
