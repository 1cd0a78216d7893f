"""The batch commands as users run them: snapshot, rate and screen on both engines,
and Spark on a real standalone cluster (a master and a worker on 127.0.0.1).

``--output`` files of ``--engine duckdb`` and ``--engine spark`` must match row for row
(rating) and byte for byte (screening), locally and on the cluster.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pyarrow.parquet as pq
import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests import feeds
from tests.pgserver import free_port
from tests.test_batch_rate import AS_OF, engine_of, populated  # noqa: F401 - the shared fixture
from tests.test_batch_screen import queries

BIN = Path(sys.executable).parent
SPARK_CLASS = Path(__import__("pyspark").__file__).parent / "bin" / "spark-class"


def trustreg(
    factory: sessionmaker[Session], tmp_path: Path, *args: str | Path, status: int = 0
) -> str:
    """Run ``trustreg ARGS`` against the fixture's store; its output, or fail with it."""
    url = engine_of(factory).url.render_as_string(hide_password=False)
    done = feeds.run_cli(
        tmp_path, *args, timeout=600, SPARK_LOCAL_IP="127.0.0.1", TRUSTREG_DATABASE_URL=url
    )
    assert done.returncode == status, done.stderr
    return done.stdout


def ratings(path: Path) -> list[dict[str, object]]:
    return sorted(pq.read_table(path).to_pylist(), key=lambda r: int(str(r["subject_id"])))


def run_both(
    factory: sessionmaker[Session], tmp_path: Path, snapshot: Path, *spark: str
) -> dict[str, Path]:
    """Rate and screen ``snapshot`` with DuckDB and with Spark (``spark``: its options)."""
    source = queries(factory, tmp_path / "in.csv")
    day = AS_OF.isoformat()
    made: dict[str, Path] = {}
    for engine, extra in (("duckdb", ()), ("spark", spark)):
        rated, screened = tmp_path / f"{engine}.parquet", tmp_path / f"{engine}.csv"
        rate = ("rate", "--all", "--as-of", day, "--snapshot", snapshot, "--output", rated)
        printed = trustreg(factory, tmp_path, *rate, "--engine", engine, *extra)
        assert re.search(r"rated \d+ subjects", printed), printed
        screen = ("screen", source, "-o", screened, "--snapshot", snapshot)
        # Exit 1: the file has rows that cannot be screened (in the rejects file).
        printed = trustreg(factory, tmp_path, *screen, "--engine", engine, *extra, status=1)
        assert "queries screened" in printed, printed
        made[f"{engine} rate"], made[f"{engine} screen"] = rated, screened
    return made


def assert_alike(made: dict[str, Path]) -> None:
    assert ratings(made["duckdb rate"]) == ratings(made["spark rate"])
    assert made["duckdb screen"].read_bytes() == made["spark screen"].read_bytes()


def test_snapshot_rate_and_screen_commands_agree_across_engines(
    populated: sessionmaker[Session],  # noqa: F811 - the shared fixture
    tmp_path: Path,
) -> None:
    printed = trustreg(populated, tmp_path, "snapshot", "-o", tmp_path / "snap")
    assert re.search(r"subjects \d+, names \d+, identifiers \d+", printed), printed
    made = run_both(populated, tmp_path, tmp_path / "snap")
    assert_alike(made)
    assert len(ratings(made["duckdb rate"])) > 100


class StandaloneCluster:
    """A Spark master and one worker (one core), as ``spark-class`` starts them."""

    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.root = root
        self.url = f"spark://127.0.0.1:{self.port}"
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logs: list[BinaryIO] = []

    def _start(self, name: str, *args: str) -> None:
        log = (self.root / f"{name}.log").open("wb")
        self.logs.append(log)
        env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_LOG_DIR": str(self.root)}
        command = [str(SPARK_CLASS), f"org.apache.spark.deploy.{name}", *args]
        self.processes.append(subprocess.Popen(command, stdout=log, stderr=log, env=env))

    def start(self) -> None:
        common = ("--host", "127.0.0.1", "--webui-port", str(free_port()))
        self._start("master.Master", "--port", str(self.port), *common)
        worker = ("--cores", "1", "--memory", "2g", "--work-dir", str(self.root / "work"))
        self._start("worker.Worker", self.url, *common, *worker)
        self._wait_for("worker.Worker", "Successfully registered with master")

    def _wait_for(self, name: str, line: str, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        log = self.root / f"{name}.log"
        while time.monotonic() < deadline:
            if line in log.read_text(errors="replace"):
                return
            time.sleep(0.5)
        pytest.fail(f"the Spark {name} did not start:\n{log.read_text(errors='replace')[-3000:]}")

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
        for process in self.processes:
            process.wait(timeout=30)
        for log in self.logs:
            log.close()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[StandaloneCluster]:
    root = tmp_path / "cluster"
    root.mkdir()
    running = StandaloneCluster(root)
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_spark_master_runs_the_same_jobs_on_a_cluster(
    populated: sessionmaker[Session],  # noqa: F811 - the shared fixture
    tmp_path: Path,
    cluster: StandaloneCluster,
) -> None:
    trustreg(populated, tmp_path, "snapshot", "-o", tmp_path / "snap")
    # The job's files go where every worker reads them: here, the one file system.
    master = ("--spark-master", cluster.url, "--work-dir", str(tmp_path))
    made = run_both(populated, tmp_path, tmp_path / "snap", *master)
    assert_alike(made)
    # The work ran on the cluster's worker, not in a local Spark inside the command.
    assert list((cluster.root / "work").glob("app-*")), "no application ran on the worker"
