"""My file: a representative sees everything held about its subject, with who looked,
as a page, JSON, PDF and over the API; everyone else is refused. SQLite and
PostgreSQL (the registry of ``test_purpose``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.test_certificates import pdf_text
from tests.test_purpose import RIC_A, World, lookups, person_row, problem
from tests.test_purpose import world as world  # the fixture
from trustreg.config import Settings
from trustreg.core.identifiers import Identifier, mask_identifier
from trustreg.errors import Forbidden
from trustreg.services import disputes, my_file, registry
from trustreg.services.accounts import Actor

IN_NOTICE = "(2026)沪01执10号"  # a new judgment_defaulter record: published after 10 days
TODAY = datetime.now(UTC).date()


@pytest.fixture
def looked_at(world: World, settings: Settings) -> World:
    """Person A with a record in its notice period, a dispute, and a checker's look-up."""
    token = registry.issue_token(world.factory, settings.secret_key, "court-1")
    sent = world.client.post(
        "/api/v1/records",
        json=[person_row(IN_NOTICE, RIC_A, "张伟", notified_on=TODAY.isoformat())],
        headers={"Authorization": f"Bearer {token}"},
    )
    assert sent.status_code == 200, sent.text
    form = disputes.DisputeForm("张伟", "subject", "zw@example.cn", "The fine was paid twice.")
    disputes.file_dispute(world.factory, world.private_record, form)
    bank = world.token_of("bank")
    seen = world.client.get(
        f"/api/v1/subjects/{world.person_a}", params={"purpose": "tenancy"}, headers=bank
    )
    assert seen.status_code == 200, seen.text
    return world


def file_of(world: World, username: str = "rep-a") -> dict[str, Any]:
    answer = world.browser_of(username).get(f"/my-file/{world.person_a}.json")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = answer.json()
    return body


def test_the_file_has_every_section_and_who_looked(looked_at: World) -> None:
    world = looked_at
    body = file_of(world)
    assert set(my_file.SECTIONS) <= body.keys()
    assert body["subject"]["name"] == "张伟"
    assert body["subject"]["identifiers"] == [f"ric:{mask_identifier(Identifier('ric', RIC_A))}"]
    assert body["subject"]["birth_date"] is None or body["subject"]["birth_date"]
    [look] = body["access_log"]
    assert (look["actor"], look["organisation"], look["purpose"], look["check"]) == (
        "checker:bank",
        "bank Ltd",
        "tenancy",
        "api",
    )
    references = {r["reference"]: r for r in body["records"]}
    # The checker saw the published records; the one in its notice period only the subject.
    published = [r["id"] for r in body["records"] if r["reference"] != IN_NOTICE]
    assert sorted(look["shown"]["records"]) == sorted(published)
    assert set(references) == {"(2026)沪01执9号", "沪市监罚〔2026〕1号", IN_NOTICE}
    assert body["in_notice"] == [references[IN_NOTICE]["id"]]
    assert references[IN_NOTICE]["in_notice"] is True
    assert references["(2026)沪01执9号"]["status_history"][0]["status"] == "active"
    [dispute] = references["沪市监罚〔2026〕1号"]["disputes"]
    assert (dispute["status"], dispute["grounds"]) == ("received", "The fine was paid twice.")
    assert "contact" not in dispute
    assert body["assessment"]["explanation"]
    assert {e["list"] for e in body["list_entries"]} == {"dishonest_defaulters"}
    assert all(e["open"] for e in body["list_entries"])
    assert [c["list"] for c in body["consequences"]] == ["dishonest_defaulters"] * len(
        body["consequences"]
    )
    notices = [n for n in body["notifications"] if n["kind"] == "record_notice"]
    assert references[IN_NOTICE]["id"] in {n["record"] for n in notices}
    assert RIC_A not in json.dumps(body, ensure_ascii=False)


def test_reading_ones_file_is_logged_but_not_as_a_look_up(looked_at: World) -> None:
    world = looked_at
    file_of(world)
    file_of(world)
    assert len(lookups(world.factory)) == 1  # only the checker's
    assert [e.actor for e in lookups(world.factory, "own_file")] == ["representative:rep-a"] * 2
    assert len(file_of(world)["access_log"]) == 1


def test_the_page_lists_who_looked_and_links_the_downloads(looked_at: World) -> None:
    world = looked_at
    page = world.browser_of("rep-a").get(f"/my-file/{world.person_a}")
    assert page.status_code == 200
    assert "Who looked at this file" in page.text
    assert "bank Ltd" in page.text
    assert "tenancy" in page.text
    assert f'href="/my-file/{world.person_a}.json"' in page.text
    assert f'href="/my-file/{world.person_a}.pdf?lang=en"' in page.text
    assert IN_NOTICE in page.text
    chinese = world.browser_of("rep-a").get(f"/my-file/{world.person_a}", params={"lang": "zh"})
    assert "谁查看了此档案" in chinese.text
    assert "租赁" in chinese.text


def test_the_pdf_is_a_real_pdf_with_the_file_attached(looked_at: World) -> None:
    world = looked_at
    rep = world.browser_of("rep-a")
    answer = rep.get(f"/my-file/{world.person_a}.pdf")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.content.startswith(b"%PDF")
    text = pdf_text(answer.content)
    assert "张伟".encode() in text  # in the attached JSON
    assert b'"purpose": "tenancy"' in text
    assert f"my-file-{world.person_a}.json".encode() in text
    chinese = rep.get(f"/my-file/{world.person_a}.pdf", params={"lang": "zh"})
    assert chinese.content.startswith(b"%PDF")
    assert chinese.content != answer.content


def test_the_api_gives_the_file_to_a_token_with_the_scope_myfile(looked_at: World) -> None:
    world = looked_at
    path = f"/api/v1/subjects/{world.person_a}/file"
    answer = world.client.get(path, headers=world.token_of("rep-a", ("myfile",)))
    assert answer.status_code == 200, answer.text
    assert set(my_file.SECTIONS) <= answer.json().keys()
    narrow = world.token_of("rep-a", ("dispute",))
    assert "scope 'myfile'" in problem(world.client.get(path, headers=narrow), 403)["detail"]


def test_another_subjects_file_is_refused_without_telling_whether_it_exists(
    looked_at: World,
) -> None:
    world = looked_at
    rep_b = world.token_of("rep-b")
    for subject in (world.person_a, 999_999):
        for path in (f"/api/v1/subjects/{subject}/file", f"/my-file/{subject}.json"):
            refused = world.client.get(path, headers=rep_b)
            assert refused.status_code == 404
            assert f"no file of subject {subject} among the subjects you represent" in refused.text
            assert "张伟" not in refused.text
        problem(world.client.get(f"/api/v1/subjects/{subject}/file"), 401)
        checker = world.token_of("bank")
        problem(world.client.get(f"/api/v1/subjects/{subject}/file", headers=checker), 403)
    page = world.client.get(f"/my-file/{world.person_a}")
    assert page.status_code == 303
    assert page.headers["location"] == f"/account/sign-in?next=/my-file/{world.person_a}"
    assert world.browser_of("rep-b").get(f"/my-file/{world.person_a}.pdf").status_code == 404


def test_the_service_refuses_before_reading(looked_at: World) -> None:
    world = looked_at
    stranger = Actor(role="representative", username="x", account_id=99, scopes=frozenset())
    with pytest.raises(Forbidden, match="scope 'myfile'"):
        my_file.my_file(world.factory, stranger, world.person_a, datetime.now(UTC), "api")
