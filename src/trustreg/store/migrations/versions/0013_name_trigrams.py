"""trigram indexes of names (PostgreSQL)

On PostgreSQL, ``pg_trgm``'s GIN indexes on ``subject_names.name`` and
``subjects.display_name`` answer name look-ups by fragment (``ILIKE '%...%'``) and by
likeness (``%``, ``similarity``) without reading every name: the searches staff and
the read-only role run in SQL, at any size of the registry. The screening index keeps
its own keys in memory and does not need them. ``pg_trgm`` ships with PostgreSQL and
is a trusted extension: the database's owner may create it.

SQLite has no trigram indexes: nothing changes there.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 01:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_subject_names_name_trgm": ("subject_names", "name"),
    "ix_subjects_display_name_trgm": ("subjects", "display_name"),
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, (table, column) in INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON {table} USING gin ({column} gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in INDEXES:
        op.execute(f"DROP INDEX {name}")
