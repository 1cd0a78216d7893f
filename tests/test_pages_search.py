"""The portal's search box: identifiers open the subject, names list candidates."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.feeds import ric, run_import, subject_row, uscc, write_subjects
from trustreg.config import Settings
from trustreg.web.app import create_app

FIRM = "河南创瑞医药有限公司"
PERSON = "王建国"


@pytest.fixture
def client(settings: Settings, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        factory = test_client.app.state.sessions  # type: ignore[attr-defined]
        rows = [
            subject_row(1, name=FIRM, region="河南省"),
            subject_row(2, name="湖北创瑞物流集团有限公司", region="湖北省"),
            subject_row(
                3,
                kind="individual",
                id_scheme="ric",
                id_value=ric(3),
                name=PERSON,
                birth_date="1980-05-17",
                registered_on="",
            ),
        ]
        run_import(factory, "subjects", write_subjects(tmp_path / "s.csv", rows))
        yield test_client


def test_a_name_in_english_finds_the_firm_and_says_why(client: TestClient) -> None:
    page = client.get("/search", params={"q": "Henan Chuangrui Pharmaceutical Co., Ltd."})
    assert page.status_code == 200
    first = page.text.index(FIRM)
    assert "湖北创瑞物流" not in page.text[:first]  # the right firm comes first
    assert "+ business agrees: pharmaceutical" in page.text
    assert "match" in page.text[first:]


def test_an_identifier_with_or_without_scheme_opens_the_subject(client: TestClient) -> None:
    for q in (f"uscc:{uscc(1)}", uscc(1), uscc(1).lower()):
        answer = client.get("/search", params={"q": q}, follow_redirects=False)
        assert answer.status_code == 303, q
        assert answer.headers["location"].startswith("/subjects/")


def test_a_query_with_nothing_to_compare_says_so(client: TestClient) -> None:
    page = client.get("/search", params={"q": "!!! ???"})
    assert page.status_code == 422
    assert "nothing to compare" in page.text or "no letters" in page.text


def test_persons_are_not_found_by_name_on_the_public_portal(client: TestClient) -> None:
    page = client.get("/search", params={"q": PERSON})
    assert page.status_code == 200
    results = page.text.split('<div id="results">', 1)[1]
    assert "No subject in the registry comes close" in results
    assert "/subjects/3" not in results
    assert ric(3) not in page.text


def test_an_unknown_name_gets_a_plain_answer(client: TestClient) -> None:
    page = client.get("/search", params={"q": "Zyxwv Quantum Bakery GmbH"})
    assert page.status_code == 200
    assert "No subject in the registry comes close" in page.text


def test_htmx_is_served_from_the_package_and_nothing_from_another_host(
    client: TestClient,
) -> None:
    page = client.get("/")
    assert '<script src="/static/htmx.min.js" defer></script>' in page.text
    assert not re.search(r'(src|href)="(https?:)?//', page.text)
    script = client.get("/static/htmx.min.js")
    assert script.status_code == 200
    assert "htmx" in script.text[:2000]


def test_the_api_searches_subjects_by_name(client: TestClient) -> None:
    found = client.get("/api/v1/subjects/search", params={"q": "Henan Chuangrui Pharmaceutical"})
    assert found.status_code == 200, found.text
    first = found.json()["candidates"][0]
    assert (first["name"], first["decision"]) == (FIRM, "match")
    persons = client.get("/api/v1/subjects/search", params={"q": PERSON}).json()
    assert all(c["kind"] != "individual" for c in persons["candidates"])
    empty = client.get("/api/v1/subjects/search", params={"q": ""})
    assert empty.status_code == 422
    assert empty.headers["content-type"].startswith("application/problem+json")
