"""Builders for the import tests: valid feed rows, feed files, and the CLI in a subprocess.

Every row these builders make is valid as it stands, so a test changes exactly the one
field it is about and knows which rejection to expect.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from trustreg.config import PLACEHOLDER_IDENTIFIER_KEY
from trustreg.core.identifiers import Identifier, area_codes, make_ric, make_uscc
from trustreg.core.validation import RECORD_COLUMNS, SUBJECT_COLUMNS
from trustreg.services import registry
from trustreg.services.ingest import REJECT_COLUMNS, ImportOptions, ImportReport, import_file
from trustreg.store import queries
from trustreg.store.db import transaction
from trustreg.store.models import ImportBatch, Record, Subject

# The validators' clock is UTC: a date is "in the future" against the UTC date.
TODAY = datetime.now(UTC).date()
COURT, TAX, REGULATOR = "court-1", "tax-1", "samr-1"
AUTHORITIES = (
    (COURT, "court", "北京市第一中级人民法院"),
    (TAX, "tax", "国家税务总局北京市税务局"),
    (REGULATOR, "market_regulator", "北京市市场监督管理局"),
)
TRUSTREG = Path(sys.executable).with_name("trustreg")  # the venv's console script
# The identifier key of the test settings (and of a CLI run, see ``cli_env``).
KEY = PLACEHOLDER_IDENTIFIER_KEY


def uscc(n: int) -> str:
    """A valid USCC (enterprise, Beijing) numbered ``n``."""
    return make_uscc(f"91110000{n:09d}")


def wrong_check(value: str) -> str:
    """``value`` with its last (check) character replaced by another valid one."""
    return value[:-1] + ("1" if value[-1] != "1" else "2")


def ric(n: int) -> str:
    """A valid resident identity number of someone born on 1980-05-17."""
    return make_ric(area_codes(1980)[0], date(1980, 5, 17), n)


def subject_name(n: int) -> str:
    return f"北京华信{n}号科技有限公司"


def subject_row(n: int, **changes: str) -> dict[str, str]:
    row = {
        "kind": "legal_entity",
        "id_scheme": "uscc",
        "id_value": uscc(n),
        "name": subject_name(n),
        "alt_names": "",
        "country": "CN",
        "region": "北京市",
        "birth_date": "",
        "registered_on": "2010-03-01",
    }
    return {**row, **changes}


def reference(n: int) -> str:
    return f"(2024)京01执{n}号"


def record_row(n: int, subject: int | None = None, **changes: str) -> dict[str, str]:
    """Record ``n``: a court's judgment against subject ``subject`` (default ``n``)."""
    s = n if subject is None else subject
    row = {
        "authority": COURT,
        "reference": reference(n),
        "record_type": "judgment_defaulter",
        "subject_kind": "legal_entity",
        "id_scheme": "uscc",
        "id_value": uscc(s),
        "subject_name": subject_name(s),
        "decided_on": "2024-03-01",
        "effective_from": "2024-03-11",
        "amount": "15000.00",
        "currency": "CNY",
        "status": "active",
        "summary": "有履行能力而拒不履行生效法律文书确定的义务。",
    }
    row = {**row, **changes}
    return {"notified_on": notice_given(row["decided_on"]), **row}


def notice_given(decided_on: str) -> str:
    """The day the authority told the subject the record would be published: a month
    before its decision (a prior notice), so that every model record type's notice
    period has run when the record takes effect and it is listed from that day. Tests
    of the notice itself set ``notified_on``, or leave it empty (notice from arrival)."""
    try:
        return (date.fromisoformat(decided_on) - timedelta(days=30)).isoformat()
    except ValueError:
        return decided_on  # a test of a bad decided_on: that field is rejected first


def csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([row.get(c, "") for c in columns] for row in rows)
    return buffer.getvalue()


def csv_line(columns: Sequence[str], row: Mapping[str, str]) -> str:
    """One data line as the CSV writer spells it, without the newline."""
    return csv_text(columns, [row]).splitlines()[1]


def write_csv(
    path: Path,
    rows: Iterable[Mapping[str, str]],
    columns: Sequence[str] = RECORD_COLUMNS,
    encoding: str = "utf-8",
    bom: bool = False,
) -> Path:
    data = csv_text(columns, rows).encode(encoding)
    path.write_bytes((codecs.BOM_UTF8 if bom else b"") + data)
    return path


def write_subjects(path: Path, rows: Iterable[Mapping[str, str]], **kwargs: Any) -> Path:
    return write_csv(path, rows, SUBJECT_COLUMNS, **kwargs)


def write_jsonl(path: Path, rows: Iterable[Mapping[str, Any]], bom: bool = False) -> Path:
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    path.write_bytes((codecs.BOM_UTF8 if bom else b"") + text.encode())
    return path


def add_authorities(factory: sessionmaker[Session]) -> None:
    for code, kind, name in AUTHORITIES:
        registry.add_authority(factory, code, kind, name)


def run_import(
    factory: sessionmaker[Session], feed: str, path: Path, **options: Any
) -> ImportReport:
    return import_file(factory, feed, path, ImportOptions(**{"identifier_key": KEY, **options}))


def read_rejects(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == REJECT_COLUMNS
        return list(reader)


def count(factory: sessionmaker[Session], model: type[Subject] | type[Record]) -> int:
    with transaction(factory) as session:
        return queries.count_rows(session, model)


def references(factory: sessionmaker[Session]) -> list[str]:
    """Every stored record's reference, sorted (duplicates would show twice)."""
    with transaction(factory) as session:
        return sorted(session.scalars(select(Record.reference)))


def batches(factory: sessionmaker[Session]) -> list[ImportBatch]:
    with transaction(factory) as session:
        return list(session.scalars(select(ImportBatch).order_by(ImportBatch.id)))


def records_per_batch(factory: sessionmaker[Session]) -> dict[int, int]:
    with transaction(factory) as session:
        rows = session.execute(select(Record.batch_id, func.count()).group_by(Record.batch_id))
        return {row[0]: row[1] for row in rows}


def record_keys(factory: sessionmaker[Session]) -> list[tuple[int, str]]:
    """The (authority id, reference) of every stored record."""
    with transaction(factory) as session:
        rows = session.execute(select(Record.authority_id, Record.reference))
        return [(row[0], row[1]) for row in rows]


def subject_view(factory: sessionmaker[Session], scheme: str, value: str) -> Subject:
    with transaction(factory) as session:
        subject = queries.subject_by_identifier(session, Identifier(scheme, value), KEY)
        assert subject is not None, f"no subject {scheme}:{value}"
        return subject


def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a CLI run against the SQLite store ``tmp_path/r.db``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTREG_")}
    env.update(
        TRUSTREG_ENVIRONMENT="test",
        TRUSTREG_DATABASE_URL=f"sqlite:///{tmp_path / 'r.db'}",
        TRUSTREG_DATA_DIR=str(tmp_path / "var"),
        **extra,
    )
    return env


def cli_url(tmp_path: Path) -> str:
    return cli_env(tmp_path)["TRUSTREG_DATABASE_URL"]


def run_cli(
    tmp_path: Path, *args: str | Path, timeout: float = 120, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run ``trustreg ARGS`` as a user would, in ``tmp_path`` (so no stray ``.env``);
    ``env`` adds to or replaces the variables of ``cli_env``."""
    return subprocess.run(
        [str(TRUSTREG), *map(str, args)],
        cwd=tmp_path,
        env=cli_env(tmp_path) | env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single line a failed command prints on stderr (asserting there is just one)."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    return lines[0]


def problem_of(response: Any, status: int) -> dict[str, Any]:
    """The RFC 9457 problem document of an API error answer, checked for its shape."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status
    return body
