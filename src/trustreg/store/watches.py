"""Reads and writes of watches, their webhook deliveries and the attempts at each."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Row,
    Select,
    Table,
    and_,
    any_,
    bindparam,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute, Session

from trustreg.core.vocabulary import PERSON_KINDS
from trustreg.store.bulk import bulk_insert
from trustreg.store.models import Assessment, Authority, ListEntry, Record, Subject
from trustreg.store.models_access import Account
from trustreg.store.models_watch import Watch, WebhookAttempt, WebhookDelivery

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


def aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything the registry writes is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Watcher:
    """An open watch as the events need it: whom to tell, where to post."""

    watch_id: int
    account_id: int
    webhook_url: str | None


@dataclass(frozen=True, slots=True)
class Standing:
    """A subject's stored grade and open list entries ((list, entered_on) → exit)."""

    grade: str | None
    points: int | None
    as_of: date | None
    lists: dict[tuple[str, date], date]


def _sqlite_among(column: InstrumentedAttribute[int], ids: list[int]) -> ColumnElement[bool]:
    return column.in_(select(func.json_each(json.dumps(ids)).table_valued("value").c.value))


def _postgresql_among(column: InstrumentedAttribute[int], ids: list[int]) -> ColumnElement[bool]:
    return column == any_(bindparam("ids", ids, type_=ARRAY(BigInteger), unique=True))


AMONG: dict[str, Callable[[InstrumentedAttribute[int], list[int]], ColumnElement[bool]]] = {
    "sqlite": _sqlite_among,
    "postgresql": _postgresql_among,
}


def among(
    session: Session, column: InstrumentedAttribute[int], ids: Collection[int]
) -> ColumnElement[bool]:
    """``column IN ids`` as one bind parameter, however many ids: an expanded IN of
    2,000 ids costs more to render and bind than the query to run (2 ms on SQLite,
    22 ms on PostgreSQL; this way about 1 ms), and every re-evaluated chunk asks."""
    return AMONG[session.get_bind().dialect.name](column, list(ids))


def watchers(session: Session, subject_ids: Collection[int]) -> dict[int, list[Watcher]]:
    """The live watches of these subjects, by subject; one indexed read, usually empty."""
    if not subject_ids:
        return {}
    return _watchers(session, among(session, Watch.subject_id, subject_ids))


def watchers_between(session: Session, low: int, high: int) -> dict[int, list[Watcher]]:
    """The live watches of subjects ``low``..``high`` (a batch range), by subject."""
    return _watchers(session, Watch.subject_id.between(low, high))


def _watchers(session: Session, subjects: ColumnElement[bool]) -> dict[int, list[Watcher]]:
    """Open watches of accounts not disabled; a person's only while its checker is
    still verified (the leave to look at persons).

    The accounts are read only once some watch is found: the usual answer, none, then
    costs one read of the watches' subject index.
    """
    open_ids = list(session.scalars(select(Watch.id).where(subjects, Watch.ended_at.is_(None))))
    if not open_ids:
        return {}
    rows = session.execute(
        select(Watch.subject_id, Watch.id, Watch.account_id, Watch.webhook_url)
        .join(Account, Account.id == Watch.account_id)
        .join(Subject, Subject.id == Watch.subject_id)
        .where(
            Watch.id.in_(open_ids),
            Account.disabled_at.is_(None),
            or_(Subject.kind.not_in(PERSON_KINDS), Account.verified_at.is_not(None)),
        )
    )
    found: dict[int, list[Watcher]] = {}
    for subject_id, watch_id, account_id, url in rows:
        found.setdefault(subject_id, []).append(Watcher(watch_id, account_id, url))
    return found


def standings(session: Session, subject_ids: Collection[int]) -> dict[int, Standing]:
    """The stored assessment and open list entries of these (few, watched) subjects."""
    found = {sid: Standing(None, None, None, {}) for sid in subject_ids}
    rows = session.execute(
        select(Assessment.subject_id, Assessment.grade, Assessment.points, Assessment.as_of).where(
            Assessment.subject_id.in_(list(subject_ids))
        )
    )
    for subject_id, grade, points, as_of in rows:
        found[subject_id] = Standing(grade, points, as_of, {})
    entries = session.execute(
        select(
            ListEntry.subject_id,
            ListEntry.list_code,
            ListEntry.entered_on,
            ListEntry.scheduled_exit,
        ).where(ListEntry.subject_id.in_(list(subject_ids)), ListEntry.ended_on.is_(None))
    )
    for subject_id, code, entered_on, scheduled_exit in entries:
        found[subject_id].lists[(code, entered_on)] = scheduled_exit
    return found


def subject_labels(session: Session, subject_ids: Collection[int]) -> dict[int, dict[str, Any]]:
    """Id, display name and kind of each subject: how an event names it."""
    rows = session.execute(
        select(Subject.id, Subject.display_name, Subject.kind).where(
            Subject.id.in_(list(subject_ids))
        )
    )
    return {sid: {"id": sid, "name": name, "kind": kind} for sid, name, kind in rows}


def records_to_announce(
    session: Session, since: Mapping[int, date | None], today: date, now: datetime
) -> list[dict[str, Any]]:
    """Records of these subjects that became public in this transaction.

    Either created now (``created_at == now``, this transaction's moment) with no
    notice left, or held back by a notice period that ended after the subject's last
    evaluation (``since``) and by today. Ordered by record id.
    """
    if not since:
        return []
    found = []
    for row in session.execute(_announced(since, today, now)):
        published = row.published_from
        subject_since = since[row.subject_id]
        if aware(row.created_at) != now and (
            subject_since is None or published is None or published <= subject_since
        ):
            continue  # another subject's window let it through
        found.append(_record(row))
    return found


def _announced(
    since: Mapping[int, date | None], today: date, now: datetime
) -> Select[*tuple[Any, ...]]:
    fresh = and_(
        Record.created_at == now,
        or_(Record.published_from.is_(None), Record.published_from <= today),
    )
    days = [d for d in since.values() if d is not None]
    noticed = and_(
        Record.created_at < now,
        Record.published_from <= today,
        Record.published_from > min(days, default=today),
    )
    return (
        select(
            Record.subject_id,
            Record.id,
            Record.record_type,
            Authority.code,
            Record.reference,
            Record.decided_on,
            Record.effective_from,
            Record.amount_cents,
            Record.currency,
            Record.status,
            Record.published_from,
            Record.created_at,
        )
        .join(Authority, Authority.id == Record.authority_id)
        .where(Record.subject_id.in_(list(since)), or_(fresh, noticed))
        .order_by(Record.id)
    )


def _record(row: Row[*tuple[Any, ...]]) -> dict[str, Any]:
    published = row.published_from
    return {
        "subject_id": row.subject_id,
        "id": row.id,
        "record_type": row.record_type,
        "authority": row.code,
        "reference": row.reference,
        "decided_on": row.decided_on.isoformat(),
        "effective_from": row.effective_from.isoformat(),
        "amount_cents": row.amount_cents,
        "currency": row.currency,
        "status": row.status,
        "published_from": published.isoformat() if published else None,
    }


def add_deliveries(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    bulk_insert(session, cast(Table, WebhookDelivery.__table__), rows)


# ------------------------------------------------------------------ managing watches


def open_watch(session: Session, account_id: int, subject_id: int) -> Watch | None:
    return session.scalar(
        select(Watch).where(
            Watch.account_id == account_id,
            Watch.subject_id == subject_id,
            Watch.ended_at.is_(None),
        )
    )


def watches_of(session: Session, account_id: int, ended: bool) -> list[tuple[Watch, str, str]]:
    """An account's watches (open ones, or all), newest first, with each subject's name
    and kind."""
    query = (
        select(Watch, Subject.display_name, Subject.kind)
        .join(Subject, Subject.id == Watch.subject_id)
        .where(Watch.account_id == account_id)
        .order_by(Watch.id.desc())
    )
    if not ended:
        query = query.where(Watch.ended_at.is_(None))
    return [(w, name, kind) for w, name, kind in session.execute(query)]


def delivery_counts(session: Session, watch_ids: Collection[int]) -> dict[int, dict[str, int]]:
    """Per watch, how many deliveries are pending, delivered and failed."""
    counts: dict[int, dict[str, int]] = {
        w: {PENDING: 0, DELIVERED: 0, FAILED: 0} for w in watch_ids
    }
    if not watch_ids:
        return counts
    rows = session.execute(
        select(WebhookDelivery.watch_id, WebhookDelivery.status, func.count())
        .where(WebhookDelivery.watch_id.in_(list(watch_ids)))
        .group_by(WebhookDelivery.watch_id, WebhookDelivery.status)
    )
    for watch_id, status, count in rows:
        counts[watch_id][status] = count
    return counts


def end_watch(session: Session, watch: Watch, now: datetime) -> int:
    """End a watch; its pending deliveries fail with the reason. Returns how many."""
    watch.ended_at = now
    done = session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.watch_id == watch.id, WebhookDelivery.status == PENDING)
        .values(status=FAILED, next_attempt_at=None, last_error="the watch was ended")
    )
    return int(getattr(done, "rowcount", 0) or 0)


def deliveries_of(
    session: Session, watch_id: int, limit: int
) -> list[tuple[WebhookDelivery, list[WebhookAttempt]]]:
    """A watch's deliveries, newest first, each with its attempts in order."""
    deliveries = list(
        session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.watch_id == watch_id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        )
    )
    attempts: dict[int, list[WebhookAttempt]] = {d.id: [] for d in deliveries}
    if deliveries:
        for attempt in session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(list(attempts)))
            .order_by(WebhookAttempt.delivery_id, WebhookAttempt.id)
        ):
            attempts[attempt.delivery_id].append(attempt)
    return [(d, attempts[d.id]) for d in deliveries]


# ------------------------------------------------------------------ delivering


@dataclass(frozen=True, slots=True)
class Due:
    """A delivery to attempt now."""

    id: int
    url: str
    secret: str
    event: str
    payload: str
    attempts: int


def due(session: Session, now: datetime, limit: int) -> list[Due]:
    """Pending deliveries whose next attempt has come, oldest first."""
    rows = session.execute(
        select(
            WebhookDelivery.id,
            Watch.webhook_url,
            Watch.secret,
            WebhookDelivery.event,
            WebhookDelivery.payload,
            WebhookDelivery.attempts,
        )
        .join(Watch, Watch.id == WebhookDelivery.watch_id)
        .where(
            WebhookDelivery.next_attempt_at <= now,
            WebhookDelivery.status == PENDING,
            Watch.webhook_url.is_not(None),
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
    )
    # The join and the WHERE make the URL present.
    return [Due(r[0], str(r[1]), r[2], r[3], r[4], r[5]) for r in rows]


def claim(session: Session, delivery: Due, now: datetime, until: datetime) -> bool:
    """Take a due delivery for one attempt: its next attempt moves to ``until``, so a
    second sender (the server and a cron job at once) finds it no longer due."""
    done = session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery.id,
            WebhookDelivery.status == PENDING,
            WebhookDelivery.attempts == delivery.attempts,
            WebhookDelivery.next_attempt_at <= now,
        )
        .values(next_attempt_at=until)
    )
    return int(getattr(done, "rowcount", 0) or 0) == 1


def record_attempt(
    session: Session,
    delivery_id: int,
    attempt: Mapping[str, Any],
    outcome: Mapping[str, Any],
) -> None:
    """Log one attempt and set the delivery's new state (``outcome``: status,
    next_attempt_at, delivered_at, last_status, last_error)."""
    session.add(WebhookAttempt(delivery_id=delivery_id, **attempt))
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id)
        .values(attempts=WebhookDelivery.attempts + 1, **outcome)
    )


def prune(session: Session, before: datetime) -> int:
    """Delete finished deliveries (and their attempts) made before ``before``."""
    done = session.execute(
        delete(WebhookDelivery).where(
            WebhookDelivery.created_at < before, WebhookDelivery.status != PENDING
        ),
        execution_options={"synchronize_session": False},
    )
    return int(getattr(done, "rowcount", 0) or 0)
