"""``trustreg serve --workers 2``: a warm parent forks two workers that share the
screening index, restarts one that dies, and stops them all on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.feeds import cli_env, run_cli, run_import, subject_row, write_subjects
from tests.servers import get, start_server
from trustreg.config import Settings
from trustreg.services import registry
from trustreg.store.db import make_engine

FIRM = "河南创瑞医药有限公司"


def workers_of(parent: psutil.Process, count: int, timeout: float = 30) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = parent.children()
        if len(children) == count:
            return children
        time.sleep(0.1)
    raise AssertionError(f"{len(parent.children())} workers, not {count}")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    assert run_cli(tmp_path, "init").returncode == 0
    settings = Settings(database_url=cli_env(tmp_path)["TRUSTREG_DATABASE_URL"])
    factory = registry.initialise(make_engine(settings.sqlalchemy_url), settings.rulebook)
    rows = [subject_row(1, name=FIRM, region="河南省"), subject_row(2)]
    run_import(factory, "subjects", write_subjects(tmp_path / "s.csv", rows))
    url, process = start_server(tmp_path, cli_env(tmp_path), "--workers", "2")
    yield url, process
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)


def test_two_workers_answer_with_the_index_built_before_serving(
    server: tuple[str, subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    url, process = server
    assert len(workers_of(psutil.Process(process.pid), 2)) == 2
    assert "screening index of 2 entries built" in (tmp_path / "server.log").read_text()
    query = urllib.parse.urlencode({"name": "Henan Chuangrui Pharmaceutical"})
    status, body = get(f"{url}/api/v1/check?{query}")
    assert status == 200
    assert json.loads(body)["candidates"][0]["name"] == FIRM
    for _ in range(10):  # new connections, spread over the workers by the kernel
        assert get(f"{url}/api/v1/subjects/2")[0] == 200


def test_a_dead_worker_is_replaced_and_sigterm_stops_everything(
    server: tuple[str, subprocess.Popen[bytes]],
) -> None:
    url, process = server
    parent = psutil.Process(process.pid)
    first, second = workers_of(parent, 2)
    os.kill(first.pid, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        pids = {p.pid for p in parent.children()}
        if len(pids) == 2 and first.pid not in pids:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the killed worker was not replaced")
    assert second.pid in pids
    assert get(f"{url}/api/v1/subjects/1")[0] == 200
    children = parent.children()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    _gone, alive = psutil.wait_procs(children, timeout=10)
    assert alive == []
