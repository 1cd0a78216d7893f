"""audit entries by target

A subject's access log and the checkers to notify of a dispute's outcome read the
``person_check`` entries of one target (``subject:ID``): an index serves them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 00:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


# Plain CREATE INDEX, not a batch operation: a batch may rebuild the table on SQLite,
# which would drop the triggers that keep the audit log append-only.
def upgrade() -> None:
    op.create_index("ix_audit_entries_target", "audit_entries", ["target"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_audit_entries_target", table_name="audit_entries")
