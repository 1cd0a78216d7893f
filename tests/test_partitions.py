"""Records partitioned by year on PostgreSQL (migration 0012) and their upkeep.

The rest of the suite runs on the partitioned table already (every store test on
PostgreSQL); these tests are about what only partitions do: where rows land, the key
table that replaces the unique index, next year's partition, and the way back.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from tests.feeds import add_authorities, record_row, reference, run_import, write_csv
from trustreg.store import purge
from trustreg.store.db import alembic_config, migrate, transaction
from trustreg.store.partitions import YEAR_SPAN, ensure_record_partitions, record_partitions


@pytest.fixture
def store(factory: sessionmaker[Session], store_url: str, tmp_path: Path) -> sessionmaker[Session]:
    """A PostgreSQL store with three records of a court."""
    if not store_url.startswith("postgresql"):
        pytest.skip("partitions are PostgreSQL's")
    add_authorities(factory)
    run_import(factory, "records", write_csv(tmp_path / "r.csv", map(record_row, (1, 2, 3))))
    return factory


def rows(factory: sessionmaker[Session], sql: str) -> list[tuple[object, ...]]:
    with transaction(factory) as session:
        result = session.execute(text(sql))
        return [tuple(row) for row in result] if result.returns_rows else []


def test_records_land_in_the_partition_of_their_year(store: sessionmaker[Session]) -> None:
    year = datetime.now(UTC).year
    placed = rows(store, "SELECT tableoid::regclass::text, id FROM records ORDER BY id")
    assert {table for table, _id in placed} == {f"records_{year}"}
    assert all(year * YEAR_SPAN < int(str(i)) < (year + 1) * YEAR_SPAN for _t, i in placed)
    keys = rows(store, "SELECT r.id FROM records r JOIN record_keys k ON k.record_id = r.id")
    assert sorted(keys) == sorted((i,) for _t, i in placed)


def test_the_key_table_follows_updates_and_deletes(
    store: sessionmaker[Session], tmp_path: Path
) -> None:
    rows(store, f"UPDATE records SET reference = 'renamed' WHERE reference = '{reference(1)}'")
    assert ("renamed",) in rows(store, "SELECT reference FROM record_keys")
    with transaction(store) as session:
        (gone,) = session.execute(text("SELECT id FROM records WHERE reference = 'renamed'")).one()
        purge.delete_records(session, [gone])
    assert rows(store, "SELECT count(*) FROM record_keys") == [(2,)]
    # The freed reference may be used again; the others are still taken.
    again = write_csv(tmp_path / "again.csv", map(record_row, (1, 2)))
    report = run_import(store, "records", again)
    assert (report.created, report.unchanged) == (1, 1)


def test_upkeep_makes_next_years_partition_and_reports_a_year_in_default(
    store: sessionmaker[Session],
) -> None:
    # A record that arrived in 2035, when there was no partition of its own.
    late = 2035 * YEAR_SPAN + 1
    rows(
        store,
        f"INSERT INTO records (id, authority_id, reference, record_type, subject_id, decided_on,"
        " effective_from, status, summary, source_file, created_at, updated_at) "
        f"SELECT {late}, authority_id, 'late', record_type, subject_id, decided_on,"
        " effective_from, status, summary, source_file, created_at, updated_at"
        " FROM records LIMIT 1",
    )
    assert rows(store, f"SELECT tableoid::regclass::text FROM records WHERE id = {late}") == [
        ("records_default",)
    ]
    with transaction(store) as session:
        report = ensure_record_partitions(session, date(2034, 12, 31))
    assert report.created == ("records_2034",)
    assert report.in_default == (2035,)
    with transaction(store) as session:
        assert "records_2034" in record_partitions(session)
        assert ensure_record_partitions(session, date(2034, 12, 31)).created == ()


def test_the_migration_goes_back_and_forth_keeping_records_and_keys(
    store: sessionmaker[Session],
) -> None:
    before = rows(store, "SELECT id, authority_id, reference FROM records ORDER BY id")
    engine = store.kw["bind"]
    command.downgrade(alembic_config(engine), "0011")
    assert rows(store, "SELECT id, authority_id, reference FROM records ORDER BY id") == before
    assert rows(store, "SELECT to_regclass('record_keys')") == [(None,)]
    migrate(engine)
    assert rows(store, "SELECT id, authority_id, reference FROM records ORDER BY id") == before
    keys = rows(store, "SELECT record_id, authority_id, reference FROM record_keys ORDER BY 1")
    assert keys == before


def test_two_imports_of_the_same_records_at_once_store_each_once(
    store: sessionmaker[Session], tmp_path: Path
) -> None:
    # Both files hold records 10..409; each import finds some keys new and some taken
    # by the other; the import lock (one chunk writes at a time) keeps any from being
    # stored twice.
    numbers = range(10, 410)
    files = [write_csv(tmp_path / f"{n}.csv", map(record_row, numbers)) for n in "ab"]
    with ThreadPoolExecutor(2) as pool:
        reports = list(pool.map(lambda f: run_import(store, "records", f, chunk_rows=50), files))
    assert sum(r.created for r in reports) == len(numbers)
    assert sum(r.rejected for r in reports) == 0
    stored = rows(store, "SELECT reference, count(*) FROM records GROUP BY 1 HAVING count(*) > 1")
    assert stored == []
    assert rows(store, "SELECT count(*) FROM record_keys") == [(3 + len(numbers),)]
