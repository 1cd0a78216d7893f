"""Eligibility checks through the store, the API, tender files and the CLI.

Every expected date is written out by hand from the model rulebook
(``rulebooks/model.toml``): a judgment defaulter is listed on dishonest_defaulters
for 730 days, which excludes it from public procurement for up to 730 days and
restricts its public subsidies for up to 365; abnormal operations (1,095 days)
restrict procurement for up to 1,095; a major tax violation (1,095 days) excludes
from procurement for up to 1,095; a grade A taxpayer is on the redlist for 365 days,
which facilitates simplified procedures for up to 365. Serious violators' subsidy and
licence consequences apply to organisations only, not to persons.

The store tests run on SQLite and PostgreSQL; the CLI tests on SQLite.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.accounts import checker_headers
from tests.conftest import RULEBOOK
from tests.feeds import (
    COURT,
    KEY,
    REGULATOR,
    TAX,
    add_authorities,
    cli_url,
    one_error_line,
    problem_of,
    record_row,
    reference,
    ric,
    run_cli,
    run_import,
    subject_name,
    subject_row,
    uscc,
    write_csv,
    write_subjects,
    wrong_check,
)
from trustreg.config import Settings
from trustreg.core.rulebook import parse_rulebook
from trustreg.errors import Forbidden, NotFound, TrustRegError, Unauthorized, ValidationError
from trustreg.services import eligibility, registry, tender_check
from trustreg.services.eligibility import EligibilityQuery
from trustreg.services.tender_check import ANSWER_COLUMNS, answer_cells
from trustreg.store.db import make_engine, transaction
from trustreg.store.models import AuditEntry, Record, RecordStatusChange
from trustreg.web.app import create_app

TODAY = datetime.now(UTC).date()
# The services with the test store's identifier key.
check = functools.partial(eligibility.check, identifier_key=KEY)
check_many = functools.partial(eligibility.check_many, identifier_key=KEY)
check_file = functools.partial(tender_check.check_file, identifier_key=KEY)
RECENT = TODAY - timedelta(days=30)  # most records take effect on this day
LATER = TODAY - timedelta(days=10)  # the abnormal-operations listing of company 3
TAX_DAY = TODAY - timedelta(days=100)  # the major tax violation of company 6

PROCUREMENT = EligibilityQuery("public_procurement")
# As the command line asks (an operator tool: persons only with a purpose, logged as cli).
AS_CLI = EligibilityQuery("public_procurement", actor="cli")
DEFAULTER_PROCUREMENT_BASIS = (
    "Government Procurement Law of the PRC art. 22(1)(2); SPC Provisions on Publishing "
    "the List of Dishonest Judgment Defaulters (2017) art. 11(1)"
)
DEFAULTER_SUBSIDY_BASIS = (
    "SPC Provisions on Publishing the List of Dishonest Judgment Defaulters (2017) art. 11(1)"
)
DEFAULTERS_LIST_BASIS = (
    "SPC Provisions on Publishing the List of Dishonest Judgment Defaulters (2017) arts. 1, 2, 10"
)
ABNORMAL_BASIS = "Interim Regulations on Enterprise Information Disclosure art. 18"
REDLIST_BASIS = "SAT Measures on Tax Credit Management (2014) art. 30(1), (2)"

# The companies of the populated registry, by number (uscc(n)).
DEFAULTER, ABNORMAL, BOTH, A_GRADE, CLEAN, TWO_EXCLUSIONS = 1, 2, 3, 4, 5, 6
UNKNOWN = 99  # valid, but not in the registry
PERSON = ric(1)
PERSON_NAME = "王伟"
TAX_PERSON = ric(2)  # a person with a major tax violation (TAX_DAY)


# ---------------------------------------------------------------------------- builders


def company(n: int) -> str:
    return f"uscc:{uscc(n)}"


def record(
    n: int, subject: int, record_type: str, effective: date, authority: str, **changes: str
) -> dict[str, str]:
    """Record ``n`` of company ``subject`` (or of whom ``changes`` name), decided ten
    days before it takes effect; only judgments and tax violations carry an amount."""
    if record_type not in ("judgment_defaulter", "tax_serious_violation"):
        changes = {"amount": "", "currency": "", **changes}
    return record_row(
        n,
        subject=subject,
        authority=authority,
        record_type=record_type,
        decided_on=(effective - timedelta(days=10)).isoformat(),
        effective_from=effective.isoformat(),
        **changes,
    )


def of_person(value: str, name: str) -> dict[str, str]:
    return {
        "subject_kind": "individual",
        "id_scheme": "ric",
        "id_value": value,
        "subject_name": name,
    }


def populate(factory: sessionmaker[Session], tmp_path: Path) -> None:
    """Companies 1-6 and two persons (the first also imported as a subject)."""
    add_authorities(factory)
    people = [
        subject_row(CLEAN),
        subject_row(
            0,
            kind="individual",
            id_scheme="ric",
            id_value=PERSON,
            name=PERSON_NAME,
            birth_date="1980-05-17",
            registered_on="",
        ),
    ]
    subjects = run_import(factory, "subjects", write_subjects(tmp_path / "s.csv", people))
    assert subjects.rejected == 0
    rows = [
        record(1, DEFAULTER, "judgment_defaulter", RECENT, COURT),
        record(2, ABNORMAL, "business_abnormal", RECENT, REGULATOR),
        record(3, BOTH, "judgment_defaulter", RECENT, COURT),
        record(4, BOTH, "business_abnormal", LATER, REGULATOR),
        record(5, A_GRADE, "taxpayer_a_grade", RECENT, TAX),
        record(6, TWO_EXCLUSIONS, "judgment_defaulter", RECENT, COURT),
        record(7, TWO_EXCLUSIONS, "tax_serious_violation", TAX_DAY, TAX),
        record(8, 0, "judgment_defaulter", RECENT, COURT, **of_person(PERSON, PERSON_NAME)),
        record(9, 0, "tax_serious_violation", TAX_DAY, TAX, **of_person(TAX_PERSON, "李娜")),
    ]
    report = run_import(factory, "records", write_csv(tmp_path / "r.csv", rows))
    assert (report.created, report.rejected) == (len(rows), 0)


@pytest.fixture
def client(settings: Settings, tmp_path: Path) -> Iterator[TestClient]:
    """The API over a populated registry (both backends)."""
    with TestClient(create_app(settings)) as test_client:
        populate(sessions(test_client), tmp_path)
        yield test_client


def sessions(client: TestClient) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = client.app.state.sessions  # type: ignore[attr-defined]
    return factory


def api_check(client: TestClient, subject: str, decision: str, **params: str) -> dict[str, Any]:
    response = client.get(
        "/api/v1/eligibility", params={"subject": subject, "decision": decision, **params}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def codes(answer: dict[str, Any]) -> list[str]:
    return sorted(c["code"] for c in answer["consequences"])


def record_id(factory: sessionmaker[Session], ref: str) -> int:
    with transaction(factory) as session:
        return int(session.scalars(select(Record.id).where(Record.reference == ref)).one())


def person_checks(factory: sessionmaker[Session]) -> list[AuditEntry]:
    with transaction(factory) as session:
        query = select(AuditEntry).where(AuditEntry.action == "person_check")
        entries = list(session.scalars(query.order_by(AuditEntry.id)))
        session.expunge_all()
        return entries


# ----------------------------------------------------------------- one subject, one day


def test_a_defaulter_is_excluded_from_procurement_citing_the_record(client: TestClient) -> None:
    answer = api_check(client, company(DEFAULTER), "public_procurement")

    ends = RECENT + timedelta(days=730)
    assert answer["identifier"] == company(DEFAULTER)
    assert (answer["name"], answer["kind"]) == (subject_name(DEFAULTER), "legal_entity")
    assert (answer["decision"], answer["on"]) == ("public_procurement", TODAY.isoformat())
    assert answer["rulebook_version"] == "2026.2"
    assert answer["answer"] == "excluded"
    assert answer["eligible_from"] == ends.isoformat()
    [consequence] = answer["consequences"]
    assert consequence == {
        "code": "procurement_exclusion_defaulter",
        "title_zh": "限制参加政府采购活动",
        "title_en": "Excluded from public procurement",
        "decision": "public_procurement",
        "effect": "excluded",
        "legal_basis": DEFAULTER_PROCUREMENT_BASIS,
        "list": "dishonest_defaulters",
        "list_legal_basis": DEFAULTERS_LIST_BASIS,
        "listed_on": RECENT.isoformat(),
        "listing_exit": ends.isoformat(),
        "ends_on": ends.isoformat(),
        "records": [
            {
                "id": record_id(sessions(client), reference(1)),
                "authority": COURT,
                "reference": reference(1),
                "record_type": "judgment_defaulter",
                "effective_from": RECENT.isoformat(),
            }
        ],
    }


def test_a_defaulters_subsidy_restriction_ends_a_year_into_the_listing(
    client: TestClient,
) -> None:
    subsidy_end = RECENT + timedelta(days=365)  # max_days 365, the listing runs 730
    today = api_check(client, company(DEFAULTER), "public_subsidy")
    assert (today["answer"], today["eligible_from"]) == ("restricted", subsidy_end.isoformat())
    [consequence] = today["consequences"]
    assert consequence["code"] == "subsidy_restriction_defaulter"
    assert (consequence["effect"], consequence["legal_basis"]) == (
        "restricted",
        DEFAULTER_SUBSIDY_BASIS,
    )
    assert consequence["ends_on"] == subsidy_end.isoformat()
    assert consequence["listing_exit"] == (RECENT + timedelta(days=730)).isoformat()

    last_day = (subsidy_end - timedelta(days=1)).isoformat()
    assert api_check(client, company(DEFAULTER), "public_subsidy", on=last_day)["answer"] == (
        "restricted"
    )
    after = api_check(client, company(DEFAULTER), "public_subsidy", on=subsidy_end.isoformat())
    assert (after["answer"], after["eligible_from"]) == ("eligible", subsidy_end.isoformat())
    assert after["consequences"] == []
    # ... while still listed, and so still excluded from procurement.
    listed = api_check(client, company(DEFAULTER), "public_procurement", on=subsidy_end.isoformat())
    assert listed["answer"] == "excluded"


def test_abnormal_operations_restrict_procurement(client: TestClient) -> None:
    answer = check(sessions(client), company(ABNORMAL), PROCUREMENT)

    ends = RECENT + timedelta(days=1095)
    assert (answer["answer"], answer["eligible_from"]) == ("restricted", ends.isoformat())
    [consequence] = answer["consequences"]
    assert (consequence["code"], consequence["effect"]) == (
        "procurement_review_abnormal",
        "restricted",
    )
    assert (consequence["list"], consequence["legal_basis"]) == (
        "abnormal_operations",
        ABNORMAL_BASIS,
    )
    assert (consequence["listed_on"], consequence["ends_on"]) == (
        RECENT.isoformat(),
        ends.isoformat(),
    )
    assert [r["authority"] for r in consequence["records"]] == [REGULATOR]


def test_excluded_beats_restricted_and_eligibility_waits_for_both(client: TestClient) -> None:
    factory = sessions(client)
    exclusion_end = RECENT + timedelta(days=730)
    restriction_end = LATER + timedelta(days=1095)  # later than the exclusion's end
    answer = check(factory, company(BOTH), PROCUREMENT)
    assert answer["answer"] == "excluded"
    assert codes(answer) == ["procurement_exclusion_defaulter", "procurement_review_abnormal"]
    ends = {c["code"]: c["ends_on"] for c in answer["consequences"]}
    assert ends == {
        "procurement_exclusion_defaulter": exclusion_end.isoformat(),
        "procurement_review_abnormal": restriction_end.isoformat(),
    }
    # Eligible again only once no adverse consequence is left: the restriction outlasts
    # the exclusion, so the answer on the exclusion's end is "restricted".
    assert answer["eligible_from"] == restriction_end.isoformat()
    then = check(factory, company(BOTH), EligibilityQuery("public_procurement", exclusion_end))
    assert (then["answer"], codes(then)) == ("restricted", ["procurement_review_abnormal"])
    assert then["eligible_from"] == restriction_end.isoformat()


def test_two_exclusions_end_with_the_later_of_them(client: TestClient) -> None:
    factory = sessions(client)
    defaulter_end = RECENT + timedelta(days=730)
    serious_end = TAX_DAY + timedelta(days=1095)
    assert serious_end > defaulter_end
    answer = check(factory, company(TWO_EXCLUSIONS), PROCUREMENT)
    assert answer["answer"] == "excluded"
    assert codes(answer) == ["procurement_exclusion_defaulter", "procurement_exclusion_serious"]
    assert answer["eligible_from"] == serious_end.isoformat()
    between = EligibilityQuery("public_procurement", defaulter_end)
    assert check(factory, company(TWO_EXCLUSIONS), between)["answer"] == "excluded"
    after = EligibilityQuery("public_procurement", serious_end)
    assert check(factory, company(TWO_EXCLUSIONS), after)["answer"] == "eligible"


def test_a_grade_a_taxpayer_is_eligible_and_facilitated(client: TestClient) -> None:
    factory = sessions(client)
    answer = check(factory, company(A_GRADE), EligibilityQuery("simplified_procedure"))
    assert (answer["answer"], answer["eligible_from"]) == ("eligible", TODAY.isoformat())
    [consequence] = answer["consequences"]
    assert consequence["code"] == "simplified_tax_procedures"
    assert (consequence["effect"], consequence["list"]) == ("facilitated", "redlist")
    assert consequence["legal_basis"] == REDLIST_BASIS
    assert consequence["ends_on"] == (RECENT + timedelta(days=365)).isoformat()
    assert [r["authority"] for r in consequence["records"]] == [TAX]
    # The redlist says nothing about procurement; a company with no records is eligible.
    procurement = check(factory, company(A_GRADE), PROCUREMENT)
    assert (procurement["answer"], procurement["consequences"]) == ("eligible", [])
    clean = check(factory, company(CLEAN), EligibilityQuery("simplified_procedure"))
    assert (clean["answer"], clean["consequences"]) == ("eligible", [])


def test_the_decisions_the_rulebook_knows(client: TestClient) -> None:
    response = client.get("/api/v1/eligibility/decisions")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "decisions": ["licence", "public_procurement", "public_subsidy", "simplified_procedure"]
    }


# ---------------------------------------------------------------- two kinds of time


def test_the_answer_on_a_tenders_closing_date_is_reproducible(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    add_authorities(factory)
    effective = TODAY - timedelta(days=60)
    closing = TODAY - timedelta(days=10)
    row = record(1, 1, "judgment_defaulter", effective, COURT)
    run_import(factory, "records", write_csv(tmp_path / "a.csv", [row]))
    satisfied = write_csv(tmp_path / "b.csv", [dict(row, status="satisfied")])
    assert run_import(factory, "records", satisfied).updated == 1
    with transaction(factory) as session:
        changes = session.execute(
            select(RecordStatusChange.changed_at, RecordStatusChange.status).order_by(
                RecordStatusChange.id
            )
        ).all()
    assert [status for _at, status in changes] == ["active", "satisfied"]
    published_at = changes[0][0].replace(tzinfo=changes[0][0].tzinfo or UTC)

    # As known now: excluded on the closing date, eligible from the satisfaction.
    on_closing = check(factory, company(1), EligibilityQuery("public_procurement", closing))
    assert (on_closing["answer"], on_closing["eligible_from"]) == (
        "excluded",
        TODAY.isoformat(),
    )
    [consequence] = on_closing["consequences"]
    # Scheduled as it stood on the closing date; the satisfaction came later.
    assert consequence["ends_on"] == (effective + timedelta(days=730)).isoformat()

    # As known on the closing date's evening (before the satisfaction): the full term.
    then = check(factory, company(1), EligibilityQuery("public_procurement", closing, published_at))
    assert (then["answer"], then["eligible_from"]) == (
        "excluded",
        (effective + timedelta(days=730)).isoformat(),
    )
    assert then["known_at"] == published_at.isoformat()

    today = check(factory, company(1), PROCUREMENT)
    assert (today["answer"], today["consequences"]) == ("eligible", [])


def test_the_api_takes_the_day_and_the_moment(client: TestClient) -> None:
    factory = sessions(client)
    with transaction(factory) as session:
        first = session.scalars(
            select(RecordStatusChange.changed_at).order_by(RecordStatusChange.id).limit(1)
        ).one()
    before_any = (first.replace(tzinfo=first.tzinfo or UTC) - timedelta(seconds=1)).isoformat()
    unknown_then = api_check(client, company(DEFAULTER), "public_procurement", known_at=before_any)
    assert (unknown_then["answer"], unknown_then["consequences"]) == ("eligible", [])
    day_before = (RECENT - timedelta(days=1)).isoformat()
    not_yet = api_check(client, company(DEFAULTER), "public_procurement", on=day_before)
    assert not_yet["answer"] == "eligible"
    future = client.get(
        "/api/v1/eligibility",
        params={
            "subject": company(DEFAULTER),
            "decision": "public_procurement",
            "known_at": "2999-01-01T00:00:00Z",
        },
    )
    assert problem_of(future, 422)["errors"][0]["field"] == "known_at"


# ------------------------------------------------------------------------------ errors


def test_an_unknown_decision_is_refused_naming_the_field(client: TestClient) -> None:
    with pytest.raises(ValidationError) as raised:
        check(sessions(client), company(DEFAULTER), EligibilityQuery("travel"))
    assert raised.value.field == "decision"

    response = client.get(
        "/api/v1/eligibility", params={"subject": company(DEFAULTER), "decision": "travel"}
    )
    body = problem_of(response, 422)
    assert [e["field"] for e in body["errors"]] == ["decision"]
    assert "public_procurement" in body["errors"][0]["reason"]

    batch = client.post(
        "/api/v1/eligibility/batch",
        params={"decision": "travel"},
        content=f"identifier\n{company(DEFAULTER)}\n".encode(),
        headers={"content-type": "text/csv"},
    )
    assert [e["field"] for e in problem_of(batch, 422)["errors"]] == ["decision"]


def test_an_unknown_subject_is_not_found(client: TestClient) -> None:
    with pytest.raises(NotFound):
        check(sessions(client), company(UNKNOWN), PROCUREMENT)
    response = client.get(
        "/api/v1/eligibility",
        params={"subject": company(UNKNOWN), "decision": "public_procurement"},
    )
    assert uscc(UNKNOWN) in problem_of(response, 404)["detail"]


def test_a_wrong_check_digit_is_invalid(client: TestClient) -> None:
    bad = f"uscc:{wrong_check(uscc(DEFAULTER))}"
    with pytest.raises(ValidationError):
        check(sessions(client), bad, PROCUREMENT)
    response = client.get(
        "/api/v1/eligibility", params={"subject": bad, "decision": "public_procurement"}
    )
    assert problem_of(response, 422)["errors"][0]["field"] == "identifier"


def test_checking_a_person_needs_a_purpose_and_is_logged_masked(client: TestClient) -> None:
    factory = sessions(client)
    person = f"ric:{PERSON}"
    url = "/api/v1/eligibility"
    asked = {"subject": person, "decision": "public_procurement"}

    with pytest.raises(Unauthorized):
        check(factory, person, PROCUREMENT)
    with pytest.raises(Forbidden, match="declared purpose"):
        check(factory, person, AS_CLI)
    anonymous = client.get(url, params=asked)
    assert PERSON not in anonymous.text
    assert "signed-in checker" in problem_of(anonymous, 401)["detail"]
    checker = checker_headers(factory)
    refused = client.get(url, params=asked, headers=checker)
    assert PERSON not in refused.text
    assert "purpose" in problem_of(refused, 403)["detail"]

    invalid = client.get(url, params={**asked, "purpose": "curiosity"}, headers=checker)
    assert PERSON not in invalid.text
    assert [e["field"] for e in problem_of(invalid, 422)["errors"]] == ["purpose"]
    check(factory, company(DEFAULTER), PROCUREMENT)  # a company's check is not logged
    assert person_checks(factory) == []

    response = client.get(url, params={**asked, "purpose": "procurement"}, headers=checker)
    assert response.status_code == 200, response.text
    assert PERSON not in response.text
    answer = response.json()
    assert answer["identifier"] == f"ric:{PERSON[:6]}{'*' * 8}{PERSON[-4:]}"
    assert (answer["kind"], answer["answer"]) == ("individual", "excluded")
    assert codes(answer) == ["procurement_exclusion_defaulter"]

    [entry] = person_checks(factory)
    detail = json.loads(entry.detail)
    assert PERSON not in entry.detail
    assert (entry.actor, entry.target) == ("checker:checker1", f"subject:{answer['subject']}")
    assert (detail["purpose"], detail["check"]) == ("procurement", "eligibility")
    assert detail["shown"] == {
        "decision": "public_procurement",
        "on": answer["on"],
        "known_at": answer["known_at"],
        "answer": "excluded",
        "eligible_from": (RECENT + timedelta(days=730)).isoformat(),
        "consequences": ["procurement_exclusion_defaulter"],
    }


def test_a_person_number_is_refused_before_it_is_looked_up(client: TestClient) -> None:
    """Without a purpose, a listed and an unknown person's number get the same answer:
    nobody learns whether the registry holds anything on a person."""
    unknown = ric(999)
    checker = checker_headers(sessions(client))
    for headers, status in (({}, 401), (checker, 403)):
        answers = [
            client.get(
                "/api/v1/eligibility",
                params={"subject": f"ric:{n}", "decision": "public_procurement"},
                headers=headers,
            )
            for n in (PERSON, unknown)
        ]
        assert [r.status_code for r in answers] == [status, status]
        assert PERSON not in answers[0].text
        assert unknown not in answers[1].text
    with_purpose = client.get(
        "/api/v1/eligibility",
        params={"subject": f"ric:{unknown}", "decision": "public_procurement", "purpose": "credit"},
        headers=checker,
    )
    assert problem_of(with_purpose, 404)["detail"].startswith("no subject with identifier ric:")
    assert unknown not in with_purpose.text


def test_a_rulebook_loaded_later_does_not_change_an_earlier_answer(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    add_authorities(factory)
    effective = TODAY - timedelta(days=60)
    row = record(1, 1, "judgment_defaulter", effective, COURT)
    run_import(factory, "records", write_csv(tmp_path / "a.csv", [row]))
    asked_at = datetime.now(UTC)
    query = EligibilityQuery("public_procurement", TODAY - timedelta(days=10), asked_at)
    before = check(factory, company(1), query)
    assert before["eligible_from"] == (effective + timedelta(days=730)).isoformat()

    # A new version, effective long ago, that shortens the exclusion to 31 days.
    shorter = RULEBOOK.read_text(encoding="utf-8").replace('version = "2026.2"', 'version = "t.9"')
    shorter = shorter.replace("max_days = 730", "max_days = 31", 1)
    registry.load_rulebook(factory, parse_rulebook(shorter), "test")
    assert check(factory, company(1), query) == before
    now = check(factory, company(1), EligibilityQuery("public_procurement", effective))
    assert now["eligible_from"] == (effective + timedelta(days=31)).isoformat()


# -------------------------------------------------------------------- a tender's bidders

BIDDER_COLUMNS = ("bidder", "identifier", "lot")


def bidder_rows() -> list[dict[str, str]]:
    """Excluded, restricted and eligible companies, and rows that cannot be answered."""
    return [
        {"bidder": "甲", "identifier": company(DEFAULTER), "lot": "1"},
        {"bidder": "乙", "identifier": company(ABNORMAL), "lot": "1"},
        {"bidder": "丙", "identifier": company(CLEAN), "lot": "2"},
        {"bidder": "丁", "identifier": f"uscc:{wrong_check(uscc(7))}", "lot": "2"},
        {"bidder": "戊", "identifier": company(UNKNOWN), "lot": "2"},
        {"bidder": "己", "identifier": f"ric:{PERSON}", "lot": "3"},
        {"bidder": "庚", "identifier": company(BOTH), "lot": "3"},
        {"bidder": "辛", "identifier": f" USCC:{uscc(A_GRADE).lower()} ", "lot": "3"},
    ]


def bidders_csv(rows: list[dict[str, str]], columns: tuple[str, ...] = BIDDER_COLUMNS) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def expected_answers(
    factory: sessionmaker[Session], rows: list[dict[str, str]], query: EligibilityQuery
) -> list[dict[str, str]]:
    """Each row as a single check answers it, with the bidder's own columns in front."""
    expected = []
    for row in rows:
        try:
            single: dict[str, Any] | TrustRegError = check(
                factory, row["identifier"].strip(), query
            )
        except TrustRegError as exc:
            single = exc
        expected.append({k: v.strip() for k, v in row.items()} | answer_cells(single))
    return expected


def read_answers(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    return list(reader.fieldnames or ()), list(reader)


def test_a_tender_file_is_answered_as_single_checks_are(client: TestClient, tmp_path: Path) -> None:
    factory = sessions(client)
    rows = bidder_rows()
    source = tmp_path / "bidders.csv"
    source.write_text(bidders_csv(rows), encoding="utf-8")
    expected = expected_answers(factory, rows, PROCUREMENT)
    # The rows really are of every kind.
    assert [row["answer"] or "error" for row in expected] == [
        "excluded",
        "restricted",
        "eligible",
        "error",
        "error",
        "error",
        "excluded",
        "eligible",
    ]
    assert "identifies a person" in expected[5]["error"]
    assert PERSON not in expected[5]["error"]

    target = tmp_path / "answers.csv"
    report = check_file(factory, source, target, PROCUREMENT)
    text = target.read_text(encoding="utf-8")
    header, answered = read_answers(text)
    assert header == [*BIDDER_COLUMNS, *ANSWER_COLUMNS]
    assert answered == expected
    assert (report.rows, report.eligible, report.restricted, report.excluded, report.errors) == (
        8,
        2,
        1,
        2,
        3,
    )
    assert report.exit_code == 1
    assert answered[0]["consequences"] == (
        f"procurement_exclusion_defaulter (excluded, ends on {RECENT + timedelta(days=730)})"
    )
    assert answered[0]["records"] == f"{COURT} {reference(1)}"

    response = client.post(
        "/api/v1/eligibility/batch",
        params={"decision": "public_procurement"},
        content=source.read_bytes(),
        headers={"content-type": "text/csv"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.text == text
    assert person_checks(factory) == []  # the person was not checked without a purpose

    before = client.post(
        "/api/v1/eligibility/batch",
        params={"decision": "public_procurement", "on": (RECENT - timedelta(days=1)).isoformat()},
        content=source.read_bytes(),
        headers={"content-type": "text/csv"},
    )
    assert before.status_code == 200, before.text
    assert [row["answer"] for row in read_answers(before.text)[1]] == [
        "eligible",
        "eligible",
        "eligible",
        "",
        "",
        "",
        "eligible",
        "eligible",
    ]


def test_a_tender_file_checks_a_person_with_a_purpose(client: TestClient) -> None:
    factory = sessions(client)
    rows = [{"identifier": f"ric:{PERSON}"}, {"identifier": company(DEFAULTER)}]
    query = EligibilityQuery("public_procurement", purpose="procurement", actor="api")
    answers = check_many(factory, [r["identifier"] for r in rows], query)
    assert [a["answer"] for a in answers if isinstance(a, dict)] == ["excluded", "excluded"]
    response = client.post(
        "/api/v1/eligibility/batch",
        params={"decision": "public_procurement", "purpose": "procurement"},
        content=bidders_csv(rows, ("identifier",)).encode(),
        headers={"content-type": "text/csv"} | checker_headers(factory),
    )
    assert response.status_code == 200, response.text
    _header, answered = read_answers(response.text)
    assert [row["answer"] for row in answered] == ["excluded", "excluded"]
    assert len(person_checks(factory)) == 2  # one for check_many, one for the request


def test_a_bidders_file_without_an_identifier_column_is_refused(client: TestClient) -> None:
    response = client.post(
        "/api/v1/eligibility/batch",
        params={"decision": "public_procurement"},
        content=f"bidder,uscc\n甲,{uscc(1)}\n".encode(),
        headers={"content-type": "text/csv"},
    )
    detail = problem_of(response, 400)["detail"]
    assert "'identifier' column" in detail
    assert "bidder, uscc" in detail


# ------------------------------------------------------------------------- the CLI


@pytest.fixture
def cli_store(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """The SQLite store the CLI runs against (``tmp_path/r.db``), populated."""
    engine = make_engine(cli_url(tmp_path))
    factory = registry.initialise(engine, RULEBOOK)
    populate(factory, tmp_path)
    yield factory
    engine.dispose()


def test_cli_answers_a_tender_file_as_the_service_does(
    cli_store: sessionmaker[Session], tmp_path: Path
) -> None:
    rows = bidder_rows()
    source = tmp_path / "bidders.csv"
    source.write_text(bidders_csv(rows), encoding="utf-8")
    by_service = tmp_path / "by-service.csv"
    check_file(cli_store, source, by_service, AS_CLI)

    done = run_cli(tmp_path, "eligibility", "--decision", "public_procurement", "--file", source)
    assert done.returncode == 1, done.stderr
    target = tmp_path / "bidders.answers.csv"
    assert re.fullmatch(
        r"8 bidders checked for public_procurement in \d+\.\d\d s: 2 eligible, "
        rf"1 restricted, 2 excluded, 3 not answered → {re.escape(str(target))}",
        done.stdout.strip(),
    ), done.stdout
    assert target.read_text(encoding="utf-8") == by_service.read_text(encoding="utf-8")
    assert read_answers(target.read_text(encoding="utf-8"))[1] == expected_answers(
        cli_store, rows, AS_CLI
    )

    good = tmp_path / "good.csv"
    good.write_text(bidders_csv([rows[0], rows[1], rows[2]]), encoding="utf-8")
    lines = tmp_path / "good.jsonl"
    answered = run_cli(
        tmp_path,
        "eligibility",
        "--decision",
        "public_procurement",
        "--file",
        good,
        "--output",
        lines,
    )
    assert answered.returncode == 0, answered.stderr
    items = [json.loads(line) for line in lines.read_text(encoding="utf-8").splitlines()]
    assert [item["bidder"] for item in items] == [rows[0], rows[1], rows[2]]
    assert [item["answer"] for item in items] == ["excluded", "restricted", "eligible"]


def test_cli_refuses_a_bidders_file_without_an_identifier_column(
    cli_store: sessionmaker[Session], tmp_path: Path
) -> None:
    source = tmp_path / "bidders.csv"
    source.write_text(f"bidder,uscc\n甲,{uscc(1)}\n", encoding="utf-8")
    result = run_cli(tmp_path, "eligibility", "--decision", "public_procurement", "--file", source)
    assert result.returncode == 2
    assert one_error_line(result) == (
        f"error: {source}: the header needs an 'identifier' column (SCHEME:VALUE); "
        "it has bidder, uscc"
    )
    assert not (tmp_path / "bidders.answers.csv").exists()


def test_cli_prints_the_answer_the_api_gives(
    cli_store: sessionmaker[Session], tmp_path: Path
) -> None:
    result = run_cli(
        tmp_path, "eligibility", company(BOTH), "--decision", "public_procurement", "--json"
    )
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    settings = Settings(
        environment="test",
        data_dir=tmp_path / "var",
        database_url=cli_url(tmp_path),
        rulebook=RULEBOOK,
    )
    with TestClient(create_app(settings)) as client:
        by_api = api_check(client, company(BOTH), "public_procurement")
    assert printed.pop("known_at")
    assert by_api.pop("known_at")
    assert printed == by_api
    assert printed["answer"] == "excluded"

    words = run_cli(tmp_path, "eligibility", company(BOTH), "--decision", "public_procurement")
    assert words.returncode == 0, words.stderr
    assert f"eligible again from {LATER + timedelta(days=1095)}" in words.stdout

    unknown = run_cli(tmp_path, "eligibility", company(UNKNOWN), "--decision", "public_procurement")
    assert unknown.returncode == 3
    assert uscc(UNKNOWN) in one_error_line(unknown)
    person = run_cli(tmp_path, "eligibility", f"ric:{PERSON}", "--decision", "public_procurement")
    assert person.returncode == 5
    assert PERSON not in person.stderr


def test_consequences_reach_only_the_subject_kinds_they_name(client: TestClient) -> None:
    """The serious violators list excludes persons from procurement, but its subsidy
    and licence consequences are for organisations only."""
    factory = sessions(client)
    person = f"ric:{TAX_PERSON}"
    serious_end = (TAX_DAY + timedelta(days=1095)).isoformat()
    tender = check(
        factory, person, EligibilityQuery("public_procurement", purpose="procurement", actor="cli")
    )
    assert (tender["answer"], codes(tender)) == ("excluded", ["procurement_exclusion_serious"])
    assert tender["eligible_from"] == serious_end
    for decision in ("public_subsidy", "licence"):
        answer = check(
            factory, person, EligibilityQuery(decision, purpose="procurement", actor="cli")
        )
        assert (answer["answer"], answer["consequences"]) == ("eligible", []), decision
    assert len(person_checks(factory)) == 3
