"""Notice before publication: the core counts a record only from the end of its notice
period, the import sets that day and tells the subject, ``maintain`` publishes it on
the day, the public sees nothing before, and the batch job agrees with the online one.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import cast

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from tests.accounts import browser, make_account, sign_in
from tests.conftest import RULEBOOK
from tests.feeds import (
    add_authorities,
    record_row,
    run_import,
    subject_row,
    write_csv,
    write_subjects,
)
from trustreg.batch.rate import rate_all
from trustreg.config import Settings
from trustreg.core.rating import RecordFact, RecordVersion, evaluate, facts_as_known, schedule
from trustreg.core.rulebook import parse_rulebook
from trustreg.errors import RulebookError
from trustreg.services import assessments, export, notifications, registry
from trustreg.services.ingest_records import published_from
from trustreg.store import assessments as stored
from trustreg.store import queries
from trustreg.store.db import transaction
from trustreg.store.models import Assessment, ListEntry, Record
from trustreg.store.models_access import Notification
from trustreg.web.app import create_app

TODAY = datetime.now(UTC).date()
MODEL = parse_rulebook(RULEBOOK.read_text(encoding="utf-8"))
DEFAULTER = MODEL.record_types["judgment_defaulter"]  # notice_days 10
LISTED = "dishonest_defaulters"


def fact(**changes: object) -> RecordFact:
    base = RecordFact(1, "judgment_defaulter", date(2026, 3, 1))
    return replace(base, **changes)  # type: ignore[arg-type]


# ------------------------------------------------------------------ the core


def test_a_record_counts_only_from_the_end_of_its_notice() -> None:
    noticed = fact(published_from=date(2026, 3, 11))
    before = evaluate(7, [noticed], MODEL, date(2026, 3, 10))
    assert (before.points, before.lists) == (1000, ())
    on_the_day = evaluate(7, [noticed], MODEL, date(2026, 3, 11))
    assert on_the_day.points == 900
    [membership] = on_the_day.lists
    assert (membership.list_code, membership.entered_on) == (LISTED, date(2026, 3, 11))
    # The notice does not lengthen the listing: it still ends listing_days after effect.
    assert membership.scheduled_exit == date(2026, 3, 1) + timedelta(days=730)
    # A notice that ended before the record took effect changes nothing.
    early = fact(published_from=date(2026, 2, 1))
    assert evaluate(7, [early], MODEL, date(2026, 3, 1)).lists[0].entered_on == date(2026, 3, 1)


def test_the_end_of_the_notice_is_a_day_the_assessment_changes_by_itself() -> None:
    noticed = fact(published_from=date(2026, 3, 11))
    assert schedule([noticed], MODEL, date(2026, 3, 5))[0] == date(2026, 3, 11)
    assert schedule([noticed], MODEL, date(2026, 3, 11))[0] != date(2026, 3, 11)


def test_facts_as_known_carry_the_day_of_publication() -> None:
    version = RecordVersion(
        record_id=1,
        entry_id=1,
        recorded_at=datetime(2026, 3, 1, tzinfo=UTC),
        record_type="judgment_defaulter",
        effective_from=date(2026, 3, 1),
        status="active",
        status_since=date(2026, 3, 1),
        published_from=date(2026, 3, 11),
    )
    [known] = facts_as_known([version], date(2026, 3, 20))
    assert known.published_from == date(2026, 3, 11)


def test_the_rulebook_may_publish_during_the_notice() -> None:
    assert DEFAULTER.publish_during_notice is False
    assert published_from(DEFAULTER, date(2026, 3, 1)) == date(2026, 3, 11)
    during = replace(DEFAULTER, publish_during_notice=True)
    assert published_from(during, date(2026, 3, 1)) is None
    assert published_from(MODEL.record_types["insolvency"], date(2026, 3, 1)) is None
    text = RULEBOOK.read_text(encoding="utf-8").replace(
        "notice_days = 10\n", 'notice_days = 10\npublish_during_notice = "yes"\n', 1
    )
    with pytest.raises(RulebookError) as refused:
        parse_rulebook(text)
    assert "'publish_during_notice' must be true or false" in str(refused.value)


# ------------------------------------------------------------------ arrival


def import_defaulter(
    factory: sessionmaker[Session], tmp_path: Path, n: int = 1, **changes: str
) -> Record:
    """Import a judgment decided 20 days ago, in effect 10 days ago; notified as given."""
    row = record_row(
        n, decided_on=(TODAY - timedelta(days=20)).isoformat(),
        effective_from=(TODAY - timedelta(days=10)).isoformat(), **changes,
    )  # fmt: skip
    report = run_import(factory, "records", write_csv(tmp_path / f"r{n}.csv", [row]))
    assert (report.created, report.rejected) == (1, 0)
    with transaction(factory) as session:
        record = session.scalar(select(Record).where(Record.reference == row["reference"]))
        assert record is not None
        return record


def entries(factory: sessionmaker[Session], subject_id: int) -> list[tuple[str, date]]:
    with transaction(factory) as session:
        rows = session.execute(
            select(ListEntry.list_code, ListEntry.entered_on).where(
                ListEntry.subject_id == subject_id, ListEntry.ended_on.is_(None)
            )
        ).all()
        return [(code, entered) for code, entered in rows]


def moment(day: date) -> datetime:
    return datetime.combine(day, time(1), tzinfo=UTC)


def test_a_new_record_waits_for_its_notice_and_maintain_publishes_it_on_the_day(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    add_authorities(factory)
    record = import_defaulter(factory, tmp_path, notified_on="")
    ends = TODAY + timedelta(days=10)
    assert record.published_from == ends
    with transaction(factory) as session:
        [notice] = session.scalars(
            select(Notification).where(Notification.kind == notifications.NOTICE)
        ).all()
        stored_now = session.get(Assessment, record.subject_id)
    assert (notice.subject_id, notice.record_id, notice.account_id) == (
        record.subject_id,
        record.id,
        None,
    )
    assert notice.detail["published_from"] == ends.isoformat()
    assert notice.detail["dispute"] == f"/records/{record.id}/dispute"
    assert stored_now is not None
    assert (stored_now.points, stored_now.next_change) == (1000, ends)
    assert entries(factory, record.subject_id) == []
    assert assessments.maintain(factory, moment(ends - timedelta(days=1))).subjects == 0
    assert assessments.maintain(factory, moment(ends)).subjects == 1
    assert entries(factory, record.subject_id) == [(LISTED, ends)]
    with transaction(factory) as session:
        assert session.get(Assessment, record.subject_id).points == 900  # type: ignore[union-attr]


def test_the_notice_runs_from_the_authoritys_notice_when_the_feed_gives_it(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    add_authorities(factory)
    notified = TODAY - timedelta(days=3)
    record = import_defaulter(factory, tmp_path, notified_on=notified.isoformat())
    assert record.published_from == notified + timedelta(days=10)
    old = import_defaulter(
        factory, tmp_path, 2, notified_on=(TODAY - timedelta(days=30)).isoformat()
    )
    assert [code for code, _ in entries(factory, old.subject_id)] == [LISTED]
    # A resubmission keeps the day the notice period first ran from.
    again = record_row(
        1, decided_on=(TODAY - timedelta(days=20)).isoformat(),
        effective_from=(TODAY - timedelta(days=10)).isoformat(), amount="99.00", notified_on="",
    )  # fmt: skip
    assert run_import(factory, "records", write_csv(tmp_path / "again.csv", [again])).updated == 1
    with transaction(factory) as session:
        assert session.get(Record, record.id).published_from == record.published_from  # type: ignore[union-attr]
        notices = session.scalars(select(Notification.record_id)).all()
    assert sorted(notices) == sorted([record.id, old.id])  # one notice, on arrival


def test_a_notified_day_in_the_future_is_refused(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    add_authorities(factory)
    row = record_row(1, notified_on=(TODAY + timedelta(days=2)).isoformat())
    report = run_import(factory, "records", write_csv(tmp_path / "r.csv", [row]))
    assert (report.created, report.rejected) == (0, 1)
    assert "notified_on" in (tmp_path / "r.rejects.csv").read_text(encoding="utf-8")


def test_a_type_publishing_during_its_notice_is_published_at_once_and_still_told(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    text = RULEBOOK.read_text(encoding="utf-8")
    text = text.replace('version = "2026.2"', 'version = "2026.2-during"', 1)
    text = text.replace("notice_days = 10\n", "notice_days = 10\npublish_during_notice = true\n", 1)
    assert registry.load_rulebook(factory, parse_rulebook(text), "test")
    add_authorities(factory)
    record = import_defaulter(factory, tmp_path, notified_on="")
    assert record.published_from is None
    assert [code for code, _ in entries(factory, record.subject_id)] == [LISTED]
    with transaction(factory) as session:
        [notice] = session.scalars(select(Notification)).all()
    assert notice.detail["published_from"] == TODAY.isoformat()


# ------------------------------------------------------------------ who sees it


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with browser(create_app(settings)) as running:
        yield running


def test_the_public_does_not_see_a_record_in_its_notice_but_its_subject_does(
    client: TestClient, tmp_path: Path
) -> None:
    factory: sessionmaker[Session] = client.app.state.sessions  # type: ignore[attr-defined]
    add_authorities(factory)
    assert run_import(factory, "subjects", write_subjects(tmp_path / "s.csv", [subject_row(1)]))
    record = import_defaulter(factory, tmp_path, notified_on="")
    profile = html.unescape(client.get(f"/subjects/{record.subject_id}").text)
    assert record.reference not in profile
    assert client.get(f"/records/{record.id}").status_code == 404
    assert client.get(f"/api/v1/records/{record.id}").status_code == 404
    subject = client.get(f"/api/v1/subjects/{record.subject_id}").json()
    assert subject["records"] == []
    make_account(factory, "rep", "representative", subjects=(record.subject_id,))
    rep = sign_in(browser(client.app), "rep")  # type: ignore[arg-type]
    page = html.unescape(rep.get(f"/records/{record.id}").text)
    assert "In its notice period" in page
    assert (TODAY + timedelta(days=10)).isoformat() in page
    assert f'href="/records/{record.id}/dispute"' in page
    assert "<textarea" in rep.get(f"/records/{record.id}/dispute").text


def test_open_data_leaves_out_a_record_in_its_notice(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    add_authorities(factory)
    waiting = import_defaulter(factory, tmp_path, notified_on="")
    published = import_defaulter(factory, tmp_path, 2)
    export.export(factory, "jsonl", tmp_path / "open")
    lines = (tmp_path / "open" / "records.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["record_id"] for line in lines] == [published.id]
    assert waiting.id != published.id


# ------------------------------------------------------------------ the batch job


def test_the_batch_job_waits_for_the_notice_as_the_online_one_does(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    add_authorities(factory)
    waiting = import_defaulter(factory, tmp_path, notified_on="")
    published = import_defaulter(factory, tmp_path, 2)
    engine = cast(Engine, factory.kw["bind"])
    for day in (TODAY, TODAY + timedelta(days=10)):
        with transaction(factory) as session:
            rules = queries.rulebook_in_force(session, day)
        rate_all(engine, rules, day, workers=1)
        with transaction(factory) as session:
            versions = stored.record_versions(session, [waiting.subject_id, published.subject_id])
            for subject_id, subject_versions in versions.items():
                expected = evaluate(subject_id, facts_as_known(subject_versions, day), rules, day)
                got = session.get(Assessment, subject_id)
                assert got is not None
                assert (got.points, got.lists) == (
                    expected.points,
                    [m.list_code for m in expected.lists],
                )
            assert session.get(Assessment, waiting.subject_id).points == (  # type: ignore[union-attr]
                1000 if day == TODAY else 900
            )
