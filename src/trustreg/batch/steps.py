"""Named batch steps: a failure names the step and shows the SQL it ran.

Every DuckDB statement of a batch job (and every query it sends the serving store)
runs through :func:`duck` or :func:`guarded`, so an error reads like::

    batch step 'resolve facts' failed (duckdb): Binder Error: ...
    -- SQL:
    COPY (SELECT ...) TO '...'

``BatchError`` is a :class:`~trustreg.errors.TrustRegError` (HTTP 500, exit 1): a
failing batch is the operator's problem, not the caller's input.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from trustreg.errors import TrustRegError


class BatchError(TrustRegError):
    """A batch step failed; ``step`` names it and ``sql`` is what it ran."""

    title = "Batch step failed"

    def __init__(self, step: str, sql: str, cause: str, engine: str = "duckdb") -> None:
        shown = f"\n-- SQL:\n{sql.strip()}" if sql.strip() else ""
        super().__init__(f"batch step '{step}' failed ({engine}): {cause}{shown}")
        self.step = step
        self.sql = sql
        self.cause = cause
        self.engine = engine

    def __reduce__(self) -> tuple[type[BatchError], tuple[str, str, str, str]]:
        # Raised in a worker process, it travels to the parent pickled.
        return BatchError, (self.step, self.sql, self.cause, self.engine)


# DuckDB spills to the temporary folder beyond this, so a batch's memory stays bounded
# however large the registry (5 million records need about 3 GB to run without spilling).
DUCKDB_MEMORY = "4GB"


def duck(
    con: duckdb.DuckDBPyConnection, step: str, sql: str, params: list[Any] | None = None
) -> duckdb.DuckDBPyConnection:
    """Run one DuckDB statement of ``step``; a DuckDB error becomes a BatchError."""
    try:
        return con.execute(sql, params)
    except duckdb.Error as exc:
        raise BatchError(step, sql, str(exc)) from exc


@contextmanager
def guarded(step: str, sql: str, errors: type[BaseException], engine: str) -> Iterator[None]:
    """Turn ``errors`` raised inside the block into a BatchError naming ``step``."""
    try:
        yield
    except errors as exc:
        raise BatchError(step, sql, str(exc), engine) from exc


def sql_text(value: str) -> str:
    """A SQL string literal: the statement shown in an error is the one that ran."""
    return "'" + value.replace("'", "''") + "'"


def sql_path(path: Path) -> str:
    """A file path as a SQL string literal (COPY ... TO cannot take a parameter)."""
    return sql_text(str(path))


def sql_date(day: date) -> str:
    return f"DATE '{day.isoformat()}'"
