"""The JSON API and pages: subject look-up, record submission, one error shape."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from stdnum.cn import uscc

from tests.accounts import PASSWORD, checker_headers
from trustreg.config import Settings
from trustreg.services import accounts, registry
from trustreg.web.app import create_app

USCC = "91110000802100433B"


def make_uscc(body: str) -> str:
    return body + uscc.calc_check_digit(body)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def token(client: TestClient, settings: Settings) -> str:
    factory = client.app.state.sessions  # type: ignore[attr-defined]
    registry.add_authority(factory, "court-bj-1", "court", "北京市第一中级人民法院")
    return registry.issue_token(factory, settings.secret_key, "court-bj-1")


def record(reference: str, **changes: Any) -> dict[str, Any]:
    base = {
        "reference": reference,
        "record_type": "judgment_defaulter",
        "subject_kind": "legal_entity",
        "id_scheme": "uscc",
        "id_value": USCC,
        "subject_name": "北京测试科技有限公司",
        "decided_on": "2025-03-01",
        "effective_from": "2025-03-11",
        "notified_on": "2025-02-01",  # the court's notice: its notice period has run
        "amount": 50000,
        "currency": "CNY",
        "summary": "未履行生效判决",
    }
    return {**base, **changes}


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status
    return body


def test_submit_then_look_up(client: TestClient, token: str) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    response = client.post("/api/v1/records", json=[record("(2025)京01执1号")], headers=auth)
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 1
    again = client.post("/api/v1/records", json=[record("(2025)京01执1号")], headers=auth)
    assert again.json()["unchanged"] == 1
    found = client.get("/api/v1/subjects", params={"identifier": f"uscc:{USCC.lower()}"})
    assert found.status_code == 200
    subject = found.json()
    assert subject["name"] == "北京测试科技有限公司"
    assert [r["reference"] for r in subject["records"]] == ["(2025)京01执1号"]
    assert subject["records"][0]["amount"] == "50000.00"
    by_id = client.get(f"/api/v1/subjects/{subject['id']}")
    assert by_id.json() == subject
    page = client.get(f"/subjects/{subject['id']}")
    assert "北京测试科技有限公司" in page.text
    assert "(2025)京01执1号" in page.text


def test_partial_rejection_keeps_good_records(client: TestClient, token: str) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    bad = record("(2025)京01执3号", record_type="tax_serious_violation")
    response = client.post("/api/v1/records", json=[record("(2025)京01执2号"), bad], headers=auth)
    body = assert_problem(response, 422)
    assert body["created"] == 1
    assert body["errors"] == [
        {
            "item": 2,
            "field": "record_type",
            "reason": "authority 'court-bj-1' (court) may not submit 'tax_serious_violation'",
        }
    ]


def test_another_authoritys_records_are_refused(client: TestClient, token: str) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    response = client.post("/api/v1/records", json=[record("x1", authority="tax-sh")], headers=auth)
    body = assert_problem(response, 422)
    assert body["errors"][0]["field"] == "authority"


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("get", "/api/v1/subjects/999999", {}, 404),
        ("get", "/api/v1/subjects/abc", {}, 422),
        ("get", "/api/v1/subjects", {"params": {"identifier": "uscc:91110000802100433C"}}, 422),
        ("get", "/api/v1/subjects", {"params": {"identifier": f"uscc:{USCC}"}}, 404),
        ("get", "/api/v1/nothing-here", {}, 404),
        ("post", "/api/v1/records", {"json": []}, 401),
        ("post", "/api/v1/records", {"json": [], "headers": {"Authorization": "Bearer x"}}, 401),
        ("delete", "/api/v1/subjects/1", {}, 405),
    ],
)
def test_every_error_is_problem_json(
    client: TestClient, method: str, path: str, kwargs: dict[str, Any], status: int
) -> None:
    assert_problem(getattr(client, method)(path, **kwargs), status)


def test_validation_problem_names_the_field(client: TestClient) -> None:
    response = client.get("/api/v1/subjects", params={"identifier": "uscc:91110000802100433C"})
    body = assert_problem(response, 422)
    assert body["errors"][0]["field"] == "identifier"
    assert "expected 'B'" in body["errors"][0]["reason"]


def test_html_errors_are_pages(client: TestClient) -> None:
    response = client.get("/subjects/424242")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "no subject with id 424242" in response.text


def test_openapi_lists_the_routes(client: TestClient) -> None:
    paths = client.get("/api/openapi.json").json()["paths"]
    assert {"/api/v1/subjects/{subject_id}", "/api/v1/subjects", "/api/v1/records"} <= set(paths)


def test_person_identifiers_are_masked(client: TestClient, settings: Settings) -> None:
    from trustreg.core.identifiers import make_ric

    factory = client.app.state.sessions  # type: ignore[attr-defined]
    registry.add_authority(factory, "court-sh", "court", "上海市第一中级人民法院")
    token = registry.issue_token(factory, settings.secret_key, "court-sh")
    from datetime import date

    ric = make_ric("110101", date(1980, 5, 17), 123)
    person = record(
        "(2025)沪01执9号",
        subject_kind="individual",
        id_scheme="ric",
        id_value=ric,
        subject_name="张伟",
    )
    response = client.post(
        "/api/v1/records", json=[person], headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    params = {"identifier": f"ric:{ric}", "purpose": "contract"}
    headers = checker_headers(factory)
    subject = client.get("/api/v1/subjects", params=params, headers=headers).json()
    assert ric not in str(subject)
    assert subject["birth_date"] is None
    assert subject["identifiers"][0].startswith("ric:110101")


def test_an_authority_account_token_submits_only_its_own_types(
    client: TestClient, settings: Settings
) -> None:
    factory = client.app.state.sessions  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    registry.add_authority(factory, "tax-sh", "tax", "上海市税务局")
    accounts.create_account(factory, "tax-clerk", PASSWORD, "authority", now, authority="tax-sh")
    accounts.create_account(factory, "bank", PASSWORD, "checker", now)
    _, clerk = accounts.issue_api_token(factory, "tax-clerk", ["records:write"], now)
    _, read_only = accounts.issue_api_token(factory, "tax-clerk", ["read"], now)
    _, checker = accounts.issue_api_token(factory, "bank", [], now)
    court_type = record("t1", authority="tax-sh")  # a court's record type, from a tax office
    answer = client.post(
        "/api/v1/records", json=[court_type], headers={"Authorization": f"Bearer {clerk}"}
    )
    body = assert_problem(answer, 422)
    assert "may not submit 'judgment_defaulter'" in body["errors"][0]["reason"]
    for token in (read_only, checker):
        refused = client.post(
            "/api/v1/records", json=[court_type], headers={"Authorization": f"Bearer {token}"}
        )
        assert_problem(refused, 403)
