"""Watches: a checker subscribes to a subject's changes (issue 7, item 8).

A checker (scope ``watch``) watches a subject; what changes (a record made public, a
list entry or exit, a grade change: ``services.watch_events``) reaches its in-app
feed and, if the watch has a webhook URL, is POSTed there as signed JSON.
Watching a person is a look-up of that person: only a verified checker with a
declared purpose may, and it is logged and shown to the person (``services.access``).

:func:`deliver_due` sends the deliveries whose time has come; a failed one is tried
again after 1 min, 5 min, 30 min, 2 h and 12 h, then given up (``failed``). Every
attempt is logged. It runs from ``trustreg watch deliver`` (cron) and in the server
(:func:`deliver_forever`, setting ``webhook_delivery_seconds``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from trustreg.core.identifiers import mask_identifier, parse_identifier
from trustreg.core.validation import SCHEME_KINDS
from trustreg.core.vocabulary import PERSON_KINDS
from trustreg.errors import Conflict, NotFound
from trustreg.services import access, webhooks
from trustreg.services.accounts import Actor, require
from trustreg.services.clock import Clock
from trustreg.store import queries
from trustreg.store import watches as store
from trustreg.store.db import transaction
from trustreg.store.models import Subject
from trustreg.store.models_watch import Watch, WebhookAttempt, WebhookDelivery
from trustreg.store.watches import aware
from trustreg.store.writes import append_audit

log = logging.getLogger("trustreg.watch")

BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=12),
)
MAX_ATTEMPTS = len(BACKOFF) + 1
# A claimed delivery is not due again for this long: time enough for one POST, and
# the time after which one whose sender died is tried again.
LEASE = timedelta(seconds=webhooks.TIMEOUT_SECONDS * 6)
BATCH = 100
KEEP_DAYS = 90  # finished deliveries are kept this long, then deleted
LOG_LIMIT = 200
WHAT = "watch subjects"


# ------------------------------------------------------------------ managing watches


@dataclass(frozen=True, slots=True)
class WatchRequest:
    """What a checker asks to watch: ``subject`` is an id or ``scheme:value``."""

    subject: str
    webhook_url: str | None = None
    purpose: str | None = None


def create_watch(
    factory: sessionmaker[Session],
    actor: Actor,
    asked: WatchRequest,
    now: datetime,
    *,
    identifier_key: str,
    production: bool,
    channel: str = "watch",
) -> dict[str, Any]:
    """Start watching a subject; the answer carries the signing secret, this once.

    Refuses (before any look-up) a person's number without leave to look persons up;
    a person found by id needs the same leave. Conflict if this account already
    watches the subject.
    """
    require(actor, "watch", WHAT)
    assert actor.account_id is not None  # require() let only accounts through
    url = webhooks.check_url(asked.webhook_url, production) if asked.webhook_url else None
    access.check_purpose(asked.purpose)
    with transaction(factory) as session:
        subject = _subject(session, actor, asked, identifier_key)
        person = subject.kind in PERSON_KINDS
        grant = access.authorise(actor, asked.purpose, subject.id) if person else None
        existing = store.open_watch(session, actor.account_id, subject.id)
        if existing is not None:
            raise Conflict(f"you already watch subject {subject.id} (watch {existing.id})")
        watch = Watch(
            account_id=actor.account_id,
            subject_id=subject.id,
            purpose=asked.purpose or None,
            webhook_url=url,
            secret=webhooks.new_secret(),
            created_at=now,
        )
        session.add(watch)
        session.flush()
        _log_start(session, actor, grant, watch, channel, now)
        return _view(watch, subject.display_name, subject.kind) | {"secret": watch.secret}


def _subject(session: Session, actor: Actor, asked: WatchRequest, key: str) -> Subject:
    text = asked.subject.strip().lstrip("#")
    if text.isdigit():
        subject = session.get(Subject, int(text))
        if subject is None:
            raise NotFound(f"no subject with id {text}")
        return subject
    identifier = parse_identifier(text, "subject")
    if set(SCHEME_KINDS[identifier.scheme]) <= set(PERSON_KINDS):
        # Without leave nobody may learn even whether the registry holds the person.
        access.authorise(actor, asked.purpose)
    found = queries.subject_by_identifier(session, identifier, key)
    if found is None:
        shown = f"{identifier.scheme}:{mask_identifier(identifier)}"
        raise NotFound(f"no subject with identifier {shown} in the registry")
    return found


def _log_start(
    session: Session,
    actor: Actor,
    grant: access.Grant | None,
    watch: Watch,
    channel: str,
    now: datetime,
) -> None:
    """A person's watch is a look-up of the person (``grant``: logged and shown to
    them); any other watch is an audit entry of its own."""
    detail = {"watch": watch.id, "webhook": watch.webhook_url is not None}
    if grant is not None:
        access.log_lookups(session, grant, [(watch.subject_id, detail)], channel, now)
        return
    append_audit(session, actor.label, "watch_started", f"subject:{watch.subject_id}", detail, now)


def list_watches(
    factory: sessionmaker[Session], actor: Actor, ended: bool = False
) -> list[dict[str, Any]]:
    """The actor's watches (open ones; with ``ended`` all), newest first."""
    require(actor, "watch", WHAT)
    assert actor.account_id is not None
    with transaction(factory) as session:
        rows = store.watches_of(session, actor.account_id, ended)
        counts = store.delivery_counts(session, [w.id for w, _, _ in rows])
        return [_view(w, name, kind) | {"deliveries": counts[w.id]} for w, name, kind in rows]


def end_watch(
    factory: sessionmaker[Session], actor: Actor, watch_id: int, now: datetime
) -> dict[str, Any]:
    """Stop watching; deliveries not yet made are given up. Ending twice is harmless."""
    require(actor, "watch", WHAT)
    with transaction(factory) as session:
        watch = _own(session, actor, watch_id)
        if watch.ended_at is None:
            store.end_watch(session, watch, now)
            detail = {"watch": watch.id}
            target = f"subject:{watch.subject_id}"
            append_audit(session, actor.label, "watch_ended", target, detail, now)
        subject = session.get(Subject, watch.subject_id)
        assert subject is not None  # a subject's watches go with it
        return _view(watch, subject.display_name, subject.kind)


def delivery_log(
    factory: sessionmaker[Session], actor: Actor, watch_id: int, limit: int = LOG_LIMIT
) -> dict[str, Any]:
    """A watch and its webhook deliveries, newest first, each with every attempt."""
    require(actor, "watch", WHAT)
    with transaction(factory) as session:
        watch = _own(session, actor, watch_id)
        subject = session.get(Subject, watch.subject_id)
        assert subject is not None
        deliveries = store.deliveries_of(session, watch.id, limit)
        return {
            "watch": _view(watch, subject.display_name, subject.kind),
            "deliveries": [_delivery_view(d, attempts) for d, attempts in deliveries],
        }


def _own(session: Session, actor: Actor, watch_id: int) -> Watch:
    watch = session.get(Watch, watch_id)
    # Another account's watch is "not found": its existence is none of the asker's business.
    if watch is None or watch.account_id != actor.account_id:
        raise NotFound(f"you have no watch {watch_id}")
    return watch


def _moment(value: datetime | None) -> str | None:
    return aware(value).isoformat() if value else None


def _view(watch: Watch, name: str, kind: str) -> dict[str, Any]:
    return {
        "id": watch.id,
        "subject": {"id": watch.subject_id, "name": name, "kind": kind},
        "purpose": watch.purpose,
        "webhook_url": watch.webhook_url,
        "created_at": _moment(watch.created_at),
        "ended_at": _moment(watch.ended_at),
    }


def _delivery_view(delivery: WebhookDelivery, attempts: list[WebhookAttempt]) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "event": delivery.event,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": _moment(delivery.next_attempt_at),
        "last_status": delivery.last_status,
        "last_error": delivery.last_error,
        "created_at": _moment(delivery.created_at),
        "delivered_at": _moment(delivery.delivered_at),
        "payload": json.loads(delivery.payload),
        "log": [
            {
                "at": _moment(a.attempted_at),
                "status": a.status_code,
                "error": a.error,
                "duration_ms": a.duration_ms,
            }
            for a in attempts
        ],
    }


# ------------------------------------------------------------------ delivering


@dataclass
class DeliveryReport:
    """What one delivery run did."""

    attempted: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0


def deliver_due(
    factory: sessionmaker[Session],
    now: datetime,
    send: webhooks.Sender = webhooks.post,
    limit: int = BATCH,
    stop: threading.Event | None = None,
) -> DeliveryReport:
    """Send every pending delivery due by ``now``, one at a time, and log each attempt.

    2xx: delivered. Anything else (another status, a redirect, a refused connection,
    a timeout): tried again after the next step of ``BACKOFF``, and ``failed`` after
    ``MAX_ATTEMPTS``. Each delivery is claimed in its own short transaction before
    it is sent (no transaction is open during the POST), so a cron job and the
    server can run this at the same time without sending anything twice. ``stop``,
    once set, ends the run before the next delivery.
    """
    report = DeliveryReport()
    started = time.monotonic()
    while True:
        with transaction(factory) as session:
            batch = store.due(session, now, limit)
        for delivery in batch:
            if stop is not None and stop.is_set():
                return report
            # Attempts are logged at their real moment: ``now`` plus the time spent.
            moment = now + timedelta(seconds=time.monotonic() - started)
            with transaction(factory) as session:
                if not store.claim(session, delivery, now, moment + LEASE):
                    continue  # another sender took it
            _attempt(factory, delivery, moment, send, report)
        if len(batch) < limit:
            return report


def _attempt(
    factory: sessionmaker[Session],
    delivery: store.Due,
    moment: datetime,
    send: webhooks.Sender,
    report: DeliveryReport,
) -> None:
    body = delivery.payload.encode()
    headers = {
        "X-Trustreg-Signature": webhooks.sign(delivery.secret, body),
        "X-Trustreg-Timestamp": str(int(moment.timestamp())),
        "X-Trustreg-Delivery": str(delivery.id),
        "X-Trustreg-Event": delivery.event,
    }
    answer = send(delivery.url, body, headers)
    attempts = delivery.attempts + 1
    outcome: dict[str, Any] = {"last_status": answer.status, "last_error": answer.error}
    if answer.ok:
        outcome |= {"status": store.DELIVERED, "next_attempt_at": None, "delivered_at": moment}
        report.delivered += 1
    elif attempts >= MAX_ATTEMPTS:
        outcome |= {"status": store.FAILED, "next_attempt_at": None}
        report.failed += 1
    else:
        outcome["next_attempt_at"] = moment + BACKOFF[attempts - 1]
        report.retrying += 1
    report.attempted += 1
    attempt = {
        "attempted_at": moment,
        "status_code": answer.status,
        "error": (answer.error or "")[:500] or None,
        "duration_ms": answer.duration_ms,
    }
    with transaction(factory) as session:
        store.record_attempt(session, delivery.id, attempt, outcome)


def prune_deliveries(
    factory: sessionmaker[Session], now: datetime, keep_days: int = KEEP_DAYS
) -> int:
    """Delete delivered and failed deliveries older than ``keep_days``; returns how many."""
    with transaction(factory) as session:
        return store.prune(session, now - timedelta(days=keep_days))


PRUNE_EVERY = 3600.0  # seconds between prunes in the server


async def deliver_forever(factory: sessionmaker[Session], clock: Clock, interval: float) -> None:
    """The server's background task: deliver what is due every ``interval`` seconds
    (and prune the log hourly) until cancelled. A round runs in a thread; cancelling
    lets it finish the POST under way, so no connection is left open."""
    stop = threading.Event()
    pruned = time.monotonic()
    while True:
        await asyncio.sleep(interval)
        prune = time.monotonic() - pruned >= PRUNE_EVERY
        pruned = time.monotonic() if prune else pruned
        work = asyncio.ensure_future(asyncio.to_thread(_round, factory, clock, prune, stop))
        try:
            await asyncio.shield(work)
        except asyncio.CancelledError:
            stop.set()
            await work
            raise


def _round(
    factory: sessionmaker[Session], clock: Clock, prune: bool, stop: threading.Event
) -> None:
    # A store error is logged and the next round tries again.
    try:
        report = deliver_due(factory, clock.now(), stop=stop)
        if report.attempted:
            log.info("webhooks: %s", report)
        if prune:
            prune_deliveries(factory, clock.now())
    except SQLAlchemyError:
        log.exception("webhook delivery failed; trying again in the next round")
