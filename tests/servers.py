"""A real ``trustreg serve`` in a subprocess, for the tests that need a real server."""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.feeds import TRUSTREG
from tests.pgserver import free_port


def get(url: str) -> tuple[int, bytes]:
    """Status and body of ``GET url`` (a new connection each time)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def start_server(
    folder: Path, env: dict[str, str], *options: str, timeout: float = 60
) -> tuple[str, subprocess.Popen[bytes]]:
    """Start ``trustreg serve OPTIONS`` on a free port with its output in
    ``folder/server.log``; return its address once ``/healthz`` answers."""
    port = free_port()
    command = [str(TRUSTREG), "serve", "--port", str(port), *options]
    with (folder / "server.log").open("wb") as log:  # the child keeps its own copy
        process = subprocess.Popen(command, cwd=folder, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if get(f"{url}/healthz")[0] == 200:
                return url, process
        except OSError:  # not listening yet
            time.sleep(0.2)
    process.kill()
    process.wait(timeout=10)
    raise AssertionError((folder / "server.log").read_text())
