"""What the screening speed benchmark runs on: a registry, a queries file, a memory watch.

The registry is built once per work folder through the real import (``trustreg import
subjects`` in a child process) and reused while its manifest says it holds the same
subjects; the queries are drawn from the same feed, so the registered half is known.
"""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import opencc
import psutil

from trustreg import demo
from trustreg.core.names import name_forms
from trustreg.core.vocabulary import PERSON_KINDS

TODAY = date(2026, 11, 1)  # the demo's own day, so the feed matches `trustreg demo`
QUERY_COLUMNS = ("ref", "name", "kind", "id_scheme", "id_value", "country", "birth_date", "address")
ORGANISATIONS = ("legal_entity", "other_org", "foreign_entity")
PERSON_SHARE = 0.05  # persons in the queries file; they need --purpose
VARIANTS = ("exact", "traditional", "english", "upper")
TRUSTREG = Path(sys.executable).parent / "trustreg"


def store_env(work: Path) -> dict[str, str]:
    """The environment every ``trustreg`` child of the benchmark runs with."""
    return {
        **os.environ,
        "TRUSTREG_DATABASE_URL": f"sqlite:///{(work / 'registry.db').resolve()}",
        "TRUSTREG_DATA_DIR": str(work.resolve()),
        # A benchmark measures the server, not its rate limits (one client address).
        "TRUSTREG_LIMIT_CHECKS_PER_MINUTE": "0",
        "TRUSTREG_LIMIT_SCREENINGS_PER_MINUTE": "0",
    }


@dataclass(frozen=True)
class Built:
    """A registry in the work folder and what building it cost (None when reused)."""

    subjects: int
    seed: int
    import_seconds: float
    import_peak_mb: float
    generate_seconds: float
    reused: bool = False

    @property
    def rows_per_second(self) -> float:
        return self.subjects / self.import_seconds if self.import_seconds else 0.0


def build_registry(work: Path, subjects: int, seed: int) -> Built:
    """The registry of ``subjects`` generated subjects in ``work``, built once and kept."""
    manifest = work / "registry.json"
    db = work / "registry.db"
    if manifest.is_file() and db.is_file():
        saved = json.loads(manifest.read_text(encoding="utf-8"))
        if saved["subjects"] == subjects and saved["seed"] == seed:
            return Built(**{**saved, "reused": True})
        print(f"registry in {work} holds {saved['subjects']:,} subjects; rebuilding")
    manifest.unlink(missing_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    feed = work / "subjects.csv"
    started = time.perf_counter()
    with feed.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(demo.SUBJECT_COLUMNS))
        writer.writeheader()
        writer.writerows(demo.generate_subjects(subjects, seed, TODAY))
    generated = time.perf_counter() - started
    print(f"generated {subjects:,} subjects in {generated:.1f} s: {feed}")
    command = [str(TRUSTREG), "import", "subjects", str(feed)]
    run = run_measured(command, store_env(work))
    print(run.stdout.strip())
    if run.returncode != 0:
        sys.exit(f"import exited {run.returncode}: {run.stderr.strip()[-2000:]}")
    built = Built(subjects, seed, run.seconds, run.peak_rss_mb, generated)
    saved = {k: v for k, v in asdict(built).items() if k != "reused"}
    manifest.write_text(json.dumps(saved, indent=2), encoding="utf-8")
    return built


def read_feed(work: Path) -> list[dict[str, str]]:
    """The subjects feed the registry was imported from, in import order."""
    with (work / "subjects.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def english(name: str, kind: str) -> str:
    """A pinyin/English rendering of a Chinese company name, as a foreign partner writes it."""
    words = name_forms(name, kind).translated
    return " ".join(w.capitalize() for w in words) + " Co., Ltd."


class _Variants:
    """Names of registered subjects as a customer's file spells them."""

    def __init__(self) -> None:
        self._s2t = opencc.OpenCC("s2t")

    def spell(self, row: dict[str, str], variant: str) -> str:
        name, kind = row["name"], row["kind"]
        if row["country"] != "CN" or kind in PERSON_KINDS:
            # Latin names have no traditional or English form; persons keep theirs.
            return name.upper() if variant == "upper" else name
        if variant == "traditional":
            return str(self._s2t.convert(name))
        if variant == "english":
            return english(name, kind)
        if variant == "upper":
            return english(name, kind).upper()
        return name


def _query_row(ref: str, name: str, row: dict[str, str]) -> dict[str, str]:
    person = row["kind"] in PERSON_KINDS
    return {
        "ref": ref,
        "name": name,
        "kind": row["kind"],
        "id_scheme": "",
        "id_value": "",
        "country": row["country"],
        "birth_date": row["birth_date"] if person else "",
        "address": row["region"],
    }


def _draw(rng: random.Random, rows: Sequence[dict[str, str]], persons: bool) -> dict[str, str]:
    while True:
        row = rng.choice(rows)
        if (row["kind"] in PERSON_KINDS) == persons:
            return row


def _unregistered(count: int, seed: int, taken: set[str]) -> Iterator[dict[str, str]]:
    """Generated subjects (another seed) whose names the registry does not hold."""
    for row in demo.generate_subjects(count * 3, seed, TODAY):
        if row["name"] not in taken:
            yield row


@dataclass(frozen=True)
class QueriesFile:
    path: Path
    rows: int
    registered: int
    persons: int


def write_queries(path: Path, feed: Sequence[dict[str, str]], count: int, seed: int) -> QueriesFile:
    """``count`` queries: half registered names in variants, half unregistered names.

    Organisations only but for :data:`PERSON_SHARE` persons (names as registered or
    upper case), which the screening sees only with ``--purpose``.
    """
    rng = random.Random(seed)
    taken = {row["name"] for row in feed}
    spell = _Variants()
    fresh = _unregistered(count, seed + 1_000_003, taken)
    registered = persons = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(QUERY_COLUMNS))
        writer.writeheader()
        for number in range(1, count + 1):
            person = rng.random() < PERSON_SHARE
            if rng.random() < 0.5:
                row = _draw(rng, feed, person)
                name = spell.spell(row, rng.choice(VARIANTS))
                registered += 1
            else:
                row = next(r for r in fresh if (r["kind"] in PERSON_KINDS) == person)
                name = row["name"]
            persons += person
            writer.writerow(_query_row(f"q{number}", name, row))
    return QueriesFile(path, count, registered, persons)


def read_queries(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


# --- measuring a child process ----------------------------------------------------


@dataclass
class Measured:
    """A finished child process: its output, wall time and peak memory with its children."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_rss_mb: float  # the sum over the process tree (shared pages counted in each)
    peak_pss_mb: float  # the same with shared pages split between the processes
    peak_processes: int
    last_line_at: float  # seconds from the start to the last line on stdout (0 if none)


class _Watch(threading.Thread):
    """Samples the memory of a process and its descendants until told to stop."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.interval = interval
        self.stopped = threading.Event()
        self.rss = self.pss = 0
        self.processes = 0

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        rss = pss = 0
        try:
            tree = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return
        for process in tree:
            try:
                info = process.memory_full_info()
            except psutil.Error:
                continue  # a worker that just ended
            rss += info.rss
            pss += info.pss
        self.rss, self.pss = max(self.rss, rss), max(self.pss, pss)
        self.processes = max(self.processes, len(tree))


def run_measured(command: Sequence[str], env: dict[str, str]) -> Measured:
    """Run ``command``, sampling the memory of its process tree every 0.1 s.

    Standard output is read as it comes, so the time of its last line (a command's
    closing summary) separates the work from the process's exit that follows it.
    """
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+", encoding="utf-8") as errors:
        child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=errors, text=True)
        watch = _Watch(child.pid)
        watch.start()
        assert child.stdout is not None
        lines, last_line_at = [], 0.0
        for line in child.stdout:
            lines.append(line)
            last_line_at = time.perf_counter() - started
        returncode = child.wait()
        seconds = time.perf_counter() - started
        watch.stopped.set()
        watch.join()
        errors.seek(0)
        stderr = errors.read()
    mb = 1024 * 1024
    return Measured(
        returncode,
        "".join(lines),
        stderr,
        seconds,
        watch.rss / mb,
        watch.pss / mb,
        watch.processes,
        last_line_at,
    )


def load() -> str:
    """The machine's load averages (1, 5, 15 min), to print beside the figures."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}"
