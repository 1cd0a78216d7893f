"""What the operations endpoints read from the store: is it there, is its schema the
code's, and a few cheap counts for the metrics (``services.operations``).

Every query here is a COUNT or SUM over a status column or a small table, so a
Prometheus scrape every 15 seconds costs the store next to nothing.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, case, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from trustreg.store.db import alembic_config
from trustreg.store.models import ImportBatch, RecordType


def ping(session: Session) -> None:
    """A trivial query: raises the driver's error if the store does not answer."""
    session.execute(select(1)).scalar_one()


def schema_heads(session: Session) -> tuple[str, ...]:
    """The migration revision(s) the store is at; empty if it was never migrated."""
    return tuple(MigrationContext.configure(session.connection()).get_current_heads())


def code_heads(engine: Engine) -> tuple[str, ...]:
    """The newest migration revision(s) this code ships."""
    return tuple(ScriptDirectory.from_config(alembic_config(engine)).get_heads())


def has_rulebook(session: Session) -> bool:
    """Whether a rulebook is loaded (its record types are in force)."""
    return session.scalar(select(RecordType.code).limit(1)) is not None


def open_and_overdue(
    session: Session,
    status: InstrumentedAttribute[str],
    answer_due: InstrumentedAttribute[date],
    open_statuses: Collection[str],
    today: date,
) -> tuple[int, int]:
    """Cases (disputes, repair applications) still open, and those past ``answer_due``."""
    overdue = func.count(case((answer_due < today, 1)))
    row = session.execute(
        select(func.count(), overdue).where(status.in_(list(open_statuses)))
    ).one()
    return int(row[0]), int(row[1] or 0)


def count_by_status(
    session: Session, status: InstrumentedAttribute[str], statuses: Collection[str]
) -> dict[str, int]:
    """How many rows have each of ``statuses`` (0 for a status no row has)."""
    rows = session.execute(
        select(status, func.count()).where(status.in_(list(statuses))).group_by(status)
    ).all()
    found: dict[str, int] = dict.fromkeys(statuses, 0)
    found.update({name: int(n) for name, n in rows})
    return found


def import_totals(session: Session) -> dict[str, dict[str, int]]:
    """Rows of every import ever run, per feed: created, updated, unchanged, rejected.

    The counts are written in the same transaction as each chunk's rows, so they are
    exactly what is in the store, whichever process (CLI, API) imported them.
    """
    columns: dict[str, Any] = {
        "created": ImportBatch.rows_created,
        "updated": ImportBatch.rows_updated,
        "unchanged": ImportBatch.rows_unchanged,
        "rejected": ImportBatch.rows_rejected,
    }
    sums = [func.coalesce(func.sum(column), 0) for column in columns.values()]
    rows = session.execute(select(ImportBatch.kind, *sums).group_by(ImportBatch.kind)).all()
    return {
        row[0]: {name: int(value) for name, value in zip(columns, row[1:], strict=True)}
        for row in rows
    }
