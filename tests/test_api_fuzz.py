"""API fuzzing: schemathesis against the app's own OpenAPI document (issue 8).

Every operation of ``/api/openapi.json`` gets generated requests, valid and invalid,
on an in-process app over a small seeded registry (``tests.due_process``: companies,
a person, records, an account of every role; here also a dispute with an evidence
file, a repair application, a watch, a screening and a certificate). Besides the
free cases, the valid ones are also drawn with the seeded ids and codes in their path
and query (``seeded``): random ids are nearly all 404, and the handlers behind the
404 must be fuzzed too. Each case is sent twice: anonymously, and with the bearer token
of a role allowed to use the operation (``OPERATIONS``), so that the fuzzer gets past
401/403 into the real handlers. Every answer is checked:

- no 5xx;
- the status code, content type, headers and body are those the document declares,
  and a request the document calls invalid is refused;
- every 4xx and 5xx is ``application/problem+json`` with type, title, status, detail.

Bounded and reproducible: ``EXAMPLES`` cases an operation, derandomised (CI sends the
same cases every run), about 15 s on one core for the whole file.

Left out on purpose: ``positive_data_acceptance`` (a well-formed request for an id
that does not exist is rightly 404, and one from a role without leave 401/403); the
stateful phase (the document declares no links between operations); and the rate
limits during the fuzzing (they are off: with the test's stopped clock a bucket never
refills, and every later case would be a 429 that reaches no handler). A 429 is held
to the document by its own test below.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core import NOT_SET
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import text

from tests.conftest import RULEBOOK
from tests.due_process import GROUNDS, PDF, World, build, opened
from tests.feeds import ric, subject_name, uscc
from tests.pgserver import PostgresServer
from trustreg.config import Settings
from trustreg.services import certificates, screening_jobs
from trustreg.services.clock import FixedClock
from trustreg.store.db import make_engine
from trustreg.web.app import create_app

EXAMPLES = 15
# Every operation of the document, with the seeded account whose role may use it
# (``tests.due_process``: bank is a verified checker, clerk the court's authority
# account, rep a representative of companies 1-3, officer a reviewer).
OPERATIONS = {
    ("GET", "/api/v1/subjects/search"): "bank",
    ("GET", "/api/v1/subjects"): "bank",
    ("GET", "/api/v1/subjects/{subject_id}"): "bank",
    ("GET", "/api/v1/subjects/{subject_id}/assessment"): "bank",
    ("GET", "/api/v1/subjects/{subject_id}/file"): "rep",
    ("GET", "/api/v1/records/{record_id}"): "bank",
    ("POST", "/api/v1/records"): "clerk",
    ("GET", "/api/v1/eligibility/decisions"): "bank",
    ("GET", "/api/v1/eligibility"): "bank",
    ("POST", "/api/v1/eligibility/batch"): "bank",
    ("GET", "/api/v1/check"): "bank",
    ("POST", "/api/v1/screenings"): "bank",
    ("GET", "/api/v1/screenings/{job_id}"): "bank",
    ("GET", "/api/v1/screenings/{job_id}/result"): "bank",
    ("GET", "/api/v1/lists"): "bank",
    ("GET", "/api/v1/lists/{code}/entries"): "bank",
    ("GET", "/api/v1/lists/{code}/entries.csv"): "bank",
    ("GET", "/api/v1/rulebook"): "bank",
    ("GET", "/api/v1/rulebook/versions"): "bank",
    ("GET", "/api/v1/rulebook/diff"): "bank",
    ("GET", "/api/v1/statistics"): "bank",
    ("GET", "/api/v1/certificates/public-key"): "bank",
    ("GET", "/api/v1/certificates/{code}"): "bank",
    ("POST", "/api/v1/watches"): "bank",
    ("GET", "/api/v1/watches"): "bank",
    ("DELETE", "/api/v1/watches/{watch_id}"): "bank",
    ("GET", "/api/v1/watches/{watch_id}/deliveries"): "bank",
    ("GET", "/api/v1/feed"): "bank",
    ("GET", "/api/v1/disputes"): "officer",
    ("GET", "/api/v1/disputes/{dispute_id}"): "officer",
    ("POST", "/api/v1/disputes/{dispute_id}/decision"): "officer",
    ("POST", "/api/v1/records/{record_id}/disputes"): "rep",
    ("GET", "/api/v1/repairs"): "officer",
    ("GET", "/api/v1/repairs/{application_id}"): "officer",
    ("POST", "/api/v1/repairs/{application_id}/decision"): "officer",
    ("POST", "/api/v1/records/{record_id}/repairs"): "rep",
    ("GET", "/api/v1/evidence/{file_id}"): "officer",
}
# A raw text body (CSV, JSON Lines) is a string whatever its bytes, so schemathesis's
# "invalid" bodies (JSON values written out as text) are valid files on the wire; the
# screening queues them as a job that fails on reading (its design: a file of up to
# 64 MiB is read by the job, not while the client waits). Its invalid cases negate the
# query only, with this body. (The tender check reads its file at once: fully fuzzed.)
TEXT_BODIES = {("POST", "/api/v1/screenings"): ("text/csv", f"ref,name\n1,{subject_name(1)}\n")}
PROBLEM_FIELDS = {"type", "title", "status", "detail"}


def problem_json(_ctx: Any, response: schemathesis.Response, _case: Any) -> None:
    """Every error is RFC 9457 problem+json with the four standard members."""
    if response.status_code < 400:
        return
    media = (response.headers.get("content-type") or [""])[0].split(";")[0].strip()
    assert media == "application/problem+json", f"{response.status_code} answered as {media}"
    body = response.json()
    assert isinstance(body, dict), "a problem is a JSON object"
    missing = PROBLEM_FIELDS - body.keys()
    assert not missing, f"a problem without {sorted(missing)}"
    assert body["status"] == response.status_code, "the problem's status is the answer's"


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    problem_json,
]


def lifespan_outside(app: Any) -> Any:
    """The app as schemathesis calls it, with its lifespan run by the fixture instead:
    schemathesis would start it itself and keep it running to the end of the process."""

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return

    return asgi


def seed(world: World, tokens: dict[str, dict[str, str]]) -> dict[str, list[Any]]:
    """A dispute with evidence, a repair application, a watch, a finished screening and
    a certificate, made through the API; every seeded value a parameter may take."""
    client, firm = world.client, world.records["firm"]
    evidence = [("evidence", ("receipt.pdf", PDF, "application/pdf"))]
    dispute = client.post(
        f"/api/v1/records/{firm}/disputes",
        data={"grounds": GROUNDS},
        files=evidence,
        headers=tokens["rep"],
    ).json()
    read = client.get(f"/api/v1/disputes/{dispute['id']}", headers=tokens["officer"]).json()
    repair = client.post(
        f"/api/v1/records/{world.records['repairable']}/repairs",
        data={"grounds": GROUNDS},
        headers=tokens["rep"],
    ).json()
    watched = client.post(
        "/api/v1/watches", json={"subject": world.ids["early"]}, headers=tokens["bank"]
    ).json()
    screening = client.post(
        "/api/v1/screenings",
        content=f"ref,name\n1,{subject_name(1)}\n".encode(),
        headers={"Content-Type": "text/csv", **tokens["bank"]},
    ).json()
    assert screening_jobs.wait_for_jobs(client.app.state.screening)  # type: ignore[attr-defined]
    certificate = certificates.issue(world.factory, world.ids["firm"], world.settings.secret_key)
    identifiers = [f"uscc:{uscc(1)}", f"uscc:{uscc(2)}", f"ric:{ric(1)}"]
    lists = [entry["code"] for entry in client.get("/api/v1/lists").json()["lists"]]
    versions = [v["version"] for v in client.get("/api/v1/rulebook/versions").json()["versions"]]
    return {
        "subject_id": list(world.ids.values()),
        "record_id": list(world.records.values()),
        "identifier": identifiers,
        "subject": identifiers,
        "id": identifiers,
        "purpose": ["contract"],
        "decision": client.get("/api/v1/eligibility/decisions").json()["decisions"],
        "code": [*lists, certificate["issued"].code],
        "from": versions,
        "to": versions,
        "job_id": [screening["id"]],
        "dispute_id": [dispute["id"]],
        "application_id": [repair["id"]],
        "file_id": [e["id"] for e in read["evidence"]],
        "watch_id": [watched["id"]],
    }


class Fuzzed:
    """The seeded registry, its API document as schemathesis reads it, a token of each
    account, and the seeded values of the parameters."""

    def __init__(self, world: World) -> None:
        self.document: dict[str, Any] = world.client.get("/api/openapi.json").json()
        self.schema = schemathesis.openapi.from_dict(self.document)
        self.client = world.client
        self.app = lifespan_outside(world.client.app)
        self.tokens = {name: world.token_of(name) for name in set(OPERATIONS.values())}
        self.known = seed(world, self.tokens)

    def cases(self, method: str, path: str) -> st.SearchStrategy[Any]:
        """Valid and invalid cases of an operation, and valid ones with seeded values."""
        operation = self.schema[path][method]
        media, body = TEXT_BODIES.get((method, path), (None, NOT_SET))
        strategies = [
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE, body=body, media_type=media),
        ]
        seeded = self.seeded(method, path)
        return st.one_of([*strategies, seeded] if seeded is not None else strategies)

    def seeded(self, method: str, path: str) -> st.SearchStrategy[Any] | None:
        """Valid cases with seeded values in the path and query, where it has any."""
        spec = self.document["paths"][path][method.lower()]
        where = {
            p["name"]: p["in"]
            for p in spec.get("parameters", [])
            if p["name"] in self.known and p["in"] in ("path", "query")
        }
        if not where:
            return None
        operation = self.schema[path][method]

        def cases(values: dict[str, Any]) -> st.SearchStrategy[Any]:
            fixed = {
                place: {k: v for k, v in values.items() if where[k] == place} or None
                for place in ("path", "query")
            }
            return operation.as_strategy(
                GenerationMode.POSITIVE, path_parameters=fixed["path"], query=fixed["query"]
            )

        choices = {name: st.sampled_from(self.known[name]) for name in where}
        return st.fixed_dictionaries(choices).flatmap(cases)


def fuzz_settings(tmp_path: Path, url: str | None = None, **changes: Any) -> Settings:
    return Settings(
        environment="test",
        data_dir=tmp_path / "var",
        database_url=url or f"sqlite:///{tmp_path / 'registry.db'}",
        rulebook=RULEBOOK,
        webhook_delivery_seconds=0,
        **changes,
    )


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str | None:
    """The store of the module's registry, on each backend (as ``conftest.store_url``,
    once for the module): PostgreSQL refuses input SQLite takes (a NUL in a string)."""
    if request.param == "sqlite":
        return None
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"fuzz{os.getpid()}"
    admin = make_engine(server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return server.url(name)


@pytest.fixture(scope="module")
def fuzzed(store: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    """One registry for every operation: what a fuzzed POST writes, the next one reads."""
    tmp_path = tmp_path_factory.mktemp("fuzz")
    unlimited = {"limit_checks_per_minute": 0, "limit_screenings_per_minute": 0}
    settings = fuzz_settings(tmp_path, store, **unlimited)
    clock = FixedClock()
    with TestClient(create_app(settings, clock)) as client:
        yield Fuzzed(build(settings, tmp_path, clock, client))


def test_every_operation_is_fuzzed(fuzzed: Fuzzed) -> None:
    """A new operation must be added to ``OPERATIONS`` (with the role that may use it)."""
    found = {
        (method.upper(), path)
        for path, item in fuzzed.document["paths"].items()
        for method in item
        if path.startswith("/api/")
    }
    assert found == set(OPERATIONS)


@pytest.mark.parametrize(
    ("method", "path"), sorted(OPERATIONS), ids=[f"{m} {p}" for m, p in sorted(OPERATIONS)]
)
def test_operation_conforms_to_the_document(fuzzed: Fuzzed, method: str, path: str) -> None:
    token = fuzzed.tokens[OPERATIONS[(method, path)]]

    @hypothesis.given(case=fuzzed.cases(method, path))
    @hypothesis.settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None)
    def send(case: Any) -> None:
        case.call_and_validate(app=fuzzed.app, checks=CHECKS)
        case.call_and_validate(app=fuzzed.app, headers=token, checks=CHECKS)

    send()


def _text_parameters(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, where) of the string parameters in the path and the query."""
    return [
        (p["name"], p["in"])
        for p in spec.get("parameters", [])
        if p["in"] in ("path", "query")
        and "string"
        in {p["schema"].get("type"), *(s.get("type") for s in p["schema"].get("anyOf", []))}
    ]


def test_a_nul_in_any_text_parameter_is_refused_by_name(fuzzed: Fuzzed) -> None:
    """PostgreSQL cannot compare text with a NUL: the fuzzer's NULs were 500s there (a
    rulebook version, a screening id, a certificate code, a list filter; a CSV cut short
    after its header). Every string parameter of every operation, with a NUL in it."""
    for method, path in sorted(OPERATIONS):
        operation = fuzzed.schema[path][method]
        spec = fuzzed.document["paths"][path][method.lower()]
        where = dict(_text_parameters(spec))
        ids = {
            p["name"]: fuzzed.known.get(p["name"], [1])[0]
            for p in spec.get("parameters", [])
            if p["in"] == "path"
        }
        for name, place in where.items():
            path_parameters = ids | ({name: "a\x00b"} if place == "path" else {})
            query = {name: "a\x00b"} if place == "query" else None
            case = operation.Case(path_parameters=path_parameters, query=query)
            token = fuzzed.tokens[OPERATIONS[(method, path)]]
            answer = case.call_and_validate(app=fuzzed.app, headers=token, checks=CHECKS)
            assert answer.status_code == 422, (method, path, name)
            assert answer.json()["errors"][0]["field"] == name


def test_a_nul_in_a_stored_text_is_refused(settings: Settings, tmp_path: Path) -> None:
    """The texts of a body that the store keeps: a webhook URL, a dispute's grounds, a
    correction's summary, a refusal's reasons (PostgreSQL cannot store a NUL: 500s)."""
    with opened(settings.model_copy(update={"webhook_delivery_seconds": 0}), tmp_path) as world:
        client, token = world.client, world.token_of
        firm, repairable = world.records["firm"], world.records["repairable"]
        form = {"grounds": GROUNDS}
        dispute = client.post(f"/api/v1/records/{firm}/disputes", data=form, headers=token("rep"))
        repair = client.post(
            f"/api/v1/records/{repairable}/repairs", data=form, headers=token("rep")
        )
        nul = "\x00"
        correction = {"decision": "corrected", "reasons": GROUNDS, "correction": {"summary": nul}}
        rejection = {"decision": "rejected", "reasons": GROUNDS + nul}
        refused: list[tuple[str, str, dict[str, Any]]] = [
            (
                "bank",
                "/api/v1/watches",
                {"json": {"subject": 1, "webhook_url": "https://x/" + nul}},
            ),
            ("rep", f"/api/v1/records/{firm}/disputes", {"data": {"grounds": GROUNDS + nul}}),
            ("officer", f"/api/v1/disputes/{dispute.json()['id']}/decision", {"json": correction}),
            ("officer", f"/api/v1/repairs/{repair.json()['id']}/decision", {"json": rejection}),
        ]
        for who, path, body in refused:
            answer = client.post(path, headers=token(who), **body)
            assert answer.status_code == 422, (path, answer.text)
            assert "NUL" in answer.text or "control characters" in answer.text


def test_an_answer_over_a_rate_limit_conforms(tmp_path: Path) -> None:
    """The 429 of a rate-limited operation: declared, problem+json, with Retry-After."""
    with TestClient(create_app(fuzz_settings(tmp_path, limit_checks_per_minute=1))) as client:
        schema = schemathesis.openapi.from_dict(client.get("/api/openapi.json").json())
        case = schema["/api/v1/check"]["GET"].Case(query={"name": "北京华信"})
        app = lifespan_outside(client.app)
        assert case.call_and_validate(app=app, checks=CHECKS).status_code == 200
        refused = case.call_and_validate(app=app, checks=CHECKS)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"][0]) >= 1


def test_a_method_a_path_does_not_have_is_405_problem_json(fuzzed: Fuzzed) -> None:
    """Not an operation, so not in the document: the one error shape all the same, with
    the ``Allow`` header RFC 9110 asks for."""
    for path in ("/api/v1/lists", "/api/v1/records", "/api/v1/watches"):
        answer = fuzzed.client.request("PATCH", path)
        assert answer.status_code == 405
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["status"] == 405
        assert answer.headers.get("allow")
