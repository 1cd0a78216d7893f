"""Reads of the audit log: the chain in id order, a subject's look-ups, recent entries.

The log itself is written only by :func:`trustreg.store.writes.append_audit`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Executable, select
from sqlalchemy.orm import Session

from trustreg.store.models import AuditEntry

PERSON_CHECK = "person_check"


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """One audit entry as stored; ``at`` in UTC without a zone, as its hash covers it."""

    id: int
    at: datetime
    actor: str
    action: str
    target: str
    detail: str
    prev_hash: str
    entry_hash: str


_COLUMNS = (
    AuditEntry.id,
    AuditEntry.at,
    AuditEntry.actor,
    AuditEntry.action,
    AuditEntry.target,
    AuditEntry.detail,
    AuditEntry.prev_hash,
    AuditEntry.entry_hash,
)


def _utc(moment: datetime) -> datetime:
    # PostgreSQL hands back the session's zone; SQLite a naive UTC value.
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _aware(moment: datetime) -> datetime:
    # A naive moment is UTC (what the registry writes); both engines compare it right.
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _entries(session: Session, query: Executable) -> list[StoredEntry]:
    return [
        StoredEntry(row[0], _utc(row[1]), *row[2:]) for row in session.connection().execute(query)
    ]


def entries_after(session: Session, after_id: int, limit: int) -> list[StoredEntry]:
    """The next ``limit`` entries with an id above ``after_id``, in id order."""
    query = select(*_COLUMNS).where(AuditEntry.id > after_id).order_by(AuditEntry.id).limit(limit)
    return _entries(session, query)


def entry_with_hash(session: Session, entry_hash: str) -> int | None:
    """The id of the entry whose own hash is this (the hash is unique and indexed)."""
    return session.scalar(select(AuditEntry.id).where(AuditEntry.entry_hash == entry_hash))


def head(session: Session) -> tuple[int, str] | None:
    """The id and hash of the newest entry; None while the log is empty."""
    row = session.execute(
        select(AuditEntry.id, AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1)
    ).first()
    return (row[0], row[1]) if row else None


def recent(
    session: Session, limit: int, target: str | None = None, action: str | None = None
) -> list[StoredEntry]:
    """The newest entries first, optionally of one target and/or action."""
    query = select(*_COLUMNS).order_by(AuditEntry.id.desc()).limit(limit)
    if target is not None:
        query = query.where(AuditEntry.target == target)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    return _entries(session, query)


def by_target(
    session: Session, target: str, action: str, since: datetime | None = None
) -> list[StoredEntry]:
    """The entries of one target and action (by the target index), newest first."""
    query = (
        select(*_COLUMNS)
        .where(AuditEntry.target == target, AuditEntry.action == action)
        .order_by(AuditEntry.id.desc())
    )
    if since is not None:
        query = query.where(AuditEntry.at >= _aware(since))
    return _entries(session, query)


def actors_of(session: Session, target: str, action: str, since: datetime) -> Sequence[str]:
    """The distinct actors of one target's entries of one action since a moment."""
    query = (
        select(AuditEntry.actor)
        .where(
            AuditEntry.target == target, AuditEntry.action == action, AuditEntry.at >= _aware(since)
        )
        .distinct()
        .order_by(AuditEntry.actor)
    )
    return session.scalars(query).all()
