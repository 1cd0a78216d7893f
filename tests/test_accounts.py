"""Accounts, sign-in sessions, CSRF and API tokens, against the real app and store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.accounts import PASSWORD, browser, csrf, make_account, sign_in
from trustreg.config import Settings
from trustreg.errors import Conflict, Unauthorized, ValidationError
from trustreg.services import accounts
from trustreg.services.clock import FixedClock
from trustreg.store.db import transaction
from trustreg.store.models_access import Account, ApiToken, WebSession
from trustreg.web.app import create_app


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def app_client(settings: Settings, clock: FixedClock) -> Iterator[TestClient]:
    with browser(create_app(settings, clock)) as client:
        yield client


def factory_of(client: TestClient):  # type: ignore[no-untyped-def]
    return client.app.state.sessions  # type: ignore[attr-defined]


def test_passwords_sessions_and_tokens_are_kept_only_as_hashes(app_client: TestClient) -> None:
    factory = factory_of(app_client)
    make_account(factory, "bank", "checker")
    sign_in(app_client, "bank")
    _, token = accounts.issue_api_token(factory, "bank", ["read"], FixedClock().now())
    cookie = app_client.cookies.get("trustreg_session")
    with transaction(factory) as session:
        stored = session.scalar(select(Account.password_hash).where(Account.username == "bank"))
        sessions = list(session.scalars(select(WebSession.id)))
        hashes = list(session.scalars(select(ApiToken.token_hash)))
    assert stored
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert cookie
    assert cookie not in sessions
    assert len(sessions) == 1
    assert token not in hashes
    assert len(hashes) == 1


def test_sign_in_sets_a_secure_http_only_cookie_and_sign_out_ends_it(
    app_client: TestClient,
) -> None:
    make_account(factory_of(app_client), "bank", "checker")
    token = csrf(app_client)
    answer = app_client.post(
        "/account/sign-in",
        data={"username": "bank", "password": PASSWORD, "csrf_token": token, "next": "/lists"},
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/lists"
    cookie = answer.headers["set-cookie"]
    assert "trustreg_session=" in cookie
    assert "HttpOnly" in cookie
    assert "Secure" in cookie
    assert "SameSite=lax" in cookie
    page = app_client.get("/account")
    assert page.status_code == 200
    assert "bank Ltd" in page.text
    app_client.post("/account/sign-out", data={"csrf_token": csrf(app_client, "/account")})
    assert app_client.get("/account").status_code == 303  # back to the sign-in page


def test_a_wrong_password_or_unknown_user_is_refused_alike(app_client: TestClient) -> None:
    make_account(factory_of(app_client), "bank", "checker")
    for username, password in (("bank", "wrong password!!"), ("nobody", PASSWORD)):
        answer = app_client.post(
            "/account/sign-in",
            data={"username": username, "password": password, "csrf_token": csrf(app_client)},
        )
        assert answer.status_code == 401
        assert "username or password is wrong" in answer.text
        assert "trustreg_session" not in answer.headers.get("set-cookie", "")


def test_a_form_without_the_right_csrf_token_is_refused(app_client: TestClient) -> None:
    make_account(factory_of(app_client), "bank", "checker")
    csrf(app_client)  # the browser has its anonymous cookie
    for token in ("", "0" * 64):
        answer = app_client.post(
            "/account/sign-in",
            data={"username": "bank", "password": PASSWORD, "csrf_token": token},
        )
        assert answer.status_code == 403
        assert "security token" in answer.text
    # Another browser's token does not fit this one's cookie.
    with browser(app_client.app) as other:  # type: ignore[arg-type]
        foreign = csrf(other)
    answer = app_client.post(
        "/account/sign-in", data={"username": "bank", "password": PASSWORD, "csrf_token": foreign}
    )
    assert answer.status_code == 403


def test_a_session_expires_with_the_clock(app_client: TestClient, clock: FixedClock) -> None:
    make_account(factory_of(app_client), "bank", "checker")
    sign_in(app_client, "bank")
    assert app_client.get("/account").status_code == 200
    clock.advance(hours=8, seconds=1)
    assert app_client.get("/account").status_code == 303


def test_tokens_are_scoped_expiring_and_revocable(
    app_client: TestClient, clock: FixedClock
) -> None:
    factory = factory_of(app_client)
    make_account(factory, "bank", "checker")
    with pytest.raises(ValidationError, match="cannot have review"):
        accounts.issue_api_token(factory, "bank", ["review"], clock.now())
    token_id, token = accounts.issue_api_token(factory, "bank", ["read"], clock.now(), days=1)
    with transaction(factory) as session:
        actor = accounts.actor_for_token(session, token, clock.now())
    assert actor is not None
    assert actor.scopes == frozenset({"read"})
    assert not actor.may("check")
    with transaction(factory) as session, pytest.raises(Unauthorized):
        accounts.actor_for_token(session, token, clock.now() + timedelta(days=1, seconds=1))
    accounts.revoke_api_token(factory, token_id, clock.now(), "test")
    with transaction(factory) as session, pytest.raises(Unauthorized, match="revoked"):
        accounts.actor_for_token(session, token, clock.now())


def test_a_disabled_account_loses_its_sessions_and_tokens(app_client: TestClient) -> None:
    factory = factory_of(app_client)
    make_account(factory, "bank", "checker")
    sign_in(app_client, "bank")
    _, token = accounts.issue_api_token(factory, "bank", [], FixedClock().now())
    accounts.set_disabled(factory, "bank", True, FixedClock().now(), "test")
    assert app_client.get("/account").status_code == 303
    with transaction(factory) as session, pytest.raises(Unauthorized):
        accounts.actor_for_token(session, token, FixedClock().now())


def test_account_rules_are_checked(app_client: TestClient) -> None:
    factory = factory_of(app_client)
    now = FixedClock().now()
    with pytest.raises(ValidationError, match="password"):
        accounts.create_account(factory, "short", "too short", "checker", now)
    with pytest.raises(ValidationError, match="role"):
        accounts.create_account(factory, "boss", PASSWORD, "king", now)
    with pytest.raises(ValidationError, match="authority"):
        accounts.create_account(factory, "court", PASSWORD, "authority", now)
    make_account(factory, "bank", "checker")
    with pytest.raises(Conflict):
        accounts.create_account(factory, "bank", PASSWORD, "checker", now)


def test_the_account_page_issues_a_token_once_and_revokes_it(app_client: TestClient) -> None:
    make_account(factory_of(app_client), "bank", "checker")
    sign_in(app_client, "bank")
    page = app_client.post(
        "/account/tokens",
        data={"csrf_token": csrf(app_client, "/account"), "label": "erp", "scope": ["read"]},
    )
    assert page.status_code == 200
    assert "trk_" in page.text
    assert "trk_" not in app_client.get("/account").text  # shown only once
    listed = accounts.list_api_tokens(factory_of(app_client), "bank")
    assert listed[0]["scopes"] == ["read"]
    assert not listed[0]["revoked"]
    token_id = listed[0]["id"]
    app_client.post(
        f"/account/tokens/{token_id}/revoke", data={"csrf_token": csrf(app_client, "/account")}
    )
    assert accounts.list_api_tokens(factory_of(app_client), "bank")[0]["revoked"]
