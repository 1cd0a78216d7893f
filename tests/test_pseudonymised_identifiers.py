"""Person identifiers are pseudonymised: kept only as a keyed hash and a masked form.

A person's full number (resident identity card, passport) is nowhere in the database
after an import, yet looking a person up by that number works everywhere (API, CLI,
eligibility, checks, imports), and only under the configured key. No GET endpoint of
the API answers with a full person number. Store tests run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
import sqlalchemy as sa
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests import feeds
from tests.accounts import make_account
from tests.conftest import RULEBOOK
from tests.feeds import KEY, TRUSTREG, record_row, run_import, subject_row, uscc, write_csv
from trustreg.config import Settings
from trustreg.core.identifiers import (
    Identifier,
    area_codes,
    identifier_hash,
    make_ric,
    mask_identifier,
    stored_identifier,
)
from trustreg.core.matching import Party, with_hashed_numbers
from trustreg.errors import ConfigurationError
from trustreg.services import accounts, certificates, registry
from trustreg.services.screening_file import SCREEN_COLUMNS
from trustreg.store.db import alembic_config, make_engine, migrate
from trustreg.store.keys import RegistryKey
from trustreg.web.app import create_app

TODAY = datetime.now(UTC).date()
AREA = area_codes(1980)[0]
RIC = make_ric(AREA, date(1980, 5, 17), 21)
PASSPORT = "DE:C01X00T47"
# Every spelling of a full number that must not show: the passport also without its
# country prefix (the number as printed in the passport).
FULL_FORMS = (RIC, PASSPORT, PASSPORT.split(":")[1])
PERSONS = (  # kind, scheme, number, name, country
    ("individual", "ric", RIC, "王伟", "CN"),
    ("foreign_individual", "passport", PASSPORT, "Anna Schmidt", "DE"),
)
OTHER_KEY = "not-the-registry-key"


def twin(number: str) -> str:
    """Another person's resident number with the same masked form: same area, same
    sequence and check character, another birth date."""
    born = date(1980, 5, 17)
    for days in range(1, 400):
        other = make_ric(AREA, born + timedelta(days=days), int(number[14:17]))
        if other[-1] == number[-1]:
            return other
    raise AssertionError("no twin within a year")


def person_row(n: int, scheme: str, number: str, name: str) -> dict[str, str]:
    if scheme == "ric":
        fields = {"kind": "individual", "region": "北京市", "country": "CN"}
    else:
        fields = {"kind": "foreign_individual", "region": "", "country": "DE"}
    return subject_row(n, id_scheme=scheme, id_value=number, name=name, registered_on="", **fields)


def populate(factory: sessionmaker[Session], folder: Path) -> None:
    """An organisation and two persons, each with a judgment that lists it today."""
    subjects = [
        subject_row(1),
        person_row(2, "ric", RIC, "王伟"),
        person_row(3, "passport", PASSPORT.lower(), "Anna Schmidt"),  # as typed
    ]
    created = run_import(factory, "subjects", feeds.write_subjects(folder / "s.csv", subjects))
    assert (created.created, created.rejected) == (3, 0)
    feeds.add_authorities(factory)
    decided, effective = (str(TODAY - timedelta(days=d)) for d in (35, 30))
    records = [record_row(1, decided_on=decided, effective_from=effective)] + [
        record_row(
            n,
            decided_on=decided,
            effective_from=effective,
            subject_kind=kind,
            id_scheme=scheme,
            id_value=number,
            subject_name=name,
        )
        for n, (kind, scheme, number, name, _country) in enumerate(PERSONS, start=2)
    ]
    report = run_import(factory, "records", write_csv(folder / "r.csv", records))
    assert (report.created, report.rejected) == (3, 0)


def found_by_hash(engine: sa.Engine, ident: Identifier, key: str) -> list[int]:
    """The subjects whose identifier has the keyed hash of ``ident`` under ``key``."""
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT subject_id FROM identifiers WHERE scheme = :scheme AND value_hash = :hash"
            ),
            {"scheme": ident.scheme, "hash": identifier_hash(key, ident)},
        )
        return [row[0] for row in rows]


def dump(engine: sa.Engine) -> str:
    """Every row of every table, as text."""
    lines = []
    with engine.connect() as connection:
        for table in sa.inspect(connection).get_table_names():
            rows = connection.execute(sa.text(f'SELECT * FROM "{table}"'))
            lines += [f"{table}: {tuple(row)}" for row in rows]
    return "\n".join(lines)


def assert_no_full_number(text: str, where: str, typed: str = "") -> None:
    """No full person number in ``text``, save in the echo of what the caller typed
    (a search page keeps the query in its links)."""
    if typed:
        for echo in (quote(typed, safe=""), quote_plus(typed), typed):
            text = text.replace(echo, "")
    for form in FULL_FORMS:
        assert form not in text.upper(), f"{form} in {where}"


@pytest.fixture
def populated(factory: sessionmaker[Session], tmp_path: Path) -> sessionmaker[Session]:
    populate(factory, tmp_path)
    return factory


@pytest.fixture
def checker(populated: sessionmaker[Session]) -> dict[str, str]:
    """The headers of a verified checker's API token: who may look persons up."""
    make_account(populated, "bank-checker", "checker")
    _, token = accounts.issue_api_token(populated, "bank-checker", [], datetime.now(UTC))
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client(settings: Settings, checker: dict[str, str]) -> Iterator[TestClient]:
    """The API, called by a verified checker."""
    with TestClient(create_app(settings), headers=checker) as test_client:
        yield test_client


def other_key_client(settings: Settings, checker: dict[str, str]) -> TestClient:
    """The same store served under another identifier key.

    Refused while the store remembers its key (``registry.check_identifier_key``); once
    that check value is gone (a store from before it existed), it starts, and shows
    that the stored hashes are of no use under another key.
    """
    other = settings.model_copy(update={"identifier_key": OTHER_KEY})
    with pytest.raises(ConfigurationError, match="TRUSTREG_IDENTIFIER_KEY is not the key"):
        create_app(other)
    engine = make_engine(settings.sqlalchemy_url)
    with engine.begin() as connection:
        connection.execute(sa.delete(RegistryKey))
    engine.dispose()
    return TestClient(create_app(other), headers=checker)


# -------------------------------------------------------------------------- the core


def test_the_hash_is_hmac_sha256_of_the_canonical_identifier() -> None:
    ident = Identifier("ric", RIC)
    expected = hmac.new(b"k", f"ric:{RIC}".encode(), hashlib.sha256).hexdigest()
    assert identifier_hash("k", ident) == expected
    assert identifier_hash("other", ident) != expected
    assert stored_identifier("k", ident) == ("ric", mask_identifier(ident), expected)
    organisation = Identifier("uscc", uscc(1))
    assert stored_identifier("k", organisation).value == uscc(1)
    for ident in (Identifier("ric", RIC), Identifier("passport", PASSPORT)):
        masked = mask_identifier(ident)
        assert mask_identifier(Identifier(ident.scheme, masked)) == masked  # shown as stored
    party = Party("x", None, (("ric", RIC), ("uscc", uscc(1))))
    hashed = with_hashed_numbers(party, "k").identifiers
    assert hashed == (("ric", expected), ("uscc", uscc(1)))


# --------------------------------------------------------------------- the database


def test_no_full_person_number_is_stored(
    settings: Settings, populated: sessionmaker[Session]
) -> None:
    engine: sa.Engine = populated.kw["bind"]
    text = dump(engine)
    assert_no_full_number(text, "the database")
    for _kind, scheme, number, _name, _country in PERSONS:
        ident = Identifier(scheme, number)
        assert mask_identifier(ident) in text
        assert identifier_hash(settings.identifier_key, ident) in text
    assert settings.identifier_key not in text
    assert uscc(1) in text  # an organisation's identifier is public: kept in clear
    assert identifier_hash(settings.identifier_key, Identifier("uscc", uscc(1))) in text
    if engine.dialect.name == "sqlite":
        database = Path(str(engine.url.database))
        engine.dispose()
        files = list(database.parent.glob(database.name + "*"))
        assert database in files
        for path in files:
            raw = path.read_bytes()
            for form in FULL_FORMS:
                assert form.encode() not in raw, f"{form} in {path.name}"


def test_the_upgrade_hashes_and_masks_the_numbers_already_stored(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(store_url)
    migrate(engine, "0006")
    other = twin(RIC)
    now = datetime.now(UTC)
    held = [("uscc", uscc(1)), ("ric", RIC), ("ric", other), ("passport", PASSPORT)]
    with engine.begin() as connection:
        for n, (scheme, value) in enumerate(held, start=1):
            connection.execute(
                sa.text(
                    "INSERT INTO subjects (id, kind, display_name, created_at, updated_at) "
                    "VALUES (:id, :kind, :name, :now, :now)"
                ),
                {
                    "id": n,
                    "kind": "legal_entity" if n == 1 else "individual",
                    "name": f"s{n}",
                    "now": now,
                },
            )
            connection.execute(
                sa.text(
                    "INSERT INTO identifiers (subject_id, scheme, value) "
                    "VALUES (:id, :scheme, :value)"
                ),
                {"id": n, "scheme": scheme, "value": value},
            )
    monkeypatch.setenv("TRUSTREG_IDENTIFIER_KEY", "the-migration-key")
    # Up to this revision only (and down from it): later revisions are not its business.
    migrate(engine, "0007")

    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT scheme, value, value_hash FROM identifiers ORDER BY subject_id")
        ).all()
    assert [tuple(r) for r in rows] == [
        tuple(stored_identifier("the-migration-key", Identifier(s, v))) for s, v in held
    ]
    assert rows[1][1] == rows[2][1] == mask_identifier(Identifier("ric", RIC))  # shared
    text = dump(engine)
    assert_no_full_number(text, "the migrated database")
    assert other not in text
    assert found_by_hash(engine, Identifier("ric", other), "the-migration-key") == [3]
    assert found_by_hash(engine, Identifier("ric", other), KEY) == []

    config = alembic_config(engine)
    with pytest.raises(RuntimeError, match="share the masked identifier ric:"):
        command.downgrade(config, "0006")
    with engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM identifiers WHERE subject_id = 3"))
    command.downgrade(config, "0006")
    columns = {c["name"] for c in sa.inspect(engine).get_columns("identifiers")}
    assert "value_hash" not in columns
    engine.dispose()


# ------------------------------------------------------------------------ look-ups


def test_the_full_number_finds_its_person_only_under_the_key(
    settings: Settings, client: TestClient, checker: dict[str, str]
) -> None:
    with other_key_client(settings, checker) as wrong:
        for kind, scheme, number, name, _country in PERSONS:
            identifier = f"{scheme}:{number}"
            lookup = {"identifier": identifier, "purpose": "contract"}
            found = client.get("/api/v1/subjects", params=lookup)
            assert found.status_code == 200, found.text
            view = found.json()
            assert (view["name"], view["kind"]) == (name, kind)
            masked = mask_identifier(Identifier(scheme, number))
            assert view["identifiers"] == [f"{scheme}:{masked}"]
            missing = wrong.get("/api/v1/subjects", params=lookup)
            assert missing.status_code == 404
            assert masked in missing.json()["detail"]

            params = {"subject": identifier, "decision": "public_procurement"}
            assert client.get("/api/v1/eligibility", params=params).status_code == 403
            params["purpose"] = "procurement"
            answer = client.get("/api/v1/eligibility", params=params)
            assert answer.status_code == 200, answer.text
            assert (answer.json()["name"], answer.json()["answer"]) == (name, "excluded")
            assert wrong.get("/api/v1/eligibility", params=params).status_code == 404

            # A name that finds nobody: only the number can find the person.
            check = {"name": "Nobody Atall", "kind": kind, "id": identifier, "purpose": "credit"}
            candidates = client.get("/api/v1/check", params=check).json()["candidates"]
            assert candidates[0]["name"] == name, candidates
            assert "identifier equal" in candidates[0]["agreed"]
            others = wrong.get("/api/v1/check", params=check).json()["candidates"]
            assert all("identifier equal" not in c["agreed"] for c in others)


def test_an_import_finds_stored_persons_by_their_number(
    populated: sessionmaker[Session], tmp_path: Path
) -> None:
    rows = [person_row(2, "ric", RIC, "王伟明"), person_row(4, "ric", twin(RIC), "王伟")]
    path = feeds.write_subjects(tmp_path / "again.csv", rows)
    report = run_import(populated, "subjects", path)
    # The renamed person is found by the number; the twin, masked alike, is another person.
    assert (report.created, report.updated, report.rejected) == (1, 1, 0)
    assert feeds.subject_view(populated, "ric", RIC).display_name == "王伟明"
    assert feeds.subject_view(populated, "ric", twin(RIC)).id != (
        feeds.subject_view(populated, "ric", RIC).id
    )
    records = run_import(populated, "records", tmp_path / "r.csv")
    assert (records.created, records.unchanged) == (0, 3)
    # Under another key nobody is found: the same row would be a new subject.
    again = run_import(populated, "subjects", path, identifier_key=OTHER_KEY)
    assert (again.created, again.updated) == (2, 0)


@pytest.fixture
def cli_store(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """The SQLite store the CLI runs against (``tmp_path/r.db``), populated."""
    engine = make_engine(feeds.cli_url(tmp_path))
    factory = registry.initialise(engine, RULEBOOK)
    populate(factory, tmp_path)
    yield factory
    engine.dispose()


def run_cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TRUSTREG), *args],
        cwd=tmp_path,
        env=feeds.cli_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_cli_finds_a_person_by_the_full_number(
    cli_store: sessionmaker[Session], tmp_path: Path
) -> None:
    shown = run_cli(tmp_path, "subjects", "show", f"ric:{RIC}", "--json")
    assert shown.returncode == 0, shown.stderr
    view = json.loads(shown.stdout)
    assert (view["name"], view["identifiers"]) == (
        "王伟",
        [f"ric:{mask_identifier(Identifier('ric', RIC))}"],
    )
    assert_no_full_number(shown.stdout, "subjects show")
    asked = ("eligibility", f"passport:{PASSPORT}", "--decision", "public_procurement")
    checked = run_cli(tmp_path, *asked, "--purpose", "procurement", "--json")
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout)["answer"] == "excluded"

    # Under another key the store refuses to run at all (it remembers its key).
    wrong = run_cli(tmp_path, "subjects", "show", f"ric:{RIC}", TRUSTREG_IDENTIFIER_KEY=OTHER_KEY)
    assert wrong.returncode == ConfigurationError.exit_code
    assert "TRUSTREG_IDENTIFIER_KEY is not the key" in wrong.stderr


# --------------------------------------------------------------------- every endpoint


def screening_job(client: TestClient) -> str:
    """A screening of both persons by their full numbers, run to its end."""
    rows = [
        {"ref": f"p{n}", "name": name, "kind": kind, "id_scheme": scheme, "id_value": number}
        for n, (kind, scheme, number, name, _country) in enumerate(PERSONS)
    ]
    body = feeds.csv_text(SCREEN_COLUMNS, rows).encode()
    posted = client.post(
        "/api/v1/screenings?purpose=credit", content=body, headers={"Content-Type": "text/csv"}
    )
    assert posted.status_code == 202, posted.text
    deadline = time.monotonic() + 30
    while (job := client.get(posted.headers["Location"]).json())["status"] not in (
        "done",
        "failed",
    ):
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
    assert (job["status"], job["matched"]) == ("done", 2), job
    return str(job["id"])


def known_ids(
    settings: Settings, client: TestClient, factory: sessionmaker[Session]
) -> dict[str, list[str]]:
    """Real values for every path parameter the API has."""
    subjects, records = [], []
    for identifier in [f"uscc:{uscc(1)}"] + [f"{p[1]}:{p[2]}" for p in PERSONS]:
        params = {"identifier": identifier, "purpose": "contract"}
        view = client.get("/api/v1/subjects", params=params).json()
        subjects.append(str(view["id"]))
        records += [str(r["id"]) for r in view["records"]]
    issued = certificates.issue(factory, int(subjects[0]), settings.secret_key)["issued"]
    return {
        "subject_id": subjects,
        "record_id": records,
        "job_id": [screening_job(client)],
        "list_code": [item["code"] for item in client.get("/api/v1/lists").json()["lists"]],
        "certificate_code": [issued.code],
    }


def query_values(person: tuple[str, str, str, str, str], version: str) -> dict[str, str]:
    """What a caller asking about ``person`` puts in each query parameter."""
    kind, scheme, number, name, country = person
    identifier = f"{scheme}:{number}"
    return {
        "identifier": identifier,
        "subject": identifier,
        "id": identifier,
        "name": name,
        "q": name,
        "kind": kind,
        "purpose": "contract",
        "decision": "public_procurement",
        "country": country,
        "birth_date": "1980-05-17",
        "from": version,
        "to": version,
    }


def path_values(path: str, name: str, ids: dict[str, list[str]]) -> list[str]:
    if name == "code":
        return ids["list_code" if path.startswith("/api/v1/lists") else "certificate_code"]
    return ids.get(name, ["1"])


def calls(
    path: str, spec: dict[str, Any], ids: dict[str, list[str]], version: str
) -> Iterator[tuple[str, dict[str, str]]]:
    """Each real id in the path, with each person's details in the query (and none)."""
    names = [p["name"] for p in spec.get("parameters", []) if p["in"] == "path"]
    query = [p for p in spec.get("parameters", []) if p["in"] == "query"]
    for chosen in itertools.product(*(path_values(path, n, ids) for n in names)):
        url = path
        for name, value in zip(names, chosen, strict=True):
            url = url.replace("{" + name + "}", value)
        yield url, {}
        for person in PERSONS:
            values = query_values(person, version)
            params = {
                p["name"]: values.get(p["name"], "1")
                for p in query
                if p["name"] in values or p.get("required")
            }
            yield url, params


def test_no_get_endpoint_answers_with_a_full_person_number(
    settings: Settings, client: TestClient, populated: sessionmaker[Session]
) -> None:
    ids = known_ids(settings, client, populated)
    version = client.get("/api/v1/rulebook/versions").json()["versions"][0]["version"]
    openapi = client.app.openapi()  # type: ignore[attr-defined]
    anonymous = TestClient(client.app)  # type: ignore[arg-type]
    answered: dict[str, int] = {}
    for path, item in sorted(openapi["paths"].items()):
        if "get" not in item or not path.startswith("/api/"):
            continue
        for (url, params), caller in itertools.product(
            calls(path, item["get"], ids, version), (client, anonymous)
        ):
            response = caller.get(url, params=params)
            assert response.status_code < 500, (url, params, response.text)
            where = f"GET {url} {params} ({response.status_code})"
            assert_no_full_number(response.text, where)
            assert_no_full_number(json.dumps(dict(response.headers)), f"headers of {where}")
            if response.status_code == 200 and caller is client:
                answered[path] = answered.get(path, 0) + 1
    # The walk reached the persons: each look-up answered for both of them.
    for path in ("/api/v1/subjects", "/api/v1/eligibility", "/api/v1/subjects/{subject_id}"):
        assert answered.get(path, 0) >= 2, (path, answered)
    assert answered["/api/v1/screenings/{job_id}/result"] >= 1

    masked = mask_identifier(Identifier("ric", RIC))
    pages = [(f"/subjects/{s}", {}) for s in ids["subject_id"]]
    pages += [(f"/records/{r}", {}) for r in ids["record_id"]]
    pages += [("/search", {"q": f"{scheme}:{number}"}) for _, scheme, number, _, _ in PERSONS]
    pages += [("/", {}), ("/statistics", {}), ("/search", {"q": masked})]
    pages += [(f"/lists/{code}", {}) for code in ids["list_code"]]
    for page, params in pages:
        for caller in (client, anonymous):
            response = caller.get(page, params=params)
            assert response.status_code < 500, (page, response.text)
            assert_no_full_number(response.text, f"{page} {params}", params.get("q", ""))
    assert "王伟" in client.get("/search", params={"q": masked}).text  # finds its entry
