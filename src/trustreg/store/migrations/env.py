"""Alembic environment: runs migrations on the engine the registry hands it."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from trustreg.store.models import Base
from trustreg.store.partitions import autogenerate_filter

engine = context.config.attributes.get("engine")
if not isinstance(engine, Engine):  # pragma: no cover - only when run by hand
    raise RuntimeError("run migrations through trustreg.store.db.migrate()")

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        include_object=autogenerate_filter(connection.dialect.name),
    )
    with context.begin_transaction():
        context.run_migrations()
