"""Bad input to the import: each kind of bad row or bad file, with the good rows around it.

A bad row lands in the rejection report (row, field, reason, original_row) and the
import exits 1 while the good rows beside it are stored; a file that cannot be read
at all raises ``InputFileError`` (the CLI's exit 2) before any batch is started.
Row-level cases run on SQLite; the ones that depend on what the store already holds
run on both backends.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.feeds import (
    KEY,
    REGULATOR,
    TAX,
    TODAY,
    add_authorities,
    batches,
    count,
    csv_line,
    csv_text,
    read_rejects,
    record_row,
    reference,
    references,
    ric,
    run_cli,
    run_import,
    subject_name,
    subject_row,
    subject_view,
    uscc,
    write_csv,
    write_jsonl,
    write_subjects,
    wrong_check,
)
from trustreg.config import Settings
from trustreg.core.identifiers import Identifier
from trustreg.core.validation import RECORD_COLUMNS, SUBJECT_COLUMNS
from trustreg.errors import InputFileError
from trustreg.services import registry
from trustreg.services.ingest import ImportReport
from trustreg.store import writes
from trustreg.store.db import make_engine, transaction
from trustreg.store.models import Record, Subject

FUTURE = (TODAY + timedelta(days=30)).isoformat()
MAX_LINE = 1 << 20  # ImportOptions.max_line_bytes


@pytest.fixture
def reg(sqlite_settings: Settings) -> Iterator[sessionmaker[Session]]:
    """A SQLite store with a court, a tax office and a regulator."""
    engine = make_engine(sqlite_settings.sqlalchemy_url)
    factory = registry.initialise(engine, sqlite_settings.rulebook)
    add_authorities(factory)
    yield factory
    engine.dispose()


@pytest.fixture
def each_backend(factory: sessionmaker[Session]) -> sessionmaker[Session]:
    """The same, on SQLite and on PostgreSQL."""
    add_authorities(factory)
    return factory


def assert_one_rejection(
    report: ImportReport, rejects: Path, row: int, field: str, reason: str, original: str
) -> None:
    assert (report.rejected, report.exit_code, report.rejects_path) == (1, 1, rejects)
    [rejection] = read_rejects(rejects)
    assert (rejection["row"], rejection["field"]) == (str(row), field)
    assert reason in rejection["reason"]
    assert rejection["original_row"] == original


# --- one bad record between two good ones ---------------------------------------

BAD_RECORDS = [
    pytest.param(
        {"subject_name": "长" * 500},
        "subject_name",
        "is 500 characters long; the limit is 200",
        id="500-character name",
    ),
    pytest.param(
        {"subject_name": "北京华信\x07科技有限公司"},
        "subject_name",
        "contains control character U+0007 at position 5",
        id="control character",
    ),
    pytest.param(
        {"summary": "拒不履行\u200b义务"},
        "summary",
        "contains control character U+200B at position 5",
        id="zero-width character",
    ),
    pytest.param(
        {"id_value": wrong_check(uscc(2))},
        "id_value",
        f"check character is '{wrong_check(uscc(2))[-1]}', expected '{uscc(2)[-1]}'",
        id="wrong USCC check character",
    ),
    pytest.param(
        {"subject_kind": "individual", "id_scheme": "ric", "id_value": wrong_check(ric(11))},
        "id_value",
        f"check digit is '{wrong_check(ric(11))[-1]}', expected '{ric(11)[-1]}'",
        id="wrong RIC check digit",
    ),
    pytest.param(
        {"record_type": "late_rent_payment"},
        "record_type",
        "unknown record type 'late_rent_payment'",
        id="unknown record type",
    ),
    pytest.param(
        {"authority": TAX},
        "record_type",
        "authority 'tax-1' (tax) may not submit 'judgment_defaulter'",
        id="authority not allowed the type",
    ),
    pytest.param(
        {"authority": "court-99"},
        "authority",
        "unknown authority 'court-99'",
        id="unknown authority",
    ),
    pytest.param(
        {"authority": REGULATOR, "record_type": "business_abnormal", "subject_kind": "individual"},
        "subject_kind",
        "'business_abnormal' does not apply to a individual",
        id="subject kind not allowed for the type",
    ),
    pytest.param(
        {"subject_kind": "individual"},
        "id_scheme",
        "a uscc identifier does not belong to a individual",
        id="identifier scheme of another kind",
    ),
    pytest.param(
        {"decided_on": FUTURE, "effective_from": FUTURE},
        "decided_on",
        f"{FUTURE} is in the future",
        id="future date",
    ),
    pytest.param(
        {"effective_from": FUTURE},
        "effective_from",
        f"{FUTURE} is in the future",
        id="future effective date",
    ),
    pytest.param(
        {"decided_on": "2024-03-01", "effective_from": "2024-02-28"},
        "effective_from",
        "2024-02-28 is before decided_on 2024-03-01",
        id="effective_from before decided_on",
    ),
    pytest.param(
        {"decided_on": "2024-02-30"},
        "decided_on",
        "'2024-02-30' is not a date (YYYY-MM-DD)",
        id="impossible date",
    ),
    pytest.param(
        {"amount": "-15000.00"},
        "amount",
        "-15000.00 is negative",
        id="negative amount",
    ),
    pytest.param(
        {"amount": "12.345"},
        "amount",
        "more than two decimals",
        id="amount with fractions of a fen",
    ),
    pytest.param(
        {"currency": "XYZ"},
        "currency",
        "'XYZ' is not an ISO 4217 currency code",
        id="bad currency",
    ),
    pytest.param(
        {"currency": ""},
        "currency",
        "an amount needs an ISO 4217 currency code",
        id="amount without currency",
    ),
    pytest.param(
        {"status": "disputed"},
        "status",
        "'disputed' cannot be submitted",
        id="status only the registry sets",
    ),
    pytest.param(
        {"reference": ""},
        "reference",
        "is empty",
        id="empty required field",
    ),
]


@pytest.mark.parametrize(("change", "field", "reason"), BAD_RECORDS)
def test_bad_record_is_rejected_and_good_ones_stored(
    reg: sessionmaker[Session], tmp_path: Path, change: dict[str, str], field: str, reason: str
) -> None:
    bad = record_row(2, **change)
    path = write_csv(tmp_path / "records.csv", [record_row(1), bad, record_row(3)])

    report = run_import(reg, "records", path)

    assert (report.rows_read, report.created) == (3, 2)
    rejects = tmp_path / "records.rejects.csv"  # beside the input by default
    assert_one_rejection(report, rejects, 3, field, reason, csv_line(RECORD_COLUMNS, bad))
    assert references(reg) == [reference(1), reference(3)]
    assert batches(reg)[-1].rows_rejected == 1


BAD_SUBJECTS = [
    pytest.param(
        {"name": "华" * 500}, "name", "is 500 characters long; the limit is 200", id="long name"
    ),
    pytest.param(
        {"name": "北京\x1b[31m华信"},
        "name",
        "contains control character U+001B at position 3",
        id="escape sequence in name",
    ),
    pytest.param(
        {"id_value": wrong_check(uscc(2))},
        "id_value",
        f"expected '{uscc(2)[-1]}' (GB 32100-2015)",
        id="wrong check character",
    ),
    pytest.param({"registered_on": FUTURE}, "registered_on", "is in the future", id="future date"),
    pytest.param({"kind": "citizen"}, "kind", "'citizen' is not one of", id="unknown kind"),
    pytest.param(
        {"country": "XX"}, "country", "'XX' is not an ISO 3166 country code", id="bad country"
    ),
]


@pytest.mark.parametrize(("change", "field", "reason"), BAD_SUBJECTS)
def test_bad_subject_is_rejected_and_good_ones_stored(
    reg: sessionmaker[Session], tmp_path: Path, change: dict[str, str], field: str, reason: str
) -> None:
    bad = subject_row(2, **change)
    path = write_subjects(tmp_path / "subjects.csv", [subject_row(1), bad, subject_row(3)])
    rejects = tmp_path / "out" / "why.csv"
    rejects.parent.mkdir()

    report = run_import(reg, "subjects", path, rejects_path=rejects)

    assert report.created == 2
    assert_one_rejection(report, rejects, 3, field, reason, csv_line(SUBJECT_COLUMNS, bad))
    assert not (tmp_path / "subjects.rejects.csv").exists()
    assert count(reg, Subject) == 2


# --- files that cannot be read at all -------------------------------------------

HEADER = ",".join(RECORD_COLUMNS)
GOOD = csv_line(RECORD_COLUMNS, record_row(1))

UNREADABLE = [
    pytest.param(
        (HEADER.replace("authority,", "") + "\n").encode(),
        "header: missing column(s) authority",
        id="missing column",
    ),
    pytest.param(
        (HEADER.replace("amount", "amout") + "\n" + GOOD + "\n").encode(),
        "header: unknown column(s) amout",
        id="wrong column",
    ),
    pytest.param(
        (HEADER + ",currency\n").encode(), "repeated column(s) currency", id="repeated column"
    ),
    pytest.param(b"", "the file is empty", id="empty file"),
    pytest.param(codecs.BOM_UTF8 + b"\r\n \n\n", "the file is empty", id="only BOM and blanks"),
    pytest.param(
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
        "looks like a binary file (NUL byte at offset 8)",
        id="binary file",
    ),
    pytest.param(
        bytes(range(0x80, 0x100)) * 4,
        "neither UTF-8 nor GB18030 text",
        id="neither UTF-8 nor GB18030",
    ),
]


@pytest.mark.parametrize(("content", "message"), UNREADABLE)
def test_unreadable_file_stops_before_any_batch(
    reg: sessionmaker[Session], tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "records.csv"
    path.write_bytes(content)
    with pytest.raises(InputFileError, match=re.escape(message)) as caught:
        run_import(reg, "records", path)
    assert caught.value.exit_code == 2
    assert batches(reg) == []
    assert count(reg, Record) == 0
    assert not (tmp_path / "records.rejects.csv").exists()


def test_missing_file(reg: sessionmaker[Session], tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="no such file") as caught:
        run_import(reg, "records", tmp_path / "nowhere.csv")
    assert caught.value.exit_code == 2


def test_header_only_is_an_empty_import(reg: sessionmaker[Session], tmp_path: Path) -> None:
    path = tmp_path / "records.csv"
    path.write_text(HEADER + "\n")
    report = run_import(reg, "records", path)
    assert (report.rows_read, report.created, report.rejected, report.exit_code) == (0, 0, 0, 0)


def test_two_gigabyte_sparse_file_is_refused_as_binary(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    path.touch()
    os.truncate(path, 2 * 1024**3)  # sparse: 2 GB of NUL bytes that take no disk space
    result = run_cli(tmp_path, "import", "records", path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: {path}: looks like a binary file (NUL byte at offset 0)"
    )
    assert result.stdout == ""


# --- encodings, BOM, blank lines ------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "created", "rejected"),
    [
        pytest.param(None, 3, 0, id="detected"),
        pytest.param("gb18030", 3, 0, id="given"),
        pytest.param("utf-8", 1, 2, id="forced utf-8"),
    ],
)
def test_gb18030_file(
    reg: sessionmaker[Session],
    tmp_path: Path,
    encoding: str | None,
    created: int,
    rejected: int,
) -> None:
    # The header and row 3 are plain ASCII; rows 2 and 4 have Chinese text.
    ascii_row = record_row(
        3, reference="2024-ENF-0003", subject_name="Huaxin Trading Co., Ltd.", summary="unpaid"
    )
    path = write_csv(
        tmp_path / "records.csv", [record_row(2), ascii_row, record_row(4)], encoding="gb18030"
    )

    report = run_import(reg, "records", path, encoding=encoding)

    assert report.encoding == (encoding or "gb18030")
    assert (report.created, report.rejected) == (created, rejected)
    if rejected:
        rejections = read_rejects(tmp_path / "records.rejects.csv")
        assert [(r["row"], r["field"]) for r in rejections] == [("2", "row"), ("4", "row")]
        for r in rejections:
            assert "are not valid utf-8" in r["reason"]
            assert "--encoding" in r["reason"]
        assert references(reg) == ["2024-ENF-0003"]
    else:
        assert subject_view(reg, "uscc", uscc(4)).display_name == subject_name(4)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_utf8_bom_is_skipped(reg: sessionmaker[Session], tmp_path: Path, fmt: str) -> None:
    rows = [record_row(1), record_row(2)]
    path = (
        write_csv(tmp_path / "records.csv", rows, bom=True)
        if fmt == "csv"
        else write_jsonl(tmp_path / "records.jsonl", rows, bom=True)
    )
    assert path.read_bytes().startswith(codecs.BOM_UTF8)
    report = run_import(reg, "records", path)
    assert (report.file_format, report.encoding) == (fmt, "utf-8")
    assert (report.created, report.rejected) == (2, 0)
    # The first column is "authority", not "\ufeffauthority": its value was read.
    assert references(reg) == [reference(1), reference(2)]


def test_blank_lines_are_skipped_and_row_numbers_stay_true(
    reg: sessionmaker[Session], tmp_path: Path
) -> None:
    bad = record_row(3, currency="XYZ")
    lines = [
        "",
        HEADER,
        "",
        csv_line(RECORD_COLUMNS, record_row(1)),
        "   ",
        "",
        csv_line(RECORD_COLUMNS, record_row(2)),
        "\r",
        csv_line(RECORD_COLUMNS, bad),  # line 9 of the file
        "",
        "",
    ]
    path = tmp_path / "records.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    report = run_import(reg, "records", path)

    assert (report.created, report.rejected) == (2, 1)
    [rejection] = read_rejects(tmp_path / "records.rejects.csv")
    assert (rejection["row"], rejection["field"]) == ("9", "currency")


def test_blank_lines_in_json_lines(reg: sessionmaker[Session], tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl"
    first, second = (json.dumps(record_row(n), ensure_ascii=False) for n in (1, 2))
    path.write_text(f"\n{first}\n\n  \n{second}\n\n", encoding="utf-8")
    report = run_import(reg, "records", path)
    assert (report.created, report.rejected) == (2, 0)


# --- long lines -----------------------------------------------------------------


@pytest.mark.parametrize("where", ["between good rows", "last, without a newline"])
def test_five_megabyte_line_is_rejected_and_the_rest_imported(
    reg: sessionmaker[Session], tmp_path: Path, where: str
) -> None:
    long_line = csv_line(RECORD_COLUMNS, record_row(2, summary="欠" * (5 * 1024**2 // 3)))
    assert len(long_line.encode()) > 5 * 1024**2
    good = [csv_line(RECORD_COLUMNS, record_row(n)) for n in (1, 3)]
    if where == "between good rows":
        text = "\n".join([HEADER, good[0], long_line, good[1]]) + "\n"
    else:
        text = "\n".join([HEADER, good[0], good[1], long_line])
    path = tmp_path / "records.csv"
    path.write_text(text, encoding="utf-8")

    report = run_import(reg, "records", path)

    assert (report.created, report.rejected, report.exit_code) == (2, 1, 1)
    [rejection] = read_rejects(tmp_path / "records.rejects.csv")
    row = "3" if where == "between good rows" else "4"
    assert (rejection["row"], rejection["field"]) == (row, "row")
    assert rejection["reason"] == f"line is longer than {MAX_LINE} bytes"
    assert rejection["original_row"].startswith("court-1,(2024)京01执2号")
    assert len(rejection["original_row"]) <= 200  # the report keeps only the start
    assert references(reg) == [reference(1), reference(3)]


# --- rows that cannot be split into fields --------------------------------------


@pytest.mark.parametrize(
    ("line", "field", "reason"),
    [
        pytest.param(
            '{"authority": "court-1", "reference": ',
            "row",
            "not valid JSON",
            id="malformed JSON",
        ),
        pytest.param('["court-1", "x"]', "row", "is not a JSON object", id="JSON array"),
        pytest.param(
            json.dumps({**record_row(2), "colour": "red"}),
            "colour",
            "unknown field",
            id="unknown key",
        ),
        pytest.param(
            json.dumps({k: v for k, v in record_row(2).items() if k != "decided_on"}),
            "decided_on",
            "missing field",
            id="missing key",
        ),
        pytest.param(
            json.dumps({**record_row(2), "amount": {"value": 1}}),
            "amount",
            "must be a string or a number",
            id="nested value",
        ),
    ],
)
def test_bad_json_line(
    reg: sessionmaker[Session], tmp_path: Path, line: str, field: str, reason: str
) -> None:
    first, third = (json.dumps(record_row(n), ensure_ascii=False) for n in (1, 3))
    path = tmp_path / "records.jsonl"
    path.write_text(f"{first}\n{line}\n{third}\n", encoding="utf-8")

    report = run_import(reg, "records", path)

    assert report.created == 2
    assert_one_rejection(report, tmp_path / "records.rejects.csv", 2, field, reason, line)
    assert references(reg) == [reference(1), reference(3)]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        pytest.param(
            GOOD.replace("court-1", "court-1,extra", 1),
            f"has {len(RECORD_COLUMNS) + 1} fields",
            id="too many",
        ),
        pytest.param(GOOD.rsplit(",", 1)[0], f"has {len(RECORD_COLUMNS) - 1} fields", id="too few"),
        pytest.param(
            'court-1,"(2024)京01执2号"x,' + GOOD.split(",", 2)[2], "not valid CSV", id="bad quote"
        ),
    ],
)
def test_csv_row_with_wrong_fields(
    reg: sessionmaker[Session], tmp_path: Path, line: str, reason: str
) -> None:
    path = tmp_path / "records.csv"
    rows = [csv_line(RECORD_COLUMNS, record_row(n)) for n in (3, 4)]
    path.write_text("\n".join([HEADER, rows[0], line, rows[1]]) + "\n", encoding="utf-8")

    report = run_import(reg, "records", path)

    assert (report.created, report.rejected) == (2, 1)
    [rejection] = read_rejects(tmp_path / "records.rejects.csv")
    assert (rejection["row"], rejection["field"]) == ("3", "row")
    assert reason in rejection["reason"]
    if "fields" in reason:
        assert rejection["reason"].endswith(f"; the header has {len(RECORD_COLUMNS)}")
        assert rejection["original_row"] == line
    assert references(reg) == [reference(3), reference(4)]


# --- rows that clash with other rows or with the store (both backends) ----------


@pytest.mark.parametrize("chunk_rows", [5000, 1])
def test_same_record_twice_in_one_file(
    each_backend: sessionmaker[Session], tmp_path: Path, chunk_rows: int
) -> None:
    twice = record_row(1)
    path = write_csv(tmp_path / "records.csv", [twice, record_row(2), twice])

    report = run_import(each_backend, "records", path, chunk_rows=chunk_rows)

    assert (report.created, report.updated, report.unchanged) == (2, 0, 0)
    assert_one_rejection(
        report,
        tmp_path / "records.rejects.csv",
        4,
        "reference",
        "same authority and reference as row 2 of this file",
        csv_line(RECORD_COLUMNS, twice),
    )
    assert references(each_backend) == [reference(1), reference(2)]


def test_repeat_of_an_unchanged_record_in_a_later_chunk_is_rejected(
    each_backend: sessionmaker[Session], tmp_path: Path
) -> None:
    run_import(each_backend, "records", write_csv(tmp_path / "old.csv", [record_row(1)]))
    path = write_csv(
        tmp_path / "records.csv", [record_row(1), record_row(2), record_row(1, status="revoked")]
    )
    report = run_import(each_backend, "records", path, chunk_rows=1)
    assert (report.created, report.unchanged, report.updated, report.rejected) == (1, 1, 0, 1)


def test_same_reference_with_other_content_in_one_file(
    each_backend: sessionmaker[Session], tmp_path: Path
) -> None:
    """The first of two conflicting rows wins; the second is reported, not applied."""
    path = write_csv(tmp_path / "records.csv", [record_row(1), record_row(1, status="satisfied")])
    report = run_import(each_backend, "records", path)
    assert (report.created, report.rejected) == (1, 1)
    [rejection] = read_rejects(tmp_path / "records.rejects.csv")
    assert (rejection["row"], rejection["field"]) == ("3", "reference")
    with transaction(each_backend) as session:
        [status] = session.scalars(select(Record.status))
    assert status == "active"


@pytest.mark.parametrize("chunk_rows", [5000, 1])
def test_same_subject_twice_in_one_file(
    each_backend: sessionmaker[Session], tmp_path: Path, chunk_rows: int
) -> None:
    twice = subject_row(1, name="第二次出现的名称")
    path = write_subjects(tmp_path / "subjects.csv", [subject_row(1), subject_row(2), twice])

    report = run_import(each_backend, "subjects", path, chunk_rows=chunk_rows)

    assert (report.created, report.updated) == (2, 0)
    assert_one_rejection(
        report,
        tmp_path / "subjects.rejects.csv",
        4,
        "id_value",
        "same identifier as row 2 of this file",
        csv_line(SUBJECT_COLUMNS, twice),
    )
    assert subject_view(each_backend, "uscc", uscc(1)).display_name == subject_name(1)


def test_record_for_subject_registered_as_another_kind(
    each_backend: sessionmaker[Session], tmp_path: Path
) -> None:
    # Subject 1 is on the business register as a company (legal_entity).
    run_import(each_backend, "subjects", write_subjects(tmp_path / "s.csv", [subject_row(1)]))
    clash = record_row(2, subject=1, subject_kind="other_org")
    path = write_csv(tmp_path / "records.csv", [record_row(1), clash, record_row(3)])

    report = run_import(each_backend, "records", path)

    assert report.created == 2
    assert_one_rejection(
        report,
        tmp_path / "records.rejects.csv",
        3,
        "subject_kind",
        f"uscc:{uscc(1)} is registered as a legal_entity, not a other_org",
        csv_line(RECORD_COLUMNS, clash),
    )
    assert subject_view(each_backend, "uscc", uscc(1)).kind == "legal_entity"


def test_person_record_for_identity_number_held_by_another_kind(
    each_backend: sessionmaker[Session], tmp_path: Path
) -> None:
    """A resident identity number already in the store under a kind other than individual.

    The feeds cannot create that (a ``ric`` only fits an individual), but the store can
    hold it, e.g. from a register migrated before the check existed; the import must
    refuse to hang a person's record on it rather than trust either side.
    """
    number = ric(21)
    now = datetime.now(UTC)
    with transaction(each_backend) as session:
        batch_id = writes.start_batch(
            session,
            kind="subjects",
            source_file="legacy.csv",
            file_format="csv",
            encoding="utf-8",
            actor="test",
            started_at=now,
        )
        writes.create_subjects(
            session,
            batch_id,
            [
                writes.NewSubject(
                    Identifier("ric", number),
                    {
                        "kind": "foreign_individual",
                        "display_name": "Wang Wei",
                        "country": "CN",
                        "region": None,
                        "birth_date": None,
                        "registered_on": None,
                        "batch_id": batch_id,
                        "source_row": 2,
                        "created_at": now,
                        "updated_at": now,
                    },
                    [("Wang Wei", "original")],
                )
            ],
            KEY,
        )
    person = record_row(
        2, subject_kind="individual", id_scheme="ric", id_value=number, subject_name="王伟"
    )
    path = write_csv(tmp_path / "records.csv", [record_row(1), person])

    report = run_import(each_backend, "records", path)

    assert report.created == 1
    assert_one_rejection(
        report,
        tmp_path / "records.rejects.csv",
        3,
        "subject_kind",
        f"ric:{number} is registered as a foreign_individual, not a individual",
        csv_line(RECORD_COLUMNS, person),
    )
    assert references(each_backend) == [reference(1)]
    assert subject_view(each_backend, "ric", number).display_name == "Wang Wei"


def test_subject_row_of_another_kind_than_stored(
    each_backend: sessionmaker[Session], tmp_path: Path
) -> None:
    path = write_subjects(tmp_path / "subjects.csv", [subject_row(1)])
    run_import(each_backend, "subjects", path)
    write_subjects(path, [subject_row(1, kind="other_org"), subject_row(2)])

    report = run_import(each_backend, "subjects", path)

    assert report.created == 1
    [rejection] = read_rejects(tmp_path / "subjects.rejects.csv")
    assert (rejection["row"], rejection["field"]) == ("2", "kind")
    assert rejection["reason"] == f"uscc:{uscc(1)} is registered as a legal_entity"


def test_csv_text_helper_round_trips() -> None:
    """The builders themselves: what the tests write is what a CSV reader reads back."""
    text = csv_text(RECORD_COLUMNS, [record_row(1, summary='a "quoted", summary')])
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert row == record_row(1, summary='a "quoted", summary')
