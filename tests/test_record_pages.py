"""A record's public page (its timeline) and disputing it, on both backends.

The registry is the one of ``test_api_public``; the model rulebook gives every record
type the default 30 days to answer a dispute. Only a signed-in representative of the
subject may dispute (``tests/test_disputes.py`` has the rest).
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.accounts import browser, csrf, make_account, sign_in
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
    with browser(create_app(settings)) as test_client:
        populate(sessions(test_client), tmp_path)
        yield test_client


def firm_record(client: TestClient) -> dict[str, Any]:
    subject = client.get("/api/v1/subjects", params={"identifier": f"uscc:{uscc(1)}"}).json()
    record: dict[str, Any] = subject["records"][0]
    record["subject_id"] = subject["id"]
    return record


def representative(client: TestClient, subject_id: int) -> TestClient:
    """A browser signed in as a representative of the subject."""
    make_account(sessions(client), "rep", "representative", subjects=(subject_id,))
    return sign_in(browser(client.app), "rep")  # type: ignore[arg-type]


def dispute(rep: TestClient, record_id: int, grounds: str = GROUNDS) -> Any:
    token = csrf(rep, f"/records/{record_id}/dispute")
    return rep.post(
        f"/records/{record_id}/dispute",
        data={"grounds": grounds, "csrf_token": token},
        files=[("evidence", ("receipt.txt", "收据 2024-05-02".encode(), "text/plain"))],
    )


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
    rep = representative(client, record["subject_id"])
    answer = dispute(rep, record["id"])
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/records/{record['id']}?filed=dispute"
    due = (datetime.now(UTC).date() + timedelta(days=30)).isoformat()
    page = html.unescape(rep.get(answer.headers["location"]).text)
    assert "Your dispute was received" in page
    assert "Disputed" in page
    assert due in page
    profile = client.get(f"/subjects/{record['subject_id']}").text
    assert "Disputed" in profile
    assert due in profile
    shown = client.get(f"/api/v1/records/{record['id']}").json()["dispute"]
    assert shown["answer_due"] == due
    assert shown["status"] == "received"
    # The grounds and the evidence are the reviewer's to read: nowhere public, nor logged.
    for url in (f"/records/{record['id']}", f"/subjects/{record['subject_id']}"):
        assert "paid in full" not in client.get(url).text
    with transaction(sessions(client)) as session:
        entries = [e for e in queries.audit_entries(session) if e.action == "dispute_filed"]
        assert len(entries) == 1
        assert entries[0].actor == "representative:rep"
        assert "paid in full" not in entries[0].detail


def test_a_bad_field_is_named_the_form_kept_and_nothing_stored(client: TestClient) -> None:
    record = firm_record(client)
    rep = representative(client, record["subject_id"])
    answer = dispute(rep, record["id"], "wrong")
    assert answer.status_code == 422
    text = html.unescape(answer.text)
    assert "“grounds”" in text
    assert "between 20 and 4000" in text
    assert ">wrong</textarea>" in text  # what was typed is kept
    assert client.get(f"/api/v1/records/{record['id']}").json()["dispute"] is None


def test_anonymous_visitors_are_told_who_may_dispute(client: TestClient) -> None:
    record = firm_record(client)
    page = client.get(f"/records/{record['id']}/dispute")
    assert page.status_code == 401
    assert "Only a representative of the record" in html.unescape(page.text)
    answer = client.post(f"/records/{record['id']}/dispute", data={"grounds": GROUNDS})
    assert answer.status_code == 401


def test_an_unknown_record_is_not_found(client: TestClient) -> None:
    assert client.get("/records/999999").status_code == 404
    assert client.get("/records/999999/dispute").status_code == 404
    rep = representative(client, firm_record(client)["subject_id"])
    token = csrf(rep, "/account")
    answer = rep.post("/records/999999/dispute", data={"grounds": GROUNDS, "csrf_token": token})
    assert answer.status_code == 404


def test_the_record_page_in_chinese(client: TestClient) -> None:
    record = firm_record(client)
    text = client.get(f"/records/{record['id']}", params={"lang": "zh"}).text
    assert "时间线" in text
    assert "对此记录提出异议" in text
