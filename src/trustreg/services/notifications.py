"""Notifications: what the registry tells a subject or an account, in the app.

A notification to a **subject** (``notify_subject``) is read by every representative
linked to it (notice of a new record, a dispute's decision, a repair decision); one
to an **account** (``notify_account``) by that account alone (a watched subject's
change, a decision about a subject it checked). ``feed`` reads them newest first.
Kinds are short codes (``NOTICE``, ``DISPUTE_DECIDED``, …); ``detail`` carries the
data the page shows, never a full person identifier.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from trustreg.services.accounts import Actor
from trustreg.store.db import transaction
from trustreg.store.models_access import Notification

NOTICE = "record_notice"
DISPUTE_DECIDED = "dispute_decided"
REPAIR_DECIDED = "repair_decided"
WATCH_EVENT = "watch_event"
FEED_LIMIT = 200


def notify_subject(
    session: Session,
    subject_id: int,
    kind: str,
    detail: Mapping[str, Any],
    now: datetime,
    record_id: int | None = None,
) -> None:
    """Tell a subject (its representatives read it), in the caller's transaction."""
    session.add(
        Notification(
            subject_id=subject_id,
            record_id=record_id,
            kind=kind,
            detail=dict(detail),
            created_at=now,
        )
    )


def notify_accounts(
    session: Session,
    account_ids: Iterable[int],
    kind: str,
    detail: Mapping[str, Any],
    now: datetime,
    subject_id: int | None = None,
    record_id: int | None = None,
) -> int:
    """Tell each of these accounts; returns how many were told."""
    told = 0
    for account_id in sorted(set(account_ids)):
        session.add(
            Notification(
                account_id=account_id,
                subject_id=subject_id,
                record_id=record_id,
                kind=kind,
                detail=dict(detail),
                created_at=now,
            )
        )
        told += 1
    return told


def feed(
    factory: sessionmaker[Session], actor: Actor, limit: int = FEED_LIMIT
) -> list[dict[str, Any]]:
    """What this actor has been told, newest first: its own notifications and, for a
    representative, those of the subjects it speaks for."""
    if actor.account_id is None:
        return []
    mine = Notification.account_id == actor.account_id
    for_subjects = Notification.account_id.is_(None) & Notification.subject_id.in_(
        actor.subject_ids or {-1}
    )
    condition = or_(mine, for_subjects) if actor.role == "representative" else mine
    with transaction(factory) as session:
        rows = session.scalars(
            select(Notification).where(condition).order_by(Notification.id.desc()).limit(limit)
        )
        return [_view(n) for n in rows]


def mark_read(factory: sessionmaker[Session], actor: Actor, now: datetime | None = None) -> None:
    """Mark the actor's own notifications read."""
    if actor.account_id is None:
        return
    with transaction(factory) as session:
        session.execute(
            update(Notification)
            .where(Notification.account_id == actor.account_id, Notification.read_at.is_(None))
            .values(read_at=now or datetime.now(UTC))
        )


def _view(n: Notification) -> dict[str, Any]:
    created = n.created_at if n.created_at.tzinfo else n.created_at.replace(tzinfo=UTC)
    return {
        "id": n.id,
        "kind": n.kind,
        "subject": n.subject_id,
        "record": n.record_id,
        "detail": n.detail,
        "created_at": created.isoformat(),
        "read": n.read_at is not None,
    }
