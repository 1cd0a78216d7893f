"""Bulk inserts for imports, behind one small per-engine interface.

SQLAlchemy's executemany costs more per row (parameter processing, batching by the
set of non-null keys) than SQLite itself spends storing the row; imports of millions
of rows pass plain tuples to the driver instead. The engine differences (placeholder
style, how dates and times are written) live in ``BACKENDS`` and nowhere else.

On PostgreSQL, rows go in with ``COPY`` into a temporary staging table and one
``INSERT ... SELECT`` from it, several times faster than a prepared INSERT per row;
that one statement also applies the conflict rules, and, for records, the key table
that replaces their unique index on the partitioned table (migration 0012).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from operator import itemgetter
from typing import Any, cast

import psycopg
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


# Tables whose unique key lives in another table on PostgreSQL (a partitioned table
# cannot hold it): table -> (key table, key columns).
KEY_TABLES: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "records": ("record_keys", ("authority_id", "reference")),
}
# Fewer rows than this go in as a plain executemany: a staging table costs more.
COPY_MIN_ROWS = 64


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
    dialect = session.get_bind().dialect.name
    backend = BACKENDS[dialect]
    columns = list(rows[0])
    unknown = [c for c in columns if c not in table.c]
    if unknown:
        raise KeyError(f"{table.name} has no column(s) {', '.join(unknown)}")
    if dialect == "postgresql" and (len(rows) >= COPY_MIN_ROWS or table.name in KEY_TABLES):
        return copy_insert(session, table, columns, rows, skip_conflicts, upsert_key)
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


def copy_insert(
    session: Session,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    skip_conflicts: bool = False,
    upsert_key: str | None = None,
) -> int:
    """PostgreSQL: ``COPY`` the rows into a staging table, then insert them from it.

    The rules are those of the executemany: with ``skip_conflicts`` the first row of a
    key wins and stored keys are kept; with ``upsert_key`` the last row of a key wins.
    A key table's check is safe against a concurrent insert because every writer of
    records holds the import lock (``writes.lock_imports``) to the end of its chunk.
    """
    names = ", ".join(columns)
    staging = f"bulk_{table.name}"
    connection = session.connection()
    connection.exec_driver_sql(f"DROP TABLE IF EXISTS pg_temp.{staging}")
    connection.exec_driver_sql(
        f"CREATE TEMP TABLE {staging} ON COMMIT DROP AS "
        f"SELECT {names}, 0::bigint AS bulk_row FROM {table.name} WITH NO DATA"
    )
    driver = cast(psycopg.Connection[Any], connection.connection.dbapi_connection)
    getter = itemgetter(*columns)
    with (
        driver.cursor() as cursor,
        cursor.copy(f"COPY {staging} ({names}, bulk_row) FROM STDIN") as copy,
    ):
        for number, row in enumerate(rows):
            values = getter(row)
            copy.write_row((*values, number) if len(columns) > 1 else (values, number))
    sql = _insert_from_staging(table.name, staging, names, skip_conflicts, upsert_key)
    inserted: int = connection.exec_driver_sql(sql).rowcount
    connection.exec_driver_sql(f"DROP TABLE pg_temp.{staging}")
    return inserted


def _insert_from_staging(
    table: str, staging: str, names: str, skip_conflicts: bool, upsert_key: str | None
) -> str:
    insert = f"INSERT INTO {table} ({names}) "
    if upsert_key:
        updates = ", ".join(f"{c} = excluded.{c}" for c in names.split(", ") if c != upsert_key)
        # One row per key (the last), as one statement may not update a row twice.
        return (
            f"{insert}SELECT {names} FROM (SELECT DISTINCT ON ({upsert_key}) * FROM {staging} "
            f"ORDER BY {upsert_key}, bulk_row DESC) s ORDER BY bulk_row "
            f"ON CONFLICT ({upsert_key}) DO UPDATE SET {updates}"
        )
    if not skip_conflicts:
        return f"{insert}SELECT {names} FROM {staging} ORDER BY bulk_row"
    if table not in KEY_TABLES:
        return f"{insert}SELECT {names} FROM {staging} ORDER BY bulk_row ON CONFLICT DO NOTHING"
    keys, key_columns = KEY_TABLES[table]
    key = ", ".join(key_columns)
    stored = " AND ".join(f"k.{c} = s.{c}" for c in key_columns)
    # The first row of each key, of the keys not yet stored, in the rows' order (which
    # is the order the new ids are drawn in).
    return (
        f"{insert}SELECT {names} FROM (SELECT DISTINCT ON ({key}) * FROM {staging} s "
        f"WHERE NOT EXISTS (SELECT 1 FROM {keys} k WHERE {stored}) "
        f"ORDER BY {key}, bulk_row) s ORDER BY bulk_row"
    )


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
