"""records partitioned by year of arrival (PostgreSQL)

At national scale the records table holds hundreds of millions of rows, most of them
old. On PostgreSQL it becomes a table partitioned by range of id, one partition per
year of arrival: a new record's id is ``YEAR * 10^12 + n`` (n from the table's
sequence), so a year's rows sit together, old years can be vacuumed, backed up or
moved to slower disks on their own, and the keys that refer to records (status
history, disputes, evidence, repair applications) keep pointing at ``records.id``.

A unique index of a partitioned table must contain the partition key, so the rule
"one record per (authority, reference)" moves to ``record_keys``, kept by statement
triggers on ``records`` (insert, update, delete): an insert that repeats a key fails
as the unique index failed before. Ids issued before this migration stay as they were, in the partition
``records_unyeared``; rows of a year without its partition land in
``records_default`` (``trustreg maintain`` creates next year's partition ahead).

SQLite keeps its one table: nothing changes there.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 01:00:00
"""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import op
from sqlalchemy import text

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

YEAR_SPAN = 10**12  # ids per year: far more records than any registry takes in a year

KEYS = (
    "CREATE TABLE record_keys (authority_id integer NOT NULL, reference varchar(128) NOT NULL, "
    "record_id bigint NOT NULL, CONSTRAINT pk_record_keys PRIMARY KEY (authority_id, reference))",
    "CREATE INDEX ix_record_keys_record_id ON record_keys (record_id)",
)

# The partitioned table has the columns of the old one, in the same order.
PARTITIONED = (
    "CREATE TABLE records_partitioned (LIKE records INCLUDING DEFAULTS INCLUDING CONSTRAINTS) "
    "PARTITION BY RANGE (id)",
    "ALTER SEQUENCE records_id_seq OWNED BY NONE",
    "ALTER TABLE records_partitioned ALTER COLUMN id SET DEFAULT "
    f"(extract(year FROM now())::bigint * {YEAR_SPAN} + nextval('records_id_seq'))",
    "CREATE TABLE records_unyeared PARTITION OF records_partitioned "
    f"FOR VALUES FROM (MINVALUE) TO ({YEAR_SPAN})",
    "CREATE TABLE records_default PARTITION OF records_partitioned DEFAULT",
)


def _constraints(table: str) -> tuple[str, ...]:
    """The records table's own keys and indexes, as 0001 made them (but the unique one)."""
    return (
        f"ALTER TABLE {table} ADD CONSTRAINT pk_records PRIMARY KEY (id)",
        f"ALTER TABLE {table} ADD CONSTRAINT fk_records_authority_id_authorities "
        "FOREIGN KEY (authority_id) REFERENCES authorities (id)",
        f"ALTER TABLE {table} ADD CONSTRAINT fk_records_batch_id_import_batches "
        "FOREIGN KEY (batch_id) REFERENCES import_batches (id)",
        f"ALTER TABLE {table} ADD CONSTRAINT fk_records_record_type_record_types "
        "FOREIGN KEY (record_type) REFERENCES record_types (code)",
        f"ALTER TABLE {table} ADD CONSTRAINT fk_records_subject_id_subjects "
        "FOREIGN KEY (subject_id) REFERENCES subjects (id)",
        f"CREATE INDEX ix_records_subject_type ON {table} (subject_id, record_type)",
        f"CREATE INDEX ix_records_batch_row ON {table} (batch_id, source_row)",
        f"ALTER SEQUENCE records_id_seq OWNED BY {table}.id",
    )


# Statement triggers with transition tables: one INSERT ... SELECT per statement, not
# one per row, so a bulk import pays for the key table once per chunk. No foreign key
# from record_keys to records: its check, row by row through the partitions, cost an
# import more than the rest of the key table together; the delete trigger keeps the
# two in step instead.
TRIGGERS = (
    """CREATE FUNCTION trustreg_record_keys_inserted() RETURNS trigger AS $$
BEGIN
    INSERT INTO record_keys (authority_id, reference, record_id)
        SELECT authority_id, reference, id FROM inserted;
    RETURN NULL;
END $$ LANGUAGE plpgsql""",
    """CREATE FUNCTION trustreg_record_keys_deleted() RETURNS trigger AS $$
BEGIN
    DELETE FROM record_keys k USING deleted d WHERE k.record_id = d.id;
    RETURN NULL;
END $$ LANGUAGE plpgsql""",
    """CREATE FUNCTION trustreg_record_keys_updated() RETURNS trigger AS $$
BEGIN
    UPDATE record_keys k SET authority_id = n.authority_id, reference = n.reference
        FROM changed n
        WHERE k.record_id = n.id
          AND (k.authority_id, k.reference) IS DISTINCT FROM (n.authority_id, n.reference);
    RETURN NULL;
END $$ LANGUAGE plpgsql""",
    "CREATE TRIGGER records_keys_inserted AFTER INSERT ON records "
    "REFERENCING NEW TABLE AS inserted "
    "FOR EACH STATEMENT EXECUTE FUNCTION trustreg_record_keys_inserted()",
    "CREATE TRIGGER records_keys_deleted AFTER DELETE ON records "
    "REFERENCING OLD TABLE AS deleted "
    "FOR EACH STATEMENT EXECUTE FUNCTION trustreg_record_keys_deleted()",
    "CREATE TRIGGER records_keys_updated AFTER UPDATE ON records "
    "REFERENCING NEW TABLE AS changed "
    "FOR EACH STATEMENT EXECUTE FUNCTION trustreg_record_keys_updated()",
)


def _referencing_keys() -> list[tuple[str, str, str]]:
    """The foreign keys that point at records: (table, name, definition)."""
    rows = op.get_bind().execute(
        text(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE contype = 'f' AND confrelid = 'records'::regclass"
        )
    )
    return [(str(t), str(n), str(d)) for t, n, d in rows]


def _run(*statements: str) -> None:
    for statement in statements:
        op.execute(statement)


def year_partition(year: int, parent: str = "records") -> str:
    """The partition of the records that arrive in ``year``."""
    return (
        f"CREATE TABLE records_{year} PARTITION OF {parent} "
        f"FOR VALUES FROM ({year * YEAR_SPAN}) TO ({(year + 1) * YEAR_SPAN})"
    )


def _years_to_hold() -> list[int]:
    """This year, the next, and any year the stored ids already carry (a store that
    went back to 0011 and comes forward again)."""
    this_year = datetime.now(UTC).year
    held = op.get_bind().execute(
        text(f"SELECT DISTINCT id / {YEAR_SPAN} FROM records WHERE id >= {YEAR_SPAN}")
    )
    return sorted({this_year, this_year + 1, *(int(y) for (y,) in held)})


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    referencing = _referencing_keys()
    _run(*(f"ALTER TABLE {table} DROP CONSTRAINT {name}" for table, name, _ in referencing))
    _run(*KEYS, *PARTITIONED)
    # The year partitions before the rows, or rows of those years would land in the
    # default partition, which then refuses them a partition of their own.
    _run(*(year_partition(y, "records_partitioned") for y in _years_to_hold()))
    _run(
        "INSERT INTO records_partitioned SELECT * FROM records",
        "INSERT INTO record_keys (authority_id, reference, record_id) "
        "SELECT authority_id, reference, id FROM records",
        "DROP TABLE records",
    )
    _run(
        *_constraints("records_partitioned"),
        "CREATE INDEX ix_records_authority_reference ON records_partitioned "
        "(authority_id, reference)",
        "ALTER TABLE records_partitioned RENAME TO records",
        *TRIGGERS,
    )
    _run(*(f"ALTER TABLE {t} ADD CONSTRAINT {n} {d}" for t, n, d in referencing))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    referencing = _referencing_keys()
    _run(*(f"ALTER TABLE {table} DROP CONSTRAINT {name}" for table, name, _ in referencing))
    _run(
        "ALTER TABLE records RENAME TO records_partitioned",
        "ALTER SEQUENCE records_id_seq OWNED BY NONE",
        "CREATE TABLE records (LIKE records_partitioned INCLUDING CONSTRAINTS)",
        "ALTER TABLE records ALTER COLUMN id SET DEFAULT nextval('records_id_seq')",
        "INSERT INTO records SELECT * FROM records_partitioned",
        "DROP TABLE records_partitioned CASCADE",
        "DROP TABLE record_keys",
        "DROP FUNCTION trustreg_record_keys_inserted()",
        "DROP FUNCTION trustreg_record_keys_deleted()",
        "DROP FUNCTION trustreg_record_keys_updated()",
        *_constraints("records"),
        "ALTER TABLE records ADD CONSTRAINT uq_records_authority_id "
        "UNIQUE (authority_id, reference)",
    )
    _run(*(f"ALTER TABLE {t} ADD CONSTRAINT {n} {d}" for t, n, d in referencing))
