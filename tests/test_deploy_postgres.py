"""docs/deploy.md, followed on a real PostgreSQL server (UTF-8 locale, as it advises).

The SQL blocks marked ``test:`` in the page are run as written: the roles, the
grants, the partitions' query and the name searches; then what the page says of them
is checked: the app role imports (with COPY) into this year's partition and cannot
change the schema or the audit log, the read-only role only reads, ``maintain`` makes
partitions only as the owner, name searches use the trigram index, and the PgBouncer
setting leaves no prepared statement on the server.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from tests import feeds
from tests.pgserver import PostgresServer, running_server
from trustreg.config import REPO_ROOT, Settings
from trustreg.store.db import make_engine, session_factory, transaction
from trustreg.store.partitions import YEAR_SPAN, ensure_record_partitions

pytestmark = pytest.mark.postgres
DOC = REPO_ROOT / "docs" / "deploy.md"
SUBJECTS = 300  # enough rows that the planner may choose an index at all


def doc_sql(name: str) -> list[str]:
    """The statements of the SQL block marked ``<!-- test: NAME -->`` in deploy.md."""
    found = re.search(rf"<!-- test: {name} -->\n```sql\n(.*?)\n```", DOC.read_text(), re.S)
    assert found, f"deploy.md has no SQL block marked 'test: {name}'"
    return [s.strip() for s in found.group(1).split(";\n") if s.strip().strip(";")]


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    with running_server(locale="C.UTF-8") as running:
        yield running


def role_url(server: PostgresServer, role: str) -> str:
    return server.url("trustreg").replace("postgres@", f"{role}@")


def run_as(server: PostgresServer, role: str, statements: list[str]) -> list[list[Any]]:
    """Run the statements as ``role`` in one transaction; the rows of each.

    Through psycopg's own cursor, without parameters, so that a ``%`` in the page's SQL
    is the operator it is there, not a placeholder."""
    engine = make_engine(role_url(server, role))
    try:
        with engine.begin() as connection, connection.connection.cursor() as cursor:
            results = []
            for statement in statements:
                cursor.execute(statement)
                results.append(list(cursor.fetchall()) if cursor.description else [])
            return results
    finally:
        engine.dispose()


def trustreg(tmp: Path, url: str, *args: str | Path) -> str:
    done = feeds.run_cli(tmp, *args, timeout=300, TRUSTREG_DATABASE_URL=url)
    assert done.returncode == 0, done.stderr
    return done.stdout


def name(n: int) -> str:
    """One subject in 30 is named 北京明华N号科技有限公司, the others otherwise."""
    return f"北京明华{n}号科技有限公司" if n % 30 == 0 else feeds.subject_name(n)


def import_feeds(factory: sessionmaker[Session], tmp: Path) -> None:
    """The subjects and a court's record against each."""
    feeds.add_authorities(factory)
    subjects = [feeds.subject_row(n, name=name(n)) for n in range(SUBJECTS)]
    records = [feeds.record_row(n, subject_name=name(n)) for n in range(SUBJECTS)]
    subjects_file = feeds.write_subjects(tmp / "subjects.csv", subjects)
    records_file = feeds.write_csv(tmp / "records.csv", records, feeds.RECORD_COLUMNS)
    assert feeds.run_import(factory, "subjects", subjects_file).created == SUBJECTS
    assert feeds.run_import(factory, "records", records_file).created == SUBJECTS


@pytest.fixture(scope="module")
def deployed(server: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The page's steps: roles, grants, ``trustreg init`` as owner, imports as the app.

    Yields the app role's engine."""
    tmp = tmp_path_factory.mktemp("deploy")
    admin = make_engine(server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        for statement in doc_sql("roles"):
            connection.exec_driver_sql(statement)
    admin.dispose()
    run_as(server, "trustreg_owner", doc_sql("grants"))
    assert "store ready" in trustreg(tmp, role_url(server, "trustreg_owner"), "init")
    app = make_engine(role_url(server, "trustreg_app"))
    import_feeds(session_factory(app), tmp)
    yield app
    app.dispose()


def test_the_app_role_imports_into_this_years_partition(
    server: PostgresServer, deployed: Engine
) -> None:
    (placed,) = run_as(server, "trustreg_read", doc_sql("partitions"))
    year = datetime.now(UTC).year
    assert placed == [(f"records_{year}", SUBJECTS)]
    ids = run_as(server, "trustreg_read", ["SELECT min(id), max(id) FROM records"])[0][0]
    assert all(year * YEAR_SPAN < i < (year + 1) * YEAR_SPAN for i in ids)
    keys = run_as(server, "trustreg_read", ["SELECT count(*) FROM record_keys"])
    assert keys == [[(SUBJECTS,)]]


def test_the_key_table_refuses_a_second_record_with_the_same_reference(
    server: PostgresServer, deployed: Engine, tmp_path: Path
) -> None:
    copy = (
        "INSERT INTO records (authority_id, reference, record_type, subject_id, decided_on, "
        "effective_from, status, summary, source_file, created_at, updated_at) "
        "SELECT authority_id, reference, record_type, subject_id, decided_on, effective_from, "
        "status, summary, source_file, created_at, updated_at FROM records LIMIT 1"
    )
    with pytest.raises(psycopg.errors.UniqueViolation, match="pk_record_keys"):
        run_as(server, "trustreg_app", [copy])
    # The same file again: every row is found stored, none is added.
    again = feeds.write_csv(
        tmp_path / "again.csv",
        [feeds.record_row(n, subject_name=name(n)) for n in range(5)],
        feeds.RECORD_COLUMNS,
    )
    feeds.run_import(session_factory(deployed), "records", again)
    count = run_as(server, "trustreg_read", ["SELECT count(*) FROM records"])
    assert count == [[(SUBJECTS,)]]


@pytest.mark.parametrize(
    ("role", "statement"),
    [
        ("trustreg_app", "DROP TABLE records CASCADE"),
        ("trustreg_app", "ALTER TABLE audit_entries DISABLE TRIGGER ALL"),
        ("trustreg_app", "CREATE TABLE records_2040 PARTITION OF records DEFAULT"),
        ("trustreg_read", "DELETE FROM subject_names"),
        ("trustreg_read", "INSERT INTO registry_keys VALUES ('x', 'y', now())"),
    ],
)
def test_roles_may_not_do_what_the_page_says_they_may_not(
    server: PostgresServer, deployed: Engine, role: str, statement: str
) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        run_as(server, role, [statement])


def test_the_app_role_cannot_rewrite_the_audit_log(
    server: PostgresServer, deployed: Engine
) -> None:
    with pytest.raises(psycopg.Error, match="append-only"):
        run_as(server, "trustreg_app", ["UPDATE audit_entries SET actor = 'someone else'"])


def test_only_the_owner_makes_next_years_partitions(
    server: PostgresServer, deployed: Engine
) -> None:
    new_year = date(2031, 1, 1)
    with transaction(session_factory(deployed)) as session:
        refused = ensure_record_partitions(session, new_year)
    assert refused.refused == ("records_2031", "records_2032")
    assert not refused.created
    owner = make_engine(role_url(server, "trustreg_owner"))
    with transaction(session_factory(owner)) as session:
        made = ensure_record_partitions(session, new_year)
    with transaction(session_factory(owner)) as session:
        again = ensure_record_partitions(session, new_year)
    owner.dispose()
    assert made.created == ("records_2031", "records_2032")
    assert not made.refused
    assert again.created == ()
    assert again.refused == ()


def test_name_searches_find_han_names_through_the_trigram_index(
    server: PostgresServer, deployed: Engine
) -> None:
    fragment, alike = run_as(server, "trustreg_read", doc_sql("names"))
    assert sorted(n for _id, n in fragment) == sorted(name(n) for n in range(0, SUBJECTS, 30))
    assert alike
    assert alike[0][1].startswith("北京明华")
    # A registry's worth of other names (random Han ones), so that reading them all
    # costs the planner more than the index does.
    others = (
        "INSERT INTO subject_names (subject_id, name, kind) SELECT s.id, "
        "chr(19968 + (g * 7919) % 20000) || chr((19968 + (g::bigint * 104729) % 20000)::int) || "
        "chr((19968 + (g::bigint * 1299709) % 20000)::int) || g || '有限公司', 'other' "
        "FROM generate_series(1, 50000) g, (SELECT min(id) AS id FROM subjects) s"
    )
    run_as(server, "trustreg_owner", [others, "ANALYZE subject_names"])
    plans = run_as(server, "trustreg_read", [f"EXPLAIN {s}" for s in doc_sql("names")])
    for plan in plans:
        assert "ix_subject_names_name_trgm" in "\n".join(row[0] for row in plan), plan


@pytest.mark.parametrize("pgbouncer", [False, True])
def test_behind_pgbouncer_no_statement_is_prepared_on_the_server(
    server: PostgresServer, deployed: Engine, pgbouncer: bool
) -> None:
    url = role_url(server, "trustreg_app")
    settings = Settings(database_url=url, database_pgbouncer=pgbouncer)
    engine = make_engine(url, **settings.engine_options)
    with engine.connect() as connection:
        for n in range(10):  # psycopg prepares a statement on its fifth run
            connection.execute(text("SELECT count(*) FROM subjects WHERE id > :n"), {"n": n})
        prepared = connection.exec_driver_sql("SELECT count(*) FROM pg_prepared_statements")
        count = prepared.scalar_one()
    engine.dispose()
    assert (count == 0) is pgbouncer, count


def test_the_app_role_takes_a_backup(
    server: PostgresServer, deployed: Engine, tmp_path: Path
) -> None:
    printed = trustreg(tmp_path, role_url(server, "trustreg_app"), "backup", tmp_path / "b.dump")
    assert (tmp_path / "b.dump").stat().st_size > 0, printed
