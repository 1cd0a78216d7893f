"""pseudonymised identifiers: every identifier gets its keyed hash (value_hash), and a
person's number (ric, passport) is kept only as that hash and its masked form

The hash key is the setting ``identifier_key`` (``TRUSTREG_IDENTIFIER_KEY``), read here
through ``trustreg.config.Settings`` when there are rows to convert: run the upgrade
with the key the registry will run with, or no person is found by number afterwards.
The key itself is never written to the database.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

CHUNK = 10_000  # rows read and rewritten at a time

identifiers = sa.table(
    "identifiers",
    sa.column("id", sa.BigInteger()),
    sa.column("scheme", sa.String()),
    sa.column("value", sa.String()),
    sa.column("value_hash", sa.String()),
)


def upgrade() -> None:
    with op.batch_alter_table("identifiers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("value_hash", sa.String(length=64), nullable=True))
        # Masked forms are not unique (two persons of one area may share the last four),
        # the hash is: the unique key moves from the value to the hash.
        batch_op.drop_constraint("uq_identifiers_scheme", type_="unique")
    _hash_and_mask(op.get_bind())
    with op.batch_alter_table("identifiers", schema=None) as batch_op:
        batch_op.alter_column("value_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint("uq_identifiers_scheme", ["scheme", "value_hash"])
        batch_op.create_index("ix_identifiers_scheme_value", ["scheme", "value"], unique=False)


def _hash_and_mask(connection: sa.Connection) -> None:
    """Give every stored identifier its keyed hash; mask a person's number."""
    # Imported here: the package's own code, so the rows come out exactly as the
    # registry now writes them, and the settings only when there is something to do.
    from trustreg.config import Settings
    from trustreg.core.identifiers import Identifier, stored_identifier

    key: str | None = None
    last = 0
    while True:
        rows = connection.execute(
            sa.select(identifiers.c.id, identifiers.c.scheme, identifiers.c.value)
            .where(identifiers.c.id > last)
            .order_by(identifiers.c.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            return
        if key is None:
            key = Settings().identifier_key
        changes = []
        for row_id, scheme, value in rows:
            stored = stored_identifier(key, Identifier(scheme, value))
            changes.append(
                {"row_id": row_id, "new_value": stored.value, "new_hash": stored.value_hash}
            )
        connection.execute(
            identifiers.update()
            .where(identifiers.c.id == sa.bindparam("row_id"))
            .values(value=sa.bindparam("new_value"), value_hash=sa.bindparam("new_hash")),
            changes,
        )
        last = rows[-1][0]


def downgrade() -> None:
    """Drop the hash column and make the value unique again.

    The full person numbers do not come back: the upgrade kept none of them. After the
    downgrade a person's row holds the masked form only, and no look-up by number finds
    that person until the subjects are imported again from the authorities' feeds. If
    two persons share a masked form, the old unique constraint cannot be restored and the
    downgrade stops with a message, changing nothing.
    """
    connection = op.get_bind()
    shared = connection.execute(
        sa.select(identifiers.c.scheme, identifiers.c.value)
        .group_by(identifiers.c.scheme, identifiers.c.value)
        .having(sa.func.count() > 1)
        .limit(1)
    ).first()
    if shared is not None:
        raise RuntimeError(
            f"cannot downgrade below 0007: several subjects share the masked identifier "
            f"{shared[0]}:{shared[1]}, and revision 0006 requires identifiers to be unique"
        )
    with op.batch_alter_table("identifiers", schema=None) as batch_op:
        batch_op.drop_index("ix_identifiers_scheme_value")
        batch_op.drop_constraint("uq_identifiers_scheme", type_="unique")
        batch_op.create_unique_constraint("uq_identifiers_scheme", ["scheme", "value"])
        batch_op.drop_column("value_hash")
