"""Watches: the events a change causes, and their signed webhook deliveries (both
backends). Deliveries go over real TCP to a receiver on 127.0.0.1 that checks the
signature with the watch's secret (``tests/watching.py``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any, cast

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import RULEBOOK
from tests.feeds import (
    KEY,
    add_authorities,
    cli_url,
    record_row,
    ric,
    run_cli,
    run_import,
    subject_row,
    write_csv,
    write_subjects,
)
from tests.watching import Receiver, checker, companies, watch_company
from trustreg.batch.rate import rate_all
from trustreg.config import Settings
from trustreg.services import accounts, assessments, notifications, registry, watch
from trustreg.services.watch import BACKOFF, MAX_ATTEMPTS, deliver_due
from trustreg.store import purge, queries
from trustreg.store.db import make_engine, transaction
from trustreg.store.models_watch import Watch, WebhookAttempt, WebhookDelivery
from trustreg.web.app import create_app

TODAY = datetime.now(UTC).date()
RECENT = TODAY - timedelta(days=30)  # in effect, and its notice long over


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    started: list[Receiver] = []

    def start(answers: tuple[int, ...] = (), otherwise: int = 200) -> Receiver:
        started.append(Receiver(answers, otherwise))
        return started[-1]

    yield start
    for receiver in started:
        receiver.close()


def judgment(n: int, company: int, effective: date, **changes: str) -> dict[str, str]:
    """A court's judgment against ``company``, in effect from ``effective``."""
    return record_row(
        n,
        subject=company,
        decided_on=(effective - timedelta(days=5)).isoformat(),
        effective_from=effective.isoformat(),
        **changes,
    )


def settled(n: int, company: int) -> dict[str, str]:
    """A judgment already satisfied: a new record, but no listing and no grade change."""
    return judgment(n, company, TODAY - timedelta(days=40), status="satisfied")


def feed_events(factory: sessionmaker[Session], actor: Any) -> list[tuple[str, int]]:
    """(event, subject id) of the actor's feed, oldest first."""
    return [
        (n["detail"]["event"], n["subject"])
        for n in reversed(notifications.feed(factory, actor))
        if n["kind"] == notifications.WATCH_EVENT
    ]


def later(days: float) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)


def test_a_new_record_its_list_entry_and_grade_change_reach_feed_and_webhook(
    factory: sessionmaker[Session], tmp_path: Path, receivers: Callable[..., Receiver]
) -> None:
    (company,) = companies(factory, tmp_path, 1)
    bank = checker(factory)
    receiver = receivers()
    made = watch_company(factory, bank, 1, receiver)
    assert made["secret"].startswith("whsec_")

    recent = TODAY - timedelta(days=30)
    run_import(factory, "records", write_csv(tmp_path / "r.csv", [judgment(1, 1, recent)]))
    expected = ["record.published", "list.entered", "grade.changed"]
    assert feed_events(factory, bank) == [(e, company) for e in expected]

    report = deliver_due(factory, datetime.now(UTC))
    assert (report.attempted, report.delivered) == (3, 3)
    assert receiver.events() == expected
    assert all(r.signed for r in receiver.received)
    assert {r.path for r in receiver.received} == {"/hooks/trustreg"}
    record, entered, grade = (r.body for r in receiver.received)
    assert record["subject"] == {
        "id": company,
        "name": "北京华信1号科技有限公司",
        "kind": "legal_entity",
    }
    assert record["watch"] == made["id"]
    assert record["data"]["record"]["record_type"] == "judgment_defaulter"
    assert record["data"]["record"]["amount"] == "15000.00"
    assert entered["data"]["list"] == "dishonest_defaulters"
    assert entered["data"]["entered_on"] <= TODAY.isoformat()
    assert grade["data"]["grade"] == {"from": "A", "to": "B"}
    assert grade["data"]["points"] == {"from": 1000, "to": 900}
    headers = receiver.received[0].headers
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Trustreg-Event"] == "record.published"
    assert int(headers["X-Trustreg-Timestamp"]) == pytest.approx(
        datetime.now(UTC).timestamp(), abs=60
    )
    delivery_ids = {int(r.headers["X-Trustreg-Delivery"]) for r in receiver.received}
    assert len(delivery_ids) == 3
    assert deliver_due(factory, datetime.now(UTC)).attempted == 0  # nothing sent twice


def test_a_wrong_secret_does_not_verify(
    factory: sessionmaker[Session], tmp_path: Path, receivers: Callable[..., Receiver]
) -> None:
    """The control: the receiver's check can fail (a different secret)."""
    companies(factory, tmp_path, 1)
    receiver = receivers()
    watch_company(factory, checker(factory), 1, receiver)
    receiver.secret = "whsec_" + "0" * 64
    run_import(factory, "records", write_csv(tmp_path / "r.csv", [judgment(1, 1, RECENT)]))
    deliver_due(factory, datetime.now(UTC))
    assert receiver.received
    assert not any(r.signed for r in receiver.received)


def test_leaving_a_list_is_an_event_when_maintain_reaches_the_day(
    factory: sessionmaker[Session], tmp_path: Path, receivers: Callable[..., Receiver]
) -> None:
    (company,) = companies(factory, tmp_path, 1)
    bank = checker(factory)
    receiver = receivers()
    watch_company(factory, bank, 1, receiver)
    effective = TODAY - timedelta(days=729)  # the listing ends tomorrow
    run_import(factory, "records", write_csv(tmp_path / "r.csv", [judgment(1, 1, effective)]))
    deliver_due(factory, datetime.now(UTC))
    assert receiver.events() == ["record.published", "list.entered", "grade.changed"]

    assert assessments.maintain(factory).subjects == 0  # nothing changes today
    tomorrow = later(1)
    assert assessments.maintain(factory, tomorrow).subjects == 1
    deliver_due(factory, tomorrow)
    assert receiver.events()[3:] == ["list.exited", "grade.changed"]
    exited, grade = (r.body for r in receiver.received[3:])
    assert exited["data"]["ended_on"] == tomorrow.date().isoformat()
    assert grade["data"]["grade"] == {"from": "B", "to": "A"}
    assert feed_events(factory, bank)[-2:] == [
        ("list.exited", company),
        ("grade.changed", company),
    ]
    assert assessments.maintain(factory, tomorrow).subjects == 0
    assert len(feed_events(factory, bank)) == 5  # a second run tells nothing again


def test_a_record_under_notice_is_announced_when_its_notice_ends(
    factory: sessionmaker[Session], tmp_path: Path, receivers: Callable[..., Receiver]
) -> None:
    companies(factory, tmp_path, 1)
    bank = checker(factory)
    receiver = receivers()
    watch_company(factory, bank, 1, receiver)
    # No notice given with the decision: the 10-day notice period starts today.
    row = judgment(1, 1, TODAY - timedelta(days=3), notified_on="")
    run_import(factory, "records", write_csv(tmp_path / "r.csv", [row]))
    assert feed_events(factory, bank) == []
    assert assessments.maintain(factory, later(9)).subjects == 0

    published = later(10)
    assert assessments.maintain(factory, published).subjects == 1
    expected = ["record.published", "list.entered", "grade.changed"]
    assert [e for e, _ in feed_events(factory, bank)] == expected
    deliver_due(factory, published)
    assert receiver.events() == expected
    record = receiver.received[0].body["data"]["record"]
    assert record["published_from"] == published.date().isoformat()
    assessments.maintain(factory, later(11))
    assert len(feed_events(factory, bank)) == 3


def test_an_unwatched_subject_causes_nothing(
    factory: sessionmaker[Session], tmp_path: Path, receivers: Callable[..., Receiver]
) -> None:
    first, second = companies(factory, tmp_path, 1, 2)
    bank = checker(factory)
    receiver = receivers()
    watch_company(factory, bank, 1, receiver)
    run_import(factory, "records", write_csv(tmp_path / "r.csv", [judgment(1, 2, RECENT)]))
    assert feed_events(factory, bank) == []
    with transaction(factory) as session:
        assert session.scalars(select(WebhookDelivery)).all() == []
    assert deliver_due(factory, datetime.now(UTC)).attempted == 0
    assert receiver.received == []
    assert first != second


def test_a_watch_without_a_webhook_fills_the_feed_only(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    (company,) = companies(factory, tmp_path, 1)
    bank, shop = checker(factory, "bank"), checker(factory, "shop")
    watch_company(factory, bank, 1, None)
    watch_company(factory, shop, 1, None)
    run_import(factory, "records", write_csv(tmp_path / "r.csv", [settled(1, 1)]))
    assert [e for e, _ in feed_events(factory, bank)] == ["record.published"]
    assert feed_events(factory, shop) == feed_events(factory, bank)
    with transaction(factory) as session:
        assert session.scalars(select(WebhookDelivery)).all() == []
    assert company


def attempts_of(factory: sessionmaker[Session], bank: Any, watch_id: int) -> dict[str, Any]:
    (delivery,) = watch.delivery_log(factory, bank, watch_id)["deliveries"]
    return cast(dict[str, Any], delivery)


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def gaps(log: list[dict[str, Any]]) -> list[timedelta]:
    """The time between one attempt and the next."""
    times = [moment(a["at"]) for a in log]
    return [b - a for a, b in pairwise(times)]


def test_a_failing_receiver_is_tried_again_with_backoff_until_it_answers(
    factory: sessionmaker[Session], tmp_path: Path, receivers: Callable[..., Receiver]
) -> None:
    companies(factory, tmp_path, 1)
    bank = checker(factory)
    receiver = receivers(answers=(500, 503))
    made = watch_company(factory, bank, 1, receiver)
    run_import(factory, "records", write_csv(tmp_path / "r.csv", [settled(1, 1)]))
    now = datetime.now(UTC)

    first = deliver_due(factory, now)
    assert (first.attempted, first.retrying) == (1, 1)
    assert deliver_due(factory, now).attempted == 0  # not due again yet
    delivery = attempts_of(factory, bank, made["id"])
    retry_at = moment(delivery["next_attempt_at"])
    assert retry_at - moment(delivery["log"][0]["at"]) == BACKOFF[0]
    assert deliver_due(factory, retry_at - timedelta(seconds=1)).attempted == 0

    second = deliver_due(factory, retry_at)
    assert (second.attempted, second.retrying) == (1, 1)
    delivery = attempts_of(factory, bank, made["id"])
    retry_at = moment(delivery["next_attempt_at"])
    assert retry_at - moment(delivery["log"][1]["at"]) == BACKOFF[1]
    assert deliver_due(factory, retry_at).delivered == 1

    delivery = attempts_of(factory, bank, made["id"])
    assert delivery["status"] == "delivered"
    assert delivery["attempts"] == 3
    assert [a["status"] for a in delivery["log"]] == [500, 503, 200]
    assert delivery["log"][0]["error"].startswith("HTTP 500")
    assert delivery["next_attempt_at"] is None
    waited = gaps(delivery["log"])
    assert BACKOFF[0] <= waited[0] < BACKOFF[0] + timedelta(seconds=30)
    assert BACKOFF[1] <= waited[1] < BACKOFF[1] + timedelta(seconds=30)
    # Every attempt carried the same delivery, body and a valid signature.
    assert len({r.headers["X-Trustreg-Delivery"] for r in receiver.received}) == 1
    assert all(r.signed for r in receiver.received)
    assert len(receiver.received) == 3


def test_a_receiver_that_always_fails_is_given_up_after_the_last_attempt(
    factory: sessionmaker[Session], tmp_path: Path, receivers: Callable[..., Receiver]
) -> None:
    companies(factory, tmp_path, 1)
    bank = checker(factory)
    receiver = receivers(otherwise=503)
    made = watch_company(factory, bank, 1, receiver)
    run_import(factory, "records", write_csv(tmp_path / "r.csv", [settled(1, 1)]))
    now = datetime.now(UTC)
    for step in range(MAX_ATTEMPTS):
        assert deliver_due(factory, now).attempted == 1, step
        delivery = attempts_of(factory, bank, made["id"])
        if delivery["next_attempt_at"] is None:
            break
        now = moment(delivery["next_attempt_at"])
    assert delivery["status"] == "failed"
    assert delivery["attempts"] == MAX_ATTEMPTS == len(BACKOFF) + 1
    assert [a["status"] for a in delivery["log"]] == [503] * MAX_ATTEMPTS
    waited = gaps(delivery["log"])
    assert len(waited) == len(BACKOFF)
    for gap, wait in zip(waited, BACKOFF, strict=True):
        assert wait <= gap < wait + timedelta(seconds=30)
    assert deliver_due(factory, now + timedelta(days=30)).attempted == 0
    assert len(receiver.received) == MAX_ATTEMPTS


def test_an_unreachable_receiver_is_an_error_in_the_log(
    factory: sessionmaker[Session], tmp_path: Path, receivers: Callable[..., Receiver]
) -> None:
    companies(factory, tmp_path, 1)
    bank = checker(factory)
    receiver = receivers()
    made = watch_company(factory, bank, 1, receiver)
    receiver.close()  # nobody listens on that port any more
    run_import(factory, "records", write_csv(tmp_path / "r.csv", [settled(1, 1)]))
    assert deliver_due(factory, datetime.now(UTC)).retrying == 1
    delivery = attempts_of(factory, bank, made["id"])
    assert delivery["log"][0]["status"] is None
    assert "refused" in delivery["log"][0]["error"].lower()
    receiver.close = lambda: None  # type: ignore[method-assign]  # closed already


def test_ending_a_watch_stops_its_events_and_gives_up_its_pending_deliveries(
    factory: sessionmaker[Session], tmp_path: Path, receivers: Callable[..., Receiver]
) -> None:
    companies(factory, tmp_path, 1)
    bank = checker(factory)
    receiver = receivers()
    made = watch_company(factory, bank, 1, receiver)
    run_import(factory, "records", write_csv(tmp_path / "a.csv", [judgment(1, 1, RECENT)]))
    ended = watch.end_watch(factory, bank, made["id"], datetime.now(UTC))
    assert ended["ended_at"]
    run_import(factory, "records", write_csv(tmp_path / "b.csv", [judgment(2, 1, RECENT)]))
    assert deliver_due(factory, datetime.now(UTC)).attempted == 0
    log = watch.delivery_log(factory, bank, made["id"])["deliveries"]
    assert {d["status"] for d in log} == {"failed"}
    assert {d["last_error"] for d in log} == {"the watch was ended"}
    assert len(feed_events(factory, bank)) == 3  # of the first record only
    assert watch.list_watches(factory, bank) == []
    assert [w["id"] for w in watch.list_watches(factory, bank, ended=True)] == [made["id"]]


def test_a_batch_re_rating_tells_the_watchers_too(
    factory: sessionmaker[Session], tmp_path: Path, receivers: Callable[..., Receiver]
) -> None:
    companies(factory, tmp_path, 1, 2)
    bank = checker(factory)
    receiver = receivers()
    watch_company(factory, bank, 1, receiver)
    effective = TODAY - timedelta(days=729)  # the listing ends tomorrow
    rows = [judgment(1, 1, effective), judgment(2, 2, effective)]
    run_import(factory, "records", write_csv(tmp_path / "r.csv", rows))
    tomorrow = TODAY + timedelta(days=1)
    with transaction(factory) as session:
        rules = queries.rulebook_in_force(session, tomorrow)
    rate_all(cast(Engine, factory.kw["bind"]), rules, tomorrow, workers=1)
    events = [e for e, _ in feed_events(factory, bank)]
    on_import = ["record.published", "list.entered", "grade.changed"]
    assert events == [*on_import, "list.exited", "grade.changed"]
    deliver_due(factory, datetime.now(UTC))
    assert receiver.events() == events
    assert {r.body["subject"]["name"] for r in receiver.received} == {"北京华信1号科技有限公司"}


def test_the_delivery_log_is_pruned_after_its_keeping_time(
    factory: sessionmaker[Session], tmp_path: Path, receivers: Callable[..., Receiver]
) -> None:
    companies(factory, tmp_path, 1)
    bank = checker(factory)
    receiver = receivers()
    made = watch_company(factory, bank, 1, receiver)
    run_import(factory, "records", write_csv(tmp_path / "r.csv", [settled(1, 1)]))
    deliver_due(factory, datetime.now(UTC))
    assert watch.prune_deliveries(factory, later(watch.KEEP_DAYS - 1)) == 0
    assert watch.prune_deliveries(factory, later(watch.KEEP_DAYS + 1)) == 1
    assert watch.delivery_log(factory, bank, made["id"])["deliveries"] == []


def test_the_cli_delivers_what_is_due(tmp_path: Path, receivers: Callable[..., Receiver]) -> None:
    """``trustreg watch deliver``, as cron runs it (SQLite: the CLI's own store)."""
    factory = registry.initialise(make_engine(cli_url(tmp_path)), RULEBOOK)
    companies(factory, tmp_path, 1)
    receiver = receivers()
    watch_company(factory, checker(factory), 1, receiver)
    run_import(factory, "records", write_csv(tmp_path / "r.csv", [judgment(1, 1, RECENT)]))
    done = run_cli(tmp_path, "watch", "deliver")
    assert done.returncode == 0, done.stderr
    assert "3 attempted, 3 delivered, 0 to retry, 0 given up" in done.stdout
    assert len(receiver.received) == 3
    assert all(r.signed for r in receiver.received)
    again = run_cli(tmp_path, "watch", "deliver")
    assert "0 attempted" in again.stdout
    cast(Engine, factory.kw["bind"]).dispose()


def test_the_server_delivers_in_the_background(
    settings: Settings, tmp_path: Path, receivers: Callable[..., Receiver]
) -> None:
    """With ``webhook_delivery_seconds`` set, the app's own task sends what is due."""
    app = create_app(settings.model_copy(update={"webhook_delivery_seconds": 1}))
    with TestClient(app):
        factory = app.state.sessions
        companies(factory, tmp_path, 1)
        receiver = receivers()
        watch_company(factory, checker(factory), 1, receiver)
        run_import(factory, "records", write_csv(tmp_path / "r.csv", [settled(1, 1)]))
        # Waits for the task's next round (a second), not for a set time.
        assert receiver.wait_for(1)
    assert receiver.events() == ["record.published"]
    assert receiver.received[0].signed


def test_a_disabled_account_hears_nothing_more(
    factory: sessionmaker[Session], tmp_path: Path, receivers: Callable[..., Receiver]
) -> None:
    companies(factory, tmp_path, 1)
    bank = checker(factory)
    receiver = receivers()
    watch_company(factory, bank, 1, receiver)
    accounts.set_disabled(factory, "bank", True, datetime.now(UTC), "test")
    run_import(factory, "records", write_csv(tmp_path / "r.csv", [settled(1, 1)]))
    assert feed_events(factory, bank) == []
    assert deliver_due(factory, datetime.now(UTC)).attempted == 0


def test_a_purged_person_takes_its_watches_and_their_deliveries_along(
    factory: sessionmaker[Session], tmp_path: Path, receivers: Callable[..., Receiver]
) -> None:
    """Retention deletes a person's rows; the database deletes the watches, their
    deliveries and attempts with it (they name the person)."""
    add_authorities(factory)
    number = ric(7)
    person_row = subject_row(
        7, kind="individual", id_scheme="ric", id_value=number, name="王五", registered_on=""
    )
    run_import(factory, "subjects", write_subjects(tmp_path / "p.csv", [person_row]))
    bank = checker(factory)
    receiver = receivers(otherwise=500)
    asked = watch.WatchRequest(f"ric:{number}", receiver.url, "credit")
    made = watch.create_watch(
        factory, bank, asked, datetime.now(UTC), identifier_key=KEY, production=False
    )
    receiver.secret = made["secret"]
    person_record = record_row(
        1,
        subject_kind="individual",
        id_scheme="ric",
        id_value=number,
        subject_name="王五",
        decided_on=(RECENT - timedelta(days=5)).isoformat(),
        effective_from=RECENT.isoformat(),
    )
    run_import(factory, "records", write_csv(tmp_path / "r.csv", [person_record]))
    deliver_due(factory, datetime.now(UTC))
    assert receiver.received[0].body["subject"]["name"] == "王五"
    assert number not in json.dumps([r.body for r in receiver.received], ensure_ascii=False)
    person = made["subject"]["id"]
    with transaction(factory) as session:
        records = [r for _, r in purge.records_of(session, [person])]
        purge.delete_records(session, records)
        assert purge.delete_persons(session, [person])["subjects"] == 1
    with transaction(factory) as session:
        for model in (Watch, WebhookDelivery, WebhookAttempt):
            assert session.scalars(select(model)).all() == [], model
