"""Operations: /healthz and /readyz, the Prometheus metrics (request histogram by route
template, import rows, dispute backlog from the store), JSON logs with a request id on
every line and in every error answer, and the metrics of two forked workers added up."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import delete, func, select, text

from tests.accounts import checker_headers
from tests.conftest import RULEBOOK
from tests.due_process import GROUNDS, PDF, World, opened
from tests.feeds import (
    cli_env,
    problem_of,
    run_cli,
    run_import,
    subject_row,
    uscc,
    write_subjects,
    wrong_check,
)
from tests.servers import get, start_server
from tests.test_server_workers import workers_of
from trustreg import logs
from trustreg.config import Settings
from trustreg.store.db import transaction
from trustreg.store.models import Dispute, RecordType
from trustreg.web.app import create_app

TOKEN = "scrape-token-of-the-test-0123456789"
SCRAPER = {"Authorization": f"Bearer {TOKEN}"}
ROUTE = "/api/v1/subjects/{subject_id}"
DURATION = "trustreg_http_request_duration_seconds"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def settings_of(tmp_path: Path, **extra: Any) -> Settings:
    fields: dict[str, Any] = {
        "environment": "test",
        "data_dir": tmp_path / "var",
        "database_url": f"sqlite:///{tmp_path / 'store' / 'registry.db'}",
        "rulebook": RULEBOOK,
        "metrics_token": TOKEN,
    }
    return Settings(**(fields | extra))


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return create_app(settings_of(tmp_path))


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as opened_client:
        yield opened_client


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """Every log line of the test, as the server writes them with TRUSTREG_LOG_FORMAT=json."""
    stream = io.StringIO()
    handler = logs.handler("json", stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def lines_of(stream: io.StringIO) -> list[dict[str, Any]]:
    """The registry's lines (not those of the test's HTTP client)."""
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    return [line for line in lines if line["logger"].startswith("trustreg")]


def parse(exposition: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def scrape(client: TestClient) -> Samples:
    answer = client.get("/metrics", headers=SCRAPER)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return parse(answer.text)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


# ------------------------------------------------------------------ health


def test_healthz_and_readyz_answer_when_all_is_well(client: TestClient) -> None:
    live = client.get("/healthz")
    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "checks": {"store": "ok", "migrations": "ok", "rulebook": "ok"},
    }
    assert ready.headers["cache-control"] == "no-store"


def test_readyz_names_a_missing_rulebook_then_an_unmigrated_store(
    app: FastAPI, client: TestClient
) -> None:
    with transaction(app.state.sessions) as session:
        session.execute(delete(RecordType))
    body = problem_of(client.get("/readyz"), 503)
    assert body["title"] == "Not ready"
    assert body["checks"]["store"] == body["checks"]["migrations"] == "ok"
    assert body["checks"]["rulebook"].startswith("no rulebook loaded")
    assert body["detail"].startswith("rulebook: no rulebook loaded")
    assert body["request_id"]
    with transaction(app.state.sessions) as session:
        session.execute(text("DROP TABLE alembic_version"))
    body = problem_of(client.get("/readyz"), 503)
    assert body["checks"]["migrations"].startswith("the store is at no revision, the code at")
    assert client.get("/healthz").status_code == 200


def test_a_store_that_is_gone_is_not_ready_but_the_process_is_alive(
    app: FastAPI, client: TestClient, tmp_path: Path
) -> None:
    (tmp_path / "store").rename(tmp_path / "moved")
    app.state.engine.dispose()  # the pooled connections still reach the moved file
    try:
        body = problem_of(client.get("/readyz"), 503)
        assert body["checks"]["store"] == "the store does not answer (OperationalError)"
        assert "registry.db" not in json.dumps(body)  # nothing of the store's whereabouts
        assert client.get("/healthz").status_code == 200
        assert value(scrape(client), "trustreg_store_up") == 0
    finally:
        (tmp_path / "moved").rename(tmp_path / "store")
    assert value(scrape(client), "trustreg_store_up") == 1


# ------------------------------------------------------------------ metrics


def test_metrics_need_the_scraper_token_or_an_operator(client: TestClient, app: FastAPI) -> None:
    assert problem_of(client.get("/metrics"), 401)["instance"] == "/metrics"
    wrong = {"Authorization": "Bearer " + TOKEN[:-1] + "x"}
    assert problem_of(client.get("/metrics", headers=wrong), 401)
    checker = checker_headers(app.state.sessions)
    assert problem_of(client.get("/metrics", headers=checker), 403)
    assert client.get("/metrics", headers=SCRAPER).status_code == 200


def test_a_short_metrics_token_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="TRUSTREG_METRICS_TOKEN must have at least 24"):
        settings_of(tmp_path, metrics_token="short")


def test_the_histogram_labels_requests_by_route_template_never_by_raw_path(
    client: TestClient,
) -> None:
    for n in range(1, 6):  # a query string may carry a name: it is no label
        assert client.get(f"/api/v1/subjects/{900 + n}?name=王芳").status_code == 404
    assert client.get("/api/v1/subjects/not-a-number").status_code == 422
    assert client.get("/no/such/page/77").status_code == 404
    assert client.get("/static/htmx.min.js").status_code == 200
    samples = scrape(client)
    labels = {"method": "GET", "route": ROUTE, "status": "4xx"}
    assert value(samples, f"{DURATION}_count", **labels) == 6
    assert value(samples, f"{DURATION}_bucket", le="+Inf", **labels) == 6
    assert value(samples, f"{DURATION}_sum", **labels) > 0
    assert value(samples, f"{DURATION}_count", method="GET", route="unmatched", status="4xx") == 1
    static = {"method": "GET", "route": "/static/{path}", "status": "2xx"}
    assert value(samples, f"{DURATION}_count", **static) == 1
    label_values = {v for _, labelset in samples for _, v in labelset}
    assert not [v for v in label_values if "王芳" in v or "/api/v1/subjects/9" in v]
    assert not [v for v in label_values if "/no/such" in v or "htmx" in v]


def test_import_counters_are_the_stores_totals(
    app: FastAPI, client: TestClient, tmp_path: Path
) -> None:
    factory = app.state.sessions
    rows = [subject_row(n) for n in (1, 2, 3)]
    rows.append(subject_row(4, id_value=wrong_check(uscc(4))))
    feed = write_subjects(tmp_path / "s.csv", rows)
    before = scrape(client)
    assert (
        value(before, "trustreg_import_rows_accepted_total", feed="subjects", outcome="created")
        == 0
    )
    assert value(before, "trustreg_import_rows_rejected_total", feed="records") == 0
    assert run_import(factory, "subjects", feed).rejected == 1
    assert run_import(factory, "subjects", feed).unchanged == 3  # the same file again
    after = scrape(client)
    accepted = {
        outcome: value(
            after, "trustreg_import_rows_accepted_total", feed="subjects", outcome=outcome
        )
        for outcome in ("created", "updated", "unchanged")
    }
    assert accepted == {"created": 3, "updated": 0, "unchanged": 3}
    assert value(after, "trustreg_import_rows_rejected_total", feed="subjects") == 2
    assert value(after, "trustreg_import_rows_rejected_total", feed="records") == 0


@pytest.fixture
def world(settings: Settings, tmp_path: Path) -> Iterator[World]:
    with opened(settings.model_copy(update={"metrics_token": TOKEN}), tmp_path) as built:
        yield built


def _file(world: World, kind: str, record: str) -> None:
    answer = world.client.post(
        f"/api/v1/records/{world.records[record]}/{kind}",
        headers=world.token_of("rep"),
        data={"grounds": GROUNDS},
        files={"evidence": ("receipt.pdf", PDF, "application/pdf")},
    )
    assert answer.status_code == 201, answer.text


def _backlog(world: World) -> dict[str, float]:
    samples = scrape(world.client)
    names = ("disputes_open", "disputes_overdue", "repairs_open", "repairs_overdue")
    return {name: value(samples, f"trustreg_{name}") for name in names}


def _queue(world: World, officer: dict[str, str]) -> dict[str, float]:
    """The same numbers as the reviewer's queue shows them."""
    disputes = world.client.get("/api/v1/disputes", headers=officer).json()["disputes"]
    repairs = world.client.get("/api/v1/repairs", headers=officer).json()["repairs"]
    return {
        "disputes_open": len(disputes),
        "disputes_overdue": sum(d["overdue"] for d in disputes),
        "repairs_open": len(repairs),
        "repairs_overdue": sum(r["overdue"] for r in repairs),
    }


def test_backlog_gauges_match_the_store_as_the_clock_moves(world: World) -> None:
    assert _backlog(world) == dict.fromkeys(_backlog(world), 0)
    _file(world, "disputes", "firm")
    _file(world, "repairs", "repairable")
    officer = world.token_of("officer")
    assert _backlog(world) == _queue(world, officer)
    assert _backlog(world)["disputes_open"] == 1
    assert _backlog(world)["disputes_overdue"] == 0
    world.clock.advance(days=31)  # past the dispute's answer day
    assert _backlog(world) == _queue(world, officer)
    assert _backlog(world)["disputes_overdue"] == 1
    with transaction(world.factory) as session:
        stored = session.scalar(select(func.count()).select_from(Dispute))
    assert stored == 1


# ------------------------------------------------------------------ request ids and logs


def test_every_request_logs_one_json_line_with_its_id_and_route(
    client: TestClient, json_log: io.StringIO
) -> None:
    answer = client.get("/api/v1/subjects/901?name=王芳", headers={"X-Request-ID": "abc.DEF_1-2"})
    assert answer.status_code == 404
    assert answer.headers["x-request-id"] == "abc.DEF_1-2"
    ok = client.get("/healthz")
    made = ok.headers["x-request-id"]
    assert len(made) == 32
    access = [line for line in lines_of(json_log) if line["logger"] == "trustreg.access"]
    assert [(a["request_id"], a["route"], a["status"]) for a in access] == [
        ("abc.DEF_1-2", ROUTE, 404),
        (made, "/healthz", 200),
    ]
    first = access[0]
    assert first["method"] == "GET"
    assert first["level"] == "INFO"
    assert first["duration_ms"] >= 0
    assert first["timestamp"].endswith("+00:00")
    written = json.dumps(lines_of(json_log), ensure_ascii=False)
    assert "王芳" not in written
    assert "/api/v1/subjects/901" not in written


@pytest.mark.parametrize(
    "hostile", ["x" * 65, "a b", "<script>", "id;drop", "../../etc", ""], ids=repr
)
def test_a_hostile_incoming_request_id_is_replaced(client: TestClient, hostile: str) -> None:
    answer = client.get("/healthz", headers={"X-Request-ID": hostile})
    assert answer.headers["x-request-id"] != hostile
    assert len(answer.headers["x-request-id"]) == 32


def test_every_error_answer_carries_the_request_id(client: TestClient, app: FastAPI) -> None:
    checker = checker_headers(app.state.sessions)
    asked = [
        ("/api/v1/subjects/999999", {}, 404),
        ("/api/v1/subjects/abc", {}, 422),
        ("/api/v1/disputes", checker, 403),
        ("/api/v1/disputes", {}, 401),
    ]
    for path, headers, status in asked:
        answer = client.get(path, headers={**headers, "X-Request-ID": f"t-{status}"})
        body = problem_of(answer, status)
        assert body["request_id"] == answer.headers["x-request-id"] == f"t-{status}"
    page = client.get("/no/such/page", headers={"X-Request-ID": "page-404"})
    assert page.status_code == 404
    assert "<code>page-404</code>" in page.text


def test_a_server_error_is_logged_once_with_the_id_the_answer_shows(
    app: FastAPI, json_log: io.StringIO
) -> None:
    def fail() -> None:
        raise RuntimeError("secret detail of the failure")

    app.add_api_route("/api/v1/test-failure", fail)
    app.add_api_route("/test-failure", fail)
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/api/v1/test-failure")
        page = client.get("/test-failure", headers={"X-Request-ID": "page-500"})
    body = problem_of(answer, 500)
    request_id = answer.headers["x-request-id"]
    assert body["request_id"] == request_id
    assert body["detail"] == f"something went wrong; request id {request_id}"
    assert "secret detail" not in answer.text
    assert page.status_code == 500
    assert page.headers["x-request-id"] == "page-500"
    assert "<code>page-500</code>" in page.text
    assert "secret detail" not in page.text
    errors = [line for line in lines_of(json_log) if line["level"] == "ERROR"]
    assert [e["request_id"] for e in errors] == [request_id, "page-500"]
    assert all("RuntimeError: secret detail" in e["exception"] for e in errors)
    access = [line for line in lines_of(json_log) if line["logger"] == "trustreg.access"]
    assert [(a["route"], a["status"]) for a in access] == [
        ("/api/v1/test-failure", 500),
        ("/test-failure", 500),
    ]


def test_logs_are_json_in_production_and_text_elsewhere(tmp_path: Path) -> None:
    production = settings_of(
        tmp_path, environment="production", secret_key="s" * 32, identifier_key="i" * 32
    )
    assert logs.format_of(production) == "json"
    assert logs.format_of(settings_of(tmp_path)) == "text"
    assert logs.format_of(settings_of(tmp_path, log_format="json")) == "json"
    stream = io.StringIO()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    ours = {name: logging.getLogger(name).level for name in ("trustreg", "uvicorn")}
    try:
        logs.start_run(settings_of(tmp_path, log_format="json"), stream)
        logging.getLogger("trustreg.cli").info("line one\nline two")
        logging.getLogger("weasyprint.progress").info("Step 1 - not written below warning")
        logs.configure(settings_of(tmp_path, log_format="text"), stream)  # replaces it
        logging.getLogger("trustreg.cli").warning("as text")
    finally:
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
        root.setLevel(level)
        for name, was in ours.items():
            logging.getLogger(name).setLevel(was)
        logs.REQUEST_ID.set(None)
    first, second = stream.getvalue().splitlines()
    entry = json.loads(first)
    assert entry["message"] == "line one\nline two"
    assert entry["request_id"].startswith("cli-")
    assert second.endswith(f"WARNING trustreg.cli [{entry['request_id']}] as text")


def test_uvicorn_does_not_log_again_an_error_the_500_handler_logged(tmp_path: Path) -> None:
    stream = io.StringIO()
    root, uvicorn_errors = logging.getLogger(), logging.getLogger("uvicorn.error")
    handlers, level = list(root.handlers), root.level
    try:
        logs.configure(settings_of(tmp_path, log_format="json"), stream)
        logged, other = RuntimeError("handled"), RuntimeError("not handled")
        logs.LOGGED_ERROR.set(id(logged))
        for error in (logged, other):
            uvicorn_errors.error("Exception in ASGI application\n", exc_info=error)
    finally:
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
        root.setLevel(level)
        logging.getLogger("trustreg").setLevel(logging.NOTSET)
        logging.getLogger("uvicorn").setLevel(logging.NOTSET)
        logs.LOGGED_ERROR.set(None)
    [line] = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert line["exception"].endswith("RuntimeError: not handled")


# ------------------------------------------------------------------ two workers


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    assert run_cli(tmp_path, "init").returncode == 0
    stale = tmp_path / "var" / "metrics" / "histogram_1.db"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"a previous run's file")
    env = cli_env(tmp_path, TRUSTREG_LOG_FORMAT="json", TRUSTREG_METRICS_TOKEN=TOKEN)
    url, process = start_server(tmp_path, env, "--workers", "2")
    assert get(f"{url}/readyz")[0] == 200
    assert not stale.exists()
    yield url, process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def _scrape_url(url: str) -> Samples:
    request = urllib.request.Request(f"{url}/metrics", headers=SCRAPER)
    with urllib.request.urlopen(request, timeout=10) as answer:
        return parse(answer.read().decode())


def _subject_count(samples: Samples) -> float:
    return value(samples, f"{DURATION}_count", method="GET", route=ROUTE, status="4xx")


def test_two_workers_metrics_add_up_and_outlive_a_worker(
    two_workers: tuple[str, subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    url, process = two_workers
    workers = workers_of(psutil.Process(process.pid), 2)
    for n in range(20):  # a new connection each: the kernel spreads them over both
        assert get(f"{url}/api/v1/subjects/{9000 + n}")[0] == 404
    files = sorted(p.name for p in (tmp_path / "var" / "metrics").glob("histogram_*.db"))
    assert files == sorted(f"histogram_{w.pid}.db" for w in workers)  # both served
    assert _subject_count(_scrape_url(url)) == 20
    os.kill(workers[0].pid, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while {w.pid for w in workers_of(psutil.Process(process.pid), 2)} & {workers[0].pid}:
        assert time.monotonic() < deadline, "the killed worker was not replaced"
        time.sleep(0.1)
    for _ in range(3):  # a scrape may reach either worker: each sums every file
        assert _subject_count(_scrape_url(url)) == 20
    log = (tmp_path / "server.log").read_text().splitlines()
    access = [json.loads(line) for line in log if '"trustreg.access"' in line]
    ours = [a for a in access if a["route"] == ROUTE]
    assert len(ours) == 20
    assert len({a["request_id"] for a in ours}) == 20
    assert not [line for line in log if line.startswith("INFO:")]  # uvicorn's own format
