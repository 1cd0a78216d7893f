"""Injection through every query parameter, path parameter, form field and JSON field
(issue 8 item 2): SQL, markup, a template expression, NUL, very long text, bidi and
zero-width characters, a lone surrogate.

Nothing is hand-picked: the routes and their example paths come from the authorization
matrix (``tests.test_authorization``, which fails if a route has no row), their
parameters from the app's own route declarations, plus the ones pages read from the
query string themselves. Every answer must be below 500, and an HTML answer must have
no element or attribute that came from a payload (``tests.hostile.inert_problems``).
Afterwards the store holds the same rows and the audit chain verifies. One request per
parameter and payload class.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from httpx2 import Response

from tests.accounts import csrf
from tests.authz_world import World
from tests.hostile import (
    FORM,
    MULTIPART,
    PAYLOADS,
    api,
    audit_intact,
    counts,
    encoded,
    form_body,
    formula_cells,
    hostile_world,
    inert_problems,
    multipart_body,
)
from tests.test_authorization import CSV_BODIES, FORM_BODIES, READS, WRITES, fill, rows
from trustreg.core.validation import RECORD_COLUMNS

# Read by pages themselves from the query string (language, where to go after signing
# in, the notes after a form), and one no page knows: every page gets all at once.
PAGE_PARAMETERS = ("lang", "next", "filed", "done", "subject", "unknown")
PREFERRED = ("checker", "reviewer", "representative", "authority", "operator", "anonymous")
NUMBERS = ("sql", "script", "surrogate")  # enough for a parameter pydantic parses
# A PDF takes only ?lang (one of two languages, else the default) and costs half a
# second to render: two classes.
PDF = ("script", "surrogate")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from hostile_world(tmp_path_factory.mktemp("hostile"))


def _role(expected: dict[str, int]) -> str:
    """A role the matrix lets through (so the payload reaches the handler)."""
    allowed = [r for r in PREFERRED if expected[r] in (200, 201, 202, 303, 2)]
    return allowed[0] if allowed else "anonymous"


def _routes(world: World) -> list[APIRoute]:
    found, pending = [], list(world.app.routes)
    while pending:
        route = pending.pop(0)
        inner = getattr(route, "original_router", None)  # an included router
        if inner is not None:
            pending += inner.routes
        elif isinstance(route, APIRoute):
            found.append(route)
    return found


def _route_of(world: World, method: str, path: str) -> APIRoute | None:
    return next(
        (r for r in _routes(world) if method in r.methods and r.path_regex.match(path)), None
    )


def _query_names(route: APIRoute) -> list[tuple[str, bool]]:
    """(name, is text) of every query parameter, those of its dependencies too."""
    found: list[tuple[str, bool]] = []
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        found += [(field.alias, _text(field)) for field in dependant.query_params]
        pending += dependant.dependencies
    return found


def _text(field: Any) -> bool:
    """Whether the parameter takes text (anything else pydantic parses first)."""
    return "str" in repr(field.field_info.annotation)


def _examples(world: World) -> Iterator[tuple[str, str, str, str, APIRoute | None]]:
    """(channel, method, url, role, route): one example per route and channel."""
    seen: set[tuple[str, str, str]] = set()
    table = rows(READS) + [r for r in rows(WRITES) if r[0] == "api" and r[2] in CSV_BODIES]
    for channel, method, path, expected in table:
        url = fill(path, world)
        route = _route_of(world, method, url.split("?")[0])
        key = (channel, method, route.path if route else url)
        if key not in seen:
            seen.add(key)
            yield channel, method, url, _role(expected), route


def _send(world: World, channel: str, method: str, url: str, role: str) -> Response:
    if channel == "page":
        return world.browsers[role].request(method, url)
    client = api(world, None if role == "anonymous" else role)
    if method == "POST":  # a screening or a tender check: its file as in the matrix
        path = url.split("?")[0]
        body = next(fill(v, world) for k, v in CSV_BODIES.items() if k.split("?")[0] == path)
        return client.post(url, content=body.encode(), headers={"Content-Type": "text/csv"})
    return client.request(method, url)


def _with(url: str, names: tuple[str, ...], value: str) -> str:
    """``url`` with each of ``names`` set to the percent-encoded ``value``."""
    base, _, query = url.partition("?")
    kept = [p for p in query.split("&") if p and p.split("=")[0] not in names]
    kept += [f"{name}={encoded(value)}" for name in names]
    return f"{base}?{'&'.join(kept)}"


def _check(answer: Response, what: str, failures: list[str]) -> None:
    found = inert_problems(answer)
    if found:
        failures.append(f"{what}: {answer.status_code} {found[:3]}")


def test_every_query_parameter_takes_every_payload(world: World) -> None:
    before = counts(world.app.state.sessions)
    failures: list[str] = []
    asked = 0
    for channel, method, url, role, route in _examples(world):
        groups = [((name,), text) for name, text in (_query_names(route) if route else [])]
        if channel == "page":
            groups.append((PAGE_PARAMETERS, True))
        for names, text in groups:
            for kind, value in PAYLOADS.items():
                if (not text and kind not in NUMBERS) or (url.endswith(".pdf") and kind not in PDF):
                    continue
                target = _with(url, names, value)
                _check(_send(world, channel, method, target, role), f"{target[:90]}", failures)
                asked += 1
    assert failures == []
    assert asked > 300  # every route was walked, not none
    assert counts(world.app.state.sessions) == before
    assert audit_intact(world.app.state.sessions)


def _path(template: str, values: dict[str, str]) -> str:
    return re.sub(r"{(\w+)(:\w+)?}", lambda m: values[m.group(1)], template)


def test_every_path_parameter_takes_every_payload(world: World) -> None:
    before = counts(world.app.state.sessions)
    failures: list[str] = []
    done: set[str] = set()
    for channel, method, url, role, route in _examples(world):
        if route is None or method != "GET" or route.path in done or "{" not in route.path:
            continue
        done.add(route.path)
        match = route.path_regex.match(url.split("?")[0])
        assert match is not None
        values = match.groupdict()
        for field in route.dependant.path_params:
            name, text = field.alias, _text(field)
            for kind, value in PAYLOADS.items():
                if not text and kind not in NUMBERS:
                    continue
                path = _path(route.path, values | {name: encoded(value)})
                _check(_send(world, channel, method, path, role), path[:90], failures)
    assert failures == []
    assert len(done) > 20
    assert counts(world.app.state.sessions) == before


def test_ids_beyond_the_stores_integers_are_refused(world: World) -> None:
    """2**64 in any numeric path parameter of a page or the API: a 4xx, never the
    store's overflow (SQLite's integers end at 2**63 - 1)."""
    failures: list[str] = []
    done: set[str] = set()
    for channel, method, url, role, route in _examples(world):
        if route is None or method != "GET" or route.path in done or "{" not in route.path:
            continue
        numeric = [f.alias for f in route.dependant.path_params if not _text(f)]
        if not numeric:
            continue
        done.add(route.path)
        match = route.path_regex.match(url.split("?")[0])
        assert match is not None
        values = match.groupdict() | {name: str(2**64) for name in numeric}
        answer = _send(world, channel, method, _path(route.path, values), role)
        if not 400 <= answer.status_code < 500:
            failures.append(f"{route.path}: {answer.status_code}")
    assert failures == []
    assert len(done) > 10


def test_headers_a_page_reads_take_every_payload(world: World) -> None:
    """The language comes from a cookie and Accept-Language as well as ``?lang=``."""
    client = world.browsers["anonymous"]
    failures: list[str] = []
    for kind, value in PAYLOADS.items():
        if kind in ("nul", "surrogate", "bidi"):  # not sendable in a header
            continue
        for name in ("accept-language", "cookie"):
            sent = value if name == "accept-language" else f"lang={value}"
            answer = client.get("/", headers={name: sent})
            _check(answer, f"{name}: {kind}", failures)
    assert failures == []


# ------------------------------------------------------------------ forms


def _form_fields(path: str) -> dict[str, str]:
    if path.endswith(("/dispute", "/repair")):
        return {"grounds": "The fine was paid on the day; the receipt is attached."}
    if path == "/account/sign-in":
        return {"username": "nobody", "password": "wrong password!!", "next": "/account"}
    return dict(FORM_BODIES.get(path, {}))


def _token(client: Any) -> str:
    signed_in = "trustreg_session" in client.cookies
    return csrf(client, "/account" if signed_in else "/account/sign-in")


def test_every_form_field_takes_every_payload(world: World) -> None:
    """Each field of each form of the matrix, with the role allowed to post it: the
    page that answers (often the form again, with what was typed) stays inert."""
    failures: list[str] = []
    for channel, _, path, expected in rows(WRITES):
        if channel != "form" or path.startswith("/review/"):  # decided once: stored test
            continue
        role = _role(expected)
        client = world.browsers[role]
        url = fill(path, world)
        fields = {k: fill(v, world) for k, v in _form_fields(path).items()}
        token = _token(client)
        # A sign-in costs a password hash, and its fields are not checked against each
        # other: all at once.
        groups = [tuple(fields)] if path == "/account/sign-in" else [(n,) for n in fields]
        for names in groups:
            for kind, value in PAYLOADS.items():
                data = fields | dict.fromkeys(names, value) | {"csrf_token": token}
                if path.endswith(("/dispute", "/repair")):
                    files = [("evidence", "r.txt", b"paid\n")]
                    body, headers = multipart_body(data, files), MULTIPART
                else:
                    body, headers = form_body(data), FORM
                answer = client.post(url, content=body, headers=headers)
                _check(answer, f"{path} {names}={kind}", failures)
    assert failures == []


# ------------------------------------------------------------------ JSON


def _record(number: int, **changes: Any) -> dict[str, Any]:
    from tests.feeds import record_row

    row: dict[str, Any] = record_row(900 + number)
    del row["authority"]  # the token's
    return row | changes


def _json(client: Any, url: str, body: Any) -> Response:
    # Serialised by hand: a lone surrogate is sent as its JSON escape, as a client may.
    data = json.dumps(body).encode()
    answer: Response = client.post(url, content=data, headers={"Content-Type": "application/json"})
    return answer


def test_every_json_field_takes_every_payload(world: World) -> None:
    """Records (every column of the feed), watches and decisions: 4xx naming the
    field or stored as data, never 5xx; the stored text comes back verbatim."""
    failures: list[str] = []
    authority, checker, reviewer = (api(world, r) for r in ("authority", "checker", "reviewer"))
    for number, (kind, value) in enumerate(PAYLOADS.items()):
        items = [_record(number * 20 + n, **{c: value}) for n, c in enumerate(RECORD_COLUMNS)]
        _check(_json(authority, "/api/v1/records", items), f"records {kind}", failures)
        for field in ("subject", "webhook_url", "purpose"):
            body = {"subject": str(world.ids["firm"]), "purpose": "credit"} | {field: value}
            _check(_json(checker, "/api/v1/watches", body), f"watch {field} {kind}", failures)
        for field in ("decision", "reasons"):
            body = {"decision": "bogus", "reasons": "x"} | {field: value}
            url = f"/api/v1/disputes/{world.ids['other_dispute']}/decision"
            _check(_json(reviewer, url, body), f"decision {field} {kind}", failures)
            url = f"/api/v1/repairs/{world.ids['other_repair']}/decision"
            _check(_json(reviewer, url, body), f"repair decision {field} {kind}", failures)
    assert failures == []
    assert audit_intact(world.app.state.sessions)


@pytest.mark.parametrize("field", ["summary", "subject_name", "reference"])
def test_a_lone_surrogate_in_a_record_is_a_rejected_field(world: World, field: str) -> None:
    """It cannot be stored (not UTF-8): the item is rejected naming the field."""
    answer = _json(api(world, "authority"), "/api/v1/records", [_record(800, **{field: "x\ud800"})])
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == field


def test_stored_payloads_come_back_verbatim_as_json(world: World, tmp_path: Path) -> None:
    """A record whose text is every payload that can be stored: the API gives it back
    unchanged, as data."""
    text = "' OR 1=1 -- <script>alert(7001)</script> {{7*7777}} \"; DROP TABLE records; --"
    record = _record(700, summary=text, reference="<b>ref</b>' OR '1'='1")
    answer = _json(api(world, "authority"), "/api/v1/records", [record])
    assert answer.status_code == 200, answer.text
    factory = world.app.state.sessions
    from sqlalchemy import select

    from trustreg.store.db import transaction
    from trustreg.store.models import Record

    with transaction(factory) as session:
        stored = session.scalars(select(Record).where(Record.summary == text)).one()
        record_id = stored.id
    got = api(world).get(f"/api/v1/records/{record_id}").json()
    assert got["summary"] == text
    assert got["reference"] == "<b>ref</b>' OR '1'='1"


def test_the_review_note_shows_only_its_own_words(world: World) -> None:
    """``?done=`` names what was decided; other text is not shown as the registry's."""
    reviewer = world.browsers["reviewer"]
    assert "Decision recorded: dispute-1." in reviewer.get("/review?done=dispute-1").text
    spoof = reviewer.get("/review", params={"done": "nothing; call +1 555 0100 now"})
    assert "Decision recorded" not in spoof.text


def test_the_checks_catch_what_they_look_for() -> None:
    """Live markup and formulas fail the checks; the same text escaped passes."""
    live = '<p><script>alert(1)</script><img src=x onerror="alert(2)">54439</p>'
    assert len(inert_problems(Response(200, html=live))) == 5
    escaped = "<p>&lt;script&gt;alert(1)&lt;/script&gt; {{7*7777}}</p>"
    assert inert_problems(Response(200, html=escaped)) == []
    assert formula_cells("a,=1+1\n-5,'=x,@b\n") == ["formula cell '=1+1'", "formula cell '@b'"]
