"""Benchmark: the API server under a mixed load of profile, check and eligibility requests.

    .venv/bin/python bench/api_load.py --workdir /tmp/api-load [--quick] [--profile]

Runs the real ``trustreg serve --workers 2`` (a parent builds the screening index, then
forks two uvicorn workers that share it) against a SQLite registry of 1,000,000
generated subjects, reused from ``--reuse`` (the screening speed benchmark's work
folder) or built as that benchmark builds it. A load generator in its own process (this
file with ``--generate``: asyncio and ``load_client``, HTTP/1.1 keep-alive, one
connection per concurrent request, about 0.15 ms of CPU a request) then sends 70 %
profiles (``/subjects/{id}``, a seventh of them ``/subjects?identifier=``),
20 % checks (registered names in variants) and 10 % eligibility answers, in two phases:

1. paced at the target rate (open loop: latency counts from when a request was due, so
   a slow server is not hidden by the generator waiting for it); this is the verdict;
2. as fast as the pool allows (closed loop), to show the ceiling.

Requests/s overall count the answers that arrived in the measured window; the rows per
kind count the requests due in the window that were answered, with their latencies.
``--profile`` adds a third closed-loop phase with ``py-spy record`` on the server.

Target (API issue): at least 500 requests/s with p99 at most 100 ms on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import shlex
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np
import psutil

from load_client import Connection, HttpError
from screening_speed import Report, source_state
from screening_speed_data import TRUSTREG, _Variants, _Watch, build_registry, load, store_env

TARGET_RPS = 500.0
TARGET_P99_MS = 100.0
DECISION = "public_procurement"
KINDS = ("profile", "identifier", "check", "eligibility")
WEIGHTS = (0.6, 0.1, 0.2, 0.1)
PY_SPY = Path("/tmp/tools/bin/py-spy")


# --- the load generator (its own process) -----------------------------------------


def _request(plan: dict[str, Any], rng: random.Random) -> tuple[str, str]:
    kind = rng.choices(KINDS, WEIGHTS)[0]
    if kind == "profile":  # the plan may name the ids to read (e.g. organisations only)
        subject = rng.choice(plan["ids"]) if "ids" in plan else rng.randint(1, plan["max_id"])
        return kind, f"/api/v1/subjects/{subject}"
    if kind == "identifier":
        return kind, f"/api/v1/subjects?identifier=uscc:{rng.choice(plan['uscc'])}"
    if kind == "check":
        return kind, "/api/v1/check?" + urlencode({"name": rng.choice(plan["names"])})
    subject = rng.choice(plan["uscc"])
    return kind, f"/api/v1/eligibility?subject=uscc:{subject}&decision={DECISION}"


async def _generate(args: argparse.Namespace) -> dict[str, Any]:
    before = resource.getrusage(resource.RUSAGE_SELF)  # after imports: the load alone
    plan = json.loads(Path(args.plan).read_text(encoding="utf-8"))
    rng = random.Random(args.seed)
    samples: list[tuple[str, int, float]] = []  # kind, status (0: no answer), seconds
    done_in_window = 0  # answers that arrived in the measured window, whenever due
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.2
    measure_from, end = start + args.warmup, start + args.warmup + args.seconds
    due: asyncio.Queue[float] = asyncio.Queue()
    count = sent = 0
    failures: Counter[str] = Counter()  # requests without an answer, by error

    async def one(client: Connection, since: float) -> None:
        nonlocal sent, done_in_window
        sent += 1
        kind, path = _request(plan, rng)
        try:
            status = await client.get(path)
        except (HttpError, OSError, TimeoutError) as exc:
            status = 0
            failures[type(exc).__name__] += 1
        now = loop.time()
        done_in_window += measure_from <= now <= end
        if since >= measure_from:
            samples.append((kind, status, now - since))

    async def worker(client: Connection) -> None:
        while True:
            if args.rate:
                since = await due.get()
                if since >= end or loop.time() >= end:
                    return  # what is still due at the end is counted as never sent
            else:
                since = loop.time()
                if since >= end:
                    return
            await one(client, since)

    async def pace() -> None:
        nonlocal count

        while (at := start + count / args.rate) < end:
            await asyncio.sleep(max(0.0, at - loop.time()))
            due.put_nowait(at)
            count += 1
        for _ in range(args.concurrency):
            due.put_nowait(end)

    await asyncio.sleep(max(0.0, start - loop.time()))
    tasks = [worker(Connection(args.url)) for _ in range(args.concurrency)]
    await asyncio.gather(*tasks, *([pace()] if args.rate else []))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - before.ru_utime - before.ru_stime
    wall = loop.time() - start
    return {
        "samples": samples,
        "cpu": cpu,
        "wall": wall,
        "due": count,
        "unsent": count - sent,
        "done": done_in_window,
        "failures": dict(failures),
    }


def generate_main(args: argparse.Namespace) -> None:
    result = asyncio.run(_generate(args))
    Path(args.out).write_text(json.dumps(result), encoding="utf-8")


# --- the registry, the plan and the server -----------------------------------------


def registry(work: Path, subjects: int, seed: int, reuse: Path | None) -> None:
    """The registry in ``work``: copied from ``reuse`` when that holds the same subjects."""
    if not (work / "registry.json").is_file() and reuse and (reuse / "registry.json").is_file():
        saved = json.loads((reuse / "registry.json").read_text(encoding="utf-8"))
        if saved["subjects"] == subjects and saved["seed"] == seed:
            print(f"copying the registry from {reuse}")
            for name in ("registry.db", "registry.db-wal", "registry.json"):
                if (reuse / name).is_file():
                    shutil.copy2(reuse / name, work / name)
    built = build_registry(work, subjects, seed)
    print(f"registry: {built.subjects:,} subjects ({'reused' if built.reused else 'built'})")


def write_plan(work: Path, seed: int, size: int = 5_000) -> Path:
    """Random subject ids' range, uscc identifiers and names (in variants) from the store."""
    rng = random.Random(seed)
    db = sqlite3.connect(f"file:{work / 'registry.db'}?mode=ro", uri=True)
    max_id = db.execute("SELECT max(id) FROM subjects").fetchone()[0]
    top = db.execute("SELECT max(id) FROM identifiers").fetchone()[0]
    picks = ",".join(str(rng.randint(1, top)) for _ in range(size * 2))
    sql = f"SELECT value FROM identifiers WHERE scheme = 'uscc' AND id IN ({picks})"
    uscc = [value for (value,) in db.execute(sql)]
    picks = ",".join(str(rng.randint(1, max_id)) for _ in range(size))
    rows = db.execute(
        f"SELECT display_name, kind, country FROM subjects WHERE id IN ({picks})"
    ).fetchall()
    db.close()
    spell = _Variants()
    variants = ("exact", "traditional", "english", "upper")
    names = [
        spell.spell({"name": n, "kind": k, "country": c or ""}, rng.choice(variants))
        for n, k, c in rows
    ]
    path = work / "plan.json"
    path.write_text(json.dumps({"max_id": max_id, "uscc": uscc, "names": names}), "utf-8")
    print(f"plan: ids 1..{max_id:,}, {len(uscc):,} uscc identifiers, {len(names):,} names")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(work: Path, port: int, workers: int) -> tuple[subprocess.Popen[bytes], list[str]]:
    command = [str(TRUSTREG), "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", str(workers)]
    log = (work / "server.log").open("wb")  # uvicorn logs every request: a file, not a pipe
    server = subprocess.Popen(command, env=store_env(work), stdout=log, stderr=log)
    return server, command


def wait_ready(url: str, server: subprocess.Popen[bytes], timeout: float = 300.0) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if server.poll() is not None:
            sys.exit(f"the server exited {server.returncode}; see server.log")
        try:
            with urllib.request.urlopen(f"{url}/api/v1/subjects/1", timeout=5):
                return time.perf_counter() - started
        except urllib.error.HTTPError as error:
            if error.code < 500:
                return time.perf_counter() - started
        except OSError:
            pass  # not listening yet
        time.sleep(0.2)
    sys.exit("the server did not answer in time")


def warm_check(url: str, plan: Path) -> tuple[float, int]:
    name = json.loads(plan.read_text(encoding="utf-8"))["names"][0]
    started = time.perf_counter()
    with urllib.request.urlopen(
        f"{url}/api/v1/check?{urlencode({'name': name})}", timeout=900
    ) as answer:
        status = answer.status
    return time.perf_counter() - started, status


# --- running a phase and reporting it ---------------------------------------------


def run_phase(
    args: argparse.Namespace, url: str, plan: Path, rate: float, seconds: float, label: str
) -> tuple[dict[str, Any], list[str]]:
    out = args.workdir / f"load-{label}.json"
    command = [
        sys.executable, str(Path(__file__).resolve()), "--generate", "--url", url,
        "--plan", str(plan), "--out", str(out), "--rate", str(rate),
        "--concurrency", str(args.concurrency), "--seconds", str(seconds),
        "--warmup", str(args.warmup), "--seed", str(args.seed),
    ]  # fmt: skip
    print(f"phase {label}: {f'{rate:g}/s' if rate else 'unpaced'}, {seconds:g} s; {load()}")
    done = subprocess.run(command, check=False)
    if done.returncode != 0:
        sys.exit(f"the load generator exited {done.returncode}")
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return result, command


@dataclass(frozen=True)
class KindFigures:
    """One kind of request's (or all requests') figures in a run."""

    kind: str
    count: int
    ms: Any  # numpy array of latencies
    p50: float
    p95: float
    p99: float
    statuses: Counter[int]

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status == 0 or status >= 400)


def figures_by_kind(samples: list[Any]) -> list[KindFigures]:
    """Latency percentiles and statuses per kind of request, then for all ("all")."""
    found = []
    for kind in (*KINDS, "all"):
        rows = [s for s in samples if kind in ("all", s[0])]
        if not rows:
            continue
        ms = np.array([s[2] for s in rows]) * 1000
        p50, p95, p99 = (float(p) for p in np.percentile(ms, [50, 95, 99]))
        found.append(KindFigures(kind, len(rows), ms, p50, p95, p99, Counter(s[1] for s in rows)))
    return found


def summarise(report: Report, label: str, result: dict[str, Any], seconds: float) -> float:
    """Rows per kind and overall; returns the overall p99 (ms)."""
    p99_all = 0.0
    for f in figures_by_kind(result["samples"]):
        shown = " ".join(f"{s or 'none'}:{n}" for s, n in sorted(f.statuses.items()))
        report.add(
            f"{label}: {f.kind}",
            f"{f.count / seconds:,.0f}/s  p50 {f.p50:.1f}  p95 {f.p95:.1f}  p99 {f.p99:.1f}  "
            f"max {f.ms.max():.0f} ms  errors {f.errors}  ({shown})",
        )
        p99_all = f.p99
    return p99_all


def tree_cpu(server: psutil.Process) -> float:
    """CPU seconds of the server and its workers (the parent itself only waits)."""
    total = 0.0
    for process in (server, *server.children(recursive=True)):
        try:
            total += sum(process.cpu_times()[:2])
        except psutil.Error:
            continue  # a worker that just ended
    return total


def phase(
    report: Report, args: argparse.Namespace, url: str, plan: Path, server: psutil.Process,
    rate: float, label: str,
) -> tuple[float, float, int]:  # fmt: skip
    cpu_before = tree_cpu(server)
    result, command = run_phase(args, url, plan, rate, args.seconds, label)
    server_cpu = tree_cpu(server) - cpu_before  # includes the generator's start
    total = result["wall"]
    report.commands.append(shlex.join(command))
    samples = result["samples"]
    rps = result["done"] / args.seconds
    p99 = summarise(report, label, result, args.seconds)
    errors = sum(1 for s in samples if s[1] == 0 or s[1] >= 400)
    if result["failures"]:
        report.add(f"{label}: no answer", json.dumps(result["failures"]))
    if rate:
        report.add(f"{label}: due / never sent (left waiting at the end)",
                   f"{result['due']:,} / {result['unsent']:,}")  # fmt: skip
    report.add(
        f"{label}: CPU, server / generator",
        f"{server_cpu / total:.2f} / {result['cpu'] / total:.2f} cores "
        f"({server_cpu:.1f} s / {result['cpu']:.1f} s in {total:.1f} s); {load()}",
    )
    return rps, p99, errors


def profile(args: argparse.Namespace, url: str, plan: Path, pid: int, report: Report) -> None:
    """A closed-loop phase with py-spy recording the server for 15 s, and its top frames."""
    raw = args.workdir / "py-spy.txt"
    spy = [str(PY_SPY), "record", "-p", str(pid), "-d", "15", "-r", "100", "-f", "raw"]
    spy += ["--subprocesses"]  # the workers, not the idle parent
    spy += ["-o", str(raw), "--nonblocking"]
    generator = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--generate", "--url", url,
         "--plan", str(plan), "--out", str(args.workdir / "load-profile.json"), "--rate", "0",
         "--concurrency", str(args.concurrency), "--seconds", "18", "--warmup", "2"]
    )  # fmt: skip
    time.sleep(3)
    subprocess.run(spy, check=False, capture_output=True)
    generator.wait()
    report.commands.append(shlex.join(spy))
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        total += int(count)
        own[frames[-1]] += int(count)
        for frame in set(frames):
            inclusive[frame] += int(count)
    print(f"\npy-spy, {total} samples: top frames by own time")
    for frame, count in own.most_common(20):
        print(f"  {100 * count / total:5.1f} %  {frame}")
    print("top frames by inclusive time")
    for frame, count in inclusive.most_common(40):
        print(f"  {100 * count / total:5.1f} %  {frame}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/api-load"))
    parser.add_argument("--reuse", type=Path, default=Path("/tmp/screen-bench"))
    parser.add_argument("--subjects", type=int, default=None, help="default 1,000,000")
    parser.add_argument("--quick", action="store_true", help="50,000 subjects, 10 s phases")
    parser.add_argument("--seed", type=int, default=7, help="the registry's (as screening)")
    parser.add_argument("--rate", type=float, default=TARGET_RPS, help="paced phase, per s")
    parser.add_argument("--concurrency", type=int, default=48, help="connections")
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument("--seconds", type=float, default=None, help="measured, default 30")
    parser.add_argument("--warmup", type=float, default=5.0, help="unmeasured, per phase")
    parser.add_argument("--profile", action="store_true", help="py-spy the server for 15 s")
    parser.add_argument("--generate", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--plan", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        generate_main(args)
        return
    subjects = args.subjects or (50_000 if args.quick else 1_000_000)
    args.seconds = args.seconds or (10.0 if args.quick else 30.0)
    args.workdir = args.workdir.resolve()
    args.workdir.mkdir(parents=True, exist_ok=True)
    report = Report(subjects, 0)
    report.add("machine at start", f"{psutil.cpu_count()} cores, {load()}")
    report.add("code", source_state())
    registry(args.workdir, subjects, args.seed, None if args.quick else args.reuse)
    plan = write_plan(args.workdir, args.seed)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server, command = start_server(args.workdir, port, args.workers)
    report.commands.insert(0, shlex.join([sys.executable, *sys.argv]))
    env = " ".join(f"{k}={store_env(args.workdir)[k]}" for k in ("TRUSTREG_DATABASE_URL",))
    report.commands.append(f"{env} {shlex.join(command)}")
    watch = _Watch(server.pid, interval=0.5)
    watch.start()
    try:
        ready = wait_ready(url, server)
        # Reading smaps of gigabyte processes costs CPU: sampled while the index is
        # built, then only between phases, never while the server is measured.
        watch.stopped.set()
        report.add(
            "server: start-up until the first answer",
            f"{ready:.1f} s ({args.workers} worker processes; "
            f"{'index built before serving' if args.workers > 1 else 'no index yet'})",
        )
        print(f"server ready in {ready:.1f} s; first check; {load()}")
        warm, status = warm_check(url, plan)
        report.add("server: first check", f"{warm:.1f} s, status {status}; {load()}")
        watch.sample()
        pss_warm = watch.pss / 2**20
        proc = psutil.Process(server.pid)
        rps, p99, errors = phase(report, args, url, plan, proc, args.rate, "paced")
        report.add(
            f"paced at {args.rate:g}/s, {args.concurrency} connections: req/s, p99",
            f"{rps:,.0f}/s, p99 {p99:.1f} ms, {errors} errors",
            f">= {TARGET_RPS:g}/s, p99 <= {TARGET_P99_MS:g} ms, no errors",
            rps >= TARGET_RPS * 0.98 and p99 <= TARGET_P99_MS and errors == 0,
        )
        rps, p99, errors = phase(report, args, url, plan, proc, 0, "unpaced")
        report.add(
            f"unpaced, {args.concurrency} connections: ceiling",
            f"{rps:,.0f}/s, p99 {p99:.1f} ms, {errors} errors",
        )
        if args.profile:
            profile(args, url, plan, server.pid, report)
        watch.sample()
        mb = proc.memory_info().rss / 2**20
        report.add(
            "server: peak memory",
            f"{watch.pss / 2**20:,.0f} MB PSS of the process tree (pages shared by the "
            f"workers counted once; {watch.rss / 2**20:,.0f} MB RSS summed; "
            f"{pss_warm:,.0f} MB PSS when ready), {mb:,.0f} MB RSS of the parent at the end",
        )
    finally:
        watch.stopped.set()
        server.terminate()
        server.wait(timeout=30)
    report.add("machine at the end", load())
    text = report.text().replace(", 0 queries", "").replace("screening speed", "API load")
    print("\n" + text)
    saved = args.workdir / f"report-{subjects}-{time.strftime('%Y%m%d-%H%M%S')}.txt"
    saved.write_text(text, encoding="utf-8")
    print(f"(also in {saved})")


if __name__ == "__main__":
    main()
