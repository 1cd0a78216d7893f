# ruff: noqa: E501  (the matrix is a table: one request per line)
"""The authorization matrix: every role × every endpoint and page × own and other
subject, with the expected answer written out, run against the real app.

Rows name a channel (``api``: the role's bearer token with all its scopes; ``page``:
the role's signed-in browser; ``form``: the same browser posting a form with its own
CSRF token), a method and a path. ``{own}`` is the person the representative speaks
for, ``{other}`` another person, ``{firm}`` a company; ``*_record`` are their court
judgments, ``*_penalty`` and ``*_fine`` administrative penalties, ``*_dispute`` and
``*_repair`` the dispute and repair application waiting for the reviewer, ``*_evidence``
the files sent with them. ``unverified`` is a checker the operator has not verified.

Answers: 200, 201 and 303 (a form accepted, or a page sending an anonymous visitor to
sign in) allow; 401 (sign in), 403 (not allowed) and 404 (a representative asking for
another subject's file: whether it exists is not told) deny. Read rows share one
registry; each write row gets a fresh one, since the one allowed write changes it.

Run ``python -m tests.test_authorization`` to print the answers the app gives now, in
this table's layout, when a row is added.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from starlette.routing import Route

from tests.accounts import csrf
from tests.authz_world import OTHER, OWN, ROLES, World, serving
from tests.conftest import RULEBOOK
from tests.feeds import uscc
from trustreg.config import Settings
from trustreg.web.app import create_app

# fmt: off
READS = """
#    method path                                                     anonymous operator authority checker unverified representative reviewer
api  GET    /api/v1/subjects/{firm}                                        200 200 200 200 200 200 200
api  GET    /api/v1/subjects/{own}?purpose=credit                          401 403 403 200 403 200 200
api  GET    /api/v1/subjects/{other}?purpose=credit                        401 403 403 200 403 403 200
api  GET    /api/v1/subjects/{own}                                         401 403 403 403 403 200 200
api  GET    /api/v1/subjects/{own}/assessment?purpose=credit               401 403 403 200 403 200 200
api  GET    /api/v1/subjects/{other}/assessment?purpose=credit             401 403 403 200 403 403 200
api  GET    /api/v1/subjects?identifier=ric:{OWN}&purpose=credit           401 403 403 200 403 200 403
api  GET    /api/v1/subjects?identifier=ric:{OTHER}&purpose=credit         401 403 403 200 403 403 403
api  GET    /api/v1/records/{firm_record}                                  200 200 200 200 200 200 200
api  GET    /api/v1/records/{listed_record}                                200 200 200 200 200 200 200
api  GET    /api/v1/records/{own_record}?purpose=credit                    401 403 403 200 403 200 200
api  GET    /api/v1/records/{other_record}?purpose=credit                  401 403 403 200 403 403 200
api  GET    /api/v1/subjects/{own}/file                                    401 403 403 403 403 200 403
api  GET    /api/v1/subjects/{other}/file                                  401 403 403 403 403 404 403
api  GET    /api/v1/subjects/{firm}/file                                   401 403 403 403 403 404 403
api  GET    /api/v1/check?name=王芳&kind=individual&purpose=credit           401 403 403 200 403 403 403
api  GET    /api/v1/check?name=北京华信1号科技有限公司                                200 200 200 200 200 200 200
api  GET    /api/v1/eligibility?subject=ric:{OWN}&decision=public_procurement&purpose=procurement 401 403 403 200 403 403 403
api  GET    /api/v1/disputes                                               401 403 403 403 403 403 200
api  GET    /api/v1/disputes/{own_dispute}                                 401 403 403 403 403 200 200
api  GET    /api/v1/disputes/{other_dispute}                               401 403 403 403 403 403 200
api  GET    /api/v1/repairs                                                401 403 403 403 403 403 200
api  GET    /api/v1/repairs/{own_repair}                                   401 403 403 403 403 200 200
api  GET    /api/v1/repairs/{other_repair}                                 401 403 403 403 403 403 200
api  GET    /api/v1/evidence/{own_evidence}                                401 403 403 403 403 200 200
api  GET    /api/v1/evidence/{other_evidence}                              401 403 403 403 403 403 200
api  GET    /api/v1/watches                                                401 403 403 200 200 403 403
api  GET    /api/v1/feed                                                   401 200 200 200 200 200 200
api  GET    /api/v1/lists                                                  200 200 200 200 200 200 200
api  GET    /api/v1/statistics                                             200 200 200 200 200 200 200
page GET    /                                                              200 200 200 200 200 200 200
page GET    /subjects/{firm}                                               200 200 200 200 200 200 200
page GET    /subjects/{own}                                                gate 403 403 gate 403 200 200
page GET    /subjects/{other}                                              gate 403 403 gate 403 403 200
page GET    /records/{firm_record}                                         200 200 200 200 200 200 200
page GET    /subjects/{listed}                                             gate 403 403 gate 403 403 403
page GET    /records/{listed_record}                                       200 200 200 200 200 200 200
page GET    /records/{own_record}                                          gate 403 403 gate 403 200 200
page GET    /records/{other_record}                                        gate 403 403 gate 403 403 200
page GET    /records/{own_fine}/dispute                                    401 403 403 403 403 200 403
page GET    /records/{other_fine}/dispute                                  401 403 403 403 403 403 403
page GET    /records/{own_fine}/repair                                     401 403 403 403 403 200 403
page GET    /my-file/{own}                                                 303 403 403 403 403 200 403
page GET    /my-file/{own}.json                                            401 403 403 403 403 200 403
page GET    /my-file/{own}.pdf                                             401 403 403 403 403 200 403
page GET    /my-file/{other}                                               303 403 403 403 403 404 403
page GET    /review                                                        401 403 403 403 403 403 200
page GET    /review/evidence/{own_evidence}                                401 403 403 403 403 200 200
page GET    /review/evidence/{other_evidence}                              401 403 403 403 403 403 200
page GET    /watches                                                       303 403 403 200 200 403 403
page GET    /feed                                                          303 200 200 200 200 200 200
page GET    /account                                                       303 200 200 200 200 200 200
page GET    /subjects/{firm}/certificate                                   200 200 200 200 200 200 200
page GET    /subjects/{own}/certificate                                    404 404 404 404 404 404 404
api  GET    /api/v1/subjects/search?q=北京华信                                 200 200 200 200 200 200 200
api  GET    /api/v1/eligibility/decisions                                  200 200 200 200 200 200 200
api  GET    /api/v1/eligibility?subject=uscc:{FIRM}&decision=public_procurement 200 200 200 200 200 200 200
api  GET    /api/v1/lists/dishonest_defaulters/entries                     200 200 200 200 200 200 200
api  GET    /api/v1/lists/dishonest_defaulters/entries.csv                 200 200 200 200 200 200 200
api  GET    /api/v1/rulebook                                               200 200 200 200 200 200 200
api  GET    /api/v1/rulebook/versions                                      200 200 200 200 200 200 200
api  GET    /api/v1/rulebook/diff?from=2026.2&to=2026.2                    200 200 200 200 200 200 200
api  GET    /api/v1/certificates/public-key                                200 200 200 200 200 200 200
api  GET    /api/v1/certificates/NOSUCHCODE                                404 404 404 404 404 404 404
api  GET    /api/v1/screenings/{job}                                       404 404 404 200 404 404 404
api  GET    /api/v1/screenings/{job}/result                                404 404 404 200 404 404 404
api  GET    /api/v1/watches/{watch}/deliveries                             401 403 403 200 404 403 403
page GET    /api/openapi.json                                              200 200 200 200 200 200 200
page GET    /api/docs                                                      200 200 200 200 200 200 200
page GET    /search?q=北京华信                                                 200 200 200 200 200 200 200
page GET    /lists                                                         200 200 200 200 200 200 200
page GET    /lists/dishonest_defaulters                                    200 200 200 200 200 200 200
page GET    /statistics                                                    200 200 200 200 200 200 200
page GET    /rulebook                                                      200 200 200 200 200 200 200
page GET    /subjects/{firm}/certificate.pdf                               200 200 200 200 200 200 200
page GET    /verify/NOSUCHCODE                                             404 404 404 404 404 404 404
page GET    /watches/{watch}                                               303 403 403 200 404 403 403
page GET    /account/sign-in                                               200 200 200 200 200 200 200
page GET    /healthz                                                       200 200 200 200 200 200 200
page GET    /readyz                                                        200 200 200 200 200 200 200
api  GET    /metrics                                                       401 200 403 403 403 403 403
"""
WRITES = """
#    method path                                                     anonymous operator authority checker unverified representative reviewer
api  POST   /api/v1/records                                                401 403 200 403 403 403 403
api  POST   /api/v1/records/{own_fine}/disputes                            401 403 403 403 403 201 403
api  POST   /api/v1/records/{other_fine}/disputes                          401 403 403 403 403 403 403
api  POST   /api/v1/disputes/{own_dispute}/decision                        401 403 403 403 403 403 200
api  POST   /api/v1/repairs/{own_repair}/decision                          401 403 403 403 403 403 200
api  POST   /api/v1/watches                                                401 403 403 201 403 403 403
form POST   /records/{own_fine}/dispute                                    401 403 403 403 403 303 403
form POST   /records/{other_fine}/dispute                                  401 403 403 403 403 403 403
form POST   /records/{own_fine}/repair                                     401 403 403 403 403 303 403
form POST   /review/disputes/{own_dispute}                                 401 403 403 403 403 403 303
form POST   /review/repairs/{own_repair}                                   401 403 403 403 403 403 303
form POST   /watches                                                       303 403 403 200 403 403 403
form POST   /subjects/{own}                                                401 403 403 200 403 200 200
api  POST   /api/v1/screenings?purpose=credit                              401 403 403 202 403 403 403
api  POST   /api/v1/eligibility/batch?decision=public_procurement          200 200 200 200 200 200 200
api  DELETE /api/v1/watches/{watch}                                        401 403 403 200 404 403 403
form POST   /watches/{watch}/end                                           303 403 403 303 404 403 403
form POST   /feed/read                                                     303 303 303 303 303 303 303
form POST   /records/{own_record}                                          401 403 403 200 403 200 200
form POST   /search                                                        401 403 403 200 403 403 403
form POST   /account/tokens                                                303 200 200 200 200 200 200
form POST   /account/tokens/{checker_token}/revoke                         303 404 404 303 404 404 404
form POST   /account/sign-in                                               401 401 401 401 401 401 401
form POST   /account/sign-out                                              303 303 303 303 303 303 303
api  POST   /api/v1/records/{own_fine}/repairs                             401 403 403 403 403 201 403
api  POST   /api/v1/records/{other_fine}/repairs                           401 403 403 403 403 403 403
"""
# fmt: on
GATE = 2  # in the tables: the person's gate page (200, nothing of the person shown)
GROUNDS = "The fine was paid on the day it was imposed; the bank's receipt is attached."
JSON_BODIES: dict[str, Any] = {
    "/api/v1/records": [],
    "/api/v1/disputes/{own_dispute}/decision": {"decision": "upheld", "reasons": GROUNDS},
    "/api/v1/repairs/{own_repair}/decision": {"decision": "approved", "reasons": ""},
    "/api/v1/watches": {"subject": "{listed}", "purpose": "credit"},
}
FORM_BODIES: dict[str, dict[str, str]] = {
    "/review/disputes/{own_dispute}": {"decision": "upheld", "reasons": GROUNDS},
    "/review/repairs/{own_repair}": {"decision": "approved", "reasons": ""},
    "/watches": {"subject": "{listed}", "purpose": "credit"},
    "/subjects/{own}": {"purpose": "credit"},
    "/records/{own_record}": {"purpose": "credit"},
    "/search": {"q": "王芳", "purpose": "credit"},
    "/account/tokens": {"label": "erp", "days": "30"},
    "/account/sign-in": {"username": "nobody", "password": "wrong password!!"},
}
CSV_BODIES = {
    "/api/v1/screenings?purpose=credit": "ref,name\n1,北京华信1号科技有限公司\n",
    "/api/v1/eligibility/batch?decision=public_procurement": "identifier\nuscc:{FIRM}\n",
}


def rows(table: str) -> list[tuple[str, str, str, dict[str, int]]]:
    parsed = []
    for line in table.strip().splitlines():
        if line.startswith("#"):
            continue
        channel, method, path, *codes = line.split()
        assert len(codes) == len(ROLES), line
        answers = [GATE if code == "gate" else int(code) for code in codes]
        parsed.append((channel, method, path, dict(zip(ROLES, answers, strict=True))))
    return parsed


def fill(text: str, world: World) -> str:
    return text.format(OWN=OWN, OTHER=OTHER, FIRM=uscc(1), **world.ids)


def call(world: World, role: str, channel: str, method: str, path: str) -> int:
    """The status of one request by ``role`` (``GATE`` for a person's gate page)."""
    url = fill(path, world)
    client = world.browsers[role]
    if channel == "api":
        headers = {} if role == "anonymous" else {"Authorization": f"Bearer {world.tokens[role]}"}
        kwargs = _api_body(world, method, path)
        headers |= kwargs.pop("headers", {})
        # The API clients send no cookies: a token is the only credential.
        with TestClient(world.app, base_url="https://testserver") as bare:
            return bare.request(method, url, headers=headers, **kwargs).status_code
    if channel == "page":
        answer = client.request(method, url)
        # A person's page answers 200 with "who may look" (and a sign-in link or the
        # purpose form) until the visitor is let through: that is not a look.
        if answer.status_code == 200 and 'class="who-may-look"' in answer.text:
            return GATE
        return answer.status_code
    fields = {k: fill(v, world) for k, v in FORM_BODIES.get(path, {}).items()}
    fields["csrf_token"] = _token(client)
    if path.endswith(("/dispute", "/repair")):
        files = {"evidence": ("receipt.txt", b"Receipt: paid.\n", "text/plain")}
        return client.post(url, data=fields | {"grounds": GROUNDS}, files=files).status_code
    return client.post(url, data=fields).status_code


def _api_body(world: World, method: str, path: str) -> dict[str, Any]:
    if method != "POST":
        return {}
    if path in CSV_BODIES:
        body = fill(CSV_BODIES[path], world).encode()
        return {"content": body, "headers": {"Content-Type": "text/csv"}}
    if path.endswith(("/disputes", "/repairs")):
        files = {"evidence": ("receipt.txt", b"Receipt: paid.\n", "text/plain")}
        return {"data": {"grounds": GROUNDS}, "files": files}
    body = JSON_BODIES[path]
    if isinstance(body, dict):
        body = {k: fill(v, world) if isinstance(v, str) else v for k, v in body.items()}
        if body.get("subject", "").isdigit():
            body["subject"] = int(body["subject"])
    return {"json": body}


def _token(client: TestClient) -> str:
    # A page with a form: the sign-in page for a visitor, the account page otherwise.
    signed_in = "trustreg_session" in client.cookies
    return csrf(client, "/account" if signed_in else "/account/sign-in")


def _new_world(tmp_path: Path) -> Iterator[World]:
    settings = Settings(
        environment="test",
        data_dir=tmp_path / "var",
        database_url=f"sqlite:///{tmp_path / 'registry.db'}",
        rulebook=RULEBOOK,
    )
    app = create_app(settings)
    yield from serving(app, tmp_path)


@pytest.fixture(scope="module")
def read_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from _new_world(tmp_path_factory.mktemp("authz"))


@pytest.fixture
def write_world(tmp_path: Path) -> Iterator[World]:
    yield from _new_world(tmp_path)


def _label(row: tuple[str, str, str, dict[str, int]]) -> str:
    return f"{row[0]} {row[1]} {row[2]}"


@pytest.mark.parametrize("row", rows(READS), ids=_label)
def test_reads(read_world: World, row: tuple[str, str, str, dict[str, int]]) -> None:
    channel, method, path, expected = row
    answers = {role: call(read_world, role, channel, method, path) for role in ROLES}
    assert answers == expected


@pytest.mark.parametrize("row", rows(WRITES), ids=_label)
def test_writes(write_world: World, row: tuple[str, str, str, dict[str, int]]) -> None:
    channel, method, path, expected = row
    # The roles that are refused first: the one allowed write must not change what
    # the others would have been answered.
    order = sorted(ROLES, key=lambda role: expected[role] < 400)
    answers = {role: call(write_world, role, channel, method, path) for role in order}
    assert answers == expected


def _routes(routes: Iterable[Any]) -> Iterator[Route]:
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _routes(inner.routes)
        elif isinstance(route, Route):
            yield route


def test_every_route_of_the_app_is_in_the_matrix(read_world: World) -> None:
    """A new endpoint or page cannot go live without its row."""
    asked = [
        (method, urlsplit(fill(path, read_world)).path)
        for _, method, path, _ in rows(READS) + rows(WRITES)
    ]
    missing = [
        f"{method} {route.path}"
        for route in _routes(read_world.app.router.routes)
        for method in sorted((route.methods or set()) - {"HEAD"})
        if not any(m == method and route.path_regex.match(p) for m, p in asked)
    ]
    assert missing == []


def _print_table() -> None:
    """Print the answers the app gives now, in the tables' layout."""
    import tempfile

    for title, table in (("READS", READS), ("WRITES", WRITES)):
        print(title, flush=True)
        with tempfile.TemporaryDirectory() as folder:
            worlds = _new_world(Path(folder))
            world = next(worlds)
            for channel, method, path, _ in rows(table):
                if title == "WRITES":  # a fresh registry for each write row
                    worlds.close()
                    worlds = _new_world(Path(tempfile.mkdtemp()))
                    world = next(worlds)
                answers = (call(world, role, channel, method, path) for role in ROLES)
                codes = ["gate" if code == GATE else str(code) for code in answers]
                print(f"{channel:<4} {method:<4} {path:<64} {' '.join(codes)}", flush=True)
            worlds.close()


if __name__ == "__main__":
    sys.exit(_print_table())
