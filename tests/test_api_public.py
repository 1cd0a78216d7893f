"""The public API: lists and their entries, the rulebook, statistics, ETags, the docs
page, and one error shape on every endpoint.

The registry here (both backends): company 1 and 2 are judgment defaulters from the
same day (ties on the entry day are cut by entry id), a person is one five days later,
company 3 is a defaulter and, later, abnormal; company 4 is abnormal. Company 2 is in
Shanghai; company 7 has no records.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import RULEBOOK
from tests.feeds import (
    REGULATOR,
    add_authorities,
    problem_of,
    record_row,
    ric,
    run_import,
    subject_row,
    uscc,
    write_csv,
    write_subjects,
)
from trustreg.config import Settings
from trustreg.core.rulebook import parse_rulebook
from trustreg.services import registry
from trustreg.services.statistics import month_starts
from trustreg.web.app import create_app

TODAY = datetime.now(UTC).date()
D40, D35, D30, D20, D10 = (TODAY - timedelta(days=n) for n in (40, 35, 30, 20, 10))
PERSON = ric(1)
MODEL = RULEBOOK.read_text(encoding="utf-8")


def record(
    n: int, subject: int, record_type: str, effective: date, **changes: str
) -> dict[str, str]:
    if record_type != "judgment_defaulter":
        changes = {"amount": "", "currency": "", "authority": REGULATOR, **changes}
    return record_row(
        n,
        subject=subject,
        record_type=record_type,
        decided_on=(effective - timedelta(days=5)).isoformat(),
        effective_from=effective.isoformat(),
        **changes,
    )


PERSON_FIELDS = {
    "subject_kind": "individual",
    "id_scheme": "ric",
    "id_value": PERSON,
    "subject_name": "王伟",
}


def populate(factory: sessionmaker[Session], tmp_path: Path) -> None:
    add_authorities(factory)
    subjects = [subject_row(2, region="上海市"), subject_row(7)]
    assert (
        run_import(factory, "subjects", write_subjects(tmp_path / "s.csv", subjects)).rejected == 0
    )
    rows = [
        record(1, 1, "judgment_defaulter", D40),
        record(2, 2, "judgment_defaulter", D40),
        record(3, 3, "judgment_defaulter", D30),
        record(4, 3, "business_abnormal", D20),
        record(5, 0, "judgment_defaulter", D35, **PERSON_FIELDS),
        record(6, 4, "business_abnormal", D10),
    ]
    report = run_import(factory, "records", write_csv(tmp_path / "r.csv", rows))
    assert (report.created, report.rejected) == (len(rows), 0)


@pytest.fixture
def client(settings: Settings, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        populate(sessions(test_client), tmp_path)
        yield test_client


def sessions(client: TestClient) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = client.app.state.sessions  # type: ignore[attr-defined]
    return factory


def ok(client: TestClient, url: str, **params: Any) -> Any:
    response = client.get(url, params=params)
    assert response.status_code == 200, response.text
    return response.json()


ENTRIES = "/api/v1/lists/dishonest_defaulters/entries"


# ------------------------------------------------------------------------------ lists


def test_lists_name_their_basis_consequences_and_open_entries(client: TestClient) -> None:
    lists = {item["code"]: item for item in ok(client, "/api/v1/lists")["lists"]}
    assert set(lists) == {
        "dishonest_defaulters",
        "serious_violators",
        "abnormal_operations",
        "redlist",
    }
    defaulters = lists["dishonest_defaulters"]
    assert (defaulters["open_entries"], defaulters["kind"]) == (4, "blacklist")
    assert defaulters["title_zh"] == "失信被执行人名单"
    assert defaulters["legal_basis"].startswith("SPC Provisions")
    assert {c["code"] for c in defaulters["consequences"]} == {
        "procurement_exclusion_defaulter",
        "subsidy_restriction_defaulter",
    }
    assert lists["abnormal_operations"]["open_entries"] == 2
    assert lists["redlist"]["open_entries"] == 0


def test_entries_in_key_order_with_masked_person_numbers(client: TestClient) -> None:
    entries = ok(client, ENTRIES)["entries"]
    names = [e["identifier"] for e in entries]
    # Same day: the order is the entries' own (by id), whichever company it puts first.
    assert sorted(names[0:2]) == [f"uscc:{uscc(1)}", f"uscc:{uscc(2)}"]
    assert entries[0]["id"] < entries[1]["id"]
    assert names[3] == f"uscc:{uscc(3)}"
    person = names[2]
    assert person.startswith("ric:")
    assert PERSON not in person
    assert person.endswith(PERSON[-4:])
    assert [e["entered_on"] for e in entries] == [d.isoformat() for d in (D40, D40, D35, D30)]
    assert all(len(e["record_ids"]) == 1 for e in entries)
    assert entries[0]["scheduled_exit"] == (D40 + timedelta(days=730)).isoformat()


def walk(client: TestClient, url: str, during: Any = None) -> tuple[list[int], int]:
    """Follow the next links from ``url``; returns the entry ids seen and the pages."""
    seen: list[int] = []
    pages = 0
    next_url: str | None = url
    while next_url:
        response = client.get(next_url)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [e["id"] for e in body["entries"]]
        pages += 1
        if body["next"]:
            assert response.headers["link"] == f'<{body["next"]}>; rel="next"'
        else:
            assert "link" not in response.headers
        if during is not None and pages == 1:
            during()
        next_url = body["next"]
    return seen, pages


def test_pages_see_every_entry_once_while_entries_are_added(
    client: TestClient, tmp_path: Path
) -> None:
    before = [e["id"] for e in ok(client, ENTRIES, limit=1000)["entries"]]

    def add_one() -> None:
        late = record(7, 5, "judgment_defaulter", D10)
        run_import(sessions(client), "records", write_csv(tmp_path / "late.csv", [late]))

    seen, pages = walk(client, f"{ENTRIES}?limit=1", add_one)
    assert len(seen) == len(set(seen)) == 5
    assert seen[:4] == before
    assert pages == 5
    assert ok(client, ENTRIES, limit=3)["next"] is not None
    assert ok(client, ENTRIES, limit=5)["next"] is None


def test_entry_filters(client: TestClient) -> None:
    def ids(**params: Any) -> list[str]:
        return [e["identifier"] for e in ok(client, ENTRIES, **params)["entries"]]

    assert ids(region="上海市") == [f"uscc:{uscc(2)}"]
    assert ids(record_type="business_abnormal") == [f"uscc:{uscc(3)}"]
    assert ids(entered_from=D35.isoformat(), entered_to=D30.isoformat())[1:] == [f"uscc:{uscc(3)}"]
    assert ids(entered_to=(D40 - timedelta(days=1)).isoformat()) == []
    abnormal = ok(client, "/api/v1/lists/abnormal_operations/entries")["entries"]
    assert [e["entered_on"] for e in abnormal] == [D20.isoformat(), D10.isoformat()]


def test_csv_download_equals_the_json_entries(client: TestClient) -> None:
    for params in ({}, {"region": "北京市"}, {"entered_from": D35.isoformat()}):
        entries = ok(client, ENTRIES, **params)["entries"]
        response = client.get(f"{ENTRIES}.csv", params=params)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert rows == [
            {
                "entry_id": str(e["id"]),
                "subject_id": str(e["subject_id"]),
                "name": e["name"],
                "identifier": e["identifier"],
                "entered_on": e["entered_on"],
                "scheduled_exit": e["scheduled_exit"],
                "record_ids": " ".join(str(i) for i in e["record_ids"]),
            }
            for e in entries
        ]


# ------------------------------------------------------------------------------ ETags


def test_subject_answers_carry_an_etag_and_answer_304(client: TestClient) -> None:
    entry = ok(client, ENTRIES)["entries"][0]
    subject_id = entry["subject_id"]
    for url, params in (
        (f"/api/v1/subjects/{subject_id}", {}),
        ("/api/v1/subjects", {"identifier": entry["identifier"]}),
    ):
        first = client.get(url, params=params)
        assert first.status_code == 200, first.text
        tag = first.headers["etag"]
        assert tag.startswith('"')
        assert not tag.startswith("W/")
        assert first.json()["id"] == subject_id
        again = client.get(url, params=params, headers={"If-None-Match": tag})
        assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", tag)
        other = client.get(url, params=params, headers={"If-None-Match": '"other"'})
        assert other.status_code == 200
        assert client.get(url, params=params).headers["etag"] == tag  # stable


# --------------------------------------------------------------------------- rulebook


def test_rulebook_in_force_and_versions(client: TestClient) -> None:
    rulebook = ok(client, "/api/v1/rulebook")
    assert rulebook["version"] == "2026.2"
    types = {t["code"]: t for t in rulebook["record_types"]}
    defaulter = types["judgment_defaulter"]
    assert (defaulter["points"], defaulter["list_effects"][0]["listing_days"]) == (-100, 730)
    assert defaulter["legal_basis"]
    assert {item["code"] for item in rulebook["lists"]} >= {"dishonest_defaulters"}
    versions = ok(client, "/api/v1/rulebook/versions")["versions"]
    assert [(v["version"], v["in_force"]) for v in versions] == [("2026.2", True)]


def test_rulebook_diff_names_a_changed_consequence(client: TestClient) -> None:
    new = MODEL.replace('version = "2026.2"', 'version = "2026.3"', 1)
    new = new.replace('effective_from = "2026-01-01"', 'effective_from = "2099-01-01"', 1)
    new = new.replace("max_days = 365\n\n[[list]]", "max_days = 200\n\n[[list]]", 1)
    new = new.replace("points = -5\n", "points = -6\n", 1)
    assert registry.load_rulebook(sessions(client), parse_rulebook(new), "test")
    diff = ok(client, "/api/v1/rulebook/diff", **{"from": "2026.2", "to": "2026.3"})
    assert diff["consequences"] == {
        "added": [],
        "removed": [],
        "changed": ["subsidy_restriction_defaulter"],
    }
    assert diff["rules"] == {"added": [], "removed": [], "changed": ["admin_penalty_minor"]}
    versions = ok(client, "/api/v1/rulebook/versions")["versions"]
    assert [(v["version"], v["in_force"]) for v in versions] == [
        ("2026.2", True),
        ("2026.3", False),
    ]
    missing = client.get("/api/v1/rulebook/diff", params={"from": "2026.2", "to": "1.0"})
    assert "1.0" in problem_of(missing, 404)["detail"]


# ------------------------------------------------------------------------- statistics


def test_statistics_are_exact(client: TestClient) -> None:
    stats = ok(client, "/api/v1/statistics")
    assert stats["subjects_by_kind"] == {"individual": 1, "legal_entity": 5}
    assert stats["records_by_type_and_status"] == {
        "business_abnormal": {"active": 2},
        "judgment_defaulter": {"active": 4},
    }
    assert stats["open_entries_by_list"] == {"abnormal_operations": 2, "dishonest_defaulters": 4}
    # Defaulters: 1000 - 100 = 900 (B); company 3 also abnormal: 880 (B); company 4: 980 (A).
    grades = stats["grades"]
    assert (grades["B"], grades.get("A", 0) >= 1) == (4, True)
    months = stats["months"]
    assert [m["month"] for m in months] == [f"{d:%Y-%m}" for d in month_starts(TODAY)]
    assert len(months) == 24
    assert months[-1]["month"] == f"{TODAY:%Y-%m}"
    listed = Counter(f"{d:%Y-%m}" for d in (D40, D40, D35, D30, D20, D10))
    assert {m["month"]: m["listed"] for m in months if m["listed"]} == dict(listed)
    assert sum(m["exited"] for m in months) == 0


def test_month_starts_cross_the_year() -> None:
    starts = month_starts(date(2026, 2, 14), 3)
    assert starts == [date(2025, 12, 1), date(2026, 1, 1), date(2026, 2, 1)]


# ----------------------------------------------------------- one error shape, everywhere

# Endpoints the walker does not call: each needs a request body (and a token or a file).
NEEDS_A_BODY = {
    ("post", "/api/v1/records"),
    ("post", "/api/v1/screenings"),
    ("post", "/api/v1/eligibility/batch"),
    ("post", "/api/v1/watches"),
    ("delete", "/api/v1/watches/{watch_id}"),  # no body, but not a GET: not walked
    ("post", "/api/v1/records/{record_id}/disputes"),
    ("post", "/api/v1/disputes/{dispute_id}/decision"),
    ("post", "/api/v1/records/{record_id}/repairs"),
    ("post", "/api/v1/repairs/{application_id}/decision"),
}


def calls(path: str, spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, str]]]:
    """Unknown ids, ids of the wrong type, no parameters, and nonsense in every one."""
    params = [p for p in spec.get("parameters", []) if p["in"] == "query"]
    for stand_in in ("999999", "no-such-thing", "-1", "%20"):
        url = path
        for name in [p["name"] for p in spec.get("parameters", []) if p["in"] == "path"]:
            url = url.replace("{" + name + "}", stand_in)
        yield url, {}
        yield url, {p["name"]: "bad value!" for p in params}
        yield url, {p["name"]: "0" for p in params}


def test_every_error_of_every_endpoint_is_problem_json(client: TestClient) -> None:
    openapi = client.app.openapi()  # type: ignore[attr-defined]
    operations = {
        (method, path): spec
        for path, item in openapi["paths"].items()
        for method, spec in item.items()
        if path.startswith("/api/")
    }
    assert {op for op in operations if op[0] != "get"} == NEEDS_A_BODY
    errors = Counter[int]()
    for (method, path), spec in sorted(operations.items()):
        if method != "get":
            continue
        for url, params in calls(path, spec):
            response = client.get(url, params=params)
            if response.status_code >= 400:
                problem_of(response, response.status_code)
                errors[response.status_code] += 1
            assert response.status_code < 500, (url, params, response.text)
    assert errors[404], errors
    assert errors[422], errors
    problem_of(client.get(f"{ENTRIES}", params={"cursor": "not a cursor"}), 422)
    problem_of(client.get(f"{ENTRIES}", params={"limit": 1001}), 422)
    problem_of(client.get("/api/v1/lists/nope/entries.csv"), 404)
    problem_of(client.delete("/api/v1/lists"), 405)
    problem_of(client.get("/api/v1/no-such-endpoint"), 404)


def test_docs_page_lists_every_path_without_any_script(client: TestClient) -> None:
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "<script" not in page
    assert "cdn" not in page.lower()
    for path in client.app.openapi()["paths"]:  # type: ignore[attr-defined]
        assert f"<code>{path}</code>" in page
    assert "Only subjects of this region" in page  # parameter descriptions
