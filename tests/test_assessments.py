"""Assessments kept current, two kinds of time, and maintenance (both backends)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.feeds import COURT, add_authorities, record_row, run_import, uscc, write_csv
from trustreg.config import Settings
from trustreg.services import assessments
from trustreg.store.db import transaction
from trustreg.store.models import Assessment, ListEntry, Record, RecordStatusChange
from trustreg.web.app import create_app

TODAY = datetime.now(UTC).date()


def judgment(n: int, effective: date, **changes: str) -> dict[str, str]:
    return record_row(
        n,
        subject=1,
        record_type="judgment_defaulter",
        decided_on=(effective - timedelta(days=5)).isoformat(),
        effective_from=effective.isoformat(),
        **changes,
    )


def stored(factory: sessionmaker[Session]) -> tuple[int, str, list[str]]:
    with transaction(factory) as session:
        row = session.scalars(select(Assessment)).one()
        return row.points, row.grade, list(row.lists)


def open_lists(factory: sessionmaker[Session]) -> list[tuple[str, date | None]]:
    with transaction(factory) as session:
        rows = session.execute(select(ListEntry.list_code, ListEntry.ended_on)).all()
        return [(code, ended) for code, ended in rows]


def test_import_keeps_the_assessment_current(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    add_authorities(factory)
    recent = TODAY - timedelta(days=30)
    run_import(factory, "records", write_csv(tmp_path / "a.csv", [judgment(1, recent)]))
    assert stored(factory) == (900, "B", ["dishonest_defaulters"])
    assert open_lists(factory) == [("dishonest_defaulters", None)]

    satisfied = write_csv(tmp_path / "b.csv", [judgment(1, recent, status="satisfied")])
    run_import(factory, "records", satisfied)
    assert stored(factory) == (1000, "A", [])
    assert open_lists(factory) == [("dishonest_defaulters", TODAY)]


def test_what_was_published_is_not_rewritten_by_a_later_correction(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    add_authorities(factory)
    recent = TODAY - timedelta(days=30)
    run_import(factory, "records", write_csv(tmp_path / "a.csv", [judgment(1, recent)]))
    with transaction(factory) as session:
        subject_id = session.scalars(select(Record.subject_id)).one()
        published_at = session.scalars(select(RecordStatusChange.changed_at)).one()
    published_at = published_at.replace(tzinfo=published_at.tzinfo or UTC)
    run_import(
        factory,
        "records",
        write_csv(tmp_path / "b.csv", [judgment(1, recent, status="revoked")]),
    )

    then = assessments.subject_assessment(factory, subject_id, TODAY, published_at)
    now = assessments.subject_assessment(factory, subject_id, TODAY)
    assert (then["points"], then["grade"]) == (900, "B")
    assert [m["list"] for m in then["lists"]] == ["dishonest_defaulters"]
    assert (now["points"], now["grade"], now["lists"]) == (1000, "A", [])
    before = assessments.subject_assessment(factory, subject_id, recent - timedelta(days=1))
    assert before["points"] == 1000


def test_maintain_expires_records_and_is_idempotent(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    add_authorities(factory)
    old = TODAY - timedelta(days=800)  # past the 730-day publicity
    rows = [judgment(1, old), judgment(2, TODAY - timedelta(days=10))]
    run_import(factory, "records", write_csv(tmp_path / "a.csv", rows))
    with transaction(factory) as session:
        assert set(session.scalars(select(Record.status))) == {"active"}

    report = assessments.maintain(factory)
    assert (report.subjects, report.expired) == (1, 1)
    with transaction(factory) as session:
        statuses = dict(session.execute(select(Record.reference, Record.status)).all())
        reasons = list(session.scalars(select(RecordStatusChange.reason)))
    assert sorted(statuses.values()) == ["active", "expired"]
    assert reasons.count("publicity period ended") == 1
    assert stored(factory) == (900, "B", ["dishonest_defaulters"])
    assert assessments.maintain(factory).subjects == 0


def test_maintain_ends_listings_on_their_day(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    add_authorities(factory)
    effective = TODAY - timedelta(days=729)  # the listing ends tomorrow
    run_import(factory, "records", write_csv(tmp_path / "a.csv", [judgment(1, effective)]))
    assert assessments.maintain(factory).subjects == 0
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    report = assessments.maintain(factory, tomorrow)
    assert report.subjects == 1
    assert open_lists(factory) == [("dishonest_defaulters", tomorrow.date())]
    assert stored(factory) == (1000, "A", [])


@pytest.fixture
def client(settings: Settings) -> Any:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_assessment_endpoint(client: TestClient, tmp_path: Path) -> None:
    factory = client.app.state.sessions  # type: ignore[attr-defined]
    add_authorities(factory)
    recent = TODAY - timedelta(days=30)
    run_import(factory, "records", write_csv(tmp_path / "a.csv", [judgment(1, recent)]))
    subject = client.get("/api/v1/subjects", params={"identifier": f"uscc:{uscc(1)}"}).json()
    assert subject["assessment"]["grade"] == "B"
    url = f"/api/v1/subjects/{subject['id']}/assessment"
    body = client.get(url).json()
    assert sum(line["points"] for line in body["explanation"]) == body["points"] == 900
    assert body["explanation"][1]["legal_basis"].startswith("Civil Procedure Law")
    earlier = client.get(url, params={"as_of": (recent - timedelta(days=1)).isoformat()})
    assert earlier.json()["points"] == 1000
    future = client.get(url, params={"known_at": "2999-01-01T00:00:00Z"})
    assert future.status_code == 422
    assert future.headers["content-type"].startswith("application/problem+json")
    assert client.get(url, params={"rulebook": "1999.9"}).status_code == 404
    assert COURT in {r["authority"] for r in subject["records"]}


def test_current_facts_equal_the_facts_known_now(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    """The fast read used to keep assessments current gives what the versions give."""
    from trustreg.core.rating import facts_as_known
    from trustreg.store import assessments as store

    add_authorities(factory)
    rows = [judgment(n, TODAY - timedelta(days=100 * n)) for n in range(1, 10)]
    run_import(factory, "records", write_csv(tmp_path / "a.csv", rows))
    changed = [dict(rows[2], status="satisfied"), dict(rows[4], amount="1.00")]
    run_import(factory, "records", write_csv(tmp_path / "b.csv", changed))
    assessments.maintain(factory)
    with transaction(factory) as session:
        ids = store.all_subject_ids(session)
        current = store.current_facts(session, ids)
        versions = store.record_versions(session, ids)
    for subject_id in ids:
        known = facts_as_known(versions[subject_id], TODAY)
        assert sorted(current[subject_id], key=lambda f: f.id) == sorted(known, key=lambda f: f.id)
    # The satisfied judgment stopped being published when satisfied: maintain expired it.
    assert {f.status for facts in current.values() for f in facts} == {"active", "expired"}


def test_a_new_decision_moves_the_open_entrys_exit(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    add_authorities(factory)
    first, second = TODAY - timedelta(days=300), TODAY - timedelta(days=10)
    run_import(factory, "records", write_csv(tmp_path / "a.csv", [judgment(1, first)]))
    run_import(factory, "records", write_csv(tmp_path / "b.csv", [judgment(2, second)]))
    with transaction(factory) as session:
        entries = session.execute(
            select(
                ListEntry.entered_on,
                ListEntry.scheduled_exit,
                ListEntry.record_ids,
                ListEntry.ended_on,
            )
        ).all()
    assert len(entries) == 1
    entered, scheduled_exit, record_ids, ended = entries[0]
    assert (entered, scheduled_exit, ended) == (first, second + timedelta(days=730), None)
    assert len(record_ids) == 2
