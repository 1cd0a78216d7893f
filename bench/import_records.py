"""Benchmark: import generated record rows into a fresh store (SQLite or PostgreSQL).

    .venv/bin/python bench/import_records.py [--rows 1000000] [--seed 7]
    .venv/bin/python bench/import_records.py --database-url postgresql+psycopg://u@host/empty_db

Writes a CSV of generated, valid record rows (about one subject per four records,
so the import also creates subjects), then runs the real command
``trustreg import records FILE`` in a child process against a fresh store (a SQLite
file in the work folder, or the empty database of ``--database-url``) and prints rows
per second and the peak memory of its largest process. Targets (issue 2): at least
20,000 rows/s with full validation on 2 cores, peak memory at most 1 GB.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from trustreg import demo
from trustreg.config import Settings
from trustreg.services import registry
from trustreg.store.db import is_initialised, make_engine

TODAY = date(2026, 11, 1)


def write_feed(path: Path, rows: int, seed: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(demo.RECORD_COLUMNS))
        writer.writeheader()
        writer.writerows(demo.generate_record_rows_fast(rows, seed, TODAY))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument(
        "--database-url",
        default=None,
        help="an empty database to import into (default: a new SQLite file in the work folder)",
    )
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="trustreg-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    feed = work / "records.csv"
    db = work / "registry.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)

    started = time.perf_counter()
    write_feed(feed, args.rows, args.seed)
    print(
        f"generated {args.rows:,} rows ({feed.stat().st_size / 1e6:.0f} MB) "
        f"in {time.perf_counter() - started:.1f} s: {feed}"
    )

    url = args.database_url or f"sqlite:///{db}"
    env = {**os.environ, "TRUSTREG_DATABASE_URL": url, "TRUSTREG_DATA_DIR": str(work)}
    settings = Settings(database_url=url, data_dir=work)
    engine = make_engine(settings.sqlalchemy_url)
    if is_initialised(engine):
        sys.exit(f"{engine.url.render_as_string()} is not empty: give an empty database")
    factory = registry.initialise(engine, settings.rulebook)
    for authority in demo.demo_authorities():
        registry.add_authority(factory, authority.code, authority.kind, authority.name)

    trustreg = Path(sys.executable).parent / "trustreg"
    started = time.perf_counter()
    result = subprocess.run(
        [str(trustreg), "import", "records", str(feed)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(result.stdout.strip())
    if result.returncode != 0:
        print(result.stderr.strip(), file=sys.stderr)
        sys.exit(f"import exited {result.returncode}")
    print(
        f"imported {args.rows:,} rows into {engine.dialect.name} in {elapsed:.1f} s: "
        f"{args.rows / elapsed:,.0f} rows/s, "
        f"peak memory {peak_mb:,.0f} MB in the larger of its two processes, importer and "
        "reader (targets: >= 20,000 rows/s, <= 1,024 MB)"
    )


if __name__ == "__main__":
    main()
