"""Shared fixtures: one test body, every backend.

``store_url`` gives each test a fresh, empty store: a SQLite file, and a new
database on a real PostgreSQL server that the session starts itself. The
PostgreSQL variant is skipped only when the server binaries are absent and this
is not CI (CI always has them: ``make test`` installs them).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from tests.pgserver import PostgresServer, running_server
from trustreg.config import REPO_ROOT, Settings
from trustreg.services import registry
from trustreg.store.db import make_engine

RULEBOOK = REPO_ROOT / "rulebooks" / "model.toml"
_databases = itertools.count()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    with running_server() as server:
        yield server


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'registry.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"t{os.getpid()}_{next(_databases)}"
    admin = make_engine(server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    yield server.url(name)


@pytest.fixture
def settings(store_url: str, tmp_path: Path) -> Settings:
    return Settings(
        environment="test", data_dir=tmp_path / "var", database_url=store_url, rulebook=RULEBOOK
    )


@pytest.fixture
def factory(settings: Settings) -> Iterator[sessionmaker[Session]]:
    """A migrated store with the model rulebook loaded."""
    engine = make_engine(settings.sqlalchemy_url)
    yield registry.initialise(engine, settings.rulebook)
    engine.dispose()


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    """Settings of a SQLite-only test (CLI and file-format tests need one backend)."""
    return Settings(
        environment="test",
        data_dir=tmp_path / "var",
        database_url=f"sqlite:///{tmp_path / 'registry.db'}",
        rulebook=RULEBOOK,
    )
