"""Big files are read and validated by a second process; the outcome must not change."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.feeds import (
    KEY,
    add_authorities,
    read_rejects,
    record_row,
    run_import,
    write_csv,
    wrong_check,
)
from trustreg.services import registry
from trustreg.services.ingest import ImportOptions, ImportReport, import_file
from trustreg.store.db import make_engine, transaction
from trustreg.store.models import Record, RecordStatusChange

ROWS = 1200


def feed_rows() -> list[dict[str, str]]:
    rows = [record_row(n, subject=n % 300) for n in range(1, ROWS + 1)]
    rows[10]["id_value"] = wrong_check(rows[10]["id_value"])  # rejected by the reader
    rows[500] = dict(rows[20])  # a repeat across chunks, rejected by the importer
    rows[900]["amount"] = "-5"
    return rows


def stored(factory: sessionmaker[Session]) -> list[tuple[str, str, int | None, int]]:
    with transaction(factory) as session:
        records = session.execute(
            select(Record.reference, Record.status, Record.amount_cents, Record.source_row)
        )
        return sorted((r[0], r[1], r[2], r[3]) for r in records)


def fresh_store(tmp_path: Path, name: str) -> sessionmaker[Session]:
    settings_url = f"sqlite:///{tmp_path / name}"
    factory = registry.initialise(
        make_engine(settings_url), Path(__file__).parents[1] / "rulebooks" / "model.toml"
    )
    add_authorities(factory)
    return factory


def reader_children() -> list[int]:
    """Our child processes that are feed readers."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat[1]) == os.getpid() and b"trustreg.services.feed_worker" in cmdline:
            found.append(int(entry.name))
    return found


def test_reader_process_gives_the_same_outcome(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "records.csv", feed_rows())
    alone = fresh_store(tmp_path, "alone.db")
    paired = fresh_store(tmp_path, "paired.db")

    first = run_import(
        alone,
        "records",
        path,
        chunk_rows=250,
        reader_process_min_bytes=None,
        rejects_path=tmp_path / "alone.rejects.csv",
    )
    second = run_import(
        paired,
        "records",
        path,
        chunk_rows=250,
        reader_process_min_bytes=0,
        rejects_path=tmp_path / "paired.rejects.csv",
    )

    counts = (second.rows_read, second.created, second.rejected)
    assert counts == (first.rows_read, first.created, first.rejected) == (ROWS, ROWS - 3, 3)
    assert stored(paired) == stored(alone)
    rejects = read_rejects(tmp_path / "paired.rejects.csv")
    assert rejects == read_rejects(tmp_path / "alone.rejects.csv")
    assert [(r["row"], r["field"]) for r in rejects] == [
        ("12", "id_value"),
        ("502", "reference"),
        ("902", "amount"),
    ]
    with transaction(paired) as session:
        history = session.scalars(select(RecordStatusChange.reason)).all()
    assert history.count("submitted") == ROWS - 3


def test_an_interrupted_import_leaves_no_reader_behind(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "records.csv", [record_row(n) for n in range(1, 2001)])
    factory = fresh_store(tmp_path, "r.db")

    class Stop(Exception):
        pass

    def stop_after_first_chunk(_bytes_read: int, _so_far: ImportReport) -> None:
        assert reader_children(), "the reader process should be running"
        raise Stop

    with pytest.raises(Stop):
        import_file(
            factory,
            "records",
            path,
            ImportOptions(identifier_key=KEY, chunk_rows=100, reader_process_min_bytes=0),
            stop_after_first_chunk,
        )
    assert reader_children() == []
    with transaction(factory) as session:
        assert len(session.scalars(select(Record.id)).all()) == 100
