"""A record's public page (its timeline) and disputing it, on both backends.

The registry is the one of ``test_api_public``; the model rulebook gives every record
type the default 30 days to answer a dispute.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.feeds import uscc
from tests.test_api_public import populate, sessions
from trustreg.config import Settings
from trustreg.core.rulebook import parse_rulebook
from trustreg.store import queries
from trustreg.store.db import transaction
from trustreg.web.app import create_app

GROUNDS = "The judgment was paid in full on 2024-05-02; the receipt is attached to my letter."


@pytest.fixture
def client(settings: Settings, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        populate(sessions(test_client), tmp_path)
        yield test_client


def firm_record(client: TestClient) -> dict[str, Any]:
    subject = client.get("/api/v1/subjects", params={"identifier": f"uscc:{uscc(1)}"}).json()
    record: dict[str, Any] = subject["records"][0]
    record["subject_id"] = subject["id"]
    return record


def form(**changes: str) -> dict[str, str]:
    return {
        "filed_by": "李明",
        "relation": "representative",
        "contact": "liming@example.cn",
        "grounds": GROUNDS,
    } | changes


def test_the_profile_links_each_record_to_its_timeline_and_to_a_dispute(
    client: TestClient, settings: Settings
) -> None:
    record = firm_record(client)
    rulebook = parse_rulebook(Path(settings.rulebook).read_text(encoding="utf-8"))
    rule = rulebook.record_types[record["record_type"]]
    ends = date.fromisoformat(record["effective_from"]) + timedelta(days=rule.publicity_days)
    assert record["publicity_ends"] == ends.isoformat()
    profile = client.get(f"/subjects/{record['subject_id']}").text
    assert f'href="/records/{record["id"]}"' in profile
    assert f'href="/records/{record["id"]}/dispute"' in profile
    assert ends.isoformat() in profile
    page = client.get(f"/records/{record['id']}")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "Timeline" in text
    for day in (record["decided_on"], record["effective_from"], ends.isoformat()):
        assert day in text
    assert f"Status {record['status']}" in text
    assert record["reference"] in text
    assert "Disputed" not in text


def test_a_dispute_is_stored_shown_everywhere_and_logged_without_personal_data(
    client: TestClient,
) -> None:
    record = firm_record(client)
    answer = client.post(f"/records/{record['id']}/dispute", data=form(), follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/records/{record['id']}?filed=1"
    due = (datetime.now(UTC).date() + timedelta(days=30)).isoformat()
    page = html.unescape(client.get(answer.headers["location"]).text)
    assert "Your dispute was received" in page
    assert "Disputed" in page
    assert due in page
    profile = client.get(f"/subjects/{record['subject_id']}").text
    assert "Disputed" in profile
    assert due in profile
    shown = client.get(f"/api/v1/records/{record['id']}").json()["dispute"]
    assert shown["answer_due"] == due
    assert shown["status"] == "received"
    # The filer's name and contact are nowhere public, nor in the audit log.
    for url in (f"/records/{record['id']}", f"/subjects/{record['subject_id']}"):
        assert "liming@example.cn" not in client.get(url).text
    with transaction(sessions(client)) as session:
        entries = [e for e in queries.audit_entries(session) if e.action == "dispute_filed"]
        assert len(entries) == 1
        logged = entries[0].detail
        assert "liming" not in logged
        assert "李明" not in logged


def test_a_bad_field_is_named_the_form_kept_and_nothing_stored(client: TestClient) -> None:
    record = firm_record(client)
    answer = client.post(f"/records/{record['id']}/dispute", data=form(grounds="wrong"))
    assert answer.status_code == 422
    text = html.unescape(answer.text)
    assert "“grounds”" in text
    assert "between 20 and 4000" in text
    assert 'value="liming@example.cn"' in text  # what was typed is kept
    assert client.get(f"/api/v1/records/{record['id']}").json()["dispute"] is None
    answer = client.post(f"/records/{record['id']}/dispute", data=form(relation="neighbour"))
    assert answer.status_code == 422
    assert "“relation”" in html.unescape(answer.text)


def test_an_unknown_record_is_not_found(client: TestClient) -> None:
    assert client.get("/records/999999").status_code == 404
    assert client.get("/records/999999/dispute").status_code == 404
    assert client.post("/records/999999/dispute", data=form()).status_code == 404


def test_the_record_page_in_chinese(client: TestClient) -> None:
    record = firm_record(client)
    text = client.get(f"/records/{record['id']}", params={"lang": "zh"}).text
    assert "时间线" in text
    assert "对此记录提出异议" in text
