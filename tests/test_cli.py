"""The ``trustreg`` command as a user runs it: a subprocess of the console script.

Each test asserts the exit code (0 fine, 1 invalid input or rejected rows, 2 unreadable
file, 3 not found, 4 conflict) and the one line the command prints. The store is a
SQLite file; where a test only needs data in it, the services put it there, so each
test starts few subprocesses.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.feeds import (
    COURT,
    add_authorities,
    cli_url,
    count,
    csv_line,
    one_error_line,
    read_rejects,
    record_row,
    reference,
    references,
    run_cli,
    run_import,
    subject_name,
    subject_row,
    uscc,
    write_csv,
    write_subjects,
)
from trustreg.config import REPO_ROOT
from trustreg.core.validation import RECORD_COLUMNS
from trustreg.services import registry
from trustreg.store.db import make_engine
from trustreg.store.models import Record

MODEL_RULEBOOK = REPO_ROOT / "rulebooks" / "model.toml"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """The SQLite store the CLI runs against (``tmp_path/r.db``), with three authorities."""
    engine = make_engine(cli_url(tmp_path))
    factory = registry.initialise(engine, MODEL_RULEBOOK)
    add_authorities(factory)
    yield factory
    engine.dispose()


def test_authorities_add_list_and_duplicate(tmp_path: Path) -> None:
    added = run_cli(
        tmp_path,
        "authorities",
        "add",
        "court-sh",
        "--kind",
        "court",
        "--name",
        "上海市高级人民法院",
    )
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == (
        "added court-sh (court): may submit insolvency, judgment_defaulter"
    )

    again = run_cli(tmp_path, "authorities", "add", "court-sh", "--kind", "court", "--name", "X")
    assert again.returncode == 4
    assert one_error_line(again) == "error: authority 'court-sh' already exists"

    wrong = run_cli(tmp_path, "authorities", "add", "police-1", "--kind", "police", "--name", "X")
    assert wrong.returncode == 1
    assert one_error_line(wrong) == (
        "error: kind: 'police' is not one of court, tax, market_regulator, other"
    )

    listed = run_cli(tmp_path, "authorities", "list")
    assert listed.returncode == 0, listed.stderr
    [line] = [line for line in listed.stdout.splitlines() if "court-sh" in line]
    assert re.search(r"court-sh\s*│\s*court\s*│\s*上海市高级人民法院\s*│\s*insolvency,", line)
    assert "police-1" not in listed.stdout


def test_import_subjects_then_records_with_a_rejected_row(
    store: sessionmaker[Session], tmp_path: Path
) -> None:
    subjects = write_subjects(tmp_path / "subjects.csv", [subject_row(1), subject_row(2)])
    done = run_cli(tmp_path, "import", "subjects", subjects)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        "batch 1: 2 rows read (csv, utf-8): 2 created, 0 updated, 0 unchanged, 0 rejected"
    )
    assert done.stderr.strip() == ""  # the progress bar leaves no trace off a terminal
    assert not (tmp_path / "subjects.rejects.csv").exists()

    bad = record_row(2, currency="XYZ")
    records = write_csv(tmp_path / "records.csv", [record_row(1), bad, record_row(3)])
    rejects = tmp_path / "reports" / "records-rejected.csv"
    rejects.parent.mkdir()
    partly = run_cli(tmp_path, "import", "records", records, "--rejects", rejects)
    assert partly.returncode == 1
    assert partly.stdout.strip() == (
        "batch 2: 3 rows read (csv, utf-8): 2 created, 0 updated, 0 unchanged, 1 rejected"
    )
    assert partly.stderr.strip() == f"rejected rows and reasons: {rejects}"
    assert read_rejects(rejects) == [
        {
            "row": "3",
            "field": "currency",
            "reason": "'XYZ' is not an ISO 4217 currency code",
            "original_row": csv_line(RECORD_COLUMNS, bad),
        }
    ]
    assert not (tmp_path / "records.rejects.csv").exists()
    assert references(store) == [reference(1), reference(3)]


def test_import_gb18030_forced_as_utf8_rejects_rows_naming_the_encoding(
    store: sessionmaker[Session], tmp_path: Path
) -> None:
    ascii_row = record_row(2, reference="2024-ENF-0002", subject_name="Huaxin Co.", summary="x")
    path = write_csv(tmp_path / "r.csv", [record_row(1), ascii_row], encoding="gb18030")

    result = run_cli(tmp_path, "import", "records", path, "--encoding", "utf-8")

    assert result.returncode == 1
    assert "(csv, utf-8): 1 created, 0 updated, 0 unchanged, 1 rejected" in result.stdout
    [rejection] = read_rejects(tmp_path / "r.rejects.csv")
    assert (rejection["row"], rejection["field"]) == ("2", "row")
    assert "not valid utf-8; give the right encoding with --encoding" in rejection["reason"]
    assert references(store) == ["2024-ENF-0002"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        pytest.param("absent.csv", None, "{path}: no such file", id="missing file"),
        pytest.param(
            "records.csv",
            b"authority,reference,colour\n",
            "header: missing column(s) record_type, subject_kind, id_scheme, id_value, "
            "subject_name, decided_on, effective_from; unknown column(s) colour. "
            "Expected columns: " + ", ".join(RECORD_COLUMNS),
            id="wrong columns",
        ),
    ],
)
def test_import_unreadable_file_exits_2_with_one_line(
    store: sessionmaker[Session],
    tmp_path: Path,
    name: str,
    content: bytes | None,
    message: str,
) -> None:
    # A deep folder makes the path longer than a terminal line: still one line.
    path = tmp_path / ("a-rather-long-folder-name-" * 4) / name
    path.parent.mkdir()
    if content is not None:
        path.write_bytes(content)

    result = run_cli(tmp_path, "import", "records", path)

    assert result.returncode == 2
    assert one_error_line(result) == "error: " + message.format(path=path)
    assert result.stdout == ""
    assert count(store, Record) == 0


def test_subjects_show_text_json_and_unknown(store: sessionmaker[Session], tmp_path: Path) -> None:
    run_import(store, "subjects", write_subjects(tmp_path / "s.csv", [subject_row(1)]))
    short = record_row(1, reference="JD-1", amount="15000.5")
    run_import(store, "records", write_csv(tmp_path / "r.csv", [short]))
    write_subjects(tmp_path / "s.csv", [subject_row(1, name="北京华信集团有限公司")])
    run_import(store, "subjects", tmp_path / "s.csv")

    text = run_cli(tmp_path, "subjects", "show", f"uscc:{uscc(1)}")
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].startswith("北京华信集团有限公司  (legal_entity, id 1)")
    assert lines[1] == f"identifiers: uscc:{uscc(1)}"
    assert lines[2] == f"other names: {subject_name(1)} (former)"
    [row] = [line for line in lines if "JD-1" in line]
    assert re.search(rf"judgment_defa\S*\s*│\s*{COURT}\s*│\s*JD-1\s*│\s*2024-03-11", row)
    assert "15000.50" in row
    assert "active" in row

    as_json = run_cli(tmp_path, "subjects", "show", f"USCC: {uscc(1).lower()}", "--json")
    assert as_json.returncode == 0, as_json.stderr
    view = json.loads(as_json.stdout)
    assert (view["name"], view["kind"], view["identifiers"]) == (
        "北京华信集团有限公司",
        "legal_entity",
        [f"uscc:{uscc(1)}"],
    )
    [record] = view["records"]
    assert {k: record[k] for k in ("authority", "reference", "record_type", "amount")} == {
        "authority": COURT,
        "reference": "JD-1",
        "record_type": "judgment_defaulter",
        "amount": "15000.50",
    }
    assert (record["currency"], record["status"]) == ("CNY", "active")
    assert [h["reason"] for h in record["status_history"]] == ["submitted"]
    assert record["provenance"]["source_file"] == "r.csv"

    unknown = run_cli(tmp_path, "subjects", "show", f"uscc:{uscc(9)}")
    assert unknown.returncode == 3
    assert one_error_line(unknown) == f"error: no subject with identifier uscc:{uscc(9)}"


def test_rulebook_check_accepts_the_model_rulebook(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "rulebook", "check", MODEL_RULEBOOK)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"{MODEL_RULEBOOK}: rulebook 2026.2 (effective 2026-01-01) is valid, 8 record types"
    )


def _without_first_legal_basis(text: str) -> str:
    """The first record type's legal basis removed (lists come before record types)."""
    head, _, types = text.partition("\n[[record_type]]\n")
    return head + "\n[[record_type]]\n" + re.sub(r"(?m)^legal_basis = .*\n", "", types, count=1)


def _religion(text: str) -> str:
    return text.replace('category = "enforcement"', 'category = "religion"', 1)


def _no_header(text: str) -> str:
    return text.replace("[rulebook]", "[book]", 1)


@pytest.mark.parametrize(
    ("break_it", "message"),
    [
        pytest.param(
            _without_first_legal_basis,
            "error: record_type 'judgment_defaulter': has no legal basis; "
            "every record type must cite its law",
            id="no legal basis",
        ),
        pytest.param(
            _religion,
            "error: record_type 'judgment_defaulter': category 'religion' is protected "
            "(religion); the registry may not hold it",
            id="religion",
        ),
        pytest.param(
            _no_header, "error: rulebook: missing [rulebook] table", id="no [rulebook] table"
        ),
    ],
)
def test_rulebook_check_refuses_a_broken_copy(
    tmp_path: Path, break_it: Callable[[str], str], message: str
) -> None:
    original = MODEL_RULEBOOK.read_text(encoding="utf-8")
    broken = break_it(original)
    assert broken != original
    path = tmp_path / "broken.toml"
    path.write_text(broken, encoding="utf-8")

    result = run_cli(tmp_path, "rulebook", "check", path)

    assert result.returncode == 1
    assert one_error_line(result) == message
    assert result.stdout == ""
