"""Operations: request ids, the access log, ``/healthz``, ``/readyz`` and ``/metrics``.

Every HTTP request gets an id: the caller's ``X-Request-ID`` if it is sane (1-64 of
``A-Z a-z 0-9 . _ -``), else a fresh one. It is kept in a context variable for the
request (``trustreg.logs.REQUEST_ID``), so every log line written meanwhile carries
it, it goes back in the ``X-Request-ID`` header, and every problem document has it
(``web.problems``).

Per request the middleware observes one histogram (method, route *template*, status
class: no raw paths, so no person ids in labels) and writes one access line. It is a
plain ASGI middleware: no extra task or body buffering per request.

Metrics of the store (disputes open and overdue, import rows, ...) are counted when
a scrape asks (``services.operations``), so every worker reports the same. The
request histogram lives in each process; ``trustreg serve`` puts every worker's
values in files under ``DATA_DIR/metrics`` (prometheus_client's multi-process mode,
``use_multiprocess``) and a scrape of any worker adds them all up.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trustreg.config import Settings
from trustreg.logs import REQUEST_ID, new_id
from trustreg.services import operations
from trustreg.services.accounts import require
from trustreg.services.clock import Clock
from trustreg.web import problems
from trustreg.web.auth import actor_of

log = logging.getLogger("trustreg.web")
access = logging.getLogger("trustreg.access")
SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Seconds; the API's target is a p99 of 100 ms, so the buckets are finest below it.
BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
NO_STORE = {"Cache-Control": "no-store"}
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class HttpMetrics:
    """The request-duration histogram, with its labelled children cached (``labels()``
    takes a lock and builds a key on every call)."""

    def __init__(self) -> None:
        self.duration = Histogram(
            "trustreg_http_request_duration_seconds",
            "Time to answer an HTTP request, by method, route template and status class.",
            ("method", "route", "status"),
            registry=None,
            buckets=BUCKETS,
        )
        self._children: dict[tuple[str, str, str], Histogram] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, f"{status // 100}xx")
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.duration.labels(*key)
        child.observe(seconds)


def route_of(scope: Scope, mounts: tuple[str, ...] = ()) -> str:
    """The template of the route that answered (``/api/v1/subjects/{subject_id}``),
    ``/static/{path}`` under a mount, ``unmatched`` when none did: never the raw path,
    which may hold a person's id."""
    path = getattr(scope.get("route"), "path", None)
    if isinstance(path, str) and path:
        return path
    for prefix in mounts:  # a mounted app (the static files) sets no route
        if scope["path"].startswith(prefix + "/"):
            return prefix + "/{path}"
    return "unmatched"


def incoming_id(scope: Scope) -> str | None:
    """The caller's ``X-Request-ID`` if it is sane, else None."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if SANE_ID.fullmatch(text) else None
    return None


class Observability:
    """ASGI middleware: request id, access line and histogram for every HTTP request."""

    def __init__(
        self, app: ASGIApp, metrics: HttpMetrics, access_log: bool, mounts: tuple[str, ...]
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log
        self.mounts = mounts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = incoming_id(scope) or new_id()
        token = REQUEST_ID.set(request_id)
        header = (b"x-request-id", request_id.encode())
        status = 500  # unless a response starts: an exception escaped

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                if not any(name.lower() == b"x-request-id" for name, _ in headers):
                    headers.append(header)
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._done(scope, status, time.perf_counter() - started)
        # Left set when an exception escaped: the 500 handler, outside, still reads it.
        REQUEST_ID.reset(token)

    def _done(self, scope: Scope, status: int, seconds: float) -> None:
        method = scope["method"] if scope["method"] in METHODS else "other"
        route = route_of(scope, self.mounts)
        self.metrics.observe(method, route, status, seconds)
        if self.access_log and access.isEnabledFor(logging.INFO):
            duration_ms = round(seconds * 1000, 1)
            fields = {"method": method, "route": route, "status": status}
            access.info(
                "%s %s %d %.1f ms",
                method,
                route,
                status,
                duration_ms,
                extra=fields | {"duration_ms": duration_ms},
            )


class StoreCollector(Collector):
    """Counts read from the store at scrape time (cheap COUNT and SUM queries)."""

    def __init__(self, factory: sessionmaker[Session], today: Callable[[], date]) -> None:
        self.factory = factory
        self.today = today

    def describe(self) -> list[Metric]:
        return []  # registering must not query the store

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("trustreg_store_up", "1 if the store answered this scrape.")
        try:
            backlog = operations.backlog(self.factory, self.today())
        except SQLAlchemyError as exc:
            log.warning("metrics: the store did not answer: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from _backlog_metrics(backlog)


def _gauge(name: str, text: str, value: int) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, text, value=value)


def _backlog_metrics(backlog: operations.Backlog) -> Iterator[Metric]:
    yield _gauge("trustreg_disputes_open", "Disputes not yet decided.", backlog.disputes_open)
    yield _gauge(
        "trustreg_disputes_overdue",
        "Disputes not decided by their answer day (their records are suspended).",
        backlog.disputes_overdue,
    )
    yield _gauge("trustreg_repairs_open", "Repair applications not decided.", backlog.repairs_open)
    yield _gauge(
        "trustreg_repairs_overdue",
        "Repair applications not decided by their answer day.",
        backlog.repairs_overdue,
    )
    jobs = GaugeMetricFamily("trustreg_screening_jobs", "Screenings by status.", labels=["status"])
    for status, count in backlog.screenings.items():
        jobs.add_metric([status], count)
    yield jobs
    deliveries = GaugeMetricFamily(
        "trustreg_webhook_deliveries",
        "Webhook deliveries waiting to be sent (pending) or given up (failed, kept 90 days).",
        labels=["status"],
    )
    for status, count in backlog.deliveries.items():
        deliveries.add_metric([status], count)
    yield deliveries
    accepted = CounterMetricFamily(
        "trustreg_import_rows_accepted",
        "Rows imported (CLI and API), by feed and what they did to the store.",
        labels=["feed", "outcome"],
    )
    rejected = CounterMetricFamily(
        "trustreg_import_rows_rejected",
        "Rows an import rejected (bad value, duplicate, conflict), by feed.",
        labels=["feed"],
    )
    for feed, counts in sorted(backlog.imports.items()):
        for outcome in ("created", "updated", "unchanged"):
            accepted.add_metric([feed, outcome], counts[outcome])
        rejected.add_metric([feed], counts["rejected"])
    yield accepted
    yield rejected


@dataclass
class State:
    """What the operations routes need, kept on ``app.state.observability``."""

    registry: CollectorRegistry
    code_heads: tuple[str, ...]


router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def healthz() -> JSONResponse:
    """Liveness: the process answers. Touches nothing else (a store outage must not
    get every worker restarted)."""
    return JSONResponse({"status": "ok"}, headers=NO_STORE)


@router.get("/readyz")
def readyz(request: Request) -> Response:
    """Readiness: the store answers, its schema is this code's, a rulebook is loaded.
    503 (problem document naming what is not ready) otherwise."""
    state: State = request.app.state.observability
    answer = operations.readiness(request.app.state.sessions, state.code_heads)
    if not answer.ready:
        response = problems.problem(
            503, "Not ready", answer.problems(), request, checks=answer.checks
        )
        response.headers.update(NO_STORE)
        return response
    return JSONResponse({"status": "ready", "checks": answer.checks}, headers=NO_STORE)


@router.get("/metrics")
def metrics(request: Request) -> Response:
    """Prometheus exposition. Readable with ``Authorization: Bearer`` and the
    configured ``TRUSTREG_METRICS_TOKEN``, or by a signed-in operator."""
    settings: Settings = request.app.state.settings
    if not _bearer_is(request, settings.metrics_token):
        require(actor_of(request), "admin", "read the metrics")
    state: State = request.app.state.observability
    body = generate_latest(state.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers=NO_STORE)


def _bearer_is(request: Request, token: str) -> bool:
    header = request.headers.get("authorization", "")
    if not token or header[:7].lower() != "bearer ":
        return False
    return hmac.compare_digest(header[7:].strip().encode(), token.strip().encode())


def multiprocess_dir() -> Path | None:
    """The folder this process's metrics are written to, in multi-process mode."""
    folder = os.environ.get(MULTIPROC_ENV)
    if folder and getattr(values.ValueClass, "_multiprocess", False):
        return Path(folder)
    return None


def use_multiprocess(folder: Path) -> None:
    """Write this process's metrics, and those of the workers it forks, to files in
    ``folder`` (emptied first: the files of a previous run are not this run's).

    Call before the app is made: prometheus_client picks where a metric keeps its
    value when the metric is created.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.db"):
        old.unlink()
    os.environ[MULTIPROC_ENV] = str(folder)
    values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]


def worker_ended(pid: int) -> None:
    """Bookkeeping for a worker that ended (its counters stay in the sums)."""
    folder = multiprocess_dir()
    if folder is not None:
        multiprocess.mark_process_dead(pid, str(folder))  # type: ignore[no-untyped-call]


def _today(app: FastAPI) -> date:
    clock: Clock = app.state.clock  # read at each scrape: a test may move it
    return clock.now().date()


def install(app: FastAPI, settings: Settings) -> None:
    """Add the middleware and the three routes, and the registry a scrape reads."""
    # No *_created series: multi-process mode has none either.
    disable_created_metrics()  # type: ignore[no-untyped-call]
    http = HttpMetrics()
    registry = CollectorRegistry(auto_describe=False)
    folder = multiprocess_dir()
    if folder is None:
        registry.register(http.duration)
    else:
        multiprocess.MultiProcessCollector(registry, path=str(folder))  # type: ignore[no-untyped-call]
    registry.register(StoreCollector(app.state.sessions, lambda: _today(app)))
    app.state.observability = State(registry, operations.code_heads(app.state.engine))
    mounts = tuple(route.path for route in app.routes if isinstance(route, Mount))
    app.add_middleware(Observability, metrics=http, access_log=settings.access_log, mounts=mounts)
    app.include_router(router)
