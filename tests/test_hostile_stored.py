"""Stored hostile text (issue 8 item 2): every text a user or an authority can write,
written with markup, a template expression, SQL and a spreadsheet formula in it, then
read back everywhere it shows.

Writers: records by the API and by import file (subject name, other names, region,
reference, summary), a representative's organisation, dispute and repair grounds,
evidence file names, a dispute received by letter (sender, contact), the reviewer's
reasons and corrected summary, a checker's organisation and token label, a watch's
webhook URL, a screening file's rows. Readers: every page of the authorization
matrix and the pages of these records and subjects (HTML: escaped, nothing of the
payload becomes an element or attribute), the JSON API and my-file JSON (verbatim),
and every CSV the registry writes (no cell a spreadsheet would run).
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from httpx2 import Response

from tests.accounts import PASSWORD, browser, csrf, sign_in
from tests.authz_world import OWN, World
from tests.feeds import (
    REGULATOR,
    record_row,
    run_import,
    subject_row,
    uscc,
    write_csv,
    write_subjects,
)
from tests.hostile import (
    MARKUP,
    MULTIPART,
    api,
    audit_intact,
    formula_cells,
    hostile,
    hostile_world,
    inert_problems,
    multipart_body,
)
from tests.test_authorization import READS, fill, rows
from trustreg.services import accounts, disputes, export
from trustreg.services.disputes import DisputeForm

ESCAPED = "&lt;script&gt;alert(7001)&lt;/script&gt;"  # the markup, shown as text
NAME_1, NAME_2 = hostile("="), hostile("@", " Ltd")
PREFERRED = ("checker", "representative", "reviewer", "anonymous", "operator", "authority")
LONG = hostile("-", " " + "summary " * 100)


@dataclass
class Stored:
    world: World
    ids: dict[str, int | str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stored]:
    folder = tmp_path_factory.mktemp("stored")
    for world in hostile_world(folder):
        found = Stored(world)
        _write_records(found, folder)
        _write_due_process(found)
        _write_checker_work(found)
        yield found


def _days_ago(days: int) -> str:
    return (date.today() - timedelta(days=days)).isoformat()


def _write_records(found: Stored, folder: Path) -> None:
    """A company by the API, a company and two records of the representative's person
    by import file: every text column hostile."""
    world = found.world
    recent = {"decided_on": _days_ago(40), "effective_from": _days_ago(30)}  # listed now
    item = record_row(40, subject_name=NAME_1, reference=hostile("+")[:128], summary=LONG, **recent)
    del item["authority"]
    answer = api(world, "authority").post("/api/v1/records", json=[item])
    assert answer.status_code == 200, answer.text
    region = "=1+1<b>r</b>{{7*7777}}"
    subject = subject_row(41, name=NAME_2, alt_names=hostile("-"), region=region)
    factory = world.app.state.sessions
    assert (
        run_import(factory, "subjects", write_subjects(folder / "s.csv", [subject])).rejected == 0
    )
    dates = {"decided_on": _days_ago(120), "effective_from": _days_ago(110)}
    minor = {"record_type": "admin_penalty_minor", "authority": REGULATOR, "amount": ""}
    person = {"subject_kind": "individual", "id_scheme": "ric", "id_value": OWN}
    records = [record_row(41, reference=hostile("@")[:128], summary=LONG, **minor, **dates)]
    for n in (42, 43, 44):  # one to dispute, two to repair
        text = {"reference": f"{n}{MARKUP}"[:128], "summary": hostile("=", str(n))}
        records.append(record_row(n, **person, **minor, **dates, **text, subject_name="王芳"))
    for row in records:
        row["currency"] = ""
    report = run_import(factory, "records", write_csv(folder / "r.csv", records))
    assert report.rejected == 0
    found.ids |= _record_ids(found)


def _record_ids(found: Stored) -> dict[str, int]:
    client = api(found.world)
    ids = {}
    for key, n in (("c1", 40), ("c2", 41)):
        subject = client.get("/api/v1/subjects", params={"identifier": f"uscc:{uscc(n)}"}).json()
        ids[key], ids[f"{key}_record"] = subject["id"], subject["records"][0]["id"]
    own = api(found.world, "reviewer").get(f"/api/v1/subjects/{found.world.ids['own']}").json()
    mine = sorted(r["id"] for r in own["records"] if r["record_type"] == "admin_penalty_minor")
    ids["record_a"], ids["record_b"], ids["record_c"] = mine[-3:]
    return ids


def _write_due_process(found: Stored) -> None:
    """A representative with a hostile organisation disputes one record (API) and
    applies for the repair of two (form); a dispute comes by letter; the reviewer
    decides the dispute (form) and one application (API). The other application and
    the letter stay open: the review queue shows them."""
    world, ids = found.world, found.ids
    factory = world.app.state.sessions
    now = datetime.now(UTC)
    accounts.create_account(
        factory, "evilrep", PASSWORD, "representative", now, organisation=hostile("=")
    )
    accounts.link_subject(factory, "evilrep", int(world.ids["own"]), now, "test")
    rep = api(world)
    rep.headers["Authorization"] = (
        f"Bearer {accounts.issue_api_token(factory, 'evilrep', (), now)[1]}"
    )
    files = [("evidence", '=x"><img src=x onerror=alert(7002)>{{7+7777}}.txt', b"paid\n")]
    body = multipart_body({"grounds": hostile("+", " grounds of the dispute")}, files)
    answer = rep.post(
        f"/api/v1/records/{ids['record_a']}/disputes", content=body, headers=MULTIPART
    )
    assert answer.status_code == 201, answer.text
    ids["dispute"] = answer.json()["id"]
    client = sign_in(browser(world.app), "evilrep")
    files += [("evidence", "..\\..\\etc\\@evil{{7+7777}}.txt", b"receipt\n")]
    for record in ("record_b", "record_c"):
        fields = {
            "grounds": hostile("@", " grounds of repair"),
            "csrf_token": csrf(client, "/account"),
        }
        url = f"/records/{ids[record]}/repair"
        answer = client.post(url, content=multipart_body(fields, files), headers=MULTIPART)
        assert answer.status_code == 303, answer.text
    letter = DisputeForm(hostile("="), "subject", hostile("-", " by post"), hostile("+", " " * 20))
    disputes.file_dispute(factory, int(ids["c2_record"]), letter)
    _decide(found)


def _decide(found: Stored) -> None:
    world, ids = found.world, found.ids
    client = world.browsers["reviewer"]
    fields = {
        "decision": "corrected",
        "reasons": hostile("=", " reasons"),
        "summary": hostile("-", " corrected"),
        "csrf_token": csrf(client, "/review"),
    }
    answer = client.post(f"/review/disputes/{ids['dispute']}", data=fields)
    assert answer.status_code == 303, answer.text
    reviewer = api(world, "reviewer")
    queue = reviewer.get("/api/v1/repairs").json()["repairs"]
    repair = next(i["id"] for i in queue if i["record"]["id"] == ids["record_b"])
    decision = {"decision": "rejected", "reasons": hostile("@", " reasons")}
    answer = reviewer.post(f"/api/v1/repairs/{repair}/decision", json=decision)
    assert answer.status_code == 200, answer.text


def _write_checker_work(found: Stored) -> None:
    """A checker with a hostile organisation looks at the person (its access log);
    the matrix's checker labels a token and watches with a hostile URL."""
    world, ids = found.world, found.ids
    factory = world.app.state.sessions
    now = datetime.now(UTC)
    accounts.create_account(factory, "evilbank", PASSWORD, "checker", now, organisation=MARKUP)
    accounts.verify(factory, "evilbank", now, "test")
    look = api(world)
    look.headers["Authorization"] = (
        f"Bearer {accounts.issue_api_token(factory, 'evilbank', (), now)[1]}"
    )
    assert look.get(f"/api/v1/subjects/{world.ids['own']}?purpose=credit").status_code == 200
    client = world.browsers["checker"]
    fields = {"label": hostile("=")[:100], "days": "30", "csrf_token": csrf(client, "/account")}
    assert client.post("/account/tokens", data=fields).status_code == 200
    url = f"https://hooks.example/h?q={MARKUP}"
    fields = {"subject": str(ids["c1"]), "webhook_url": url, "csrf_token": csrf(client, "/watches")}
    assert client.post("/watches", data=fields).status_code == 200
    watches = api(world, "checker").get("/api/v1/watches").json()["watches"]
    ids["watch"] = next(w["id"] for w in watches if w["webhook_url"] == url)


# ------------------------------------------------------------------ reading back


def _pages(found: Stored) -> list[tuple[str, str]]:
    """(role, url): every page of the matrix, and those of the hostile writes."""
    world, ids = found.world, found.ids
    pages = []
    for channel, method, path, expected in rows(READS):
        allowed = [r for r in PREFERRED if expected[r] == 200]
        if channel == "page" and method == "GET" and allowed:
            pages.append((allowed[0], fill(path, world)))
    pages += [
        ("anonymous", f"/subjects/{ids['c1']}"),
        ("anonymous", f"/records/{ids['c1_record']}"),
        ("anonymous", f"/subjects/{ids['c2']}"),
        ("anonymous", f"/records/{ids['c2_record']}"),
        ("anonymous", f"/subjects/{ids['c1']}/certificate"),
        ("anonymous", "/search?q=HYPERLINK evil example"),
        ("representative", f"/records/{ids['record_a']}"),
        ("representative", f"/records/{ids['record_b']}"),
        ("checker", f"/watches/{ids['watch']}"),
    ]
    return pages


# Pages that must show the hostile text (escaped): proof it was written and rendered.
SHOWN = (
    "/subjects/{c1}",
    "/records/{c1_record}",
    "/subjects/{c2}",
    "/records/{c2_record}",
    "/lists/dishonest_defaulters",
    "/my-file/{own}",
    "/review",
    "/watches",
    "/account",
    "/records/{record_a}",
    "/records/{record_b}",
)


def test_every_page_shows_stored_payloads_as_text(stored: Stored) -> None:
    failures, shown = [], set()
    for role, url in _pages(stored):
        answer = stored.world.browsers[role].get(url)
        found = inert_problems(answer)
        if found or answer.status_code != 200:
            failures.append(f"{role} {url}: {answer.status_code} {found[:3]}")
        if ESCAPED in answer.text:
            shown.add(url.split("?")[0])
    assert failures == []
    ids = stored.world.ids | stored.ids
    assert {p.format(**ids) for p in SHOWN} <= shown
    assert audit_intact(stored.world.app.state.sessions)


def test_evidence_file_names_are_shown_without_their_path(stored: Stored) -> None:
    page = stored.world.browsers["reviewer"].get("/review").text
    # Quotes and angle brackets replaced, the template not run, the folders gone.
    assert ">=x_img src=x onerror=alert(7002)_{{7+7777}}.txt<" in page
    assert ">@evil{{7+7777}}.txt<" in page
    dispute = api(stored.world, "reviewer").get(f"/api/v1/disputes/{stored.ids['dispute']}")
    names = [f["filename"] for f in dispute.json()["evidence"]]
    assert names == ["=x_img src=x onerror=alert(7002)_{{7+7777}}.txt"]


def test_json_answers_give_stored_text_verbatim(stored: Stored) -> None:
    world, ids = stored.world, stored.ids
    subject = api(world).get(f"/api/v1/subjects/{ids['c1']}").json()
    assert subject["name"] == NAME_1
    record = api(world).get(f"/api/v1/records/{ids['c1_record']}").json()
    assert record["summary"] == " ".join(LONG.split())
    my_file = world.browsers["representative"].get(f"/my-file/{world.ids['own']}.json")
    assert MARKUP in _strings(json.loads(my_file.text))  # the checker's organisation
    entries = api(world).get("/api/v1/lists/dishonest_defaulters/entries").json()["entries"]
    assert NAME_1 in {e["name"] for e in entries}


def _strings(value: object) -> set[str]:
    """Every string in a JSON value."""
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return {s for item in value for s in _strings(item)}
    return set()


def _cells(text: str) -> set[str]:
    return {cell for row in csv.reader(io.StringIO(text)) for cell in row}


def _csv_rows(answer: Response) -> list[list[str]]:
    assert answer.status_code == 200, answer.text
    return list(csv.reader(io.StringIO(answer.text)))


def test_list_and_tender_csv_defuse_formulas(stored: Stored) -> None:
    world = stored.world
    listed = api(world).get("/api/v1/lists/dishonest_defaulters/entries.csv")
    assert formula_cells(listed.text) == []
    assert "'" + NAME_1 in _cells(listed.text)
    tender = api(world).post(
        "/api/v1/eligibility/batch?decision=public_procurement",
        content=f"identifier,note\nuscc:{uscc(40)},=SUM(1+1)\n".encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert formula_cells(tender.text) == []
    assert "'=SUM(1+1)" in tender.text


def test_screening_result_defuses_formulas(stored: Stored) -> None:
    world = stored.world
    rows_in = f"ref,name\n=1+2,{NAME_1.replace(chr(34), '')}\n@ref,{NAME_2.replace(chr(34), '')}\n"
    client = api(world, "checker")
    job = client.post(
        "/api/v1/screenings", content=rows_in.encode(), headers={"Content-Type": "text/csv"}
    )
    assert job.status_code == 202, job.text
    status = job.json()
    for _ in range(600):  # the job runs in the app's screening thread
        if status["status"] in ("done", "failed"):
            break
        time.sleep(0.05)
        status = client.get(f"/api/v1/screenings/{status['id']}").json()
    assert status["status"] == "done", status
    result = client.get(status["result"])
    assert formula_cells(result.text) == []
    assert {row[0] for row in _csv_rows(result)[1:]} == {"'=1+2", "'@ref"}


def test_open_data_export_defuses_csv_and_keeps_json_verbatim(
    stored: Stored, tmp_path: Path
) -> None:
    factory = stored.world.app.state.sessions
    report = export.export(factory, "csv", tmp_path / "csv")
    written = {p.name for p in (tmp_path / "csv").iterdir()}
    assert written == {f.name for f in report.files} | {"manifest.json"}
    text = "".join((tmp_path / "csv" / f.name).read_text(encoding="utf-8") for f in report.files)
    assert formula_cells(text) == []
    assert "'" + NAME_1 in _cells(text)
    export.export(factory, "jsonl", tmp_path / "jsonl")
    lines = [
        line for p in (tmp_path / "jsonl").glob("*.jsonl") for line in p.read_text().split("\n")
    ]
    values = {v for line in lines if line for v in json.loads(line).values()}
    assert NAME_1 in values
