"""The two engines batch screening runs on, behind one small interface.

An engine makes named tables: from a folder of Parquet files (``load``), from SQL
(``sql``), or from SQL whose rows go through a Python step of ``batch.screen_core``
(``python``). Every table is written to ``work/<name>/`` as Parquet and read back from
there, so each step's result is on disk once, whichever engine made it.

- ``DuckDBEngine``: one DuckDB database in the work folder runs the SQL on all cores
  (spilling to disk past its memory limit); the Python steps run in a pool of worker
  processes, fed Arrow batches by the parent.
- ``SparkEngine``: Spark SQL runs the same text; the Python steps are ``mapInArrow``,
  on the Spark workers, locally or on a cluster.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from multiprocessing.pool import Pool
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from trustreg.batch.screen_plan import DIALECTS, Dialect
from trustreg.batch.spark import spark_session
from trustreg.batch.steps import DUCKDB_MEMORY, BatchError, duck, sql_path

Step = Callable[[Iterator[Any]], Iterator[Any]]
BATCH_ROWS = 2_000  # rows per Arrow batch a Python step gets: its profiles fit in memory
# Rows a sliced step joins per slice on DuckDB. Measured: 10 million subjects and 100,000
# queries join 128 million rows into 110 million groups, and DuckDB ran out of its 4 GB
# grouping them at once (its aggregate did not spill far enough); 13 million rows, with
# 10,000 queries, fit.
SLICE_ROWS = 20_000_000


class ScreenEngine(Protocol):
    """What batch screening asks of an engine."""

    dialect: Dialect

    def load(self, name: str, folder: Path) -> None:
        """Table ``name`` is the Parquet files of ``folder``."""

    def sql(self, name: str, sql: str) -> None:
        """Table ``name`` is what ``sql`` selects."""

    def python(self, name: str, sql: str, step: Step, schema: Any, ddl: str) -> None:
        """Table ``name`` is ``step`` over the rows ``sql`` selects (``schema`` in Arrow,
        ``ddl`` the same in Spark's words)."""

    def sliced(self, name: str, source: str, make: Callable[[str], str], rows: str) -> None:
        """Table ``name`` is what ``make(source)`` selects, which an engine may run over
        slices of table ``source`` by ``row_no`` (``rows`` counts the rows it joins)."""

    def count(self, name: str) -> int:
        """How many rows table ``name`` has."""

    def folder(self, name: str) -> Path:
        """Where table ``name``'s Parquet files are."""


class DuckDBEngine:
    """DuckDB for the SQL, a process pool for the Python steps."""

    dialect = DIALECTS["duckdb"]

    def __init__(self, work: Path, pool: Pool, workers: int) -> None:
        self.work = work
        self.pool = pool
        self.con = duckdb.connect(str(work / "screen.duckdb"))
        # The plan's tables are bigger than memory at national scale: DuckDB spills.
        duck(self.con, "configure", f"SET threads = {max(1, workers)}")
        # Capped as rating caps it (DuckDB would take 80 % of the machine): the Python
        # steps' worker processes need the rest.
        duck(self.con, "configure", f"SET memory_limit = '{DUCKDB_MEMORY}'")
        duck(self.con, "configure", f"SET temp_directory = {sql_path(work / 'spill')}")
        duck(self.con, "configure", "SET preserve_insertion_order = false")

    def close(self) -> None:
        self.con.close()

    def folder(self, name: str) -> Path:
        return self.work / name

    def load(self, name: str, folder: Path) -> None:
        glob = sql_path(folder / "*.parquet")
        duck(self.con, f"load {name}", f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM {glob}")

    def sql(self, name: str, sql: str) -> None:
        target = self.folder(name)
        target.mkdir(parents=True, exist_ok=True)
        copy = f"COPY ({sql}) TO {sql_path(target / 'part-0.parquet')} (FORMAT parquet)"
        duck(self.con, name, copy)
        self.load(name, target)

    def sliced(self, name: str, source: str, make: Callable[[str], str], rows: str) -> None:
        """One COPY per slice of ``source`` (``row_no`` modulo the slices, so each query's
        rows stay together), each into a Parquet file of its own."""
        found = duck(self.con, f"size {name}", rows).fetchone()
        parts = max(1, -(-int(found[0] if found else 0) // SLICE_ROWS))
        if parts == 1:
            self.sql(name, make(source))
            return
        target = self.folder(name)
        target.mkdir(parents=True, exist_ok=True)
        part_view = f"{source}_slice"
        for part in range(parts):
            cut = f"SELECT * FROM {source} WHERE row_no % {parts} = {part}"
            duck(self.con, f"{name} slice", f"CREATE OR REPLACE VIEW {part_view} AS {cut}")
            out = sql_path(target / f"part-{part}.parquet")
            duck(self.con, name, f"COPY ({make(part_view)}) TO {out} (FORMAT parquet)")
        self.load(name, target)

    def python(self, name: str, sql: str, step: Step, schema: Any, ddl: str) -> None:
        target = self.folder(name)
        target.mkdir(parents=True, exist_ok=True)
        try:
            reader = self.con.sql(sql).to_arrow_reader(BATCH_ROWS)
        except duckdb.Error as exc:
            raise BatchError(name, sql, str(exc)) from exc
        with pq.ParquetWriter(target / "part-0.parquet", schema, compression="snappy") as out:
            for table in self.pool.imap(partial(_apply, step), reader):
                out.write_table(table)
        self.load(name, target)

    def count(self, name: str) -> int:
        row = duck(self.con, f"count {name}", f"SELECT count(*) FROM {name}").fetchone()
        return int(row[0]) if row else 0


def _apply(step: Step, batch: Any) -> Any:
    """In a worker: one batch through a step, back as a table."""
    return pa.Table.from_batches(list(step(iter([batch]))))


def duckdb_pool(workers: int) -> Pool:
    """The DuckDB engine's worker processes: spawned (DuckDB's threads and a fork do
    not mix), so each imports the core once."""
    return multiprocessing.get_context("spawn").Pool(max(1, workers))


class SparkEngine:
    """Spark SQL for the SQL, ``mapInArrow`` for the Python steps."""

    dialect = DIALECTS["spark"]

    def __init__(self, work: Path, spark: Any) -> None:
        self.work = work
        self.spark = spark

    def folder(self, name: str) -> Path:
        return self.work / name

    def load(self, name: str, folder: Path) -> None:
        self.spark.read.parquet(str(folder)).createOrReplaceTempView(name)

    def _write(self, name: str, frame: Any, sql: str) -> None:
        try:
            frame.write.mode("overwrite").parquet(str(self.folder(name)))
        except Exception as exc:  # Py4J and Spark's analysis errors have no common class
            raise BatchError(name, sql, str(exc).splitlines()[0], "spark") from exc
        self.load(name, self.folder(name))

    def sql(self, name: str, sql: str) -> None:
        self._write(name, self._frame(name, sql), sql)

    def sliced(self, name: str, source: str, make: Callable[[str], str], rows: str) -> None:
        """At once: Spark's shuffle spreads the grouping over the cluster and spills."""
        self.sql(name, make(source))

    def python(self, name: str, sql: str, step: Step, schema: Any, ddl: str) -> None:
        self._write(name, self._frame(name, sql).mapInArrow(step, ddl), sql)

    def _frame(self, name: str, sql: str) -> Any:
        try:
            return self.spark.sql(sql)
        except Exception as exc:  # as in _write
            raise BatchError(name, sql, str(exc).splitlines()[0], "spark") from exc

    def count(self, name: str) -> int:
        return int(self.spark.table(name).count())


@contextmanager
def spark_engine(work: Path, master: str | None, cores: int | None) -> Iterator[SparkEngine]:
    """A Spark engine on a session of its own, stopped after."""
    with spark_session(master, cores) as spark:
        yield SparkEngine(work, spark)
