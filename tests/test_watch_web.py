"""Watches over the API and on the pages: scopes and roles, persons behind the
purpose gate, the secret shown once, CSRF on every form, the feed in both languages
(both backends, against the real app)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.accounts import browser, csrf, make_account, sign_in
from tests.feeds import record_row, ric, run_import, subject_row, uscc, write_csv, write_subjects
from tests.watching import companies
from trustreg.config import Settings
from trustreg.errors import ValidationError
from trustreg.services import accounts
from trustreg.services.clock import FixedClock
from trustreg.services.webhooks import check_url
from trustreg.store.db import transaction
from trustreg.store.models import AuditEntry, Subject
from trustreg.web.app import create_app

PERSON = ric(7)
RECENT = (datetime.now(UTC) - timedelta(days=30)).date()


def judgment_file(tmp_path: Path) -> Path:
    """A recent judgment against company 1: a record, a listing, grade A to B."""
    row = record_row(
        1,
        subject=1,
        decided_on=(RECENT - timedelta(days=5)).isoformat(),
        effective_from=RECENT.isoformat(),
    )
    return write_csv(tmp_path / "r.csv", [row])


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    quiet = settings.model_copy(update={"webhook_delivery_seconds": 0})
    with browser(create_app(quiet, FixedClock())) as test_client:
        yield test_client


def factory_of(client: TestClient) -> sessionmaker[Session]:
    return client.app.state.sessions  # type: ignore[attr-defined,no-any-return]


def bearer(
    client: TestClient, username: str, role: str, scopes: tuple[str, ...], **kw: Any
) -> dict[str, str]:
    factory = factory_of(client)
    make_account(factory, username, role, **kw)
    _, token = accounts.issue_api_token(factory, username, scopes, datetime.now(UTC))
    return {"Authorization": f"Bearer {token}"}


def add_person(factory: sessionmaker[Session], tmp_path: Path) -> int:
    row = subject_row(
        7,
        kind="individual",
        id_scheme="ric",
        id_value=PERSON,
        name="王五",
        birth_date="1980-05-17",
        registered_on="",
    )
    run_import(factory, "subjects", write_subjects(tmp_path / "person.csv", [row]))
    with transaction(factory) as session:
        return session.scalars(select(Subject.id).where(Subject.display_name == "王五")).one()


def is_problem(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = answer.json()
    assert body["status"] == status
    return body


def test_a_checker_watches_lists_reads_the_log_and_ends_a_watch(
    client: TestClient, tmp_path: Path
) -> None:
    (company,) = companies(factory_of(client), tmp_path, 1)
    auth = bearer(client, "bank", "checker", ("read", "watch"))
    made = client.post(
        "/api/v1/watches",
        json={"subject": f"uscc:{uscc(1)}", "webhook_url": "https://hooks.example.org/in"},
        headers=auth,
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["secret"].startswith("whsec_")
    assert body["subject"] == {
        "id": company,
        "name": "北京华信1号科技有限公司",
        "kind": "legal_entity",
    }
    listed = client.get("/api/v1/watches", headers=auth).json()["watches"]
    assert [w["id"] for w in listed] == [body["id"]]
    assert "secret" not in listed[0]
    assert listed[0]["deliveries"] == {"pending": 0, "delivered": 0, "failed": 0}
    is_problem(client.post("/api/v1/watches", json={"subject": company}, headers=auth), 409)

    run_import(factory_of(client), "records", judgment_file(tmp_path))
    log = client.get(f"/api/v1/watches/{body['id']}/deliveries", headers=auth).json()
    events = [d["event"] for d in log["deliveries"]]
    assert sorted(events) == ["grade.changed", "list.entered", "record.published"]
    assert {d["status"] for d in log["deliveries"]} == {"pending"}
    feed = client.get("/api/v1/feed", headers=auth).json()["feed"]
    assert [n["detail"]["event"] for n in feed] == events  # newest first, like the log

    ended = client.delete(f"/api/v1/watches/{body['id']}", headers=auth)
    assert ended.status_code == 200
    assert ended.json()["ended_at"]
    assert client.get("/api/v1/watches", headers=auth).json()["watches"] == []
    log = client.get(f"/api/v1/watches/{body['id']}/deliveries", headers=auth).json()
    assert {d["status"] for d in log["deliveries"]} == {"failed"}


def test_only_checkers_with_the_watch_scope_may_watch(client: TestClient, tmp_path: Path) -> None:
    (company,) = companies(factory_of(client), tmp_path, 1)
    asked = {"subject": company}
    for path in ("/api/v1/watches", "/api/v1/feed", "/api/v1/watches/1/deliveries"):
        is_problem(client.get(path), 401)
    is_problem(client.post("/api/v1/watches", json=asked), 401)
    is_problem(client.delete("/api/v1/watches/1"), 401)
    representative = bearer(client, "rep", "representative", ("read",), subjects=(company,))
    refused = is_problem(client.post("/api/v1/watches", json=asked, headers=representative), 403)
    assert "representative account cannot watch subjects" in refused["detail"]
    assert client.get("/api/v1/feed", headers=representative).status_code == 200
    read_only = bearer(client, "bank", "checker", ("read", "check"))
    is_problem(client.post("/api/v1/watches", json=asked, headers=read_only), 403)


def test_another_accounts_watch_is_not_found(client: TestClient, tmp_path: Path) -> None:
    (company,) = companies(factory_of(client), tmp_path, 1)
    bank = bearer(client, "bank", "checker", ("watch",))
    shop = bearer(client, "shop", "checker", ("watch",))
    made = client.post("/api/v1/watches", json={"subject": company}, headers=bank).json()
    is_problem(client.get(f"/api/v1/watches/{made['id']}/deliveries", headers=shop), 404)
    is_problem(client.delete(f"/api/v1/watches/{made['id']}", headers=shop), 404)
    assert client.get("/api/v1/watches", headers=shop).json()["watches"] == []


def test_bad_watch_requests_say_what_is_wrong(client: TestClient, tmp_path: Path) -> None:
    companies(factory_of(client), tmp_path, 1)
    auth = bearer(client, "bank", "checker", ("watch",))

    def refused(body: dict[str, Any], status: int) -> dict[str, Any]:
        return is_problem(client.post("/api/v1/watches", json=body, headers=auth), status)

    bad_url = refused({"subject": f"uscc:{uscc(1)}", "webhook_url": "ftp://example.org/x"}, 422)
    assert bad_url["errors"] == [
        {"field": "webhook_url", "reason": "must be an http or https URL with a host"}
    ]
    assert refused({"subject": "uscc:nonsense"}, 422)["errors"][0]["field"] == "subject"
    assert "no subject with identifier" in refused({"subject": f"uscc:{uscc(2)}"}, 404)["detail"]
    refused({"subject": 999999}, 404)
    refused({"subject": f"uscc:{uscc(1)}", "purpose": "curiosity"}, 422)
    refused({}, 422)


def test_webhook_urls_in_production_must_be_https_to_a_public_host() -> None:
    assert check_url("http://127.0.0.1:8080/hook", production=False)
    assert (
        check_url(" https://hooks.example.org/in ", production=True)
        == "https://hooks.example.org/in"
    )
    for url, reason in (
        ("http://hooks.example.org/in", "must be an https URL"),
        ("https://127.0.0.1/in", "is not a public address"),
        ("https://10.1.2.3/in", "is not a public address"),
        ("https://[::1]/in", "is not a public address"),
        ("https://localhost/in", "is not a public address"),
        ("https://user:pw@hooks.example.org/in", "user name or password"),
        ("javascript:alert(1)", "http or https"),
    ):
        with pytest.raises(ValidationError, match=re.escape(reason)):
            check_url(url, production=True)


def test_watching_a_person_needs_a_verified_checker_and_a_purpose(
    client: TestClient, tmp_path: Path
) -> None:
    factory = factory_of(client)
    person = add_person(factory, tmp_path)
    unverified = bearer(client, "newbank", "checker", ("read", "check", "watch"), verified=False)
    bank = bearer(client, "bank", "checker", ("read", "check", "watch"))
    by_number = {"subject": f"ric:{PERSON}"}
    is_problem(
        client.post("/api/v1/watches", json=by_number | {"purpose": "credit"}, headers=unverified),
        403,
    )
    no_purpose = is_problem(client.post("/api/v1/watches", json=by_number, headers=bank), 403)
    assert "purpose" in no_purpose["detail"]
    assert PERSON not in no_purpose["detail"]
    is_problem(client.post("/api/v1/watches", json={"subject": person}, headers=bank), 403)

    made = client.post("/api/v1/watches", json=by_number | {"purpose": "credit"}, headers=bank)
    assert made.status_code == 201, made.text
    assert made.json()["purpose"] == "credit"
    with transaction(factory) as session:
        logged = session.execute(
            select(AuditEntry.actor, AuditEntry.action, AuditEntry.detail).where(
                AuditEntry.target == f"subject:{person}"
            )
        ).all()
    assert [(actor, action) for actor, action, _ in logged] == [("checker:bank", "person_check")]
    assert '"purpose": "credit"' in logged[0][2]
    assert PERSON not in logged[0][2]


def test_the_pages_add_list_end_and_show_the_log_with_csrf(
    client: TestClient, tmp_path: Path
) -> None:
    factory = factory_of(client)
    (company,) = companies(factory, tmp_path, 1)
    make_account(factory, "bank", "checker")
    assert client.get("/watches").status_code == 303  # to the sign-in page
    sign_in(client, "bank")
    profile = client.get(f"/subjects/{company}")
    assert "Watch this subject" in profile.text
    token = csrf(client, "/watches")
    refused = client.post("/watches", data={"subject": str(company)})
    assert refused.status_code == 403
    added = client.post(
        "/watches",
        data={
            "subject": str(company),
            "webhook_url": "https://hooks.example.org/in",
            "csrf_token": token,
        },
    )
    assert added.status_code == 200, added.text
    assert "You now watch 北京华信1号科技有限公司" in added.text
    secret = re.search(r"<code>(whsec_[0-9a-f]{64})</code>", added.text)
    assert secret
    page = client.get("/watches")
    assert secret.group(1) not in page.text  # shown once
    assert "https://hooks.example.org/in" in page.text
    again = client.post("/watches", data={"subject": str(company), "csrf_token": token})
    assert again.status_code == 409
    assert "you already watch subject" in again.text

    run_import(factory, "records", judgment_file(tmp_path))
    watch_id = re.search(r'href="/watches/(\d+)#log"', page.text)
    assert watch_id
    log = client.get(f"/watches/{watch_id.group(1)}")
    assert "Delivery log of the watch of 北京华信1号科技有限公司" in log.text
    assert "grade.changed" in log.text
    assert client.post(f"/watches/{watch_id.group(1)}/end", data={}).status_code == 403
    ended = client.post(f"/watches/{watch_id.group(1)}/end", data={"csrf_token": token})
    assert ended.status_code == 303
    assert "You watch no subject yet." in client.get("/watches").text


def test_the_profile_button_asks_for_a_purpose_for_a_person(
    client: TestClient, tmp_path: Path
) -> None:
    factory = factory_of(client)
    person = add_person(factory, tmp_path)
    make_account(factory, "bank", "checker")
    sign_in(client, "bank")
    token = csrf(client, "/watches")
    asked = client.post("/watches", data={"subject": str(person), "csrf_token": token})
    assert asked.status_code == 403
    assert "declared purpose" in asked.text
    assert f'value="{person}"' in asked.text  # what was typed stays
    made = client.post(
        "/watches", data={"subject": str(person), "purpose": "tenancy", "csrf_token": token}
    )
    assert made.status_code == 200
    assert "You now watch 王五" in made.text


def test_the_feed_page_shows_the_events_in_both_languages(
    client: TestClient, tmp_path: Path
) -> None:
    factory = factory_of(client)
    (company,) = companies(factory, tmp_path, 1)
    make_account(factory, "bank", "checker")
    sign_in(client, "bank")
    client.post("/watches", data={"subject": str(company), "csrf_token": csrf(client, "/watches")})
    run_import(factory, "records", judgment_file(tmp_path))
    english = client.get("/feed", params={"lang": "en"}).text
    assert "The grade of 北京华信1号科技有限公司 changed from A to B." in english
    assert "entered the list dishonest_defaulters" in english
    assert "New record on 北京华信1号科技有限公司: judgment_defaulter" in english
    assert english.index("The grade of") < english.index("New record on")  # newest first
    chinese = client.get("/feed", params={"lang": "zh"}).text
    assert "北京华信1号科技有限公司 的等级由 A 变为 B。" in chinese
    assert "列入名单 dishonest_defaulters" in chinese
    assert english.count("<strong>new</strong>") == 3
    client.post("/feed/read", data={"csrf_token": csrf(client, "/feed")})
    assert "<strong>new</strong>" not in client.get("/feed", params={"lang": "en"}).text


def test_anonymous_visitors_see_no_watch_button_and_no_feed(
    client: TestClient, tmp_path: Path
) -> None:
    (company,) = companies(factory_of(client), tmp_path, 1)
    assert "Watch this subject" not in client.get(f"/subjects/{company}").text
    assert client.get("/feed").status_code == 303
    make_account(factory_of(client), "rep", "representative", subjects=(company,))
    sign_in(client, "rep")
    assert "Watch this subject" not in client.get(f"/subjects/{company}").text
    assert client.get("/watches").status_code == 403
    assert client.get("/feed").status_code == 200
