"""Running the app with uvicorn: one process, or several forked from a warm parent.

With ``workers`` > 1 the parent builds the app and (with ``warm``) the screening index,
binds one socket per worker on the port (SO_REUSEPORT), and forks the workers. The index
(numpy arrays and one bytes object, hundreds of megabytes at a million subjects) is
then built once and shared copy-on-write, instead of once per worker as uvicorn's own
``--workers`` (which starts fresh interpreters) would do. The parent starts no thread
before forking, and each worker drops the database connections it inherited.

The parent stays to supervise: a worker that dies is forked again from the same warm
state, and SIGTERM or SIGINT stops every worker and then the parent.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import socket
import sys
import time

import uvicorn
from fastapi import FastAPI

from trustreg.config import Settings
from trustreg.web.app import create_app

log = logging.getLogger("trustreg.server")
RESPAWN_PAUSE = 1.0  # seconds between re-forks of a worker that keeps dying


def run(settings: Settings, host: str, port: int, workers: int = 1, warm: bool = False) -> None:
    """Serve until stopped; ``warm`` builds the screening index before the first request."""
    app = create_app(settings)
    config = uvicorn.Config(app, host=host, port=port, log_level="info")  # sets up logging
    if warm:
        _warm(app, settings)
    if workers <= 1:
        uvicorn.Server(config).run()
        return
    _supervise(app, config, [_listening_socket(host, port) for _ in range(workers)])


def _warm(app: FastAPI, settings: Settings) -> None:
    registry = app.state.screening
    # No server thread runs yet, so the build may fork its preparing processes.
    registry.workers = settings.screening_workers
    started = time.perf_counter()
    index, _ = registry.current()
    registry.workers = 1
    logging.getLogger("uvicorn.error").info(
        "screening index of %d entries built in %.1f s", len(index), time.perf_counter() - started
    )


def _listening_socket(host: str, port: int) -> socket.socket:
    """One worker's own listening socket on the shared port (SO_REUSEPORT): the kernel
    spreads new connections evenly over the workers' sockets. With one shared socket
    the worker that wakes first accepts a whole burst of connections, and one core
    ends up serving most of them while the other idles."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _supervise(app: FastAPI, config: uvicorn.Config, sockets: list[socket.socket]) -> None:
    gc.collect()
    gc.freeze()  # the warm objects stay out of the collector: their pages stay shared
    children: dict[int, int] = {}  # pid -> worker number
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            _signal(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for number, sock in enumerate(sockets):
        children[_fork(app, config, sock, number)] = number
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        if pid not in children:
            continue
        number = children.pop(pid)
        if stopping:
            continue
        print(
            f"worker {number} (pid {pid}) ended with {status}; starting it again", file=sys.stderr
        )
        time.sleep(RESPAWN_PAUSE)
        # The parent kept the worker's socket open: the new worker takes it over.
        children[_fork(app, config, sockets[number], number)] = number
    for sock in sockets:
        sock.close()


def _fork(app: FastAPI, config: uvicorn.Config, sock: socket.socket, number: int) -> int:
    pid = os.fork()
    if pid:
        return pid
    # The worker: default signal handling (uvicorn installs its own), fresh connections.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    app.state.engine.dispose(close=False)
    # Unfinished screening jobs are resumed by one worker only, not once per worker.
    app.state.resume_jobs = number == 0
    code = 0
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except BaseException:
        log.exception("worker %d failed", number)
        code = 1
    finally:
        os._exit(code)


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it has just ended by itself
        os.kill(pid, signum)
