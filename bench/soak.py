"""Soak: reads at a steady rate while records are imported and ``maintain`` runs.

    .venv/bin/python bench/soak.py [--subjects 200000] [--seconds 120] [--rate 200]

Builds (once, kept in ``--workdir``/base) a SQLite registry of generated subjects and
records, copies it for the run, and starts the real ``trustreg serve --workers 2``.
For ``--seconds``, the API load generator (``api_load.py --generate``: profiles,
identifier look-ups, checks and eligibility answers, paced open-loop at ``--rate``)
reads while, at the same time:

- ``trustreg import records FILE`` runs in a loop, each time on a new file of
  ``--import-rows`` new records (about known subjects and some new ones);
- an authority submits ``--api-batch`` records every ``--api-every`` seconds
  through ``POST /api/v1/records``;
- ``trustreg maintain`` runs at a quarter and at three fifths of the time.

Then it prints throughput, latency percentiles, errors by status, the rows
submitted against the rows found in the store (lost and duplicated must be 0), the
import rate reached, and checks the audit chain and that a fresh ``rate --all``
changes no stored assessment. Targets (issue 8): 0 errors, 0 lost rows.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from api_load import figures_by_kind, free_port, start_server, wait_ready, write_plan
from screening_speed_data import TODAY, TRUSTREG, build_registry, load, store_env
from trustreg import demo
from trustreg.config import Settings
from trustreg.core.identifiers import make_uscc
from trustreg.services import registry
from trustreg.store.db import make_engine

COURT = "court-bj-1"  # a demo court: it may submit judgment_defaulter records


# --- the registry --------------------------------------------------------------------


def base_registry(base: Path, subjects: int, seed: int) -> None:
    """Generated subjects, the demo authorities and records about an eighth of the
    subjects (generated as of the demo's day, as the subjects are), in ``base``: built
    once for these figures, then reused."""
    built = build_registry(base, subjects, seed)
    marker = base / "soak.json"
    if built.reused and marker.is_file():
        return
    settings = Settings(database_url=store_env(base)["TRUSTREG_DATABASE_URL"])
    engine = make_engine(settings.sqlalchemy_url)
    factory = registry.initialise(engine, settings.rulebook)
    known = {a.code for a in registry.list_authorities(factory)}
    for authority in demo.demo_authorities():
        if authority.code not in known:
            registry.add_authority(factory, authority.code, authority.kind, authority.name)
    engine.dispose()
    feed = base / "records.csv"
    with feed.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(demo.RECORD_COLUMNS))
        writer.writeheader()
        writer.writerows(demo.generate_record_rows_fast(subjects // 2, seed, TODAY))
    done = subprocess.run(
        [str(TRUSTREG), "import", "records", str(feed)],
        env=store_env(base),
        capture_output=True,
        text=True,
        check=False,
    )
    print(done.stdout.strip())
    if done.returncode not in (0, 1):  # 1: some generated rows rejected, as designed
        sys.exit(f"records import exited {done.returncode}: {done.stderr[-2000:]}")
    marker.write_text(json.dumps({"subjects": subjects, "seed": seed}), encoding="utf-8")


def fresh_copy(base: Path, run: Path) -> None:
    """The base registry, copied whole (SQLite's online backup) for one soak run."""
    if run.exists():
        shutil.rmtree(run)
    run.mkdir(parents=True)
    source = sqlite3.connect(base / "registry.db")
    target = sqlite3.connect(run / "registry.db")
    source.backup(target)
    target.close()
    source.close()


def organisations(run: Path, seed: int, size: int = 5000) -> list[tuple[int, str, str, str]]:
    """(id, uscc, kind, name) of random organisations of the registry."""
    db = sqlite3.connect(f"file:{run / 'registry.db'}?mode=ro", uri=True)
    top = db.execute("SELECT max(id) FROM subjects").fetchone()[0]
    rng = random.Random(seed)
    picks = ",".join(str(rng.randint(1, top)) for _ in range(size))
    rows = db.execute(
        "SELECT s.id, i.value, s.kind, s.display_name FROM identifiers i "
        f"JOIN subjects s ON s.id = i.subject_id WHERE i.scheme = 'uscc' AND s.id IN ({picks})"
    ).fetchall()
    db.close()
    return [(subject, value, kind, name) for subject, value, kind, name in rows]


# --- the writers ---------------------------------------------------------------------


@dataclass
class Rows:
    """New record rows with references unique to this run (``soak-TAG-N``)."""

    known: list[tuple[int, str, str, str]]
    rng: random.Random
    new_share: float  # of rows about subjects the registry does not hold yet
    new: int = 0

    def make(self, tag: str, count: int) -> list[dict[str, str]]:
        today = datetime.now(UTC).date()
        decided = (today - timedelta(days=40)).isoformat()
        rows = []
        for n in range(count):
            if self.rng.random() < self.new_share:
                self.new += 1
                uscc = make_uscc(f"9111000079{self.new:07d}")
                kind, name = "legal_entity", f"北京浸泡测试{self.new}号科技有限公司"
            else:
                _, uscc, kind, name = self.rng.choice(self.known)
            rows.append(
                {
                    "authority": COURT,
                    "reference": f"soak-{tag}-{n}",
                    "record_type": "judgment_defaulter",
                    "subject_kind": kind,
                    "id_scheme": "uscc",
                    "id_value": uscc,
                    "subject_name": name,
                    "decided_on": decided,
                    "effective_from": (today - timedelta(days=30)).isoformat(),
                    "notified_on": decided,
                    "amount": f"{self.rng.randint(1000, 900000)}.00",
                    "currency": "CNY",
                    "status": "active",
                    "summary": "有履行能力而拒不履行生效法律文书确定的义务。",
                }
            )
        return rows


@dataclass
class Writes:
    """What the writers submitted, what was acknowledged, and how long it took."""

    acknowledged: list[str] = field(default_factory=list)
    unacknowledged: list[str] = field(default_factory=list)  # sent, no success answer
    imports: list[tuple[int, float, int]] = field(default_factory=list)  # rows, s, exit
    api_statuses: Counter[int] = field(default_factory=Counter)
    maintains: list[tuple[float, int, str]] = field(default_factory=list)  # s, exit, line
    lock: threading.Lock = field(default_factory=threading.Lock)


# The niceness of the batch commands (imports, maintain), set once from the options.
BATCH_NICE = [0]


def niced(command: list[str]) -> list[str]:
    """A batch command, at the chosen niceness."""
    return ["nice", "-n", str(BATCH_NICE[0]), *command] if BATCH_NICE[0] else command


def import_loop(run: Path, rows: Rows, per_file: int, until: float, writes: Writes) -> None:
    """``trustreg import records`` on new files, one after the other, until ``until``."""
    number = 0
    while time.monotonic() < until:
        with writes.lock:
            batch = rows.make(f"f{number}", per_file)
        path = run / f"soak-{number}.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(batch[0]))
            writer.writeheader()
            writer.writerows(batch)
        started = time.perf_counter()
        done = subprocess.run(
            niced([str(TRUSTREG), "import", "records", str(path)]),
            env=store_env(run),
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - started
        refs = [row["reference"] for row in batch]
        with writes.lock:
            writes.imports.append((len(batch), seconds, done.returncode))
            (writes.acknowledged if done.returncode == 0 else writes.unacknowledged).extend(refs)
        if done.returncode:
            print(f"import {path.name} exited {done.returncode}: {done.stderr[-500:]}")
        number += 1


def api_loop(url: str, token: str, rows: Rows, batch: int, every: float, until: float,
             writes: Writes) -> None:  # fmt: skip
    """An authority's submissions, ``batch`` records every ``every`` seconds."""
    number = 0
    due = time.monotonic()
    while due < until:
        time.sleep(max(0.0, due - time.monotonic()))
        with writes.lock:
            records = rows.make(f"a{number}", batch)
        for record in records:
            del record["authority"]  # the token's
        status = _post(f"{url}/api/v1/records", token, records)
        refs = [r["reference"] for r in records]
        with writes.lock:
            writes.api_statuses[status] += 1
            (writes.acknowledged if 200 <= status < 300 else writes.unacknowledged).extend(refs)
        number += 1
        due += every


def _post(url: str, token: str, body: Any) -> int:
    request = urllib.request.Request(
        url,
        json.dumps(body).encode(),
        {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            answer.read()
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def maintain_at(run: Path, moments: list[float], writes: Writes) -> None:
    """``trustreg maintain`` at each of these monotonic moments."""
    for moment in moments:
        time.sleep(max(0.0, moment - time.monotonic()))
        started = time.perf_counter()
        done = subprocess.run(
            niced([str(TRUSTREG), "maintain"]), env=store_env(run), capture_output=True, text=True,
            check=False,
        )  # fmt: skip
        line = (done.stdout.strip() or done.stderr.strip()).splitlines()[-1:] or [""]
        writes.maintains.append((time.perf_counter() - started, done.returncode, line[0]))


# --- the run -------------------------------------------------------------------------


def soak(
    args: argparse.Namespace, run: Path, url: str, token: str
) -> tuple[dict[str, Any], Writes]:
    """The load generator and the three writers, together for ``args.seconds``."""
    plan = write_plan(run, args.seed)
    known = organisations(run, args.seed)
    # Profiles of organisations only: a person's needs a checker's token (401 without).
    planned = json.loads(plan.read_text(encoding="utf-8"))
    plan.write_text(json.dumps({**planned, "ids": [k[0] for k in known]}), encoding="utf-8")
    rows = Rows(known, random.Random(args.seed), args.new_subjects)
    out = run / "load.json"
    generator = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("api_load.py")), "--generate",
         "--url", url, "--plan", str(plan), "--out", str(out), "--rate", str(args.rate),
         "--concurrency", str(args.concurrency), "--seconds", str(args.seconds),
         "--warmup", "0", "--seed", str(args.seed)]
    )  # fmt: skip
    start = time.monotonic() + 0.2  # when the generator starts sending
    until = start + args.seconds
    writes = Writes()
    threads = [
        threading.Thread(target=import_loop, args=(run, rows, args.import_rows, until, writes)),
        threading.Thread(
            target=api_loop,
            args=(url, token, rows, args.api_batch, args.api_every, until, writes),
        ),
        threading.Thread(
            target=maintain_at,
            args=(run, [start + args.seconds * 0.25, start + args.seconds * 0.6], writes),
        ),
    ]
    for thread in threads:
        thread.start()
    if generator.wait() != 0:
        sys.exit(f"the load generator exited {generator.returncode}")
    for thread in threads:
        thread.join()
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return result, writes


def stored_rows(run: Path) -> Counter[str]:
    """How many times each soak reference is stored (by authority and reference)."""
    db = sqlite3.connect(f"file:{run / 'registry.db'}?mode=ro", uri=True)
    rows = db.execute(
        "SELECT reference, count(*) FROM records WHERE reference LIKE 'soak-%' "
        "GROUP BY authority_id, reference"
    ).fetchall()
    db.close()
    found: Counter[str] = Counter()
    for reference, count in rows:
        found[reference] += count
    return found


def standings(run: Path) -> dict[int, tuple[Any, ...]]:
    db = sqlite3.connect(f"file:{run / 'registry.db'}?mode=ro", uri=True)
    rows = db.execute("SELECT subject_id, points, grade, lists FROM assessments").fetchall()
    db.close()
    return {row[0]: tuple(row[1:]) for row in rows}


def cli(run: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TRUSTREG), *args], env=store_env(run), capture_output=True, text=True, check=False
    )


# --- the report ----------------------------------------------------------------------


def print_reads(result: dict[str, Any], seconds: float) -> int:
    """Throughput and latency per kind and overall; returns the errors."""
    print(f"reads: {result['done'] / seconds:,.1f} answers/s over {seconds:g} s "
          f"({result['due']:,} due, {result['unsent']:,} never sent)")  # fmt: skip
    errors = 0
    for f in figures_by_kind(result["samples"]):
        bad = {s: n for s, n in f.statuses.items() if s == 0 or s >= 400}
        print(f"  {f.kind:<11} {f.count / seconds:7.1f}/s  p50 {f.p50:6.1f}  p95 {f.p95:6.1f}  "
              f"p99 {f.p99:6.1f}  max {f.ms.max():7.1f} ms  errors {f.errors} "
              f"{dict(sorted(bad.items())) if bad else ''}")  # fmt: skip
        if f.kind == "all":
            errors = f.errors
    if result["failures"]:
        print(f"  no answer: {result['failures']}")
    return errors


def print_writes(writes: Writes, found: Counter[str], seconds: float) -> tuple[int, int]:
    """Rows submitted against rows stored; returns (lost, duplicated)."""
    imported = [(rows, s) for rows, s, code in writes.imports if code == 0]
    rows_in = sum(rows for rows, _ in imported)
    busy = sum(s for _, s in imported)
    print(f"imports: {len(writes.imports)} files, {len(imported)} finished, {rows_in:,} rows "
          f"in {busy:.1f} s of import: {rows_in / busy if busy else 0:,.0f} rows/s "
          f"(each: {', '.join(f'{r / s:,.0f}' for r, s in imported)} rows/s, "
          "CLI start included)")  # fmt: skip
    api = sum(writes.api_statuses.values())
    print(f"records API: {api} requests, statuses {dict(sorted(writes.api_statuses.items()))}")
    for taken, code, line in writes.maintains:
        print(f"maintain: exit {code} in {taken:.1f} s: {line}")
    lost = [r for r in writes.acknowledged if found[r] == 0]
    duplicated = sum(n - 1 for n in found.values() if n > 1)
    stray = [r for r in writes.unacknowledged if found[r]]
    print(f"rows: {len(writes.acknowledged):,} acknowledged, "
          f"{sum(1 for r in writes.acknowledged if found[r]):,} found, lost {len(lost)}, "
          f"duplicated {duplicated}; {len(writes.unacknowledged):,} not acknowledged "
          f"({len(stray):,} of them stored anyway)")  # fmt: skip
    print(f"write rate: {len(writes.acknowledged) / seconds:,.0f} acknowledged rows/s")
    return len(lost), duplicated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/soak"))
    parser.add_argument("--subjects", type=int, default=200_000)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--rate", type=float, default=200.0, help="reads per second")
    parser.add_argument("--concurrency", type=int, default=32, help="read connections")
    parser.add_argument("--import-rows", type=int, default=20_000, help="rows per file")
    parser.add_argument("--api-batch", type=int, default=50, help="records per request")
    parser.add_argument("--api-every", type=float, default=0.5, help="seconds between")
    parser.add_argument(
        "--new-subjects", type=float, default=0.1, help="share of rows about new subjects"
    )
    parser.add_argument(
        "--batch-nice",
        type=int,
        default=0,
        help="run the imports and maintain at this niceness (as a deployment would: "
        "docs/deployment.md); 0 runs them at the server's priority",
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    BATCH_NICE[0] = args.batch_nice
    base, run = args.workdir.resolve() / "base", args.workdir.resolve() / "run"
    base.mkdir(parents=True, exist_ok=True)
    print(f"{' '.join(sys.argv)}; {load()}")
    base_registry(base, args.subjects, args.seed)
    fresh_copy(base, run)
    settings = Settings(database_url=store_env(run)["TRUSTREG_DATABASE_URL"])
    engine = make_engine(settings.sqlalchemy_url)
    token = registry.issue_token(registry.initialise(engine, settings.rulebook),
                                 settings.secret_key, COURT)  # fmt: skip
    engine.dispose()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server, _command = start_server(run, port, 2)
    try:
        print(f"server ready in {wait_ready(url, server):.1f} s; soak for {args.seconds:g} s "
              f"at {args.rate:g} reads/s; {load()}")  # fmt: skip
        result, writes = soak(args, run, url, token)
        print(f"soak done; {load()}")
    finally:
        server.terminate()
        server.wait(timeout=60)
    errors = print_reads(result, args.seconds)
    lost, duplicated = print_writes(writes, stored_rows(run), args.seconds)
    verified = cli(run, "audit", "verify")
    print(f"audit verify: exit {verified.returncode}: "
          f"{(verified.stdout or verified.stderr).strip()}")  # fmt: skip
    before = standings(run)
    rated = cli(run, "rate", "--all")
    after = standings(run)
    changed = sum(1 for subject, held in before.items() if after.get(subject) != held)
    print(f"rate --all (exit {rated.returncode}): {changed} of {len(before):,} stored "
          f"assessments changed, {len(after) - len(before)} missing before")  # fmt: skip
    ok = errors == 0 and lost == 0 and duplicated == 0 and verified.returncode == 0
    print(f"verdict: {'ok' if ok and not changed else 'MISSED'} (targets: 0 errors, 0 lost, "
          f"0 duplicated, audit intact, assessments as re-rated); {load()}")  # fmt: skip


if __name__ == "__main__":
    main()
