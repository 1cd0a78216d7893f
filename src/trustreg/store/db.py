"""Engines, sessions and migrations of the store.

SQLite is single-writer: WAL mode lets readers go on while one writer commits short
transactions, and ``busy_timeout`` makes a second writer wait instead of failing.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_WRITER_GAP = 0.11  # seconds: longer than the longest poll of a waiting writer


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; for SQLite, create the folder and set WAL and foreign keys."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # 64 MiB of page cache (the default is 2 MiB): index inserts of large imports
    # otherwise spend their time re-reading B-tree pages.
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the store's schema up to ``revision`` (the newest by default)."""
    command.upgrade(alembic_config(engine), revision)


def is_initialised(engine: Engine) -> bool:
    return inspect(engine).has_table("alembic_version")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


def write_lock(session: Session) -> None:
    """On SQLite, begin the session's transaction now as the one writer (waiting up to
    ``busy_timeout`` for the lock); other engines lock rows or advisory locks instead.

    The sqlite3 driver begins a transaction only at the first INSERT, UPDATE or DELETE:
    whatever was read before it was read outside any transaction, and may be stale by
    the time the transaction writes (two processes read the same audit head and fork
    the chain; a re-evaluation stores an assessment without a record just imported).
    After this call, what the transaction reads is the latest, and stays so until it ends.
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    driver = connection.connection.dbapi_connection
    if driver is not None and not driver.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_way(factory: sessionmaker[Session]) -> None:
    """Between two transactions of a long job, leave SQLite's write lock free long
    enough for a waiting writer (an API submission, a look-up's audit entry) to take it.

    SQLite's lock is not fair: a writer that waits polls for it (``busy_timeout``), at
    most 100 ms apart, and misses a lock released and taken again at once; a job that
    commits chunk after chunk would keep it for minutes, and the waiter fail. Other
    engines queue their waiters: nothing to do.
    """
    if factory.kw["bind"].dialect.name == "sqlite":
        time.sleep(SQLITE_WRITER_GAP)


class _Checkpointer:
    """Copies SQLite's write-ahead log into the database from a background thread.

    Left to itself, the writing connection does this inside one of its commits every
    few megabytes, with two fsyncs, while the import waits. Here a second connection
    does it between commits; sqlite3 releases the GIL meanwhile, so it overlaps with
    the import's own work.
    """

    def __init__(self, database: str, interval: float) -> None:
        self._database = database
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)

    def _run(self) -> None:
        connection = sqlite3.connect(self._database, timeout=30)
        try:
            while not self._stop.wait(self._interval):
                connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            connection.close()

    def __enter__(self) -> None:
        self._thread.start()

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


@contextmanager
def background_checkpoints(engine: Engine, interval: float = 0.2) -> Iterator[None]:
    """During bulk writes, checkpoint SQLite's log in the background (other engines: no-op)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    with _Checkpointer(database, interval):
        yield
