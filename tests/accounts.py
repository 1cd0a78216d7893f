"""Accounts for tests: one of each role, and browsers signed in as them.

Sessions use ``Secure`` cookies, which the test client sends only to an ``https``
base URL; ``browser()`` opens the app that way. ``csrf()`` reads a page's form token
as a browser would, so a test posts forms exactly like a person does.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from trustreg.services import accounts, registry

PASSWORD = "correct horse battery staple"
AUTHORITY = "court-test"
_TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


def make_account(
    factory: sessionmaker[Session],
    username: str,
    role: str,
    *,
    subjects: tuple[int, ...] = (),
    authority: str | None = None,
    verified: bool = True,
) -> str:
    """Create an account (verified unless told otherwise); returns its username."""
    now = datetime.now(UTC)
    if role == "authority" and authority is None:
        authority = AUTHORITY
        if AUTHORITY not in {a.code for a in registry.list_authorities(factory)}:
            registry.add_authority(factory, AUTHORITY, "court", "Test Court", None, "test")
    accounts.create_account(
        factory, username, PASSWORD, role, now, organisation=f"{username} Ltd", authority=authority
    )
    if verified and role == "checker":
        accounts.verify(factory, username, now, "test")
    for subject_id in subjects:
        accounts.link_subject(factory, username, subject_id, now, "test")
    return username


def browser(app: FastAPI) -> TestClient:
    """A client that keeps cookies over https, like a browser on the real site."""
    return TestClient(app, base_url="https://testserver", follow_redirects=False)


def csrf(client: TestClient, path: str = "/account/sign-in") -> str:
    """The form token a page hands this browser."""
    found = _TOKEN.search(client.get(path).text)
    assert found, f"no csrf token on {path}"
    return found.group(1)


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> TestClient:
    token = csrf(client)
    answer = client.post(
        "/account/sign-in",
        data={"username": username, "password": password, "csrf_token": token},
    )
    assert answer.status_code == 303, answer.text
    return client


def checker_headers(factory: sessionmaker[Session], username: str = "checker1") -> dict[str, str]:
    """A verified checker's bearer token (made once): what a person's look-up needs."""
    if username not in {a.username for a in accounts.list_accounts(factory, "checker")}:
        make_account(factory, username, "checker")
    _, token = accounts.issue_api_token(factory, username, (), datetime.now(UTC))
    return {"Authorization": f"Bearer {token}"}


def find_person(client: TestClient, ric: str, purpose: str = "contract") -> int:
    """A person's subject id, looked up as a verified checker with a purpose."""
    factory = client.app.state.sessions  # type: ignore[attr-defined]
    params = {"identifier": f"ric:{ric}", "purpose": purpose}
    found = client.get("/api/v1/subjects", params=params, headers=checker_headers(factory))
    assert found.status_code == 200, found.text
    value: int = found.json()["id"]
    return value
