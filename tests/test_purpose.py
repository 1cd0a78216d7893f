"""Purpose limitation: who may look at a person's records, by page, API, check,
eligibility and screening, and the audit entry each look-up leaves. SQLite and
PostgreSQL.

The registry: a company with a judgment_defaulter record; person A (张伟) with a
judgment_defaulter record the rulebook publishes for persons (notice given long ago,
so published today) and an administrative penalty it does not publish; person B (李娜)
with an administrative penalty only, so nothing about B is public.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.accounts import browser, csrf, make_account, sign_in
from tests.test_pages_consequences import USCC, record, submit
from trustreg.config import Settings
from trustreg.core.identifiers import Identifier, make_ric, mask_identifier
from trustreg.errors import Forbidden, Unauthorized
from trustreg.services import accounts, disputes, eligibility
from trustreg.services.clock import FixedClock
from trustreg.store.db import transaction
from trustreg.store.models import AuditEntry, Record, ScreeningJob
from trustreg.store.models import Identifier as StoredIdentifier
from trustreg.web.app import create_app

RIC_A = make_ric("110101", date(1980, 5, 17), 123)
RIC_B = make_ric("310104", date(1975, 1, 2), 456)
RIC_NOBODY = make_ric("440103", date(1990, 3, 4), 789)
LONG_AGO = (datetime.now(UTC).date() - timedelta(days=90)).isoformat()


@dataclass
class World:
    client: TestClient  # anonymous
    factory: sessionmaker[Session]
    company: int
    person_a: int
    person_b: int
    public_record: int  # A's judgment_defaulter: published for persons
    private_record: int  # A's administrative penalty: not
    b_record: int

    def browser_of(self, username: str) -> TestClient:
        return sign_in(browser(self.client.app), username)  # type: ignore[arg-type]

    def token_of(self, username: str, scopes: tuple[str, ...] = ()) -> dict[str, str]:
        _, token = accounts.issue_api_token(
            self.factory, username, scopes, datetime.now(UTC), label="t"
        )
        return {"Authorization": f"Bearer {token}"}


def person_row(reference: str, ric: str, name: str, **changes: Any) -> dict[str, Any]:
    return (
        record(
            reference, subject_kind="individual", id_scheme="ric", id_value=ric, subject_name=name
        )
        | changes
    )


def penalty(reference: str, ric: str, name: str) -> dict[str, Any]:
    return person_row(reference, ric, name, record_type="admin_penalty_general", amount=2000)


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    app = create_app(settings, FixedClock())
    with browser(app) as client:
        submit(
            client,
            settings,
            "court",
            [
                record("(2026)京01执1号"),
                person_row("(2026)沪01执9号", RIC_A, "张伟", notified_on=LONG_AGO),
            ],
        )
        submit(
            client,
            settings,
            "market_regulator",
            [
                penalty("沪市监罚〔2026〕1号", RIC_A, "张伟"),
                penalty("沪市监罚〔2026〕2号", RIC_B, "李娜"),
            ],
        )
        factory = app.state.sessions
        ids = subject_ids(factory)
        records = record_ids(factory)
        world = World(
            client,
            factory,
            ids["uscc"],
            ids[RIC_A],
            ids[RIC_B],
            records["(2026)沪01执9号"],
            records["沪市监罚〔2026〕1号"],
            records["沪市监罚〔2026〕2号"],
        )
        make_account(factory, "bank", "checker")
        make_account(factory, "newbank", "checker", verified=False)
        make_account(factory, "rep-b", "representative", subjects=(world.person_b,))
        make_account(factory, "rep-a", "representative", subjects=(world.person_a,))
        make_account(factory, "officer", "reviewer")
        make_account(factory, "operator1", "operator")
        yield world


def subject_ids(factory: sessionmaker[Session]) -> dict[str, int]:
    found = {}
    with transaction(factory) as session:
        for subject_id, scheme, value in session.execute(
            select(StoredIdentifier.subject_id, StoredIdentifier.scheme, StoredIdentifier.value)
        ):
            key = "uscc" if scheme == "uscc" else (RIC_A if value.startswith("110101") else RIC_B)
            found[key] = subject_id
    return found


def record_ids(factory: sessionmaker[Session]) -> dict[str, int]:
    with transaction(factory) as session:
        return dict(session.execute(select(Record.reference, Record.id)).all())  # type: ignore[arg-type]


def lookups(factory: sessionmaker[Session], action: str = "person_check") -> list[AuditEntry]:
    with transaction(factory) as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        ).all()
        session.expunge_all()
        return list(rows)


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


def look_up(client: TestClient, path: str, purpose: str) -> Any:
    return client.post(path, data={"purpose": purpose, "csrf_token": csrf(client, path)})


# --- the profile page -------------------------------------------------------------------


def test_anonymous_visitors_see_who_may_look_and_nothing_unpublished(world: World) -> None:
    page = world.client.get(f"/subjects/{world.person_b}")
    assert page.status_code == 200
    assert "Who may look at a person's records" in html.unescape(page.text)
    assert f'href="/account/sign-in?next=/subjects/{world.person_b}"' in page.text
    assert "李娜" not in page.text  # nothing about B is public, not even the name
    assert "沪市监罚" not in page.text
    assert 'name="purpose"' not in page.text
    assert lookups(world.factory) == []


def test_anonymous_visitors_see_what_the_rulebook_publishes_of_a_person(world: World) -> None:
    page = world.client.get(f"/subjects/{world.person_a}").text
    assert "张伟" in page
    assert "(2026)沪01执9号" in page  # judgment_defaulter: persons_public, past its notice
    assert "沪市监罚〔2026〕1号" not in page  # an administrative penalty is not published
    assert RIC_A not in page
    assert mask_identifier(Identifier("ric", RIC_A)) in page
    assert "Grade" not in page
    assert lookups(world.factory) == []


def test_accounts_without_leave_are_told_why(world: World) -> None:
    unverified = world.browser_of("newbank").get(f"/subjects/{world.person_b}")
    assert "not verified by the registry yet" in unverified.text
    assert 'name="purpose"' not in unverified.text
    operator = world.browser_of("operator1").get(f"/subjects/{world.person_b}")
    assert "an operator looks persons up with the command line" in operator.text
    other = world.browser_of("rep-a").get(f"/subjects/{world.person_b}")
    assert "a representative sees only the subjects it represents" in other.text
    assert "沪市监罚〔2026〕2号" not in unverified.text + operator.text + other.text
    assert lookups(world.factory) == []


def test_a_verified_checker_declares_a_purpose_then_sees_the_profile(world: World) -> None:
    bank = world.browser_of("bank")
    path = f"/subjects/{world.person_b}"
    form = bank.get(path)
    assert form.status_code == 200
    assert '<select id="purpose" name="purpose" required>' in form.text
    assert "沪市监罚〔2026〕2号" not in form.text  # not before the purpose
    assert lookups(world.factory) == []

    bad = look_up(bank, path, "curiosity")
    assert bad.status_code == 422
    assert "沪市监罚〔2026〕2号" not in bad.text
    none = look_up(bank, path, "")
    assert none.status_code == 403
    assert "沪市监罚〔2026〕2号" not in none.text

    shown = look_up(bank, path, "tenancy")
    assert shown.status_code == 200, shown.text
    assert "沪市监罚〔2026〕2号" in shown.text
    assert "Looked up for the purpose: tenancy" in shown.text
    [entry] = lookups(world.factory)
    detail = json.loads(entry.detail)
    assert (entry.actor, entry.target) == ("checker:bank", f"subject:{world.person_b}")
    assert detail == {
        "purpose": "tenancy",
        "check": "page",
        "shown": {"records": [world.b_record], "grade": detail["shown"]["grade"], "lists": []},
    }
    assert RIC_B not in entry.detail
    assert RIC_B[:6] not in entry.detail


def test_a_look_up_cannot_be_forged_from_another_site(world: World) -> None:
    bank = world.browser_of("bank")
    forged = bank.post(f"/subjects/{world.person_b}", data={"purpose": "credit"})
    assert forged.status_code == 403
    assert lookups(world.factory) == []


def test_representatives_see_their_own_subject_at_once(world: World) -> None:
    own = world.browser_of("rep-b").get(f"/subjects/{world.person_b}")
    assert own.status_code == 200
    assert "沪市监罚〔2026〕2号" in own.text
    assert f'href="/my-file/{world.person_b}"' in own.text
    assert lookups(world.factory) == []  # not a look-up by someone else
    [entry] = lookups(world.factory, "own_file")
    assert (entry.actor, entry.target) == ("representative:rep-b", f"subject:{world.person_b}")


def test_a_reviewer_sees_a_person_only_while_a_case_awaits_a_decision(world: World) -> None:
    officer = world.browser_of("officer")
    refused = officer.get(f"/subjects/{world.person_b}")
    assert refused.status_code == 403
    assert "沪市监罚〔2026〕2号" not in refused.text
    form = disputes.DisputeForm("李娜", "subject", "lina@example.cn", "The fine was annulled " * 2)
    disputes.file_dispute(world.factory, world.b_record, form)
    shown = officer.get(f"/subjects/{world.person_b}")
    assert shown.status_code == 200
    assert "沪市监罚〔2026〕2号" in shown.text
    [entry] = lookups(world.factory)
    assert entry.actor == "reviewer:officer"
    assert json.loads(entry.detail)["purpose"] == "review"


def test_legal_entities_stay_public_and_unlogged(world: World) -> None:
    page = world.client.get(f"/subjects/{world.company}")
    assert page.status_code == 200
    assert "(2026)京01执1号" in page.text
    answer = world.client.get(f"/api/v1/subjects/{world.company}")
    assert answer.status_code == 200
    assert answer.json()["records"][0]["reference"] == "(2026)京01执1号"
    found = world.client.get("/api/v1/subjects", params={"identifier": f"uscc:{USCC}"})
    assert found.status_code == 200
    assessment = world.client.get(f"/api/v1/subjects/{world.company}/assessment")
    assert assessment.status_code == 200
    [record] = answer.json()["records"]
    assert world.client.get(f"/records/{record['id']}").status_code == 200
    assert world.client.get(f"/api/v1/records/{record['id']}").status_code == 200
    assert lookups(world.factory) == []
    assert lookups(world.factory, "own_file") == []


# --- record pages -------------------------------------------------------------------------


def test_a_persons_record_page_goes_through_the_gate_unless_published(world: World) -> None:
    public = world.client.get(f"/records/{world.public_record}")
    assert public.status_code == 200
    assert "(2026)沪01执9号" in public.text
    private = world.client.get(f"/records/{world.private_record}")
    assert private.status_code == 200
    assert "沪市监罚〔2026〕1号" not in private.text
    assert "张伟" not in private.text
    assert "/account/sign-in" in private.text
    dispute = world.client.get(f"/records/{world.private_record}/dispute")
    assert "沪市监罚〔2026〕1号" not in dispute.text

    bank = world.browser_of("bank")
    path = f"/records/{world.private_record}"
    assert 'name="purpose"' in bank.get(path).text
    shown = look_up(bank, path, "employment")
    assert shown.status_code == 200
    assert "沪市监罚〔2026〕1号" in shown.text
    [entry] = lookups(world.factory)
    assert json.loads(entry.detail) == {
        "purpose": "employment",
        "check": "page",
        "shown": {"records": [world.private_record]},
    }


# --- the API --------------------------------------------------------------------------------


def test_the_api_refuses_a_person_without_a_checker_and_a_purpose(world: World) -> None:
    paths = [
        f"/api/v1/subjects/{world.person_b}",
        f"/api/v1/subjects/{world.person_b}/assessment",
        f"/api/v1/records/{world.b_record}",
    ]
    unverified = world.token_of("newbank")
    no_check = world.token_of("bank", ("read",))
    bank = world.token_of("bank")
    for path in paths:
        assert "signed-in checker" in problem(world.client.get(path), 401)["detail"]
        assert world.client.get(path).headers["www-authenticate"] == "Bearer"
        assert "not verified" in problem(world.client.get(path, headers=unverified), 403)["detail"]
        lacking = problem(world.client.get(path, headers=no_check), 403)
        assert "lacks the scope 'check'" in lacking["detail"]
        assert "declared purpose" in problem(world.client.get(path, headers=bank), 403)["detail"]
        bad = world.client.get(path, params={"purpose": "gossip"}, headers=bank)
        assert problem(bad, 422)["errors"] == [
            {"field": "purpose", "reason": bad.json()["errors"][0]["reason"]}
        ]
        operator = world.token_of("operator1")
        problem(world.client.get(path, params={"purpose": "credit"}, headers=operator), 403)
    assert lookups(world.factory) == []


def test_the_api_shows_a_person_to_a_checker_with_a_purpose_and_logs_it(world: World) -> None:
    bank = world.token_of("bank")
    params = {"purpose": "credit"}
    subject = world.client.get(f"/api/v1/subjects/{world.person_b}", params=params, headers=bank)
    assert subject.status_code == 200, subject.text
    assert subject.json()["purpose"] == "credit"
    assert subject.json()["records"][0]["id"] == world.b_record
    assert RIC_B not in subject.text
    assessment = world.client.get(
        f"/api/v1/subjects/{world.person_b}/assessment", params=params, headers=bank
    )
    assert assessment.status_code == 200
    one = world.client.get(f"/api/v1/records/{world.b_record}", params=params, headers=bank)
    assert one.status_code == 200
    found = world.client.get(
        "/api/v1/subjects", params={"identifier": f"ric:{RIC_B}", **params}, headers=bank
    )
    assert found.json()["id"] == world.person_b
    entries = lookups(world.factory)
    assert [(e.actor, e.target) for e in entries] == [
        ("checker:bank", f"subject:{world.person_b}")
    ] * 4
    details = [json.loads(e.detail) for e in entries]
    assert {(d["purpose"], d["check"]) for d in details} == {("credit", "api")}
    assert details[1]["shown"]["grade"] == assessment.json()["grade"]
    assert details[2]["shown"] == {"records": [world.b_record]}
    assert all(RIC_B not in e.detail for e in entries)


def test_a_persons_number_is_not_looked_up_without_leave(world: World) -> None:
    for ric in (RIC_B, RIC_NOBODY):  # the same answer whether the registry holds it or not
        params = {"identifier": f"ric:{ric}"}
        problem(world.client.get("/api/v1/subjects", params=params), 401)
        bank = world.token_of("bank")
        problem(world.client.get("/api/v1/subjects", params=params, headers=bank), 403)
    missing = world.client.get(
        "/api/v1/subjects",
        params={"identifier": f"ric:{RIC_NOBODY}", "purpose": "credit"},
        headers=world.token_of("bank"),
    )
    problem(missing, 404)
    page = world.client.get("/search", params={"q": f"ric:{RIC_B}"})
    assert "李娜" not in page.text
    assert "/account/sign-in" in page.text
    assert lookups(world.factory) == []


def test_a_representative_sees_its_own_subject_on_the_api_not_others(world: World) -> None:
    own = world.token_of("rep-b")
    assert world.client.get(f"/api/v1/subjects/{world.person_b}", headers=own).status_code == 200
    problem(world.client.get(f"/api/v1/subjects/{world.person_a}", headers=own), 403)
    problem(
        world.client.get("/api/v1/subjects", params={"identifier": f"ric:{RIC_A}"}, headers=own),
        403,
    )
    problem(
        world.client.get(
            "/api/v1/subjects", params={"identifier": f"ric:{RIC_NOBODY}"}, headers=own
        ),
        403,
    )
    assert lookups(world.factory) == []
    assert len(lookups(world.factory, "own_file")) == 1


# --- search, check, eligibility, screening -------------------------------------------------


def test_search_lists_persons_only_for_a_checker_with_a_purpose(world: World) -> None:
    anonymous = world.client.get("/search", params={"q": "李娜"}).text
    assert "李娜</a>" not in anonymous
    assert "李娜</button>" not in anonymous
    assert "Persons are not shown here" in anonymous
    bank = world.browser_of("bank")
    offered = bank.get("/search", params={"q": "李娜"}).text
    assert "Include persons" in offered
    answer = bank.post(
        "/search", data={"q": "李娜", "purpose": "contract", "csrf_token": csrf(bank, "/")}
    )
    assert answer.status_code == 200, answer.text
    assert "李娜</button>" in answer.text
    entries = lookups(world.factory)
    assert {(e.actor, e.target) for e in entries} >= {("checker:bank", f"subject:{world.person_b}")}
    assert {json.loads(e.detail)["check"] for e in entries} == {"page"}
    profile = bank.post(
        "/search",
        data={"q": f"ric:{RIC_B}", "purpose": "contract", "csrf_token": csrf(bank, "/")},
    )
    assert "沪市监罚〔2026〕2号" in profile.text


def test_checks_need_a_checker_for_persons(world: World) -> None:
    params = {"name": "李娜", "kind": "individual", "purpose": "contract"}
    problem(world.client.get("/api/v1/check", params=params), 401)
    problem(
        world.client.get("/api/v1/check", params=params, headers=world.token_of("operator1")), 403
    )
    without = {k: v for k, v in params.items() if k != "purpose"}
    bank = world.token_of("bank")
    problem(world.client.get("/api/v1/check", params=without, headers=bank), 403)
    organisations = world.client.get("/api/v1/check", params={"name": "李娜"})
    assert all(c["kind"] == "legal_entity" for c in organisations.json()["candidates"])
    answer = world.client.get("/api/v1/check", params=params, headers=bank)
    assert answer.status_code == 200, answer.text
    persons = [c for c in answer.json()["candidates"] if c["kind"] == "individual"]
    assert world.person_b in {c["subject"] for c in persons}
    entries = lookups(world.factory)
    assert [e.target for e in entries] == [f"subject:{c['subject']}" for c in persons]
    assert {(e.actor, json.loads(e.detail)["check"]) for e in entries} == {
        ("checker:bank", "check")
    }


def test_eligibility_of_a_person_needs_a_checker_with_a_purpose(world: World) -> None:
    params = {"subject": f"ric:{RIC_A}", "decision": "public_procurement"}
    problem(world.client.get("/api/v1/eligibility", params=params), 401)
    bank = world.token_of("bank")
    assert (
        "declared purpose"
        in problem(world.client.get("/api/v1/eligibility", params=params, headers=bank), 403)[
            "detail"
        ]
    )
    answer = world.client.get(
        "/api/v1/eligibility", params=params | {"purpose": "procurement"}, headers=bank
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["answer"] == "excluded"
    [entry] = lookups(world.factory)
    detail = json.loads(entry.detail)
    assert (entry.actor, entry.target) == ("checker:bank", f"subject:{world.person_a}")
    assert (detail["purpose"], detail["check"], detail["shown"]["answer"]) == (
        "procurement",
        "eligibility",
        "excluded",
    )
    company = world.client.get(
        "/api/v1/eligibility", params={"subject": f"uscc:{USCC}", "decision": "public_procurement"}
    )
    assert company.status_code == 200
    assert len(lookups(world.factory)) == 1


def test_the_cli_is_an_operator_tool_that_still_declares_a_purpose(world: World) -> None:
    key = world.client.app.state.settings.identifier_key  # type: ignore[attr-defined]
    query = eligibility.EligibilityQuery("public_procurement", actor="cli")
    with pytest.raises(Forbidden, match="declared purpose"):
        eligibility.check(world.factory, f"ric:{RIC_A}", query, identifier_key=key)
    anonymous = eligibility.EligibilityQuery("public_procurement", purpose="credit")
    with pytest.raises(Unauthorized):
        eligibility.check(world.factory, f"ric:{RIC_A}", anonymous, identifier_key=key)
    purposed = eligibility.EligibilityQuery("public_procurement", purpose="credit", actor="cli")
    eligibility.check(world.factory, f"ric:{RIC_A}", purposed, identifier_key=key)
    [entry] = lookups(world.factory)
    assert (entry.actor, json.loads(entry.detail)["purpose"]) == ("cli", "credit")


def test_screening_persons_needs_a_checker_and_its_result_is_the_checkers(world: World) -> None:
    body = "ref,name,kind,id_scheme,id_value,country,birth_date,address\n1,李娜,individual,,,,,\n"
    csv_type = {"Content-Type": "text/csv"}
    url = "/api/v1/screenings?purpose=contract"
    problem(world.client.post(url, content=body, headers=csv_type), 401)
    unverified = world.token_of("newbank") | csv_type
    problem(world.client.post(url, content=body, headers=unverified), 403)
    bank = world.token_of("bank") | csv_type
    posted = world.client.post(url, content=body, headers=bank)
    assert posted.status_code == 202, posted.text
    job_id = posted.json()["id"]
    with transaction(world.factory) as session:
        job = session.get(ScreeningJob, job_id)
        assert job is not None
        assert (job.actor, job.purpose) == ("checker:bank", "contract")
    # Whether done yet or not, nobody else is told the result exists.
    other = world.token_of("newbank")
    refused = problem(world.client.get(f"/api/v1/screenings/{job_id}/result", headers=other), 404)
    assert refused["detail"] == f"no screening {job_id}"


def test_no_page_or_answer_leaks_a_persons_full_number(world: World) -> None:
    bank = world.browser_of("bank")
    pages = [
        look_up(bank, f"/subjects/{world.person_a}", "contract").text,
        world.client.get(f"/subjects/{world.person_a}").text,
        world.client.get(f"/records/{world.public_record}").text,
    ]
    assert all(RIC_A not in page for page in pages)
    with transaction(world.factory) as session:
        details = [e.detail for e in session.scalars(select(AuditEntry))]
    assert all(RIC_A not in d and RIC_B not in d for d in details)
    assert re.search(r"110101\*{8}", "".join(pages))
