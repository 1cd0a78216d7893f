"""screening jobs

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 21:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "screening_jobs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=True),
        sa.Column("top", sa.Integer(), nullable=False),
        sa.Column("file_format", sa.String(length=8), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.Column("review", sa.Integer(), nullable=False),
        sa.Column("no_match", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screening_jobs")),
    )


def downgrade() -> None:
    op.drop_table("screening_jobs")
