"""What a batch worker process keeps between tasks, set up once by the pool initializer.

A worker opens the store and a DuckDB connection on first use and keeps them for the
tasks that follow: a range's reading and writing then costs no new connection.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.synchronize import Semaphore

import duckdb
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from trustreg.batch.steps import guarded
from trustreg.config import Settings
from trustreg.store.db import make_engine, session_factory


@dataclass
class _WorkerState:
    joined: Semaphore
    url: str
    engine: Engine | None = None
    factory: sessionmaker[Session] | None = None
    duck: duckdb.DuckDBPyConnection | None = None


_state: _WorkerState | None = None


def init_worker(joined: Semaphore, url: str) -> None:
    """Pool initializer: ``joined`` is released by snapshot readers, ``url`` is the store."""
    global _state
    _state = _WorkerState(joined, url)


def _current() -> _WorkerState:
    if _state is None:
        raise RuntimeError("not in a batch worker process (init_worker was not called)")
    return _state


def store_engine() -> Engine:
    state = _current()
    if state.engine is None:
        # The pool and PgBouncer settings of the environment the worker inherited.
        options = Settings(database_url=state.url).engine_options
        state.engine = make_engine(state.url, **options)
    return state.engine


def store_sessions() -> sessionmaker[Session]:
    state = _current()
    if state.factory is None:
        state.factory = session_factory(store_engine())
    return state.factory


def duck_connection() -> duckdb.DuckDBPyConnection:
    """This process's DuckDB: one thread, since every core already runs a worker."""
    state = _current()
    if state.duck is None:
        with guarded("open duckdb", "", duckdb.Error, "duckdb"):
            state.duck = duckdb.connect(":memory:", config={"threads": 1})
    return state.duck


def signal_joined() -> None:
    """Tell the parent this reader's transaction sees the state it holds."""
    _current().joined.release()


@contextmanager
def without_gc() -> Iterator[None]:
    """Run a task with the cyclic garbage collector paused.

    A task makes millions of short-lived, acyclic objects (rows, facts, assessments),
    all freed by reference counting; the collector, triggered by their number, would
    otherwise rescan the live ones again and again, for a third of a task's time.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
