"""Bulk inserts for imports, behind one small per-engine interface.

SQLAlchemy's executemany costs more per row (parameter processing, batching by the
set of non-null keys) than SQLite itself spends storing the row; imports of millions
of rows pass plain tuples to the driver instead. The engine differences (placeholder
style, how dates and times are written) live in ``BACKENDS`` and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import Date, DateTime, Table
from sqlalchemy.orm import Session

# SQLAlchemy's SQLite types store dates and times as text in these forms; the rows
# written here must read back through the ORM exactly like rows it wrote itself.
SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"


def _sqlite_temporal(value: date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.strftime(SQLITE_DATETIME)
    return value.isoformat()


@dataclass(frozen=True, slots=True)
class BulkBackend:
    placeholder: str
    # How a date or datetime column's values are written; None: the driver takes them.
    temporal: Callable[[date | None], str | None] | None


BACKENDS: Mapping[str, BulkBackend] = {
    "sqlite": BulkBackend("?", _sqlite_temporal),
    "postgresql": BulkBackend("%s", None),
}


def bulk_insert(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    skip_conflicts: bool = False,
    upsert_key: str | None = None,
) -> int:
    """Insert rows (dicts with the same keys) into ``table`` in one executemany.

    With ``skip_conflicts``, rows that would break a unique constraint are left out
    (``ON CONFLICT DO NOTHING``, the same on both engines). With ``upsert_key``, a row
    whose key exists replaces the stored one. Returns the rows written.
    """
    if not rows:
        return 0
    backend = BACKENDS[session.get_bind().dialect.name]
    columns = list(rows[0])
    unknown = [c for c in columns if c not in table.c]
    if unknown:
        raise KeyError(f"{table.name} has no column(s) {', '.join(unknown)}")
    placeholders = ", ".join([backend.placeholder] * len(columns))
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({placeholders})"
    if skip_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    elif upsert_key:
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != upsert_key)
        sql += f" ON CONFLICT ({upsert_key}) DO UPDATE SET {updates}"
    getter = itemgetter(*columns)
    values = [getter(row) for row in rows] if len(columns) > 1 else [(getter(r),) for r in rows]
    temporal = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, (Date, DateTime))]
    if backend.temporal and temporal:
        values = _convert(values, temporal, backend.temporal)
    inserted: int = session.connection().exec_driver_sql(sql, values).rowcount
    return inserted


def _convert(
    values: list[tuple[Any, ...]],
    positions: Sequence[int],
    convert: Callable[[date | None], str | None],
) -> list[tuple[Any, ...]]:
    # Column by column: imports repeat a few thousand dates and one timestamp per
    # chunk, so each distinct value is converted once and the rest is done in C.
    columns = list(zip(*values, strict=True))
    for i in positions:
        distinct = {value: convert(value) for value in set(columns[i])}
        columns[i] = tuple(map(distinct.__getitem__, columns[i]))
    return list(zip(*columns, strict=True))
