"""Credit repair: the earliest day on a clock the test moves, the application with its
evidence, the reviewer's decision, and a satisfied judgment leaving the dishonest
list by itself; both backends (``tests/due_process.py``)."""

from __future__ import annotations

import html
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.due_process import PDF, REASONS, TODAY, World, opened
from tests.feeds import record_row, run_import, write_csv
from trustreg.config import Settings
from trustreg.errors import Conflict, Forbidden, ValidationError
from trustreg.services import notifications, repair
from trustreg.store.db import transaction
from trustreg.store.models import AuditEntry, ListEntry
from trustreg.store.models_access import EvidenceFile, RepairApplication

RECTIFIED = "The fine of 2,000 yuan was paid on 2026-03-02 and the shop's licence renewed."


@pytest.fixture
def world(settings: Settings, tmp_path: Path) -> Iterator[World]:
    with opened(settings, tmp_path) as built:
        yield built


def apply_as_rep(world: World, name: str = "repairable") -> int:
    client = world.browser_of("rep")
    record = world.records[name]
    answer = world.post_form(
        client, f"/records/{record}/repair", {"grounds": RECTIFIED}, [("receipt.pdf", PDF)]
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"/records/{record}?filed=repair"
    with transaction(world.factory) as session:
        found = session.scalar(
            select(RepairApplication.id).where(RepairApplication.record_id == record)
        )
    assert found is not None
    return found


def decide(world: World, number: int, decision: str, reasons: str = "") -> None:
    officer = world.browser_of("officer")
    data = {"decision": decision, "reasons": reasons}
    answer = world.post_form(officer, f"/review/repairs/{number}", data, token_page="/review")
    assert answer.status_code == 303, answer.text


def test_repair_opens_on_the_earliest_day_of_its_type(world: World) -> None:
    record = world.records["early"]
    earliest = world.record("early").effective_from + timedelta(days=90)
    page = html.unescape(world.client.get(f"/records/{record}").text)
    assert f"The subject can apply for credit repair from {earliest.isoformat()}" in page
    assert f"/records/{record}/repair" not in page
    form = html.unescape(world.browser_of("rep").get(f"/records/{record}/repair").text)
    assert f"repair may be applied for from {earliest.isoformat()} on" in form
    assert "<textarea" not in form
    with pytest.raises(ValidationError) as refused:
        repair.apply(world.factory, world.actor("rep"), record, RECTIFIED, [], world.now())
    assert earliest.isoformat() in refused.value.reason
    # The day before, still refused; on the day, the form is there.
    world.clock.set(_moment(world, earliest - timedelta(days=1)))
    with pytest.raises(ValidationError):
        repair.apply(world.factory, world.actor("rep"), record, RECTIFIED, [], world.now())
    world.clock.set(_moment(world, earliest))
    rep = world.browser_of("rep")
    assert "<textarea" in rep.get(f"/records/{record}/repair").text
    assert f'href="/records/{record}/repair"' in world.client.get(f"/records/{record}").text
    assert apply_as_rep(world, "early")


def _moment(world: World, day: date) -> datetime:
    return world.now().replace(year=day.year, month=day.month, day=day.day)


def test_a_type_without_repair_and_someone_not_representing_are_refused(world: World) -> None:
    judgment = world.records["firm"]
    with pytest.raises(ValidationError) as refused:
        repair.apply(world.factory, world.actor("rep"), judgment, RECTIFIED, [], world.now())
    assert "cannot be repaired" in refused.value.reason
    record = world.records["repairable"]
    with pytest.raises(Forbidden):
        repair.apply(world.factory, world.actor("rep-other"), record, RECTIFIED, [], world.now())
    page = world.client.get(f"/records/{record}/repair")
    assert page.status_code == 401
    assert "Only a representative of the record's subject can apply" in html.unescape(page.text)
    anonymous = world.client.post(f"/records/{record}/repair", data={"grounds": RECTIFIED})
    assert anonymous.status_code == 401


def test_an_approved_repair_ends_publication_and_listing_at_once(world: World) -> None:
    record = world.records["repairable"]
    before = world.standing("repairable")
    assert before.points == 970
    number = apply_as_rep(world)
    queue = world.browser_of("officer").get("/review").text
    assert f"/review/repairs/{number}" in queue
    assert RECTIFIED in html.unescape(queue)
    with pytest.raises(Conflict):
        repair.apply(world.factory, world.actor("rep"), record, RECTIFIED, [], world.now())
    decide(world, number, "approved")
    stored = world.record("repairable")
    assert (stored.status, stored.status_since) == ("repaired", world.now().date())
    assert world.standing("repairable").points == 1000
    [told] = world.notifications(notifications.REPAIR_DECIDED, subject="repairable")
    assert (told.record_id, told.detail["decision"]) == (record, "approved")
    page = html.unescape(world.client.get(f"/records/{record}").text)
    assert "Repaired" in page
    assert "Apply for credit repair" not in page
    with transaction(world.factory) as session:
        [entry] = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "repair_decided")
        ).all()
        assert entry.actor == "reviewer:officer"
        assert RECTIFIED not in entry.detail
        [file] = session.scalars(select(EvidenceFile)).all()
        assert (file.owner_kind, file.owner_id, file.content) == ("repair", number, PDF)


def test_a_rejection_shows_its_reasons_to_the_subject(world: World) -> None:
    record = world.records["repairable"]
    number = apply_as_rep(world)
    officer = world.actor("officer")
    with pytest.raises(ValidationError) as missing:
        repair.decide(world.factory, officer, number, "rejected", "", world.now())
    assert missing.value.field == "reasons"
    decide(world, number, "rejected", REASONS)
    assert world.record("repairable").status == "active"
    assert world.standing("repairable").points == 970
    own = html.unescape(world.browser_of("rep").get(f"/records/{record}").text)
    assert "Rejected on" in own
    assert REASONS in own
    assert REASONS not in html.unescape(world.client.get(f"/records/{record}").text)
    feed = notifications.feed(world.factory, world.actor("rep"))
    [told] = [n for n in feed if n["kind"] == notifications.REPAIR_DECIDED]
    assert (told["detail"]["decision"], told["detail"]["reasons"]) == ("rejected", REASONS)
    with pytest.raises(Conflict):
        repair.decide(world.factory, officer, number, "approved", "", world.now())


def test_the_api_applies_lists_and_decides(world: World) -> None:
    record = world.records["repairable"]
    rep = world.token_of("rep", ("read", "dispute"))
    filed = world.client.post(
        f"/api/v1/records/{record}/repairs", data={"grounds": RECTIFIED}, headers=rep
    )
    assert filed.status_code == 201, filed.text
    number = filed.json()["id"]
    officer = world.token_of("officer")
    listed = world.client.get("/api/v1/repairs", headers=officer).json()["repairs"]
    assert [r["id"] for r in listed] == [number]
    shown = world.client.get(f"/api/v1/repairs/{number}", headers=rep).json()
    assert shown["grounds"] == RECTIFIED
    early = world.client.post(
        f"/api/v1/records/{world.records['early']}/repairs",
        data={"grounds": RECTIFIED},
        headers=rep,
    )
    assert early.status_code == 422
    assert early.json()["errors"][0]["field"] == "record"
    assert world.client.get("/api/v1/repairs", headers=rep).status_code == 403
    decided = world.client.post(
        f"/api/v1/repairs/{number}/decision", json={"decision": "approved"}, headers=officer
    )
    assert decided.status_code == 200, decided.text
    assert world.record("repairable").status == "repaired"


def test_a_satisfied_judgment_leaves_the_dishonest_list_without_an_application(
    world: World, tmp_path: Path
) -> None:
    stored = world.record("firm")
    assert [code for code, _ in world.open_entries("firm")] == ["dishonest_defaulters"]
    satisfied = record_row(
        1,
        effective_from=stored.effective_from.isoformat(),
        decided_on=stored.decided_on.isoformat(),
        status="satisfied",
    )
    report = run_import(world.factory, "records", write_csv(tmp_path / "paid.csv", [satisfied]))
    assert (report.updated, report.rejected) == (1, 0)
    assert world.open_entries("firm") == []
    assert world.standing("firm").lists == ()
    with transaction(world.factory) as session:
        ended = session.scalars(
            select(ListEntry.ended_on).where(ListEntry.subject_id == world.ids["firm"])
        ).all()
        assert ended == [TODAY]  # the day the authority reported it
        assert session.scalars(select(RepairApplication)).all() == []
