"""Store tests, run on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from trustreg.store import queries, writes
from trustreg.store.db import alembic_config, transaction
from trustreg.store.models import Base
from trustreg.store.partitions import autogenerate_filter


def test_migrations_match_models(factory: sessionmaker[Session]) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with factory() as session:
        connection = session.connection()
        only = autogenerate_filter(connection.dialect.name)
        context = MigrationContext.configure(connection, opts={"include_object": only})
        assert compare_metadata(context, Base.metadata) == []


def test_rulebook_is_loaded_once(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as session:
        types = queries.record_types(session)
        assert types["insolvency"].indicates_dishonesty is False
        assert types["judgment_defaulter"].authority_kinds == ("court",)
        entries = queries.audit_entries(session)
        assert [e.action for e in entries] == ["rulebook.load"]


def test_audit_log_is_append_only_and_chained(factory: sessionmaker[Session]) -> None:
    now = datetime.now(UTC)
    with transaction(factory) as session:
        first = writes.append_audit(session, "tester", "check", "subject:1", {"a": 1}, now)
        second = writes.append_audit(session, "tester", "check", "subject:2", {"a": 2}, now)
    with transaction(factory) as session:
        entries = queries.audit_entries(session)
        assert entries[-1].prev_hash == first
        assert entries[-1].entry_hash == second
        previous = writes.GENESIS_HASH
        for entry in entries:
            assert entry.prev_hash == previous
            assert writes.audit_hash(previous, entry) == entry.entry_hash
            previous = entry.entry_hash
    for statement in ("UPDATE audit_entries SET actor = 'x'", "DELETE FROM audit_entries"):
        with pytest.raises(DBAPIError, match="append-only"), transaction(factory) as session:
            session.execute(text(statement))
    with transaction(factory) as session:
        assert len(queries.audit_entries(session)) == 3


def test_migrate_twice_is_harmless(factory: sessionmaker[Session]) -> None:
    from alembic import command

    with factory() as session:
        engine = session.get_bind()
    command.upgrade(alembic_config(engine), "head")  # type: ignore[arg-type]
    with transaction(factory) as session:
        assert len(queries.record_types(session)) == 8
