"""Counterparty checks and file screening against a real store: the service (SQLite and
PostgreSQL), the ``trustreg`` command (SQLite) and the API.

The registry holds nine firms (one with an English alias, one on the dishonest
defaulters list), and three persons. Decisions, subjects, standings and explanations
are asserted exactly; scores only where the weights cannot move them.
"""

from __future__ import annotations

import csv
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests import feeds
from tests.accounts import checker_headers
from tests.conftest import RULEBOOK
from tests.feeds import (
    csv_text,
    problem_of,
    run_import,
    subject_row,
    uscc,
    write_csv,
    write_subjects,
)
from trustreg.config import Settings
from trustreg.core.identifiers import Identifier, area_codes, make_ric, mask_identifier
from trustreg.core.matching import Thresholds
from trustreg.errors import Conflict, Forbidden, Unauthorized, ValidationError
from trustreg.services import registry as registries
from trustreg.services import screening_file
from trustreg.services.screening import CheckQuery, RegistryIndex, check
from trustreg.services.screening_file import COUNTS, RESULT_COLUMNS, SCREEN_COLUMNS
from trustreg.store.db import make_engine, transaction
from trustreg.store.models import AuditEntry
from trustreg.web.app import create_app

TODAY = datetime.now(UTC).date()
FIRMS = {  # subject number: name, English alias, region
    1: ("沧澜远洋航运有限公司", "Canglan Ocean Shipping Co., Ltd.", "上海市"),
    2: ("沧海远洋航运有限公司", "", "上海市"),
    3: ("北京沧澜科技有限公司", "", "北京市"),
    4: ("北京华信科技有限公司", "", "北京市"),
    5: ("北京华信贸易有限公司", "", "北京市"),
    6: ("上海第三建筑工程有限公司", "", "上海市"),
    7: ("上海第八建筑工程有限公司", "", "上海市"),
    8: ("深圳星河电子有限公司", "", "广东省"),
    9: ("广州明珠食品有限公司", "", "广东省"),
}
PERSONS = {
    10: ("张伟", date(1980, 5, 17)),
    11: ("王芳", date(1975, 2, 3)),
    12: ("李娜", date(1990, 11, 30)),
}
LISTED = ("B", ["dishonest_defaulters"])
CANGLAN = (FIRMS[1][0], "legal_entity", f"uscc:{uscc(1)}")  # name, kind, main identifier
PURPOSE_NEEDED = "screening persons needs a declared purpose (--purpose)"


def person_ric(n: int) -> str:
    born = PERSONS[n][1]
    return make_ric(area_codes(born.year)[0], born, n)


def firm_row(n: int, **changes: str) -> dict[str, str]:
    name, alias, region = FIRMS[n]
    return subject_row(n, **({"name": name, "alt_names": alias, "region": region} | changes))


def person_row(n: int) -> dict[str, str]:
    fields = {"kind": "individual", "id_scheme": "ric", "registered_on": ""}
    return subject_row(n, **fields, id_value=person_ric(n), name=PERSONS[n][0], region="北京市")


def load(factory: sessionmaker[Session], folder: Path) -> None:
    rows = [firm_row(n) for n in FIRMS] + [person_row(n) for n in PERSONS]
    assert run_import(factory, "subjects", write_subjects(folder / "s.csv", rows)).created == 12
    feeds.add_authorities(factory)
    decided, effective = (str(TODAY - timedelta(days=d)) for d in (35, 30))
    judgment = feeds.record_row(
        1, subject_name=FIRMS[1][0], decided_on=decided, effective_from=effective
    )
    assert run_import(factory, "records", write_csv(folder / "r.csv", [judgment])).created == 1


@pytest.fixture
def loaded(factory: sessionmaker[Session], tmp_path: Path) -> sessionmaker[Session]:
    load(factory, tmp_path)
    return factory


@pytest.fixture
def registry(loaded: sessionmaker[Session]) -> RegistryIndex:
    return RegistryIndex(loaded, Thresholds(), identifier_key=feeds.KEY)


def pick(row: dict[str, Any], *keys: str) -> tuple[Any, ...]:
    return tuple(row[key] for key in keys)


def best(registry: RegistryIndex, name: str, **fields: Any) -> dict[str, Any]:
    purpose = fields.pop("purpose", None)
    # In process, as the command line asks (a purpose is still needed for persons).
    found = check(registry, CheckQuery(name, **fields), 3, purpose, actor="tester")["candidates"]
    assert found, f"no candidate for {name!r}"
    return dict(found[0])


def person_checks(factory: sessionmaker[Session]) -> list[tuple[str, str, dict[str, Any]]]:
    with transaction(factory) as session:
        rows = session.execute(
            select(AuditEntry.actor, AuditEntry.target, AuditEntry.detail)
            .where(AuditEntry.action == "person_check")
            .order_by(AuditEntry.id)
        )
        return [(actor, target, json.loads(detail)) for actor, target, detail in rows]


# --- one check ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Canglan Ocean Shipping Co., Ltd.", "滄瀾遠洋航運有限公司"])
def test_check_finds_a_listed_firm_with_its_standing(registry: RegistryIndex, name: str) -> None:
    answer = check(registry, CheckQuery(name), top=3)
    assert answer["query"]["name"] == name
    assert len(answer["candidates"]) <= 3
    top = answer["candidates"][0]
    assert pick(top, "name", "kind", "matched_id") == CANGLAN
    assert pick(top, "decision", "grade", "lists") == ("match", *LISTED)
    assert top["agreed"][:2] == ["name 1.00: canglan ~ canglan", "business agrees: ocean, shipping"]
    assert top["disagreed"] == []
    for other in answer["candidates"][1:]:
        assert other["decision"] == "no_match"
        assert pick(other, "grade", "lists") == ("A", [])


def test_check_by_identifier_and_its_refusals(registry: RegistryIndex) -> None:
    top = best(registry, "Blue Whale Trading", identifier=f"USCC:{uscc(5)}")
    assert pick(top, "name", "matched_id") == (FIRMS[5][0], f"uscc:{uscc(5)}")
    assert "identifier equal" in top["agreed"]
    refusals: list[tuple[CheckQuery, dict[str, Any], str]] = [
        (CheckQuery(" \t "), {}, "name"),
        (CheckQuery("。，！"), {}, "name"),
        (CheckQuery("x" * 301), {}, "name"),
        (CheckQuery("星河", kind="company"), {}, "kind"),
        (CheckQuery("星河", country="China"), {}, "country"),
        (CheckQuery("星河"), {"top": 51}, "top"),
        (CheckQuery("星河"), {"purpose": "curiosity"}, "purpose"),
    ]
    for query, options, field in refusals:
        with pytest.raises(ValidationError) as refused:
            check(registry, query, **options)
        assert refused.value.field == field


def test_the_index_sees_new_and_changed_subjects(
    loaded: sessionmaker[Session], registry: RegistryIndex, tmp_path: Path
) -> None:
    query = CheckQuery("广州明珠食品有限公司", country="CN")
    assert "country agrees: CN vs CN" in check(registry, query)["candidates"][0]["agreed"]
    moved = write_subjects(tmp_path / "moved.csv", [firm_row(9, country="HK")])
    assert run_import(loaded, "subjects", moved).updated == 1
    time.sleep(1.1)  # the index looks for changes at most once a second
    top = check(registry, query)["candidates"][0]
    assert "country differs: CN vs HK" in top["disagreed"]

    new = CheckQuery("深圳蓝鲸物流有限公司")
    assert all(c["name"] != new.name for c in check(registry, new)["candidates"])
    added = subject_row(13, name=new.name, region="广东省")
    assert run_import(loaded, "subjects", write_subjects(tmp_path / "new.csv", [added])).created
    time.sleep(1.1)
    top = best(registry, "Shenzhen Lanjing Logistics")
    assert pick(top, "name", "decision", "matched_id") == (new.name, "match", f"uscc:{uscc(13)}")


def test_persons_are_shown_for_a_purpose_only_masked_and_logged(
    loaded: sessionmaker[Session], registry: RegistryIndex
) -> None:
    with pytest.raises(Unauthorized, match="signed-in checker"):
        check(registry, CheckQuery("张伟", kind="individual"))
    with pytest.raises(Forbidden, match="declared purpose"):
        check(registry, CheckQuery("张伟", kind="individual"), actor="tester")
    # Without a kind and purpose the check answers, but never with a person.
    assert check(registry, CheckQuery("张伟"))["candidates"] == []
    assert person_checks(loaded) == []

    query = CheckQuery("Zhang Wei", kind="individual", birth_date="1980-05-17")
    answer = check(registry, query, top=3, purpose="contract", actor="tester")
    top = answer["candidates"][0]
    masked = mask_identifier(Identifier("ric", person_ric(10)))
    assert pick(top, "name", "decision", "matched_id") == ("张伟", "match", f"ric:{masked}")
    assert re.fullmatch(r"ric:\d{6}\*{8}\d{3}[\dX]", top["matched_id"])
    assert "birth date equal" in top["agreed"]
    text = json.dumps(answer, ensure_ascii=False)
    assert all(person_ric(n) not in text for n in PERSONS)
    shown = [c for c in answer["candidates"] if c["kind"] == "individual"]
    logged = person_checks(loaded)  # one entry per person shown, by subject
    assert [target for _actor, target, _detail in logged] == [
        f"subject:{c['subject']}" for c in shown
    ]
    for (actor, _target, detail), candidate in zip(logged, shown, strict=True):
        assert (actor, detail["purpose"], detail["check"]) == ("tester", "contract", "check")
        assert detail["shown"]["decision"] == candidate["decision"]

    name_only = best(registry, "张伟", kind="individual", purpose="credit")
    assert name_only["decision"] == "review"
    assert len(person_checks(loaded)) > len(logged)


def test_a_check_never_shows_a_persons_registered_birth_date(registry: RegistryIndex) -> None:
    top = best(registry, "张伟", kind="individual", birth_date="1980-05-18", purpose="contract")
    assert top["name"] == "张伟"
    assert "19800517" not in json.dumps(top)


def test_a_persons_name_and_province_are_not_a_match(registry: RegistryIndex) -> None:
    top = best(registry, "张伟", kind="individual", address="北京市", purpose="contract")
    assert top["decision"] != "match", top["explanation"]


# --- files ----------------------------------------------------------------------------------

GOOD = [
    {"ref": "m1", "name": "Canglan Ocean Shipping Co., Ltd."},
    {"ref": "m2", "name": "滄瀾遠洋航運有限公司", "country": "cn"},
    {"ref": "r1", "name": "Huaxin"},  # two firms of that name, both for review
    {"ref": "n1", "name": "Nothing Alike Bakery"},
    {"ref": "n2", "name": "星河食品有限公司"},  # 星河 is in electronics
]
NO_LETTERS = "has no letters or characters to compare (only punctuation?)"
BAD = [  # a row, and the field and reason it is rejected for
    ({"ref": "b1", "name": ""}, "name", "is empty"),
    ({"ref": "b2", "name": "！？。…"}, "name", NO_LETTERS),
    ({"ref": "b3", "name": "沧" * 10_000}, "name", "has 10000 characters; at most 300"),
    ({"ref": "b4", "name": "😀🎉"}, "name", NO_LETTERS),
    ({"ref": "b5", "name": "张伟", "kind": "individual"}, "kind", PURPOSE_NEEDED),
    ({"ref": "b6", "name": "星河", "id_scheme": "uscc"}, "id_value", "give both or neither"),
]
ROWS = GOOD[:2] + [row for row, _, _ in BAD[:3]] + GOOD[2:] + [row for row, _, _ in BAD[3:]]
REJECTS = [
    {"row": str(ROWS.index(row) + 2), "ref": row["ref"], "field": field, "reason": reason}
    for row, field, reason in BAD
]


def screen(
    registry: RegistryIndex, source: Path, target: Path, **options: Any
) -> screening_file.ScreenReport:
    options = {"workers": 1} | options
    return screening_file.screen_file(
        registry, source, target, screening_file.ScreenOptions(**options)
    )


def read_result(path: Path) -> list[dict[str, str]]:
    text = path.read_bytes().decode("utf-8")
    assert text.startswith(",".join(RESULT_COLUMNS) + "\n")
    assert "\r" not in text
    return list(csv.DictReader(text.splitlines()))


def by_ref(rows: list[dict[str, str]]) -> dict[str, list[dict[str, str]]]:
    found: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        found.setdefault(row["ref"], []).append(row)
    return found


def assert_answers(rows: list[dict[str, str]], top: int = 3) -> None:
    """The answers to GOOD (any number of rejected rows besides)."""
    answers = by_ref(rows)
    assert list(answers) == [row["ref"] for row in GOOD]
    for ref in ("m1", "m2"):
        first = answers[ref][0]
        assert pick(first, "rank", "matched_name", "decision") == ("1", FIRMS[1][0], "match")
        listed = (f"uscc:{uscc(1)}", "B", "dishonest_defaulters")
        assert pick(first, "matched_id", "grade", "lists") == listed
        # Defused (core.spreadsheet): a cell starting with "+" is a formula to a sheet.
        assert first["explanation"].startswith("'+ name 1.00: canglan ~ canglan; ")
        assert all(row["decision"] != "no_match" for row in answers[ref])
    huaxin = answers["r1"]
    assert [r["decision"] for r in huaxin] == ["review", "review"][:top]
    assert {r["matched_name"] for r in huaxin} <= {FIRMS[4][0], FIRMS[5][0]}
    assert [r["rank"] for r in huaxin] == ["1", "2"][:top]
    assert answers["n1"] == [
        dict.fromkeys(RESULT_COLUMNS, "")
        | {"ref": "n1", "decision": "no_match", "explanation": "no candidate"}
    ]
    [nothing] = answers["n2"]
    assert pick(nothing, "decision", "subject_id", "score") == ("no_match", "", "")
    assert re.fullmatch(r"best candidate scored 0\.\d{4}", nothing["explanation"])
    for rows_of_one in answers.values():
        assert len(rows_of_one) <= top
        for row in rows_of_one:
            assert row["score"] == "" or 0.6 <= float(row["score"]) <= 1.0


def test_screen_a_file_answers_rejects_and_counts(registry: RegistryIndex, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", ROWS, SCREEN_COLUMNS)
    target = tmp_path / "out.csv"
    report = screen(registry, source, target)
    assert_answers(read_result(target))
    with (tmp_path / "out.rejects.csv").open(encoding="utf-8", newline="") as handle:
        assert list(csv.DictReader(handle)) == REJECTS
    assert (report.rows, report.matched, report.review, report.no_match) == (5, 2, 1, 2)
    assert (report.rejected, report.exit_code) == (6, 1)
    assert report.rejects_path == tmp_path / "out.rejects.csv"
    left = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("out"))
    assert left == ["out.csv", "out.rejects.csv"]


def test_screen_persons_with_a_purpose(
    loaded: sessionmaker[Session], registry: RegistryIndex, tmp_path: Path
) -> None:
    rows = [{"ref": "p1", "name": "Zhang Wei", "kind": "individual", "birth_date": "1980-05-17"}]
    source = write_csv(tmp_path / "in.csv", rows, SCREEN_COLUMNS)
    report = screen(registry, source, tmp_path / "out.csv", purpose="employment", actor="hr")
    assert (report.rows, report.matched, report.exit_code, report.rejects_path) == (1, 1, 0, None)
    [row] = read_result(tmp_path / "out.csv")
    masked = mask_identifier(Identifier("ric", person_ric(10)))
    assert pick(row, "matched_name", "matched_id", "decision") == ("张伟", f"ric:{masked}", "match")
    assert person_ric(10) not in (tmp_path / "out.csv").read_text(encoding="utf-8")
    logged = person_checks(loaded)
    assert f"subject:{row['subject_id']}" in [target for _a, target, _d in logged]
    for actor, _target, detail in logged:
        assert (actor, detail["purpose"], detail["check"]) == ("hr", "employment", "screen")


def test_screen_json_lines_and_gb18030(registry: RegistryIndex, tmp_path: Path) -> None:
    jsonl = feeds.write_jsonl(tmp_path / "in.jsonl", GOOD)
    screen(registry, jsonl, tmp_path / "a.csv")
    assert_answers(read_result(tmp_path / "a.csv"))
    gb = write_csv(tmp_path / "in.csv", GOOD, SCREEN_COLUMNS, encoding="gb18030")
    screen(registry, gb, tmp_path / "b.csv", top=1)
    assert_answers(read_result(tmp_path / "b.csv"), top=1)


def test_an_interrupted_screening_resumes_to_the_same_result(
    registry: RegistryIndex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [
        dict(GOOD[i % 5], ref=f"q{i}") if i % 700 else dict(BAD[1][0], ref=f"q{i}")
        for i in range(2_500)
    ]
    source = write_csv(tmp_path / "in.csv", rows, SCREEN_COLUMNS)
    target = tmp_path / "out.csv"
    partial, progress = tmp_path / "out.csv.partial", tmp_path / "out.csv.progress.json"
    write_chunk, written = screening_file._write_chunk, [False]

    def power_cut(*args: Any) -> None:
        if written[0]:
            raise RuntimeError("power cut")
        write_chunk(*args)
        written[0] = True

    monkeypatch.setattr(screening_file, "_write_chunk", power_cut)
    with pytest.raises(RuntimeError, match="power cut"):
        screen(registry, source, target)
    monkeypatch.undo()
    assert not target.exists()
    assert partial.is_file()
    assert json.loads(progress.read_text(encoding="utf-8"))["rows_done"] == 1_001
    with partial.open("a", encoding="utf-8") as torn:  # half a row written as the power went
        torn.write("q1000,1,")
    with pytest.raises(Conflict, match="--resume"):
        screen(registry, source, target)
    with pytest.raises(Conflict, match="another file or --top"):
        screen(registry, source, target, top=2, resume=True)

    resumed = screen(registry, source, target, resume=True)
    clean = tmp_path / "clean.csv"
    whole = screen(registry, source, clean, workers=2)
    assert resumed.resumed_after == 1_001
    assert pick(vars(resumed), *COUNTS) == pick(vars(whole), *COUNTS)
    assert (whole.rows, whole.rejected) == (2_496, 4)
    assert target.read_bytes() == clean.read_bytes()
    rejects = (tmp_path / "out.rejects.csv", tmp_path / "clean.rejects.csv")
    assert rejects[0].read_bytes() == rejects[1].read_bytes()
    assert not partial.exists()
    assert not progress.exists()


# --- the command (SQLite) ---------------------------------------------------------------------


@pytest.fixture
def cli_store(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(feeds.cli_url(tmp_path))
    factory = registries.initialise(engine, RULEBOOK)
    load(factory, tmp_path)
    yield factory
    engine.dispose()


def test_cli_check_and_screen(cli_store: sessionmaker[Session], tmp_path: Path) -> None:
    checked = feeds.run_cli(tmp_path, "check", "Canglan Ocean Shipping", "--top", "1", "--json")
    assert checked.returncode == 0, checked.stderr
    [top] = json.loads(checked.stdout)["candidates"]
    assert (top["name"], top["decision"], top["grade"]) == (FIRMS[1][0], "match", "B")

    source = write_csv(tmp_path / "in.csv", ROWS, SCREEN_COLUMNS)
    done = feeds.run_cli(tmp_path, "screen", source, "-o", tmp_path / "out.csv")
    assert done.returncode == 1, done.stderr
    assert "5 queries screened" in done.stdout, done.stderr
    assert "2 match, 1 review, 2 no match, 6 rejected" in done.stdout
    assert f"rejected rows and reasons: {tmp_path / 'out.rejects.csv'}" in done.stderr
    assert_answers(read_result(tmp_path / "out.csv"))

    one = feeds.run_cli(tmp_path, "screen", source, "-o", tmp_path / "one.csv", "--top", "1")
    assert one.returncode == 1, one.stderr
    assert_answers(read_result(tmp_path / "one.csv"), top=1)

    headless = tmp_path / "nameless.csv"
    headless.write_text(csv_text(("ref", "nom"), [{"ref": "1", "nom": "星河"}]), encoding="utf-8")
    refused = feeds.run_cli(tmp_path, "screen", headless, "-o", tmp_path / "x.csv")
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "error: header: missing column(s) name; unknown column(s) nom. "
        f"Expected columns: {', '.join(SCREEN_COLUMNS)}"
    )
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith("x.")]


# --- the API ----------------------------------------------------------------------------------


@pytest.fixture
def client(settings: Settings, loaded: sessionmaker[Session]) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_api_check(client: TestClient) -> None:
    found = client.get("/api/v1/check", params={"name": "Canglan Ocean Shipping", "top": 2})
    assert found.status_code == 200, found.text
    candidates = found.json()["candidates"]
    assert 1 <= len(candidates) <= 2
    keys = {"score", "decision", "agreed", "disagreed", "explanation", "grade", "lists"}
    assert all(keys <= c.keys() for c in candidates)
    assert (candidates[0]["name"], candidates[0]["decision"]) == (FIRMS[1][0], "match")
    assert (candidates[0]["grade"], candidates[0]["lists"]) == LISTED
    assert 0.85 <= candidates[0]["score"] <= 1.0

    missing = problem_of(client.get("/api/v1/check", params={"top": 2}), 422)
    assert [e["field"] for e in missing["errors"]] == ["query.name"]
    person = client.get("/api/v1/check", params={"name": "张伟", "kind": "individual"})
    problem_of(person, 401)
    checker = checker_headers(client.app.state.sessions)  # type: ignore[attr-defined]
    problem_of(
        client.get("/api/v1/check", params={"name": "张伟", "kind": "individual"}, headers=checker),
        403,
    )
    bad = problem_of(client.get("/api/v1/check", params={"name": "。。"}), 422)
    assert bad["errors"] == [{"field": "name", "reason": NO_LETTERS}]


def test_api_screening_job(client: TestClient, registry: RegistryIndex, tmp_path: Path) -> None:
    body, as_csv = csv_text(SCREEN_COLUMNS, ROWS).encode("utf-8"), {"Content-Type": "text/csv"}
    posted = client.post("/api/v1/screenings", content=body, headers=as_csv)
    assert posted.status_code == 202, posted.text
    location = posted.headers["Location"]
    assert location == f"/api/v1/screenings/{posted.json()['id']}"
    deadline = time.monotonic() + 30
    while (job := client.get(location).json())["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
    assert (job["status"], job["rows"], job["rejected"], job["error"]) == ("done", 5, 6, None)
    result = client.get(job["result"])
    assert result.status_code == 200
    assert result.headers["content-type"].startswith("text/csv")
    source = write_csv(tmp_path / "in.csv", ROWS, SCREEN_COLUMNS)
    screen(registry, source, tmp_path / "out.csv")
    assert result.content == (tmp_path / "out.csv").read_bytes()

    problem_of(client.get("/api/v1/screenings/0123456789abcdef"), 404)
    problem_of(client.get("/api/v1/screenings/0123456789abcdef/result"), 404)
    pdf = client.post(
        "/api/v1/screenings", content=b"%PDF-1.7", headers={"Content-Type": "application/pdf"}
    )
    assert "application/pdf" in problem_of(pdf, 400)["detail"]
    nosy = client.post("/api/v1/screenings?purpose=curiosity", content=body, headers=as_csv)
    assert problem_of(nosy, 422)["errors"][0]["field"] == "purpose"
