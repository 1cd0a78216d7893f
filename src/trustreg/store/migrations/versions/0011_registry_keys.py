"""registry keys: the check value of the key each store was built with

A process started with another ``TRUSTREG_IDENTIFIER_KEY`` than the store's would find
no person by number and register each one again on the next import; the stored check
value (an HMAC of a fixed text, never the key) lets it refuse to start instead. The
first command after this migration records the key it runs with.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registry_keys",
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("check_value", sa.String(length=64), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("purpose", name=op.f("pk_registry_keys")),
    )


def downgrade() -> None:
    op.drop_table("registry_keys")
