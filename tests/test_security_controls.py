"""The security controls of issue 8 (web/security.py, services/lockout.py), against the
real app and store: security headers on every kind of answer, 413 for oversized
bodies, 429 with Retry-After over the rate limits, and the sign-in lock-out.

Limits are set small here; a FixedClock stands in for the time, so a window passes
with ``clock.advance`` rather than by waiting.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.accounts import PASSWORD, browser, csrf, make_account, sign_in
from tests.feeds import cli_url, run_cli, run_import, subject_row, uscc, write_subjects
from tests.test_browser import CHROMIUM, launch, served
from trustreg.config import REPO_ROOT, Settings
from trustreg.errors import Unauthorized
from trustreg.services import accounts, registry
from trustreg.services.clock import FixedClock
from trustreg.services.lockout import Lockout
from trustreg.store.db import make_engine, transaction
from trustreg.store.models import AuditEntry, Record, Subject
from trustreg.web import api_docs, security
from trustreg.web.app import create_app

__all__ = ["served"]  # the browser tests' fixture

TEMPLATES = REPO_ROOT / "src" / "trustreg" / "web" / "templates"
SMALL = {
    "max_body_bytes": 4096,
    "max_upload_bytes": 16384,
    "limit_sign_ins_per_minute": 0,
    "limit_sign_ins_per_user_per_minute": 0,
    "limit_checks_per_minute": 3,
    "limit_screenings_per_minute": 2,
    "lockout_failures": 3,
    "lockout_minutes": 15,
}
COMPANY_CSV = "ref,name\n1,北京华信科技有限公司\n"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@contextmanager
def serving(settings: Settings, clock: FixedClock, **limits: int) -> Iterator[TestClient]:
    """A browser on the app with small limits (``SMALL``, changed by ``limits``)."""
    app = create_app(settings.model_copy(update=SMALL | limits), clock)
    with browser(app) as client:  # with its lifespan: screenings end before the store
        yield client


@pytest.fixture
def client(sqlite_settings: Settings, clock: FixedClock) -> Iterator[TestClient]:
    """Limits and headers need no second backend: they never reach the store."""
    with serving(sqlite_settings, clock) as client:
        yield client


@pytest.fixture
def store_client(settings: Settings, clock: FixedClock) -> Iterator[TestClient]:
    """The lock-out lives in the store: on every backend."""
    with serving(settings, clock) as client:
        yield client


def factory_of(client: TestClient) -> sessionmaker[Session]:
    found: sessionmaker[Session] = client.app.state.sessions
    return found


# ---------------------------------------------------------------------- headers


def assert_secured(answer: httpx.Response) -> None:
    headers = answer.headers
    policy = headers["content-security-policy"]
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ):
        assert directive in policy
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "DENY"
    assert "camera=()" in headers["permissions-policy"]
    assert "geolocation=()" in headers["permissions-policy"]
    assert headers["cross-origin-opener-policy"] == "same-origin"


def test_every_kind_of_answer_carries_the_security_headers(client: TestClient) -> None:
    def boom() -> None:
        raise RuntimeError("an unexpected failure")

    client.app.add_api_route("/api/v1/boom", boom)
    answers = {
        "page": client.get("/"),
        "api": client.get("/api/v1/lists"),
        "static": client.get("/static/portal.css"),
        "page 404": client.get("/no-such-page"),
        "api 404": client.get("/api/v1/no-such-thing"),
        "api 422": client.get("/api/v1/check"),
        "docs": client.get("/api/docs"),
    }
    with TestClient(client.app, raise_server_exceptions=False) as plain:
        answers["api 500"] = plain.get("/api/v1/boom")
    statuses = {what: answer.status_code for what, answer in answers.items()}
    assert statuses == {
        "page": 200,
        "api": 200,
        "static": 200,
        "page 404": 404,
        "api 404": 404,
        "api 422": 422,
        "docs": 200,
        "api 500": 500,
    }
    for answer in answers.values():
        assert_secured(answer)
    # HSTS over HTTPS (secure cookies); never pinned on a plain-HTTP development host.
    assert answers["page"].headers["strict-transport-security"] == "max-age=31536000"
    assert "strict-transport-security" not in answers["api 500"].headers
    # Public answers to anonymous visitors may be cached; the 500's body is problem+json.
    assert "no-store" not in answers["page"].headers.get("cache-control", "")
    assert answers["api 500"].headers["content-type"] == "application/problem+json"


def test_hsts_always_in_production(sqlite_settings: Settings) -> None:
    production = sqlite_settings.model_copy(update={"environment": "production"})
    with TestClient(create_app(production)) as plain:  # http: TLS ends at a proxy
        assert plain.get("/api/v1/lists").headers["strict-transport-security"]


def test_personal_answers_are_never_stored(client: TestClient, tmp_path: Path) -> None:
    factory = factory_of(client)
    run_import(factory, "subjects", write_subjects(tmp_path / "s.csv", [subject_row(1)]))
    make_account(factory, "bank", "checker")
    assert client.get("/account/sign-in").headers["cache-control"] == "no-store"
    sign_in(client, "bank")
    for path in ("/account", "/", "/feed", "/api/v1/watches"):
        assert client.get(path).headers["cache-control"] == "no-store", path
    # The stylesheet stays cacheable for a signed-in browser too.
    assert "no-store" not in client.get("/static/portal.css").headers.get("cache-control", "")
    _, token = accounts.issue_api_token(factory, "bank", (), client.app.state.clock.now())
    bearer = {"Authorization": f"Bearer {token}"}
    path = f"/api/v1/subjects?identifier=uscc:{uscc(1)}"
    with TestClient(client.app) as api:
        # The route allows caching with revalidation (an ETag) to anyone; a signed-in
        # answer (where a person's would be) must not be kept at all.
        public = api.get(path)
        assert (public.status_code, public.headers["cache-control"]) == (200, "no-cache")
        answer = api.get(path, headers=bearer)
        assert (answer.status_code, answer.headers["cache-control"]) == (200, "no-store")
        assert answer.headers["etag"] == public.headers["etag"]


INLINE = {
    "<style> element": re.compile(r"<style[\s>]", re.I),
    "style attribute": re.compile(r"\sstyle\s*=", re.I),
    "inline <script>": re.compile(r"<script(?![^>]*\ssrc=)[^>]*>", re.I),
    "event handler attribute": re.compile(r"\son[a-z]+\s*=", re.I),
    "hx-on attribute": re.compile(r"\shx-on", re.I),
    "javascript: URL": re.compile(r"javascript:", re.I),
}


def test_no_page_needs_unsafe_inline() -> None:
    """The CSP refuses inline style and script: no template the browser gets has any
    (the two PDF templates are rendered by WeasyPrint, never served as pages)."""
    found = []
    sources = {p.name: p.read_text(encoding="utf-8") for p in TEMPLATES.glob("*.html")}
    sources["api_docs.PAGE"] = api_docs.PAGE
    for name, text in sources.items():
        if name.endswith("_pdf.html"):
            continue
        found += [f"{name}: {what}" for what, pattern in INLINE.items() if pattern.search(text)]
    assert found == []
    assert '"includeIndicatorStyles":false' in sources["base.html"]


# --------------------------------------------------------------------- body size


def test_oversized_bodies_get_413_before_they_are_parsed(client: TestClient) -> None:
    json_body = b"[" + b"1," * 3000 + b"1]"  # 6 KB of JSON, over 4 KB
    answer = client.post(
        "/api/v1/records", content=json_body, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 413
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["title"] == "Payload too large"
    assert "at most 4,096" in answer.json()["detail"]
    assert_secured(answer)
    # Under the limit the same request reaches the route (which wants an authority).
    small = client.post("/api/v1/records", json=[], headers={"content-type": "application/json"})
    assert small.status_code == 401

    token = csrf(client)
    form = {"username": "x" * 5000, "password": "p", "csrf_token": token}
    page = client.post("/account/sign-in", data=form)
    assert page.status_code == 413
    assert page.headers["content-type"].startswith("text/html")  # the error page
    assert "Payload too large" in page.text
    form["username"] = "nobody"
    assert client.post("/account/sign-in", data=form).status_code == 401


def test_uploads_have_their_own_larger_limit(client: TestClient) -> None:
    evidence = {"evidence": ("receipt.pdf", b"%PDF-1.4 " + b"0" * 20000, "application/pdf")}
    too_big = client.post("/api/v1/records/1/disputes", files=evidence)
    assert too_big.status_code == 413  # before the route asks who is sending it
    assert "at most 16,384" in too_big.json()["detail"]
    fits = {"evidence": ("receipt.pdf", b"%PDF-1.4 " + b"0" * 8000, "application/pdf")}
    assert client.post("/api/v1/records/1/disputes", files=fits).status_code == 401
    # A CSV file between the two limits is an upload, not a JSON body.
    path = "/api/v1/eligibility/batch?decision=public_procurement"
    bidders = "identifier\n" + "uscc:91110000802100433B\n" * 400  # about 10 KB
    csv = {"content-type": "text/csv"}
    assert client.post(path, content=bidders.encode(), headers=csv).status_code == 200
    assert client.post(path, content=(bidders * 2).encode(), headers=csv).status_code == 413


def test_a_chunked_body_is_counted_as_it_streams(client: TestClient) -> None:
    def chunks(count: int) -> Iterator[bytes]:
        yield b"["
        for _ in range(count):
            yield b"1," * 100
        yield b"1]"

    json_type = {"content-type": "application/json"}
    over = client.post("/api/v1/records", content=chunks(30), headers=json_type)
    assert over.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in over.request.headers
    assert over.status_code == 413
    assert over.json()["title"] == "Payload too large"
    under = client.post("/api/v1/records", content=chunks(3), headers=json_type)
    assert under.status_code == 422  # read in full and parsed: numbers are no records
    page = client.post(
        "/account/sign-in",
        content=chunks(30),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert page.status_code == 413
    assert page.headers["content-type"].startswith("text/html")


# --------------------------------------------------------------------- rate limits


def assert_throttled(answer: httpx.Response, *, api: bool = True) -> int:
    assert answer.status_code == 429, answer.text
    headers = answer.headers
    wait = int(headers["retry-after"])
    assert 1 <= wait <= 60
    if api:
        body = answer.json()
        assert headers["content-type"] == "application/problem+json"
        assert body["title"] == "Too many requests"
        assert f"{wait} s" in body["detail"]
    else:
        assert headers["content-type"].startswith("text/html")
    assert_secured(answer)
    return wait


def test_checks_are_limited_per_address_and_per_account(
    client: TestClient, clock: FixedClock
) -> None:
    check = {"name": "北京华信科技有限公司"}
    assert [client.get("/api/v1/check", params=check).status_code for _ in range(3)] == [200] * 3
    wait = assert_throttled(client.get("/api/v1/check", params=check))
    assert wait == 20  # 3 a minute: one more every 20 seconds
    # The portal's search is a check too, answered with the error page.
    assert_throttled(client.get("/search", params={"q": "华信"}), api=False)

    # A checker's token has the account's own bucket, shared by its tokens.
    factory = factory_of(client)
    make_account(factory, "bank", "checker")
    tokens = [accounts.issue_api_token(factory, "bank", (), clock.now())[1] for _ in range(2)]
    bearers = [{"Authorization": f"Bearer {t}"} for t in tokens]
    got = [client.get("/api/v1/check", params=check, headers=bearers[i % 2]) for i in range(4)]
    assert [a.status_code for a in got] == [200, 200, 200, 429]

    clock.advance(seconds=wait - 1)
    assert client.get("/api/v1/check", params=check).status_code == 429
    clock.advance(seconds=1)
    assert client.get("/api/v1/check", params=check).status_code == 200
    clock.advance(seconds=60)  # a whole minute: the full allowance again
    assert [client.get("/api/v1/check", params=check).status_code for _ in range(3)] == [200] * 3


def test_screenings_are_limited(client: TestClient, clock: FixedClock) -> None:
    path = "/api/v1/screenings"
    csv = {"content-type": "text/csv"}
    sent = [client.post(path, content=COMPANY_CSV.encode(), headers=csv) for _ in range(2)]
    assert [a.status_code for a in sent] == [202, 202]
    assert_throttled(client.post(path, content=COMPANY_CSV.encode(), headers=csv))
    tender = "/api/v1/eligibility/batch?decision=public_procurement"
    assert_throttled(client.post(tender, content=b"identifier\n", headers=csv))
    clock.advance(seconds=30)
    assert client.post(path, content=COMPANY_CSV.encode(), headers=csv).status_code == 202


def test_sign_ins_are_limited_per_address_and_per_username(
    sqlite_settings: Settings, clock: FixedClock
) -> None:
    limits = {"limit_sign_ins_per_minute": 4, "limit_sign_ins_per_user_per_minute": 2}
    with serving(sqlite_settings, clock, **limits) as client:
        token = csrf(client)

        def attempt(username: str) -> httpx.Response:
            form = {"username": username, "password": "wrong password!", "csrf_token": token}
            return client.post("/account/sign-in", data=form)

        assert [attempt("alice").status_code for _ in range(2)] == [401, 401]
        assert_throttled(attempt("alice"), api=False)  # the username's two a minute
        assert attempt("bob").status_code == 401
        # The address's four a minute: every attempt counts, the throttled one too.
        assert_throttled(attempt("carol"), api=False)
        clock.advance(seconds=60)
        assert attempt("alice").status_code == 401


# ----------------------------------------------------------------------- lock-out


def post_sign_in(client: TestClient, username: str, password: str) -> httpx.Response:
    form = {"username": username, "password": password, "csrf_token": csrf(client)}
    return client.post("/account/sign-in", data=form)


def alert(answer: httpx.Response) -> str:
    found = re.search(r'role="alert">([^<]+)<', answer.text)
    assert found, answer.text
    return found.group(1)


def lock_entries(factory: sessionmaker[Session]) -> list[AuditEntry]:
    with transaction(factory) as session:
        query = select(AuditEntry).where(AuditEntry.action == "account.lock")
        return list(session.scalars(query))


def test_repeated_failures_lock_the_account_for_a_while(
    store_client: TestClient, clock: FixedClock
) -> None:
    client = store_client
    factory = factory_of(client)
    make_account(factory, "alice", "checker")
    _, token = accounts.issue_api_token(factory, "alice", (), clock.now())
    unknown = post_sign_in(client, "nobody", "wrong password!")
    assert unknown.status_code == 401
    for _ in range(3):
        wrong = post_sign_in(client, "alice", "wrong password!")
        assert (wrong.status_code, alert(wrong)) == (401, alert(unknown))
    [entry] = lock_entries(factory)
    assert (entry.actor, entry.target) == ("anonymous", "account:alice")
    assert json.loads(entry.detail)["failures"] == 3
    # Locked: the right password gets the very answer a wrong one or a stranger gets.
    locked = post_sign_in(client, "alice", PASSWORD)
    assert (locked.status_code, alert(locked)) == (401, alert(unknown))
    assert "locked" in alert(locked)
    view = accounts.get_account(factory, "alice")
    assert view.locked(clock.now())
    assert view.to_dict()["locked_until"] == (clock.now() + timedelta(minutes=15)).isoformat()
    # The account's API token goes on working.
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/watches", headers=bearer).status_code == 200

    clock.advance(minutes=14, seconds=59)
    assert post_sign_in(client, "alice", PASSWORD).status_code == 401
    clock.advance(seconds=1)
    assert post_sign_in(client, "alice", PASSWORD).status_code == 303
    assert len(lock_entries(factory)) == 1


def test_a_good_sign_in_and_a_passing_window_forget_the_failures(
    store_client: TestClient, clock: FixedClock
) -> None:
    client = store_client
    make_account(factory_of(client), "alice", "reviewer")
    for _ in range(2):
        assert post_sign_in(client, "alice", "wrong password!").status_code == 401
    sign_in(client, "alice")  # the count starts again
    client.cookies.clear()
    for _ in range(2):
        assert post_sign_in(client, "alice", "wrong password!").status_code == 401
    clock.advance(minutes=15)  # the window of these two has passed
    assert post_sign_in(client, "alice", "wrong password!").status_code == 401
    assert post_sign_in(client, "alice", PASSWORD).status_code == 303
    assert lock_entries(factory_of(client)) == []


def test_the_operator_unlocks_and_enabling_unlocks(
    store_client: TestClient, clock: FixedClock
) -> None:
    client = store_client
    factory = factory_of(client)
    make_account(factory, "alice", "representative")
    lockout = Lockout(failures=2, minutes=15)
    for _ in range(2):
        with pytest.raises(Unauthorized):
            accounts.sign_in(factory, "alice", "wrong password!", clock.now(), 1, lockout)
    assert post_sign_in(client, "alice", PASSWORD).status_code == 401
    assert accounts.unlock(factory, "alice", clock.now(), "cli") is True
    assert post_sign_in(client, "alice", PASSWORD).status_code == 303
    assert accounts.unlock(factory, "alice", clock.now(), "cli") is False

    for _ in range(2):
        with pytest.raises(Unauthorized):
            accounts.sign_in(factory, "alice", "wrong password!", clock.now(), 1, lockout)
    accounts.set_disabled(factory, "alice", True, clock.now(), "cli")
    accounts.set_disabled(factory, "alice", False, clock.now(), "cli")
    assert accounts.sign_in(factory, "alice", PASSWORD, clock.now(), 1, lockout)
    with transaction(factory) as session:
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.target == "account:alice")
        )
        assert list(actions).count("account.unlock") == 1


def test_no_lockout_when_turned_off(sqlite_settings: Settings, clock: FixedClock) -> None:
    with serving(sqlite_settings, clock, lockout_failures=0) as client:
        make_account(factory_of(client), "alice", "checker")
        for _ in range(5):
            assert post_sign_in(client, "alice", "wrong password!").status_code == 401
        assert post_sign_in(client, "alice", PASSWORD).status_code == 303


def test_accounts_unlock_command(tmp_path: Path) -> None:
    engine = make_engine(cli_url(tmp_path))
    factory = registry.initialise(engine, REPO_ROOT / "rulebooks" / "model.toml")
    make_account(factory, "alice", "checker")
    clock = FixedClock()
    for _ in range(5):
        with pytest.raises(Unauthorized):
            accounts.sign_in(factory, "alice", "wrong password!", clock.now(), 1)
    with pytest.raises(Unauthorized):
        accounts.sign_in(factory, "alice", PASSWORD, clock.now(), 1)
    done = run_cli(tmp_path, "accounts", "unlock", "alice")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "account alice unlocked"
    assert accounts.sign_in(factory, "alice", PASSWORD, clock.now(), 1)
    engine.dispose()


# ------------------------------------------------------------------ the limiter


def test_the_limiter_forgets_idle_buckets_and_refuses_none_when_off() -> None:
    limiter = security.RateLimiter({"checks": 2, "off": 0})
    assert [limiter.take("checks", "a", 0.0) for _ in range(3)] == [0, 0, 30]
    assert all(limiter.take("off", "a", 0.0) == 0 for _ in range(100))
    assert limiter.take("checks", "a", -100.0) == 30  # a clock set back gives nothing
    assert limiter.take("checks", "a", 30.0) == 0


# ------------------------------------------------------ the policy in a real browser

WATCH_CSP = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  window.__violations.push(`${e.violatedDirective} ${e.blockedURI} ${where}`);
});
"""
SELF_CHECK = '<!doctype html><html lang="en"><title>x</title><p style="color:red">x</p></html>'


class Violations:
    """Every CSP violation a page reports (event) or the console logs, with its URL."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.found: list[str] = []
        page.on("console", self._console)

    def _console(self, message: Any) -> None:
        text = message.text
        if "Content Security Policy" in text or "Permissions-Policy" in text:
            self.found.append(f"{self.page.url}: console: {text}")

    def visit(self, url: str) -> None:
        self.page.goto(url)
        self.collect()

    def collect(self) -> None:
        self.page.wait_for_load_state("load")
        seen = self.page.evaluate("window.__violations || []")
        self.found += [f"{self.page.url}: {v}" for v in seen]


def signed_in_pages(served: str, settings: Settings) -> dict[str, list[str]]:
    """Accounts in the served registry, and the pages each of them sees."""
    engine = make_engine(settings.sqlalchemy_url)
    factory = registry.initialise(engine, settings.rulebook)
    with transaction(factory) as session:
        subject = session.scalar(select(Subject.id))
        record = session.scalar(select(Record.id))
    make_account(factory, "zhang", "representative", subjects=(subject,))
    make_account(factory, "officer", "reviewer")
    make_account(factory, "bank", "checker")
    engine.dispose()
    own = ["/account", f"/my-file/{subject}", "/feed", f"/records/{record}/dispute"]
    return {
        "zhang": [*own, f"/records/{record}/repair"],
        "officer": ["/review", "/account"],
        "bank": ["/watches", "/feed", f"/subjects/{subject}"],
    }


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (make test installs it)")
def test_no_page_violates_the_content_security_policy(
    served: str, sqlite_settings: Settings
) -> None:
    from playwright.sync_api import sync_playwright

    from tests.test_accessibility import pages_of_the_registry

    accounts_pages = signed_in_pages(served, sqlite_settings)
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        context = chromium.new_context()
        context.add_init_script(WATCH_CSP)
        page = context.new_page()
        watch = Violations(page)
        # The watch works: a page with an inline style under the policy is caught.
        policy = {"content-type": "text/html", "content-security-policy": security.CSP}
        page.route(f"{served}/csp-self-check", lambda r: r.fulfill(body=SELF_CHECK, headers=policy))
        watch.visit(f"{served}/csp-self-check")
        assert any("style-src" in v for v in watch.found), watch.found
        watch.found.clear()

        for url in [*pages_of_the_registry(served, page), f"{served}/account/sign-in"]:
            watch.visit(url)
        watch.visit(served)  # the search form works through htmx
        page.fill("#q", "北京星河科技")
        page.click("button[type=submit]")
        page.wait_for_url("**/search?*")
        watch.collect()
        for username, paths in accounts_pages.items():
            context.clear_cookies()
            watch.visit(f"{served}/account/sign-in")
            page.fill("#username", username)
            page.fill("#password", PASSWORD)
            page.click("main button[type=submit]")
            page.wait_for_url("**/account")
            for path in paths:
                watch.visit(served + path)
        chromium.close()
    assert watch.found == []
