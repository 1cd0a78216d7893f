"""Running the app with uvicorn: one process, or several forked from a warm parent.

With ``workers`` > 1 the parent builds the app and (with ``warm``) the screening index,
binds one socket per worker on the port (SO_REUSEPORT), and forks the workers. The index
(numpy arrays and one bytes object, hundreds of megabytes at a million subjects) is
then built once and shared copy-on-write, instead of once per worker as uvicorn's own
``--workers`` (which starts fresh interpreters) would do. The parent starts no thread
before forking, and each worker drops the database connections it inherited.

The parent stays to supervise: a worker that dies is forked again from the same warm
state, and SIGTERM or SIGINT stops every worker and then the parent. A parent that is
killed outright takes its workers with it (SIGTERM from the kernel, on Linux).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import os
import signal
import socket
import sys
import time

import uvicorn
from fastapi import FastAPI

from trustreg import logs
from trustreg.config import Settings
from trustreg.web import observability, slow_clients
from trustreg.web.app import create_app

log = logging.getLogger("trustreg.server")
RESPAWN_PAUSE = 1.0  # seconds between re-forks of a worker that keeps dying
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def run(settings: Settings, host: str, port: int, workers: int = 1, warm: bool = False) -> None:
    """Serve until stopped; ``warm`` builds the screening index before the first request."""
    logs.configure(settings)  # uvicorn's lines too (log_config=None: it leaves them be)
    logs.REQUEST_ID.set(None)  # lines outside a request carry no id (not the CLI run's)
    # Before the app makes its metrics: every worker writes its own file there.
    observability.use_multiprocess(settings.data_dir / "metrics")
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        log_level=settings.log_level,
        access_log=False,  # ours (trustreg.access) has the route template and request id
        http=slow_clients.protocol(settings),  # slowloris: time limits on reading requests
    )
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
        observability.worker_ended(pid)
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
    parent = os.getpid()
    pid = os.fork()
    if pid:
        return pid
    # The worker: default signal handling (uvicorn installs its own), fresh connections.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    _end_with(parent)
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


def _end_with(parent: int) -> None:
    """Have the kernel send this worker SIGTERM when its parent dies (Linux).

    A parent killed outright (SIGKILL, the OOM killer) never runs its handler: its
    workers would go on serving the port, next to those of the restarted server, with
    the state they forked from. With SIGTERM they finish their requests and end.
    """
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before the call
        os.kill(os.getpid(), signal.SIGTERM)


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it has just ended by itself
        os.kill(pid, signum)
