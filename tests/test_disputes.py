"""Disputes: who may file, evidence, the reviewer queue, the deadline on a clock the
test moves, and the three decisions, on both backends (``tests/due_process.py``)."""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.due_process import GROUNDS, PDF, PNG, REASONS, World, opened
from tests.feeds import record_row, ric, run_import, write_csv
from tests.test_accessibility import violations
from tests.test_browser import CHROMIUM, launch
from trustreg.config import Settings
from trustreg.core.rating import facts_as_known
from trustreg.errors import Conflict, Forbidden, Unauthorized, ValidationError
from trustreg.services import assessments, disputes, maintenance, notifications
from trustreg.services.accounts import ANONYMOUS
from trustreg.services.dispute_decisions import Correction, Decision
from trustreg.store import assessments as stored
from trustreg.store.db import transaction
from trustreg.store.models import AuditEntry, Dispute, Record, RecordStatusChange
from trustreg.store.models_access import EvidenceFile

DISPUTED = "dishonest_defaulters"


@pytest.fixture
def world(settings: Settings, tmp_path: Path) -> Iterator[World]:
    with opened(settings, tmp_path) as built:
        yield built


def file_as_rep(world: World, name: str = "firm", rep: str = "rep") -> int:
    """File a dispute of a record through its page; returns the dispute's number."""
    client = world.browser_of(rep)
    record = world.records[name]
    answer = world.post_form(
        client,
        f"/records/{record}/dispute",
        {"grounds": GROUNDS},
        [("receipt.pdf", PDF), ("letter.txt", "法院收据编号 123".encode())],
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"/records/{record}?filed=dispute"
    with transaction(world.factory) as session:
        found = session.scalar(select(Dispute.id).where(Dispute.record_id == record))
    assert found is not None
    return found


def decide(world: World, number: int, decision: str, **fields: str) -> None:
    officer = world.browser_of("officer")
    data = {"decision": decision, "reasons": REASONS, **fields}
    answer = world.post_form(officer, f"/review/disputes/{number}", data, token_page="/review")
    assert answer.status_code == 303, answer.text


# ------------------------------------------------------------------ filing


def test_only_a_representative_of_the_subject_may_dispute(world: World) -> None:
    record = world.records["firm"]
    page = world.client.get(f"/records/{record}/dispute")
    assert page.status_code == 401
    text = html.unescape(page.text)
    assert "Only a representative of the record's subject can dispute it" in text
    assert "/account/sign-in?next=" in text
    assert "<textarea" not in text
    anonymous = world.client.post(f"/records/{record}/dispute", data={"grounds": GROUNDS})
    assert anonymous.status_code == 401
    other = world.browser_of("rep-other")
    assert other.get(f"/records/{record}/dispute").status_code == 403
    refused = world.post_form(
        other, f"/records/{record}/dispute", {"grounds": GROUNDS}, token_page="/account"
    )
    assert refused.status_code == 403
    bank = world.browser_of("bank")
    checker = world.post_form(
        bank, f"/records/{record}/dispute", {"grounds": GROUNDS}, token_page="/account"
    )
    assert checker.status_code == 403
    for actor, refusal in ((ANONYMOUS, Unauthorized), (world.actor("rep-other"), Forbidden)):
        with pytest.raises(refusal):
            disputes.dispute_record(world.factory, actor, record, GROUNDS, [], world.now())
    with transaction(world.factory) as session:
        assert session.scalars(select(Dispute)).all() == []


def test_a_form_without_its_security_token_is_refused(world: World) -> None:
    client = world.browser_of("rep")
    record = world.records["firm"]
    answer = client.post(f"/records/{record}/dispute", data={"grounds": GROUNDS})
    assert answer.status_code == 403
    assert "security token" in html.unescape(answer.text)


def test_filing_shows_disputed_asks_the_authority_and_changes_no_rating(world: World) -> None:
    before = world.standing("firm")
    number = file_as_rep(world)
    due = (world.now().date() + timedelta(days=30)).isoformat()
    record = world.records["firm"]
    page = html.unescape(world.client.get(f"/records/{record}").text)
    assert "Disputed" in page
    assert due in page
    profile = html.unescape(world.client.get(f"/subjects/{world.ids['firm']}").text)
    assert "Disputed" in profile
    assert due in profile
    after = world.standing("firm")
    assert (after.points, [m.list_code for m in after.lists]) == (
        before.points,
        [m.list_code for m in before.lists],
    )
    assert world.record("firm").status == "active"
    [asked] = world.notifications(disputes.REVERIFY_REQUESTED, username="clerk")
    assert (asked.record_id, asked.detail["dispute"], asked.detail["answer_due"]) == (
        record,
        number,
        due,
    )
    with transaction(world.factory) as session:
        dispute = session.get(Dispute, number)
        assert dispute is not None
        assert dispute.reverify_requested_at is not None
        files = session.scalars(select(EvidenceFile).order_by(EvidenceFile.id)).all()
        assert [(f.filename, f.content_type, f.owner_id) for f in files] == [
            ("receipt.pdf", "application/pdf", number),
            ("letter.txt", "text/plain; charset=utf-8", number),
        ]
        [entry] = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "dispute_filed")
        ).all()
        assert entry.actor == "representative:rep"
        assert GROUNDS not in entry.detail


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        ([("a.pdf", PDF)] * 6, "6 files; at most 5"),
        ([("big.pdf", PDF + b"0" * (5 * 1024 * 1024))], "'big.pdf' has 5,242,"),
        ([("tool.exe", b"MZ\x90\x00\x03\x00\x00\x00\x04")], "'tool.exe' is not PDF, JPEG, PNG"),
        ([("empty.png", b"")], "'empty.png' is empty"),
    ],
    ids=["too many", "too large", "wrong type", "empty"],
)
def test_bad_evidence_is_refused_by_name_and_nothing_is_stored(
    world: World, files: list[tuple[str, bytes]], reason: str
) -> None:
    client = world.browser_of("rep")
    record = world.records["firm"]
    answer = world.post_form(client, f"/records/{record}/dispute", {"grounds": GROUNDS}, files)
    assert answer.status_code == 422
    text = html.unescape(answer.text)
    assert "“evidence”" in text
    assert reason in text
    assert GROUNDS in text  # what was typed is kept
    with transaction(world.factory) as session:
        assert session.scalars(select(Dispute)).all() == []
        assert session.scalars(select(EvidenceFile)).all() == []


def test_short_grounds_are_named_and_a_second_open_dispute_is_refused(world: World) -> None:
    client = world.browser_of("rep")
    record = world.records["firm"]
    answer = world.post_form(client, f"/records/{record}/dispute", {"grounds": "wrong"})
    assert answer.status_code == 422
    assert "“grounds”" in html.unescape(answer.text)
    file_as_rep(world)
    again = world.post_form(
        client, f"/records/{record}/dispute", {"grounds": GROUNDS}, token_page="/account"
    )
    assert again.status_code == 409
    with pytest.raises(Conflict):
        disputes.dispute_record(world.factory, world.actor("rep"), record, GROUNDS, [], world.now())


# ------------------------------------------------------------------ the queue


def test_the_queue_orders_by_deadline_and_shows_the_evidence_to_reviewers_only(
    world: World,
) -> None:
    first = file_as_rep(world)
    world.clock.advance(days=5)
    second = file_as_rep(world, "person", "rep-person")
    officer = world.browser_of("officer")
    page = officer.get("/review")
    assert page.status_code == 200
    text = page.text
    assert text.index(f"/review/disputes/{first}") < text.index(f"/review/disputes/{second}")
    assert GROUNDS in html.unescape(text)
    with transaction(world.factory) as session:
        receipt = session.scalar(
            select(EvidenceFile.id).where(
                EvidenceFile.owner_id == first, EvidenceFile.filename == "receipt.pdf"
            )
        )
    assert f"/review/evidence/{receipt}" in text
    download = officer.get(f"/review/evidence/{receipt}")
    assert download.status_code == 200
    assert download.content == PDF
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["x-content-type-options"] == "nosniff"
    assert world.browser_of("rep").get(f"/review/evidence/{receipt}").status_code == 200
    assert world.browser_of("rep-person").get(f"/review/evidence/{receipt}").status_code == 403
    assert world.browser_of("bank").get(f"/review/evidence/{receipt}").status_code == 403
    assert world.client.get(f"/review/evidence/{receipt}").status_code == 401
    assert officer.get("/review/evidence/999999").status_code == 404
    assert world.browser_of("rep").get("/review").status_code == 403
    assert world.client.get("/review").status_code == 401
    # Past the first deadline it is overdue, and still first.
    world.clock.advance(days=26)
    page = world.browser_of("officer").get("/review").text  # a new day, a new session
    assert page.index("Overdue") < page.index(f"/review/disputes/{second}")


# ------------------------------------------------------------------ the deadline


def test_a_missed_deadline_suspends_the_record_until_the_decision(world: World) -> None:
    number = file_as_rep(world)
    assert world.open_entries("firm")
    world.clock.advance(days=30)  # the day the answer is due: still in time
    assert disputes.enforce_deadlines(world.factory, world.now()) == 0
    world.clock.advance(days=1)
    assert disputes.enforce_deadlines(world.factory, world.now()) == 1
    assert disputes.enforce_deadlines(world.factory, world.now()) == 0  # once
    assert world.record("firm").status == "suspended"
    suspended = world.standing("firm")
    assert suspended.lists == ()
    assert suspended.points == 1000
    assert world.open_entries("firm") == []
    record = world.records["firm"]
    page = html.unescape(world.client.get(f"/records/{record}").text)
    assert "Suspended from publication pending a dispute decision" in page
    assert "15000.00" not in page  # its content is no longer published
    profile = html.unescape(world.client.get(f"/subjects/{world.ids['firm']}").text)
    assert "Suspended from publication pending a dispute decision" in profile
    # What was published before the suspension is still reproducible.
    moment = world.now() - timedelta(hours=1)
    with transaction(world.factory) as session:
        versions = stored.record_versions(session, [world.ids["firm"]])[world.ids["firm"]]
        then = assessments.assess(session, world.ids["firm"], moment.date(), moment)
    assert [f.status for f in facts_as_known(versions, moment.date(), moment)] == ["active"]
    assert [m.list_code for m in then.lists] == [DISPUTED]
    # Upheld: published again at once, the subject and the clerk's court told.
    decide(world, number, "upheld")
    assert world.record("firm").status == "active"
    assert [code for code, _ in world.open_entries("firm")] == [DISPUTED]
    [told] = world.notifications(notifications.DISPUTE_DECIDED, subject="firm")
    assert (told.detail["decision"], told.detail["reasons"]) == ("upheld", REASONS)
    page = html.unescape(world.client.get(f"/records/{record}").text)
    assert "Disputed" not in page
    assert REASONS in page  # on the public timeline, with the reviewer
    assert "reviewer:officer" in page


# ------------------------------------------------------------------ decisions


def test_a_correction_moves_the_listing_and_records_the_reasons(world: World) -> None:
    number = file_as_rep(world)
    [(_, entered)] = world.open_entries("firm")
    later = entered + timedelta(days=7)
    decide(
        world,
        number,
        "corrected",
        amount="12000.50",
        effective_from=later.isoformat(),
        summary="有履行能力而拒不履行，金额更正。",
    )
    record = world.record("firm")
    assert (record.amount_cents, record.effective_from, record.status) == (1200050, later, "active")
    assert world.open_entries("firm") == [(DISPUTED, later)]
    with transaction(world.factory) as session:
        entry = session.scalars(
            select(RecordStatusChange)
            .where(RecordStatusChange.record_id == record.id)
            .order_by(RecordStatusChange.id.desc())
        ).first()
        assert entry is not None
        assert entry.actor == "reviewer:officer"
        assert "amount 15000.00 CNY → 12000.50 CNY" in entry.reason
        assert REASONS in entry.reason
        assert entry.effective_from == later
        logged = session.scalars(
            select(AuditEntry.detail).where(AuditEntry.action == "dispute_decided")
        ).one()
        assert json.loads(logged)["changed"]["fields"] == ["amount", "effective_from", "summary"]


def test_a_correction_that_changes_nothing_or_is_malformed_is_named(world: World) -> None:
    number = file_as_rep(world)
    reviewer = world.actor("officer")
    for correction, field in (
        (Correction(), "correction"),
        (Correction(amount="12,00.001"), "amount"),
        (Correction(effective_from=world.now().date() + timedelta(days=1)), "effective_from"),
    ):
        with pytest.raises(ValidationError) as raised:
            disputes.decide(
                world.factory, reviewer, number, Decision("corrected", REASONS, correction),
                world.now(),
            )  # fmt: skip
        assert raised.value.field == field
    with pytest.raises(ValidationError) as raised:
        disputes.decide(world.factory, reviewer, number, Decision("upheld", "ok"), world.now())
    assert raised.value.field == "reasons"
    with pytest.raises(Forbidden):
        disputes.decide(
            world.factory, world.actor("rep"), number, Decision("removed", REASONS), world.now()
        )
    assert world.record("firm").status == "active"


def test_removal_ends_the_listing_tells_recent_checkers_and_survives_resubmission(
    world: World, tmp_path: Path
) -> None:
    # The bank checks the person (a logged look-up); then the person disputes.
    bank = world.token_of("bank")
    seen = world.client.get(
        f"/api/v1/subjects/{world.ids['person']}", params={"purpose": "credit"}, headers=bank
    )
    assert seen.status_code == 200, seen.text
    number = file_as_rep(world, "person", "rep-person")
    assert world.open_entries("person")
    decide(world, number, "removed")
    assert world.record("person").status == "removed"
    assert world.open_entries("person") == []
    assert world.standing("person").points == 1000
    [subject_told] = world.notifications(notifications.DISPUTE_DECIDED, subject="person")
    assert subject_told.detail["decision"] == "removed"
    [bank_told] = world.notifications(notifications.DISPUTE_DECIDED, username="bank")
    assert (bank_told.record_id, bank_told.detail["decision"]) == (
        world.records["person"],
        "removed",
    )
    assert "reasons" not in bank_told.detail
    assert world.notifications(notifications.DISPUTE_DECIDED, username="officer") == []
    officer, decide_again = world.actor("officer"), Decision("upheld", REASONS)
    with pytest.raises(Conflict):
        disputes.decide(world.factory, officer, number, decide_again, world.now())
    # The court sends the same decision again: refused, the record stays removed.
    person = {"subject_kind": "individual", "id_scheme": "ric", "subject_name": "王伟"}
    original = world.record("person")
    again = record_row(2, subject=0, id_value=ric(1), **person)
    again |= {"decided_on": original.decided_on.isoformat()}
    again |= {"effective_from": original.effective_from.isoformat()}
    report = run_import(world.factory, "records", write_csv(tmp_path / "again.csv", [again]))
    assert (report.created, report.updated, report.rejected) == (0, 0, 1)
    assert "removed after a dispute" in (tmp_path / "again.rejects.csv").read_text("utf-8")
    assert world.record("person").status == "removed"
    assert world.open_entries("person") == []
    # A new decision under a new reference is a new record.
    fresh = again | {"reference": "(2026)京01执900号"}
    report = run_import(world.factory, "records", write_csv(tmp_path / "new.csv", [fresh]))
    assert report.created == 1
    assert [code for code, _ in world.open_entries("person")] == [DISPUTED]


def test_the_record_page_names_a_removal(world: World) -> None:
    number = file_as_rep(world)
    decide(world, number, "removed")
    record = world.records["firm"]
    page = html.unescape(world.client.get(f"/records/{record}").text)
    assert "Removed after dispute" in page
    assert "Dispute this record" not in page
    chinese = world.client.get(f"/records/{record}", params={"lang": "zh"}).text
    assert "经异议处理后已删除" in chinese
    with transaction(world.factory) as session:
        assert session.get(Record, record) is not None  # kept, void, with its history


# ------------------------------------------------------------------ the API


def test_the_api_files_lists_shows_and_decides_disputes(world: World) -> None:
    record = world.records["firm"]
    rep = world.token_of("rep", ("read", "dispute"))
    filed = world.client.post(
        f"/api/v1/records/{record}/disputes",
        data={"grounds": GROUNDS},
        files=[("evidence", ("scan.png", PNG, "image/png"))],
        headers=rep,
    )
    assert filed.status_code == 201, filed.text
    number = filed.json()["id"]
    assert filed.json()["answer_due"] == (world.now().date() + timedelta(days=30)).isoformat()
    officer = world.token_of("officer")
    listed = world.client.get("/api/v1/disputes", headers=officer).json()["disputes"]
    assert [(d["id"], d["record"]["id"]) for d in listed] == [(number, record)]
    assert listed[0]["evidence"][0]["filename"] == "scan.png"
    mine = world.client.get(f"/api/v1/disputes/{number}", headers=rep)
    assert mine.status_code == 200
    assert mine.json()["grounds"] == GROUNDS
    evidence_id = mine.json()["evidence"][0]["id"]
    assert world.client.get(f"/api/v1/evidence/{evidence_id}", headers=rep).content == PNG
    for headers, status in (({}, 401), (world.token_of("bank"), 403)):
        answer = world.client.get("/api/v1/disputes", headers=headers)
        assert answer.status_code == status
        assert answer.headers["content-type"].startswith("application/problem+json")
    other = world.token_of("rep-other")
    assert world.client.get(f"/api/v1/disputes/{number}", headers=other).status_code == 403
    assert world.client.get("/api/v1/disputes/999999", headers=officer).status_code == 404
    refused = world.client.post(
        f"/api/v1/records/{record}/disputes", data={"grounds": GROUNDS}, headers=other
    )
    assert refused.status_code == 403
    read_only = world.token_of("rep", ("read",))
    assert (
        world.client.post(
            f"/api/v1/records/{record}/disputes", data={"grounds": GROUNDS}, headers=read_only
        ).status_code
        == 403
    )
    body = {
        "decision": "corrected",
        "reasons": REASONS,
        "correction": {"amount": "9000.00"},
    }
    decided = world.client.post(f"/api/v1/disputes/{number}/decision", json=body, headers=officer)
    assert decided.status_code == 200, decided.text
    assert (decided.json()["decision"], decided.json()["status"]) == ("corrected", "decided")
    assert world.record("firm").amount_cents == 900000
    again = world.client.post(f"/api/v1/disputes/{number}/decision", json=body, headers=officer)
    assert again.status_code == 409
    assert again.json()["title"] == "Conflict"
    bad = world.client.post(
        f"/api/v1/disputes/{number}/decision", json={"decision": "maybe"}, headers=officer
    )
    assert bad.status_code == 422


# ------------------------------------------------------------------ accessibility


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")
@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_signed_in_forms_and_the_queue_pass_the_wcag_rules_of_axe(
    world: World, language: str
) -> None:
    from playwright.sync_api import sync_playwright

    rep = world.browser_of("rep")
    firm, repairable = world.records["firm"], world.records["repairable"]
    asked = {"lang": language}
    refused = world.post_form(rep, f"/records/{firm}/dispute?lang={language}", {"grounds": "x"})
    assert refused.status_code == 422
    pages = {
        "dispute form": rep.get(f"/records/{firm}/dispute", params=asked).text,
        "dispute form, a field named": refused.text,
        "repair form": rep.get(f"/records/{repairable}/repair", params=asked).text,
    }
    file_as_rep(world)
    world.post_form(rep, f"/records/{repairable}/repair", {"grounds": GROUNDS})
    pages["record, for its subject"] = rep.get(f"/records/{repairable}", params=asked).text
    pages["review queue"] = world.browser_of("officer").get("/review", params=asked).text
    assert "/review/repairs/" in pages["review queue"]
    problems = {}
    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page()
        for name, text in pages.items():
            page.set_content(text)
            if found := violations(page):
                problems[name] = found
        browser.close()
    assert problems == {}


def test_the_daily_run_suspends_an_overdue_dispute_then_maintains(world: World) -> None:
    file_as_rep(world)
    assert maintenance.run_daily(world.factory, world.clock.advance(days=30)).suspended == 0
    daily = maintenance.run_daily(world.factory, world.clock.advance(days=1))
    assert daily.suspended == 1
    assert world.record("firm").status == "suspended"
    assert world.open_entries("firm") == []
    assert maintenance.run_daily(world.factory, world.now()).suspended == 0
