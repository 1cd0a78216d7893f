"""Import of the subjects and records feeds, on SQLite and on PostgreSQL.

Counts of created, updated and unchanged rows, the status history an update leaves,
former names, idempotent re-import, JSON Lines, GB18030, and crash safety (an import
that dies after some chunks keeps exactly those chunks, and running it again finishes
the file without duplicates) — including a real ``kill -9`` of the CLI.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.feeds import (
    KEY,
    TAX,
    TODAY,
    TRUSTREG,
    add_authorities,
    batches,
    cli_env,
    count,
    record_keys,
    record_row,
    records_per_batch,
    reference,
    references,
    ric,
    run_import,
    subject_name,
    subject_row,
    subject_view,
    uscc,
    write_csv,
    write_jsonl,
    write_subjects,
)
from trustreg.config import Settings
from trustreg.core.validation import RECORD_COLUMNS
from trustreg.demo import demo_authorities, generate_record_rows_fast
from trustreg.services import registry
from trustreg.services.ingest import ImportOptions, ImportReport, import_file
from trustreg.store import queries
from trustreg.store.db import make_engine, transaction
from trustreg.store.models import Record, RecordStatusChange, Subject


@pytest.fixture
def reg(factory: sessionmaker[Session]) -> sessionmaker[Session]:
    """The migrated store of each backend, with a court, a tax office and a regulator."""
    add_authorities(factory)
    return factory


def history(reg: sessionmaker[Session], value: str) -> dict[str, list[tuple[str, str]]]:
    """reference -> [(status, reason), ...] for the records of subject ``uscc:value``."""
    subject = subject_view(reg, "uscc", value)
    with transaction(reg) as session:
        return {
            record.reference: [(h.status, h.reason) for h in changes]
            for record, _authority, changes in queries.subject_records(session, subject.id)
        }


def records_of(
    reg: sessionmaker[Session], value: str
) -> list[tuple[Record, str, list[RecordStatusChange]]]:
    """The records of subject ``uscc:value`` with authority code and status history."""
    subject = subject_view(reg, "uscc", value)
    with transaction(reg) as session:
        return list(queries.subject_records(session, subject.id))


def test_subjects_created_then_unchanged_then_updated(
    reg: sessionmaker[Session], tmp_path: Path
) -> None:
    path = write_subjects(tmp_path / "subjects.csv", [subject_row(n) for n in (1, 2, 3)])

    first = run_import(reg, "subjects", path)
    assert (first.rows_read, first.created, first.updated, first.unchanged) == (3, 3, 0, 0)
    assert (first.rejected, first.exit_code, first.rejects_path) == (0, 0, None)
    assert (first.file_format, first.encoding) == ("csv", "utf-8")
    assert not (tmp_path / "subjects.rejects.csv").exists()

    again = run_import(reg, "subjects", path)
    assert (again.created, again.updated, again.unchanged, again.rejected) == (0, 0, 3, 0)
    assert count(reg, Subject) == 3

    write_subjects(
        path,
        [
            subject_row(1),
            subject_row(2, name="北京华信科技集团有限公司"),
            subject_row(3, alt_names="Beijing Huaxin No. 3 Technology Co., Ltd. | 华信三号"),
        ],
    )
    changed = run_import(reg, "subjects", path)
    assert (changed.created, changed.updated, changed.unchanged, changed.rejected) == (0, 2, 1, 0)
    assert count(reg, Subject) == 3

    renamed = subject_view(reg, "uscc", uscc(2))
    assert renamed.display_name == "北京华信科技集团有限公司"
    assert sorted((n.kind, n.name) for n in renamed.names) == [
        ("former", subject_name(2)),
        ("original", "北京华信科技集团有限公司"),
    ]
    aliased = subject_view(reg, "uscc", uscc(3))
    assert sorted((n.kind, n.name) for n in aliased.names) == [
        ("alias", "Beijing Huaxin No. 3 Technology Co., Ltd."),
        ("alias", "华信三号"),
        ("original", subject_name(3)),
    ]


def test_renaming_twice_keeps_every_former_name(reg: sessionmaker[Session], tmp_path: Path) -> None:
    path = tmp_path / "subjects.csv"
    for name in ("甲公司", "乙公司", "甲公司"):
        write_subjects(path, [subject_row(1, name=name)])
        assert run_import(reg, "subjects", path).exit_code == 0
    subject = subject_view(reg, "uscc", uscc(1))
    assert subject.display_name == "甲公司"
    assert sorted((n.kind, n.name) for n in subject.names) == [
        ("former", "乙公司"),
        ("former", "甲公司"),
        ("original", "甲公司"),
    ]


def test_records_created_unchanged_updated_with_status_history(
    reg: sessionmaker[Session], tmp_path: Path
) -> None:
    # Records 1 and 2 concern subject 1; record 3 concerns subject 3.
    rows = [record_row(1), record_row(2, subject=1), record_row(3)]
    path = write_csv(tmp_path / "records.csv", rows)

    first = run_import(reg, "records", path)
    assert (first.rows_read, first.created, first.updated, first.unchanged) == (3, 3, 0, 0)
    assert first.exit_code == 0
    assert (count(reg, Record), count(reg, Subject)) == (3, 2)  # subjects made on the way

    again = run_import(reg, "records", path)
    assert (again.created, again.updated, again.unchanged, again.rejected) == (0, 0, 3, 0)
    assert count(reg, Record) == 3

    write_csv(
        path,
        [
            record_row(1, status="satisfied"),
            record_row(2, subject=1, amount="20,000.50"),
            record_row(3),
        ],
    )
    changed = run_import(reg, "records", path)
    assert (changed.created, changed.updated, changed.unchanged, changed.rejected) == (0, 2, 1, 0)
    assert references(reg) == sorted(reference(n) for n in (1, 2, 3))

    assert history(reg, uscc(1)) == {
        reference(1): [
            ("active", "submitted"),
            ("satisfied", "updated by the authority: status"),
        ],
        reference(2): [
            ("active", "submitted"),
            ("active", "updated by the authority: amount_cents"),
        ],
    }
    assert history(reg, uscc(3)) == {reference(3): [("active", "submitted")]}
    stored = {r.reference: r for r, _a, _h in records_of(reg, uscc(1))}
    assert stored[reference(1)].status == "satisfied"
    assert stored[reference(2)].amount_cents == 2_000_050


def test_batches_count_what_they_did(reg: sessionmaker[Session], tmp_path: Path) -> None:
    path = write_csv(tmp_path / "records.csv", [record_row(1), record_row(2)])
    run_import(reg, "records", path)
    write_csv(path, [record_row(1), record_row(2, status="revoked"), record_row(3)])
    report = run_import(reg, "records", path)
    assert (report.created, report.updated, report.unchanged) == (1, 1, 1)
    done = batches(reg)
    assert [(b.kind, b.status, b.file_format, b.encoding) for b in done] == [
        ("records", "finished", "csv", "utf-8")
    ] * 2
    last = done[-1]
    assert last.id == report.batch_id
    assert (
        last.rows_read,
        last.rows_created,
        last.rows_updated,
        last.rows_unchanged,
        last.rows_rejected,
    ) == (3, 1, 1, 1, 0)
    assert last.finished_at is not None
    # Provenance: a created or updated record points at the batch and row that wrote it.
    stored = {r.reference: r for r, _a, _h in records_of(reg, uscc(2))}
    assert (stored[reference(2)].batch_id, stored[reference(2)].source_row) == (last.id, 3)
    assert stored[reference(2)].source_file == "records.csv"


def test_json_lines_records(reg: sessionmaker[Session], tmp_path: Path) -> None:
    rows: list[dict[str, object]] = [
        {**record_row(1), "amount": 1234.5, "status": None},
        {
            **record_row(2, record_type="tax_serious_violation", authority=TAX),
            "amount": 88000,
        },
        # An individual, by resident identity number, with the optional fields left out.
        {
            k: v
            for k, v in record_row(
                3,
                subject_kind="individual",
                id_scheme="ric",
                id_value=ric(7),
                subject_name="王伟",
            ).items()
            if k not in ("amount", "currency", "status", "summary")
        },
    ]
    path = write_jsonl(tmp_path / "records.jsonl", rows)
    report = run_import(reg, "records", path)
    assert (report.file_format, report.created, report.rejected) == ("jsonl", 3, 0)

    stored = {r.reference: r for r, _a, _h in records_of(reg, uscc(1))}
    assert stored[reference(1)].amount_cents == 123_450
    assert stored[reference(1)].status == "active"  # null status means active
    person = subject_view(reg, "ric", ric(7))
    assert (person.kind, person.display_name, person.country) == ("individual", "王伟", "CN")

    # The format can be given for a name that does not tell it.
    renamed = tmp_path / "records.txt"
    renamed.write_bytes(path.read_bytes())
    again = run_import(reg, "records", renamed, file_format="jsonl")
    assert (again.file_format, again.unchanged, again.created) == ("jsonl", 3, 0)


def test_gb18030_is_detected(reg: sessionmaker[Session], tmp_path: Path) -> None:
    rows = [subject_row(n, alt_names="华信|華信") for n in (1, 2)]
    path = write_subjects(tmp_path / "subjects.csv", rows, encoding="gb18030")
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")  # the file really is not UTF-8

    report = run_import(reg, "subjects", path)
    assert (report.encoding, report.created, report.rejected) == ("gb18030", 2, 0)
    subject = subject_view(reg, "uscc", uscc(2))
    assert subject.display_name == subject_name(2)
    assert {n.name for n in subject.names} == {subject_name(2), "华信", "華信"}
    assert batches(reg)[-1].encoding == "gb18030"


class Crash(Exception):
    """Stands for the process dying between two chunks."""


def test_crash_keeps_committed_chunks_and_rerun_finishes(
    reg: sessionmaker[Session], tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "records.csv", [record_row(n) for n in range(1, 51)])
    progress: list[int] = []

    def crash_after_second_chunk(bytes_read: int, so_far: ImportReport) -> None:
        assert so_far.rows_read == 10 * (len(progress) + 1)  # called after each commit
        progress.append(bytes_read)
        if len(progress) == 2:
            raise Crash

    options = ImportOptions(identifier_key=KEY, chunk_rows=10)
    with pytest.raises(Crash):
        import_file(reg, "records", path, options, crash_after_second_chunk)

    assert 0 < progress[0] < progress[1] < path.stat().st_size
    assert references(reg) == sorted(reference(n) for n in range(1, 21))
    assert count(reg, Subject) == 20
    [failed] = batches(reg)
    assert (failed.status, failed.rows_read, failed.rows_created) == ("failed", 20, 20)
    assert failed.finished_at is not None
    assert records_per_batch(reg) == {failed.id: 20}
    with transaction(reg) as session:
        actions = [e.action for e in queries.audit_entries(session)]
    assert actions[-2:] == ["import.start", "import.failed"]

    report = import_file(reg, "records", path, options)
    assert (report.rows_read, report.created, report.unchanged, report.rejected) == (50, 30, 20, 0)
    assert references(reg) == sorted(reference(n) for n in range(1, 51))
    assert (count(reg, Record), count(reg, Subject)) == (50, 50)
    finished = batches(reg)[-1]
    assert (finished.status, finished.rows_created, finished.rows_unchanged) == (
        "finished",
        30,
        20,
    )
    assert records_per_batch(reg) == {failed.id: 20, finished.id: 30}


def test_chunks_do_not_change_the_outcome(reg: sessionmaker[Session], tmp_path: Path) -> None:
    rows = [record_row(n) for n in range(1, 8)]
    rows[3] = record_row(4, currency="XYZ")
    path = write_csv(tmp_path / "records.csv", rows)
    report = run_import(reg, "records", path, chunk_rows=3)
    assert (report.rows_read, report.created, report.rejected) == (7, 6, 1)
    assert batches(reg)[-1].rows_read == 7
    assert count(reg, Record) == 6


# --- kill -9 --------------------------------------------------------------------

BIG_ROWS = 20_000
CHUNK = 500


@pytest.fixture
def big_registry(sqlite_settings: Settings, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """The SQLite store the CLI will use (tmp_path/r.db), with the demo authorities."""
    settings = sqlite_settings.model_copy(update={"database_url": f"sqlite:///{tmp_path}/r.db"})
    engine = make_engine(settings.sqlalchemy_url)
    factory = registry.initialise(engine, settings.rulebook)
    for authority in demo_authorities():
        registry.add_authority(factory, authority.code, authority.kind, authority.name)
    yield factory
    engine.dispose()


def test_kill_9_loses_no_committed_row_and_rerun_completes(
    big_registry: sessionmaker[Session], tmp_path: Path
) -> None:
    path = tmp_path / "big.csv"
    identifiers: set[tuple[str, str]] = set()
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, RECORD_COLUMNS)
        writer.writeheader()
        # Yesterday, so no generated date is "in the future" whatever the time zone.
        for row in generate_record_rows_fast(BIG_ROWS, 7, TODAY - timedelta(days=1)):
            writer.writerow(row)
            identifiers.add((row["id_scheme"], row["id_value"]))
    env = cli_env(tmp_path, TRUSTREG_IMPORT_CHUNK_ROWS=str(CHUNK))
    command = [str(TRUSTREG), "import", "records", str(path)]

    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while count(big_registry, Record) < 3 * CHUNK:
            assert process.poll() is None, "the import ended before it could be killed"
            assert time.monotonic() < deadline, "no chunk was committed within 60 s"
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL, "the import finished before the kill"

    kept = count(big_registry, Record)
    assert 3 * CHUNK <= kept < BIG_ROWS
    assert kept % CHUNK == 0, "a chunk was half-written"
    [killed] = batches(big_registry)
    assert killed.status == "running"  # nobody was left to mark it
    assert killed.rows_created == killed.rows_read == kept
    assert records_per_batch(big_registry) == {killed.id: kept}

    rerun = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert rerun.returncode == 0, rerun.stderr
    assert (
        f"{BIG_ROWS} rows read (csv, utf-8): {BIG_ROWS - kept} created, 0 updated, "
        f"{kept} unchanged, 0 rejected"
    ) in rerun.stdout
    keys = record_keys(big_registry)
    assert len(keys) == len(set(keys)) == BIG_ROWS
    assert count(big_registry, Subject) == len(identifiers)  # no subject made twice either
    finished = batches(big_registry)[-1]
    assert (finished.status, finished.rows_created, finished.rows_unchanged) == (
        "finished",
        BIG_ROWS - kept,
        kept,
    )
    for batch in batches(big_registry):
        assert records_per_batch(big_registry)[batch.id] == batch.rows_created
