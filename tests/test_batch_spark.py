"""Snapshots and the Spark engine: the same results as DuckDB, row for row.

``trustreg snapshot`` is checked against the store it copies (SQLite and PostgreSQL);
then one snapshot is rated by both engines and their ``--output`` files are compared,
and ``rate --all --engine spark`` must store what the DuckDB engine stores. Spark runs
in local mode (``local[2]``, UI off, driver on 127.0.0.1): Java 17 is on the machine.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.test_batch_rate import (  # noqa: F401 - the fixture is shared
    AS_OF,
    engine_of,
    open_entries,
    populated,
    rulebook,
    stored,
)
from trustreg.batch.rate import Compute, rate_all, rate_snapshot
from trustreg.batch.snapshot_files import open_snapshot, write_snapshot
from trustreg.errors import ValidationError
from trustreg.store.db import transaction
from trustreg.store.keys import IDENTIFIER, key_check_of
from trustreg.store.models import Assessment, Identifier, RecordStatusChange, Subject, SubjectName

SPARK = Compute("spark")


def rows_of(path: Path) -> list[dict[str, object]]:
    return pq.read_table(path).to_pylist()


def stored_rows(factory: sessionmaker[Session]) -> list[tuple[object, ...]]:
    """Every stored assessment as plain values (when it was computed included)."""
    with transaction(factory) as session:
        return [
            (a.subject_id, a.as_of, a.points, a.grade, a.lists, a.computed_at, a.explanation)
            for a in session.scalars(select(Assessment).order_by(Assessment.subject_id))
        ]


def test_snapshot_holds_every_table_as_the_store_does(
    populated: sessionmaker[Session],  # noqa: F811 - the shared fixture
    tmp_path: Path,
) -> None:
    target = tmp_path / "snap"
    summary = write_snapshot(engine_of(populated), target, workers=2)
    files = open_snapshot(target)
    with transaction(populated) as session:
        counts = {
            "subjects": session.scalar(select(func.count(Subject.id))),
            "names": session.scalar(select(func.count(SubjectName.id))),
            "identifiers": session.scalar(select(func.count(Identifier.id))),
            "records": session.scalar(select(func.count(RecordStatusChange.id))),
            "assessments": session.scalar(select(func.count(Assessment.subject_id))),
        }
        key_check = key_check_of(session, IDENTIFIER)
        masked = dict(session.execute(select(Identifier.value_hash, Identifier.value)).all())
    assert {k: summary.rows[k] for k in counts} == counts == {k: files.rows[k] for k in counts}
    assessments = pq.read_table(files.table("assessments"))
    assert pa.types.is_list(assessments.schema.field("lists").type)
    subjects = pq.read_table(files.table("subjects"))
    assert pa.types.is_date32(subjects.schema.field("birth_date").type)
    assert subjects.num_rows == counts["subjects"]
    records = pq.read_table(files.table("records"))
    assert pa.types.is_timestamp(records.schema.field("changed_at").type)
    assert pa.types.is_date32(records.schema.field("effective_from").type)
    # Identifiers as stored: a person's number masked, with its keyed hash.
    for row in pq.read_table(files.table("identifiers")).to_pylist():
        assert masked[row["value_hash"]] == row["value"]
    assert files.rulebook(AS_OF).version == rulebook(populated).version
    assert files.identifier_key_check == key_check
    with pytest.raises(ValidationError, match="not empty"):
        write_snapshot(engine_of(populated), target)
    with pytest.raises(ValidationError, match="not a snapshot"):
        open_snapshot(tmp_path)


def test_duckdb_and_spark_rate_a_snapshot_alike(
    populated: sessionmaker[Session],  # noqa: F811 - the shared fixture
    tmp_path: Path,
) -> None:
    rules = rulebook(populated)
    files = open_snapshot(write_snapshot(engine_of(populated), tmp_path / "snap").folder)
    before = stored_rows(populated)
    duck_out, spark_out = tmp_path / "duckdb.parquet", tmp_path / "spark.parquet"
    by_duckdb = rate_snapshot(files, rules, AS_OF, duck_out, workers=2)
    by_spark = rate_snapshot(files, rules, AS_OF, spark_out, workers=2, compute=SPARK)
    assert pq.read_table(duck_out).schema == pq.read_table(spark_out).schema
    assert rows_of(duck_out) == rows_of(spark_out)
    assert len(rows_of(duck_out)) == by_duckdb.subjects == files.rows["subjects"]
    assert (by_spark.subjects, by_spark.records, by_spark.grades, by_spark.lists) == (
        by_duckdb.subjects,
        by_duckdb.records,
        by_duckdb.grades,
        by_duckdb.lists,
    )
    assert by_duckdb.lists, "the demo registry has listed subjects"
    # Rating a snapshot leaves the store alone.
    assert stored_rows(populated) == before


def test_spark_engine_stores_what_duckdb_stores(
    populated: sessionmaker[Session],  # noqa: F811 - the shared fixture
    tmp_path: Path,
) -> None:
    rules, engine = rulebook(populated), engine_of(populated)
    rate_all(engine, rules, AS_OF, tmp_path / "duckdb.parquet", workers=2)
    by_duckdb, entries = stored(populated), open_entries(populated)
    summary = rate_all(engine, rules, AS_OF, tmp_path / "spark.parquet", workers=2, compute=SPARK)
    by_spark = stored(populated)
    assert summary.subjects == len(by_spark) == len(by_duckdb)
    assert (summary.entries_opened, summary.entries_closed) == (0, 0)
    assert open_entries(populated) == entries
    for subject_id, mine in by_spark.items():
        theirs = by_duckdb[subject_id]
        assert (mine.points, mine.grade, mine.lists, mine.next_change) == (
            theirs.points,
            theirs.grade,
            theirs.lists,
            theirs.next_change,
        )
        assert json.loads(mine.explanation or "") == json.loads(theirs.explanation or "")
    assert rows_of(tmp_path / "duckdb.parquet") == rows_of(tmp_path / "spark.parquet")


def test_engine_options_are_checked() -> None:
    with pytest.raises(ValidationError, match="not one of"):
        Compute("pandas")
    with pytest.raises(ValidationError, match="--engine spark"):
        Compute("duckdb", spark_master="spark://127.0.0.1:7077")
