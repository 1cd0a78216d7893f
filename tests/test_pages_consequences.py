"""Pages on what a listing means: the profile's consequences, the rulebook, the certificate."""

from __future__ import annotations

import html
import re
import tomllib
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.accounts import find_person
from tests.conftest import RULEBOOK
from trustreg.config import PLACEHOLDER_IDENTIFIER_KEY, Settings
from trustreg.core.identifiers import make_ric
from trustreg.core.validation import SUBJECT_COLUMNS
from trustreg.services import ingest, registry
from trustreg.web.app import create_app

USCC = "91110000802100433B"
OTHER_USCC = "91310000775785552L"  # a company with no records
EFFECTIVE_DAYS_AGO = 100
PROCUREMENT_BASIS = (
    "Government Procurement Law of the PRC art. 22(1)(2); SPC Provisions on Publishing "
    "the List of Dishonest Judgment Defaulters (2017) art. 11(1)"
)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings)
    with TestClient(app) as test_client:
        yield test_client


def submit(client: TestClient, settings: Settings, kind: str, rows: list[dict[str, Any]]) -> None:
    factory = client.app.state.sessions  # type: ignore[attr-defined]
    code = f"{kind}-1"
    registry.add_authority(factory, code, kind, f"Authority {code}")
    token = registry.issue_token(factory, settings.secret_key, code)
    response = client.post(
        "/api/v1/records", json=rows, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text


def record(reference: str, days_ago: int = EFFECTIVE_DAYS_AGO, **changes: Any) -> dict[str, Any]:
    today = datetime.now(UTC).date()
    base = {
        "reference": reference,
        "record_type": "judgment_defaulter",
        "subject_kind": "legal_entity",
        "id_scheme": "uscc",
        "id_value": USCC,
        "subject_name": "北京测试科技有限公司",
        "decided_on": (today - timedelta(days=days_ago + 10)).isoformat(),
        "effective_from": (today - timedelta(days=days_ago)).isoformat(),
        # The court gave notice before its decision: the notice period has run.
        "notified_on": (today - timedelta(days=days_ago + 40)).isoformat(),
        "amount": 50000,
        "currency": "CNY",
        "summary": "未履行生效判决",
    }
    return {**base, **changes}


def subject_id(client: TestClient, identifier: str) -> int:
    found = client.get("/api/v1/subjects", params={"identifier": identifier})
    assert found.status_code == 200, found.text
    value: int = found.json()["id"]
    return value


def words(fragment: str) -> str:
    """The text of an HTML fragment, tags dropped and whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def consequence_row(page: str, code: str) -> str:
    found = re.search(rf'<tr class="consequence" id="consequence-{code}">(.*?)</tr>', page, re.S)
    assert found is not None, f"no row for consequence {code}"
    return found.group(1)


@pytest.fixture
def defaulter(client: TestClient, settings: Settings) -> int:
    """A company with an active judgment_defaulter record effective 100 days ago."""
    submit(client, settings, "court", [record("(2026)京01执1号")])
    return subject_id(client, f"uscc:{USCC}")


def test_profile_shows_the_consequences_in_force(client: TestClient, defaulter: int) -> None:
    today = datetime.now(UTC).date()
    entered = today - timedelta(days=100)
    page = client.get(f"/subjects/{defaulter}")
    assert page.status_code == 200
    assert "Consequences in force" in page.text
    assert "No consequences in force." not in page.text
    # Listed for 730 days; procurement exclusion for at most 730 days: 630 days from today.
    row = consequence_row(page.text, "procurement_exclusion_defaulter")
    assert 'class="effect bad"' in row
    text = words(row)
    assert text.startswith("excluded 限制参加政府采购活动 Excluded from public procurement")
    assert "public procurement" in text
    assert f"On 失信被执行人名单 (List of dishonest judgment defaulters) since {entered}" in text
    assert f"ends on {today + timedelta(days=630)}" in text
    assert PROCUREMENT_BASIS in text
    # The subsidy restriction lasts at most 365 days from entry: 265 days from today.
    subsidy = words(consequence_row(page.text, "subsidy_restriction_defaulter"))
    assert subsidy.startswith("restricted 限制获得政府补贴")
    assert f"ends on {today + timedelta(days=265)}" in subsidy
    assert f'href="/subjects/{defaulter}/certificate"' in page.text
    assert 'href="/rulebook"' in page.text


def test_certificate_states_standing_lists_and_consequences(
    client: TestClient, defaulter: int
) -> None:
    today = datetime.now(UTC).date()
    before = datetime.now(UTC).replace(microsecond=0)
    page = client.get(f"/subjects/{defaulter}/certificate")
    after = datetime.now(UTC)
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    # Its print style is in the portal's stylesheet (no inline style under the CSP).
    assert 'class="certificate-page"' in page.text
    assert "body.certificate-page header{display:none}" in client.get("/static/portal.css").text
    assert '<td class="subject-name">北京测试科技有限公司</td>' in page.text
    assert f"<code>uscc:{USCC}</code>" in page.text
    issued = re.search(r'<time class="issued" datetime="([^"]+)">', page.text)
    assert issued is not None
    assert before <= datetime.fromisoformat(issued.group(1)) <= after
    grade = words(page.text.split('<strong class="grade">', 1)[1].split("</td>", 1)[0])
    assert grade.startswith("B")  # 1000 - 100 = 900 points: band B (850-959)
    assert f"900 points, as of {today} under rulebook version 2026.2" in grade
    lists = words(page.text.split('<table class="lists">', 1)[1].split("</table>", 1)[0])
    entered = today - timedelta(days=100)
    assert f"{entered} {entered + timedelta(days=730)}" in lists
    assert "SPC Provisions on Publishing the List of Dishonest Judgment Defaulters" in lists
    row = words(consequence_row(page.text, "procurement_exclusion_defaulter"))
    assert f"ends on {today + timedelta(days=630)}" in row
    assert PROCUREMENT_BASIS in row
    subsidy = words(consequence_row(page.text, "subsidy_restriction_defaulter"))
    assert f"ends on {today + timedelta(days=265)}" in subsidy
    assert '<span class="published-records">1</span>' in page.text


def test_a_company_with_no_records_has_no_consequences(client: TestClient, tmp_path: Path) -> None:
    factory = client.app.state.sessions  # type: ignore[attr-defined]
    feed = tmp_path / "subjects.csv"
    row = f"legal_entity,uscc,{OTHER_USCC},上海清白有限公司,,CN,310000,,2010-01-01"
    feed.write_text(",".join(SUBJECT_COLUMNS) + "\n" + row + "\n", encoding="utf-8")
    options = ingest.ImportOptions(identifier_key=PLACEHOLDER_IDENTIFIER_KEY)
    assert ingest.import_file(factory, "subjects", feed, options).created == 1
    company = subject_id(client, f"uscc:{OTHER_USCC}")
    page = client.get(f"/subjects/{company}")
    assert "No consequences in force." in page.text
    assert 'class="consequence"' not in page.text
    certificate = client.get(f"/subjects/{company}/certificate")
    assert certificate.status_code == 200
    assert "No consequences in force." in certificate.text
    assert "On no published list." in certificate.text
    assert '<span class="published-records">0</span>' in certificate.text


def test_a_judgment_satisfied_from_the_start_has_no_consequences(
    client: TestClient, settings: Settings
) -> None:
    submit(client, settings, "court", [record("(2026)京01执2号", status="satisfied")])
    page = client.get(f"/subjects/{subject_id(client, f'uscc:{USCC}')}")
    assert "No consequences in force." in page.text


def test_a_redlist_consequence_is_shown_as_facilitated(
    client: TestClient, settings: Settings
) -> None:
    today = datetime.now(UTC).date()
    commendation = record(
        "税务A级-2026-1", days_ago=30, record_type="taxpayer_a_grade", amount="", currency=""
    )
    submit(client, settings, "tax", [commendation])
    page = client.get(f"/subjects/{subject_id(client, f'uscc:{USCC}')}")
    row = consequence_row(page.text, "simplified_tax_procedures")
    assert 'class="effect good"' in row
    text = words(row)
    assert text.startswith("facilitated 纳税服务绿色通道")
    assert "simplified procedure" in text
    assert f"ends on {today + timedelta(days=335)}" in text


def test_rulebook_page_lists_every_consequence_with_its_legal_basis(client: TestClient) -> None:
    model = tomllib.loads(RULEBOOK.read_text(encoding="utf-8"))
    page = client.get("/rulebook")
    assert page.status_code == 200
    text = page.text
    header = model["rulebook"]
    assert header["name"] in text
    assert f'<strong class="version">{header["version"]}</strong>' in text
    assert str(header["effective_from"]) in text
    consequences = [c for listed in model["list"] for c in listed["consequence"]]
    assert len(consequences) == 7
    for listed in model["list"]:
        assert html.escape(listed["legal_basis"]) in text
        for consequence in listed["consequence"]:
            row = re.search(rf'<tr id="consequence-{consequence["code"]}">(.*?)</tr>', text, re.S)
            assert row is not None, consequence["code"]
            cells = words(row.group(1))
            assert consequence["legal_basis"] in cells
            assert consequence["effect"] in cells
            assert f"{consequence['max_days']} days" in cells
    for record_type in model["record_type"]:
        assert f'<tr id="record-type-{record_type["code"]}">' in text
        assert html.escape(record_type["legal_basis"]) in text


def test_the_nav_links_to_the_rulebook(client: TestClient) -> None:
    assert '<a href="/rulebook">' in client.get("/").text


def test_no_certificate_for_a_person(client: TestClient, settings: Settings) -> None:
    ric = make_ric("110101", date(1980, 5, 17), 123)
    person = record(
        "(2026)沪01执9号",
        subject_kind="individual",
        id_scheme="ric",
        id_value=ric,
        subject_name="张伟",
    )
    submit(client, settings, "court", [person])
    person_id = find_person(client, ric)
    response = client.get(f"/subjects/{person_id}/certificate")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "certificates are issued for legal entities and organisations" in response.text
    assert ric not in response.text
    profile = client.get(f"/subjects/{person_id}")
    assert "/certificate" not in profile.text


def test_no_certificate_for_an_unknown_subject(client: TestClient) -> None:
    response = client.get("/subjects/424242/certificate")
    assert response.status_code == 404
    assert "no subject with id 424242" in response.text


def test_the_home_page_shows_recent_list_changes(client: TestClient, defaulter: int) -> None:
    entered = (datetime.now(UTC).date() - timedelta(days=EFFECTIVE_DAYS_AGO)).isoformat()
    page = words(client.get("/").text)
    assert (
        f"Recent list changes {entered} 北京测试科技有限公司 entered List of dishonest judgment "
        "defaulters" in page
    )
    chinese = words(client.get("/", params={"lang": "zh"}).text)
    assert f"{entered} 北京测试科技有限公司 列入失信被执行人名单" in chinese


def test_a_record_by_id_with_its_history_and_subject(client: TestClient, defaulter: int) -> None:
    subject = client.get(f"/api/v1/subjects/{defaulter}").json()
    (record,) = subject["records"]
    found = client.get(f"/api/v1/records/{record['id']}")
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["reference"] == "(2026)京01执1号"
    assert body["legal_basis"].startswith("Civil Procedure Law of the PRC art. 266")
    assert [h["status"] for h in body["status_history"]] == ["active"]
    assert body["subject"] == {
        "id": defaulter,
        "kind": "legal_entity",
        "name": "北京测试科技有限公司",
        "identifiers": [f"uscc:{USCC}"],
    }
    missing = client.get("/api/v1/records/999999")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
