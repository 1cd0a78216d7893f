"""Benchmark: re-rating and screening at 1, 3 and 10 million subjects, DuckDB and Spark.

    .venv/bin/python bench/scale.py [--sizes 1000000,3000000,10000000]
        [--engines duckdb,spark] [--jobs rate,screen] [--queries 100000]
        [--workdir /tmp/trustreg-scale] [--json scale.json] [--prepare-only]

For each size, a synthetic snapshot folder of that many subjects (``bench/scale_data.py``:
five records per subject on average, the model rulebook) and a screening file of
``--queries`` queries (half registered names in customers' spellings, half strangers,
a fifth with a number) are made once in ``--workdir`` and reused (``--prepare-only``
stops there). Then, for each engine, each job runs as a user runs it, in a child
process (``--jobs screen`` runs screening alone: run it at two ``--queries`` to part a
file's cost from the registry's):

    trustreg rate --all --as-of 2026-11-01 --snapshot DIR --output F --engine E
    trustreg screen Q.csv -o OUT --snapshot DIR --engine E --purpose credit

Spark runs in local mode on the machine's cores (``local[2]`` on two; the commands'
default without ``--spark-master``). Each run's wall time and peak memory are those of
the whole process tree (the command, its worker processes, the Spark JVM and its Python
workers): the RSS of every process, summed, sampled every 0.2 s (RSS, not PSS: reading
every process's page map five times a second would cost the machine a tenth of a core).
Printed per size, engine and job: seconds (the process, and the job by the command's
own timer), peak memory, subjects per second, the growth factor against the previous
size (the time ratio over the size ratio: 1.0 is linear) and the machine's load.
At the smallest size the two engines' outputs are compared: ratings row for row
(sorted by subject), screening files byte for byte.

Target (issue "batch engines", item 4): linear growth; 10,000,000 subjects re-rated in
at most 600 s on DuckDB on this 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import suppress
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import psutil
import pyarrow.parquet as pq  # type: ignore[import-untyped]
from rich.console import Console
from rich.table import Table

from rate_all import AS_OF
from scale_data import TRUSTREG, Generated, Queries, bench_env, queries_for, snapshot_for
from trustreg.core.vocabulary import PURPOSES

TARGET_SUBJECTS = 10_000_000
TARGET_SECONDS = 600.0
SAMPLE_SECONDS = 0.2  # between two readings of the process tree's memory
OWN_TIME = re.compile(r" in ([\d.]+) s\b")  # "rated ... in 12.3 s", "screened in 4.5 s"
console = Console(highlight=False, width=120)  # a log is as wide as a terminal


@dataclass(frozen=True)
class Run:
    """One job of one engine at one size, as measured."""

    subjects: int
    engine: str
    job: str  # "rate" or "screen"
    seconds: float  # the child process, start to exit
    own_seconds: float | None  # what the command itself reports
    peak_rss_mib: float
    processes: int
    ok: bool
    output: str
    load: float  # the machine's one-minute load when the run began (it is shared)
    growth: float | None = None  # against the previous size; 1.0 is linear

    @property
    def per_second(self) -> float:
        return self.subjects / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class Job:
    """One command to measure, and the file it writes."""

    subjects: int
    engine: str
    name: str  # "rate" or "screen"
    command: list[str]
    output: Path


class _Peak(threading.Thread):
    """The largest RSS sum of a process and its descendants, sampled until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.stopped = threading.Event()
        self.rss = self.processes = 0

    def run(self) -> None:
        while not self.stopped.wait(SAMPLE_SECONDS):
            try:
                tree = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                continue  # the command is ending
            total = 0
            for process in tree:
                with suppress(psutil.Error):  # a worker that just ended
                    total += process.memory_info().rss
            self.rss, self.processes = max(self.rss, total), max(self.processes, len(tree))


def run_job(work: Path, job: Job) -> Run:
    """``job`` in a child process, measured; a failure is printed and marked."""
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        child = subprocess.Popen(job.command, env=bench_env(work), stdout=out, stderr=err)
        peak = _Peak(child.pid)
        peak.start()
        code = child.wait()
        seconds = time.perf_counter() - started
        peak.stopped.set()
        peak.join()
        out.seek(0)
        err.seek(0)
        printed, errors = out.read(), err.read()
    if code != 0:
        console.print(f"[red]{job.name} on {job.engine} exited {code}[/red]")
        console.print(errors.strip()[-3000:], markup=False)
    own = OWN_TIME.search(printed)
    return Run(
        job.subjects,
        job.engine,
        job.name,
        seconds,
        float(own.group(1)) if own else None,
        peak.rss / 2**20,
        peak.processes,
        code == 0,
        str(job.output),
        round(load_before, 2),
    )


def run_size(
    work: Path, made: Generated, queries: Queries, engines: list[str], args: argparse.Namespace
) -> list[Run]:
    """Rate and screen one snapshot on every engine (the jobs in ``args.jobs``)."""
    outputs = work / "runs" / f"n{made.subjects}"
    scratch = work / "jobs"  # the commands' own temporary files (and DuckDB's spill)
    for folder in (outputs, scratch):
        folder.mkdir(parents=True, exist_ok=True)
    runs = []
    for engine in engines:
        common = ["--snapshot", str(made.folder), "--work-dir", str(scratch), "--engine", engine]
        rated, screened = outputs / f"{engine}-rate.parquet", outputs / f"{engine}-screen.csv"
        rate = ["rate", "--all", "--as-of", AS_OF.isoformat(), "--output", str(rated)]
        screen = ["screen", str(queries.path), "-o", str(screened), "--purpose", args.purpose]
        for name, words, output in (("rate", rate, rated), ("screen", screen, screened)):
            if name not in args.jobs:
                continue
            output.unlink(missing_ok=True)  # a failed run must leave no old file to compare
            job = Job(made.subjects, engine, name, [str(TRUSTREG), *words, *common], output)
            console.print(f"  {name} on {engine} …")
            run = run_job(work, job)
            console.print(f"  {name} on {engine}: {run.seconds:.1f} s, {run.peak_rss_mib:,.0f} MiB")
            runs.append(run)
    return runs


def with_growth(runs: list[Run]) -> list[Run]:
    """Each run with its growth factor against the same engine and job one size down."""
    done: list[Run] = []
    previous: dict[tuple[str, str], Run] = {}
    for run in sorted(runs, key=lambda r: r.subjects):
        before = previous.get((run.engine, run.job))
        growth = None
        if before is not None and before.ok and run.ok and before.seconds:
            growth = (run.seconds / before.seconds) / (run.subjects / before.subjects)
        done.append(replace(run, growth=round(growth, 3) if growth is not None else None))
        if run.ok:
            previous[(run.engine, run.job)] = run
    return done


def agreement(runs: list[Run]) -> dict[str, int | bool] | None:
    """At the smallest size: whether DuckDB and Spark wrote the same ratings (row for
    row, sorted by subject) and the same screening file (byte for byte)."""
    smallest = min(r.subjects for r in runs)
    by = {(r.engine, r.job): r for r in runs if r.subjects == smallest and r.ok}
    if not all((e, j) in by for e in ("duckdb", "spark") for j in ("rate", "screen")):
        return None
    ratings = [
        pq.read_table(by[(engine, "rate")].output).sort_by("subject_id")
        for engine in ("duckdb", "spark")
    ]
    files = [Path(by[(engine, "screen")].output).read_bytes() for engine in ("duckdb", "spark")]
    return {
        "subjects": smallest,
        "ratings_identical": ratings[0].num_rows == smallest and ratings[0].equals(ratings[1]),
        "screening_identical": files[0] == files[1],
    }


def print_table(runs: list[Run]) -> None:
    table = Table(title="trustreg rate / screen over a snapshot", title_justify="left")
    for column in ("subjects", "engine", "job", "s", "job s", "peak RSS MiB"):
        table.add_column(column, justify="left" if column in ("engine", "job") else "right")
    table.add_column("subjects/s", justify="right")
    table.add_column("growth", justify="right")
    table.add_column("load", justify="right")
    for run in runs:
        own = f"{run.own_seconds:.1f}" if run.own_seconds is not None else "-"
        table.add_row(
            f"{run.subjects:,}",
            run.engine,
            run.job,
            f"{run.seconds:.1f}" if run.ok else "[red]failed[/red]",
            own,
            f"{run.peak_rss_mib:,.0f}",
            f"{run.per_second:,.0f}" if run.ok else "-",
            f"{run.growth:.2f}" if run.growth is not None else "-",
            f"{run.load:.1f}",
        )
    console.print(table)


def target_line(runs: list[Run]) -> tuple[str, bool | None]:
    """Whether 10 million subjects were re-rated on DuckDB within the target; if that
    size was not run, an estimate from the largest sizes that were."""
    rated = [r for r in runs if r.engine == "duckdb" and r.job == "rate" and r.ok]
    goal = f"{TARGET_SUBJECTS:,} subjects re-rated on duckdb in <= {TARGET_SECONDS:.0f} s"
    at = [r for r in rated if r.subjects == TARGET_SUBJECTS]
    if at:
        met = at[0].seconds <= TARGET_SECONDS
        return f"target {goal}: {at[0].seconds:.0f} s, {'met' if met else 'MISSED'}", met
    if not rated:
        return f"target {goal}: not measured", None
    by_size = sorted(rated, key=lambda r: r.subjects)
    last = by_size[-1]
    guess = last.seconds * TARGET_SUBJECTS / last.subjects
    how = "if time grows in proportion"
    if len(by_size) > 1 and by_size[-2].subjects < last.subjects:
        # The slope between the two largest sizes leaves out the fixed cost (start-up,
        # the JVM) that a proportion would multiply.
        before = by_size[-2]
        slope = (last.seconds - before.seconds) / (last.subjects - before.subjects)
        guess = last.seconds + slope * (TARGET_SUBJECTS - last.subjects)
        how = f"by the slope from {before.subjects:,}"
    return (
        f"target {goal}: not measured; {last.subjects:,} took {last.seconds:.1f} s: "
        f"about {guess:.0f} s at {TARGET_SUBJECTS:,} {how}",
        None,
    )


def prepare(args: argparse.Namespace, size: int) -> tuple[Generated, Queries]:
    """The snapshot and screening file of ``size``, made or reused, in a process of
    their own: what making them holds is not this process's memory while it measures."""
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        made = pool.submit(
            snapshot_for, args.workdir, size, args.records_per_subject, args.seed
        ).result()
        queries = pool.submit(queries_for, made, args.queries, args.seed).result()
    state = "reused" if made.reused else f"made in {made.seconds:.0f} s"
    rows = ", ".join(f"{name} {count:,}" for name, count in made.rows.items())
    console.print(f"snapshot {made.folder} ({state}, {made.disk_mib:,.0f} MiB): {rows}")
    console.print(
        f"queries {queries.path}: {queries.rows:,} ({queries.registered:,} registered, "
        f"{queries.strangers:,} strangers, {queries.numbers:,} with a number, "
        f"{queries.persons:,} persons; made in {queries.seconds:.0f} s)"
    )
    return made, queries


def source_state() -> str:
    done = subprocess.run(
        ["git", "log", "-1", "--format=%h %s"], capture_output=True, text=True, check=False
    )
    return done.stdout.strip()[:80] or "unknown commit"


def jobs_list(text: str) -> list[str]:
    """The ``--jobs`` value as a list; an unknown job is an error naming it."""
    jobs = [j.strip() for j in text.split(",") if j.strip()]
    unknown = sorted(set(jobs) - {"rate", "screen"})
    if unknown or not jobs:
        raise argparse.ArgumentTypeError(f"jobs are rate and screen, not {unknown or text!r}")
    return jobs


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000000,3000000,10000000")
    parser.add_argument("--engines", default="duckdb,spark")
    parser.add_argument(
        "--jobs", default="rate,screen", type=jobs_list, help="rate, screen or both"
    )
    parser.add_argument("--queries", type=int, default=100_000, help="rows of the screening file")
    parser.add_argument("--records-per-subject", type=float, default=5.0)
    parser.add_argument("--purpose", default="credit", choices=PURPOSES, help="of the screening")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/trustreg-scale"))
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--prepare-only", action="store_true", help="make the data, run nothing")
    return parser.parse_args()


def report(runs: list[Run], data: dict[int, dict[str, object]], json_path: Path | None) -> bool:
    """Print the table, the target and the engines' agreement (and write them as JSON);
    whether every run succeeded and the engines agreed."""
    runs = with_growth(runs)
    print_table(runs)
    line, met = target_line(runs)
    console.print(line)
    agreed = agreement(runs)
    if agreed is None:
        console.print("engines compared: no (both engines must run both jobs at the smallest size)")
    else:
        console.print(
            f"engines agree at {agreed['subjects']:,} subjects: ratings "
            f"{'identical' if agreed['ratings_identical'] else 'DIFFER'}, screening files "
            f"{'identical' if agreed['screening_identical'] else 'DIFFER'}"
        )
    if json_path:
        figures = {
            "runs": [asdict(r) | {"subjects_per_second": r.per_second} for r in runs],
            "target": {"line": line, "met": met},
            "agreement": agreed,
            "data": data,
        }
        json_path.write_text(json.dumps(figures, indent=2, default=str), encoding="utf-8")
        console.print(f"written: {json_path}")
    agree = agreed is None or bool(agreed["ratings_identical"] and agreed["screening_identical"])
    return agree and all(r.ok for r in runs)


def main() -> None:
    args = arguments()
    sizes = sorted(int(s.replace("_", "")) for s in args.sizes.split(","))
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    args.workdir.mkdir(parents=True, exist_ok=True)
    loads = " ".join(f"{x:.2f}" for x in os.getloadavg())
    console.print(f"{source_state()}; load {loads}; engines {', '.join(engines)}")
    runs: list[Run] = []
    data: dict[int, dict[str, object]] = {}
    for size in sizes:
        made, queries = prepare(args, size)
        data[size] = asdict(made) | {"queries": asdict(queries)}
        if not args.prepare_only:
            runs += run_size(args.workdir, made, queries, engines, args)
    if not args.prepare_only and not report(runs, data, args.json):
        sys.exit(1)


if __name__ == "__main__":
    main()
