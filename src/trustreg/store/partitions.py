"""The yearly partitions of ``records`` on PostgreSQL (migration 0012), kept ahead.

A record's id is ``YEAR * YEAR_SPAN + n``, drawn when it arrives; the partition
``records_YEAR`` holds the ids of one year. The daily run creates this year's and
next year's partition where missing, so a new year's records never land in
``records_default``. A year whose records are already in the default partition (the
daily run did not run for a year) is left there and reported: PostgreSQL refuses a
partition whose rows the default one holds, and those records work as any others.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import ForeignKeyConstraint, text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import Session

YEAR_SPAN = 10**12  # as in migration 0012
INSUFFICIENT_PRIVILEGE = "42501"


@dataclass(frozen=True, slots=True)
class PartitionReport:
    created: tuple[str, ...]  # partitions made by this run
    in_default: tuple[int, ...]  # years whose records sit in records_default
    refused: tuple[str, ...] = ()  # partitions this role may not make (not the owner)


def is_partitioned(session: Session) -> bool:
    """Whether this store's records are partitioned (PostgreSQL after migration 0012)."""
    if session.get_bind().dialect.name != "postgresql":
        return False
    found = session.execute(
        text("SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass('records')")
    )
    return found.first() is not None


def record_partitions(session: Session) -> list[str]:
    """The names of the partitions of ``records``, oldest first."""
    rows = session.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'records'::regclass ORDER BY c.relname"
        )
    )
    return [str(name) for (name,) in rows]


def ensure_record_partitions(session: Session, today: date) -> PartitionReport:
    """Create the partitions of ``today``'s year and the next where missing."""
    if not is_partitioned(session):
        return PartitionReport((), ())
    existing = set(record_partitions(session))
    created: list[str] = []
    in_default: list[int] = []
    refused: list[str] = []
    for year in (today.year, today.year + 1):
        name = f"records_{year}"
        if name in existing:
            continue
        low, high = year * YEAR_SPAN, (year + 1) * YEAR_SPAN
        held = session.execute(
            text("SELECT 1 FROM records_default WHERE id >= :low AND id < :high LIMIT 1"),
            {"low": low, "high": high},
        )
        if held.first() is not None:
            in_default.append(year)
            continue
        try:
            # A savepoint: a refusal must not undo the daily run's other work.
            with session.begin_nested():
                session.execute(
                    text(
                        f"CREATE TABLE {name} PARTITION OF records "
                        f"FOR VALUES FROM ({low}) TO ({high})"
                    )
                )
        except ProgrammingError as exc:
            if getattr(exc.orig, "sqlstate", None) != INSUFFICIENT_PRIVILEGE:
                raise
            refused.append(name)
            continue
        created.append(name)
    return PartitionReport(tuple(created), tuple(in_default), tuple(refused))


# What migrations 0012 and 0013 make on PostgreSQL that the models (one schema for
# both engines) do not say: the partitions, the key table and its index, the plain
# index that replaces the unique one, the trigram indexes. Autogenerate must not
# propose to undo them.
_PARTITION_TABLE = re.compile(r"^records_(\d{4}|unyeared|default)$")
_POSTGRES_ONLY = {
    "record_keys",
    "ix_records_authority_reference",
    "uq_records_authority_id",
    "ix_subject_names_name_trgm",
    "ix_subjects_display_name_trgm",
}


def autogenerate_filter(dialect: str) -> Callable[..., bool]:
    """Alembic's ``include_object`` for a store on ``dialect``: what to compare."""

    def include(item: object, name: str | None, type_: str, *_args: object) -> bool:
        if dialect != "postgresql":
            return True
        if type_ == "table" and name and _PARTITION_TABLE.match(name):
            return False
        if isinstance(item, ForeignKeyConstraint):
            # PostgreSQL keeps a copy of each key that points at records per partition.
            return not _PARTITION_TABLE.match(item.referred_table.name)
        return name not in _POSTGRES_ONLY

    return include
