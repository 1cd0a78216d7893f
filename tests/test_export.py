"""Open-data export: every format, the manifest, the person rule, FtM, the CLI.

The registry: company 1 a judgment defaulter (dishonest_defaulters), company 2 listed
for abnormal operations (abnormal_operations), company 3 with a minor penalty whose
90 days of publicity are over, company 4 with a revoked judgment; person 1 (imported
with a birth date) a judgment defaulter, a type the rulebook makes public for persons
(masked); person 2 with a general administrative penalty, a type it does not. So every
dataset holds companies 1 and 2 and person 1, and nothing of the others.

The store tests run on SQLite and PostgreSQL; the CLI test on SQLite.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from followthemoney import model
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import RULEBOOK
from tests.feeds import (
    COURT,
    REGULATOR,
    add_authorities,
    cli_url,
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
)
from trustreg.core.identifiers import Identifier, mask_identifier
from trustreg.services import registry
from trustreg.services.export import export
from trustreg.store.db import make_engine

TODAY = datetime.now(UTC).date()
# When this module was loaded: an export made by its tests is stamped after it, even
# when the run crosses midnight (a date compared with TODAY failed then).
STARTED = datetime.now(UTC).replace(microsecond=0)
RECENT = TODAY - timedelta(days=30)
PERSON, PERSON_NAME = ric(1), "王伟"
HIDDEN, HIDDEN_NAME = ric(2), "张三丰"  # general administrative penalty: not public
MASKED = f"ric:{mask_identifier(Identifier('ric', PERSON))}"
# What must never be written: full identity numbers, the birth date in either spelling.
SECRETS = (PERSON, HIDDEN, "1980-05-17", "19800517", HIDDEN_NAME)
DATASETS = ("list_entries", "records", "subjects")


def record(
    n: int, subject: int, record_type: str, effective: date, authority: str, **changes: str
) -> dict[str, str]:
    """Record ``n`` of company ``subject`` (or of whom ``changes`` name)."""
    if record_type != "judgment_defaulter":
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
    add_authorities(factory)
    person = subject_row(
        0,
        kind="individual",
        id_scheme="ric",
        id_value=PERSON,
        name=PERSON_NAME,
        birth_date="1980-05-17",
        registered_on="",
    )
    assert (
        run_import(factory, "subjects", write_subjects(tmp_path / "s.csv", [person])).rejected == 0
    )
    rows = [
        record(1, 1, "judgment_defaulter", RECENT, COURT),
        record(2, 2, "business_abnormal", RECENT, REGULATOR),
        record(3, 3, "admin_penalty_minor", TODAY - timedelta(days=200), REGULATOR),
        record(4, 4, "judgment_defaulter", RECENT, COURT, status="revoked"),
        record(5, 0, "judgment_defaulter", RECENT, COURT, **of_person(PERSON, PERSON_NAME)),
        record(6, 0, "admin_penalty_general", RECENT, REGULATOR, **of_person(HIDDEN, HIDDEN_NAME)),
    ]
    report = run_import(factory, "records", write_csv(tmp_path / "r.csv", rows))
    assert (report.created, report.rejected) == (len(rows), 0), report


@pytest.fixture
def populated(factory: sessionmaker[Session], tmp_path: Path) -> sessionmaker[Session]:
    populate(factory, tmp_path)
    return factory


def read_rows(path: Path, file_format: str) -> list[dict[str, Any]]:
    if file_format == "csv":
        with path.open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))
    if file_format == "jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    rows: list[dict[str, Any]] = pq.read_table(path).to_pylist()
    return [
        {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in r.items()} for r in rows
    ]


def all_text(directory: Path) -> str:
    """Everything written, as text (Parquet read back, since its pages are compressed)."""
    parts = []
    for path in sorted(directory.iterdir()):
        if path.suffix == ".parquet":
            parts.append(
                json.dumps(pq.read_table(path).to_pylist(), default=str, ensure_ascii=False)
            )
        else:
            parts.append(path.read_text(encoding="utf-8"))
    return "\n".join(parts)


def check_manifest(directory: Path, file_format: str) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((directory / "manifest.json").read_text())
    assert manifest["format"] == file_format
    assert manifest["rulebook_version"] == "2026.2"
    assert STARTED <= datetime.fromisoformat(manifest["exported_at"]) <= datetime.now(UTC)
    for entry in manifest["files"]:
        data = (directory / entry["name"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["bytes"] == len(data)
    named = {e["name"] for e in manifest["files"]} | {"manifest.json"}
    assert {p.name for p in directory.iterdir()} == named  # no temporary file left
    return manifest


# ------------------------------------------------------------------- tabular formats


@pytest.mark.parametrize(
    ("file_format", "suffix"), [("csv", "csv"), ("jsonl", "jsonl"), ("parquet", "parquet")]
)
def test_each_format_writes_the_expected_rows(
    populated: sessionmaker[Session], tmp_path: Path, file_format: str, suffix: str
) -> None:
    out = tmp_path / "open"
    report = export(populated, file_format, out)

    manifest = check_manifest(out, file_format)
    assert [f["name"] for f in manifest["files"]] == [f"{d}.{suffix}" for d in DATASETS]
    data = {d: read_rows(out / f"{d}.{suffix}", file_format) for d in DATASETS}
    assert {f["dataset"]: f["rows"] for f in manifest["files"]} == {
        d: len(rows) for d, rows in data.items()
    }
    assert [f.rows for f in report.files] == [3, 3, 3]

    entries = {(r["list_code"], r["subject_name"]): r for r in data["list_entries"]}
    assert set(entries) == {
        ("dishonest_defaulters", subject_name(1)),
        ("abnormal_operations", subject_name(2)),
        ("dishonest_defaulters", PERSON_NAME),
    }
    first = entries[("dishonest_defaulters", subject_name(1))]
    assert first["identifier"] == f"uscc:{uscc(1)}"
    assert first["entered_on"] == RECENT.isoformat()
    assert first["scheduled_exit"] == (RECENT + timedelta(days=730)).isoformat()
    assert first["legal_basis"].startswith("SPC Provisions on Publishing the List")
    assert first["records"] == f"{COURT} {reference(1)}"
    assert entries[("dishonest_defaulters", PERSON_NAME)]["identifier"] == MASKED

    records = {r["reference"]: r for r in data["records"]}
    assert set(records) == {reference(1), reference(2), reference(5)}
    judgment = records[reference(1)]
    assert (judgment["authority"], judgment["record_type"], judgment["status"]) == (
        COURT,
        "judgment_defaulter",
        "active",
    )
    assert judgment["effective_from"] == RECENT.isoformat()
    assert judgment["publicity_end"] == (RECENT + timedelta(days=730)).isoformat()
    assert judgment["legal_basis"].startswith("Civil Procedure Law of the PRC art. 266")

    subjects = {r["name"]: r for r in data["subjects"]}
    assert set(subjects) == {subject_name(1), subject_name(2), PERSON_NAME}
    assert subjects[PERSON_NAME]["identifier"] == MASKED
    assert subjects[PERSON_NAME]["kind"] == "individual"
    assert subjects[subject_name(2)]["lists"] == "abnormal_operations"
    assert subjects[subject_name(2)]["identifier"] == f"uscc:{uscc(2)}"


@pytest.mark.parametrize("file_format", ["csv", "jsonl", "parquet", "ftm"])
def test_persons_appear_only_masked_and_only_where_public(
    populated: sessionmaker[Session], tmp_path: Path, file_format: str
) -> None:
    out = tmp_path / "open"
    export(populated, file_format, out)

    text = all_text(out)
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} written in the {file_format} export"
    assert PERSON_NAME in text
    assert mask_identifier(Identifier("ric", PERSON)) in text
    for gone in (subject_name(3), subject_name(4), reference(3), reference(4), reference(6)):
        assert gone not in text


# ------------------------------------------------------------------------ FtM


def ftm_entities(directory: Path) -> Iterator[Any]:
    for line in (directory / "entities.ftm.json").read_text(encoding="utf-8").splitlines():
        yield model.get_proxy(json.loads(line))


def test_ftm_entities_load_back_with_their_schemata(
    populated: sessionmaker[Session], tmp_path: Path
) -> None:
    out = tmp_path / "ftm"
    export(populated, "ftm", out)

    manifest = check_manifest(out, "ftm")
    entities = {e.id: e for e in ftm_entities(out)}
    assert [f["rows"] for f in manifest["files"]] == [len(entities)] == [9]
    subjects = {e.first("name"): e for e in entities.values() if e.schema.is_a("LegalEntity")}
    assert {n: e.schema.name for n, e in subjects.items()} == {
        subject_name(1): "Company",
        subject_name(2): "Company",
        PERSON_NAME: "Person",
    }
    defaulter = subjects[subject_name(1)]
    assert defaulter.get("registrationNumber") == [uscc(1)]
    assert defaulter.get("topics") == ["debarment"]
    assert set(subjects[subject_name(2)].get("topics")) == {"reg.warn", "reg.action"}
    person = subjects[PERSON_NAME]
    assert person.get("topics") == ["debarment"]
    assert person.get("idNumber") == []
    assert person.get("birthDate") == []
    assert all(e.id.startswith("trustreg-") for e in entities.values())

    sanctions = [e for e in entities.values() if e.schema.name == "Sanction"]
    assert len(sanctions) == 6
    assert all(s.first("entity") in entities for s in sanctions)
    record = entities[next(i for i in entities if i.startswith("trustreg-record-"))]
    assert record.first("authority") in (COURT, REGULATOR)

    again = tmp_path / "again"
    export(populated, "ftm", again)
    assert {e.id for e in ftm_entities(again)} == set(entities)  # ids are stable


def test_an_unknown_format_is_refused(populated: sessionmaker[Session], tmp_path: Path) -> None:
    from trustreg.errors import ValidationError

    with pytest.raises(ValidationError, match="xml"):
        export(populated, "xml", tmp_path / "x")


# ------------------------------------------------------------------------ CLI


def test_cli_exports_into_the_directory(tmp_path: Path) -> None:
    engine = make_engine(cli_url(tmp_path))
    populate(registry.initialise(engine, RULEBOOK), tmp_path)
    engine.dispose()

    result = run_cli(tmp_path, "export", "--format", "jsonl", "-o", tmp_path / "open")

    assert result.returncode == 0, result.stderr
    assert "manifest.json" in result.stdout
    manifest = check_manifest(tmp_path / "open", "jsonl")
    assert [f["rows"] for f in manifest["files"]] == [3, 3, 3]

    wrong = run_cli(tmp_path, "export", "--format", "xml", "-o", tmp_path / "x")
    assert wrong.returncode == 1
    assert "xml" in wrong.stderr


def test_readers_page_through_the_store_in_batches(populated: sessionmaker[Session]) -> None:
    from trustreg.core.rating import VOID_STATUSES
    from trustreg.store import exports as store
    from trustreg.store.db import transaction

    window = (TODAY - timedelta(days=1095), TODAY)
    public = {"judgment_defaulter"}
    with transaction(populated) as session:
        entries = [e.id for e in store.open_entries(session)]
        assert [e.id for e in store.open_entries(session, batch=1)] == entries
        assert len(entries) == 3
        records = [r.id for r in store.candidate_records(session, public, window, VOID_STATUSES)]
        paged = store.candidate_records(session, public, window, VOID_STATUSES, batch=2)
        assert [r.id for r in paged] == records
        subjects = store.candidate_subjects(session, public, window, VOID_STATUSES, batch=1)
        # Candidates only: company 3's expired penalty is within the longest publicity
        # period, so SQL keeps it and the service drops it (see the tests above).
        assert [len(chunk) for chunk in subjects] == [1, 1, 1, 1]


def test_the_command_offers_the_formats_the_service_writes() -> None:
    from trustreg.cli_export import FORMATS as OFFERED
    from trustreg.services.export import FORMATS as WRITTEN

    assert OFFERED == WRITTEN
