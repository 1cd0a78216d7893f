"""What a re-evaluation tells the watchers of a subject (issue 7, item 8).

``assessments.refresh`` (imports, status changes, ``maintain``) calls :func:`before`
ahead of storing new assessments and :func:`after` once they are stored, in the same
transaction, so an event exists exactly when the change it reports was committed.
Events:

``record.published``
    a record arrived and is public at once, or its notice period ended;
``list.entered`` / ``list.exited``
    a list entry opened or closed (an entry is its list and entry day);
``grade.changed``
    the stored grade is not the grade it was.

Each event is one notification per watching account (its in-app feed) and one
webhook delivery per watch with a URL (sent later by ``services.watch.deliver_due``).
For subjects nobody watches the cost is one indexed read of ``watches`` per call.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from trustreg.core.rating import Assessment
from trustreg.services import notifications
from trustreg.store import watches as store
from trustreg.store.watches import Standing, Watcher

RECORD_PUBLISHED = "record.published"
LIST_ENTERED = "list.entered"
LIST_EXITED = "list.exited"
GRADE_CHANGED = "grade.changed"
EVENTS = (RECORD_PUBLISHED, LIST_ENTERED, LIST_EXITED, GRADE_CHANGED)


@dataclass(frozen=True, slots=True)
class Watched:
    """The watches among some subjects, and those subjects' standing before a change."""

    watchers: dict[int, list[Watcher]] = field(default_factory=dict)
    standings: dict[int, Standing] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Event:
    subject_id: int
    kind: str
    data: dict[str, Any]
    record_id: int | None = None


def before(session: Session, subject_ids: Iterable[int]) -> Watched:
    """Which of these subjects are watched, and how they stand now (before the change).

    One indexed read when none is; the standing is read only for watched subjects.
    """
    found = store.watchers(session, list(subject_ids))
    if not found:
        return Watched()
    return Watched(found, store.standings(session, list(found)))


def after(
    session: Session, watched: Watched, assessments: Iterable[Assessment], now: datetime
) -> int:
    """Tell the watchers what changed, the new assessments being stored; returns how
    many events there were."""
    if not watched.watchers:
        return 0
    new = {a.subject: standing_of(a) for a in assessments if a.subject in watched.watchers}
    return announce(session, watched, new, now)


def before_range(session: Session, low: int, high: int) -> Watched:
    """:func:`before` for the subjects ``low``..``high`` of a batch re-rating."""
    found = store.watchers_between(session, low, high)
    if not found:
        return Watched()
    return Watched(found, store.standings(session, list(found)))


def after_batch(
    session: Session,
    watched: Watched,
    assessments: Iterable[Mapping[str, Any]],
    memberships: Iterable[tuple[int, str, date, date, str]],
    now: datetime,
) -> int:
    """:func:`after` for a batch re-rating, which holds its results as rows: assessment
    rows (subject_id, grade, points, as_of) and memberships (subject, list, entered,
    scheduled exit, records)."""
    if not watched.watchers:
        return 0
    new = {
        row["subject_id"]: Standing(row["grade"], row["points"], row["as_of"], {})
        for row in assessments
        if row["subject_id"] in watched.watchers
    }
    for subject_id, code, entered, exit_on, _records in memberships:
        if subject_id in new:
            new[subject_id].lists[(code, entered)] = exit_on
    return announce(session, watched, new, now)


def standing_of(assessment: Assessment) -> Standing:
    return Standing(
        assessment.grade,
        assessment.points,
        assessment.as_of,
        {(m.list_code, m.entered_on): m.scheduled_exit for m in assessment.lists},
    )


def announce(session: Session, watched: Watched, new: Mapping[int, Standing], now: datetime) -> int:
    """Compare each watched subject's old and new standing, find its newly public
    records, and tell its watchers."""
    since = {sid: watched.standings[sid].as_of for sid in watched.watchers}
    events = [
        Event(r["subject_id"], RECORD_PUBLISHED, {"record": _record(r)}, r["id"])
        for r in store.records_to_announce(session, since, now.date(), now)
    ]
    for subject_id, standing in sorted(new.items()):
        events += changes(subject_id, watched.standings[subject_id], standing, now.date())
    emit(session, watched.watchers, events, now)
    return len(events)


def changes(subject_id: int, old: Standing, new: Standing, today: date) -> list[Event]:
    """List exits, list entries and a grade change between two standings."""
    events = [
        Event(
            subject_id,
            LIST_EXITED,
            {"list": code, "entered_on": entered.isoformat(), "ended_on": today.isoformat()},
        )
        for (code, entered) in sorted(old.lists.keys() - new.lists.keys())
    ]
    events += [
        Event(
            subject_id,
            LIST_ENTERED,
            {
                "list": code,
                "entered_on": entered.isoformat(),
                "scheduled_exit": new.lists[(code, entered)].isoformat(),
            },
        )
        for (code, entered) in sorted(new.lists.keys() - old.lists.keys())
    ]
    if old.grade is not None and old.grade != new.grade:
        events.append(
            Event(
                subject_id,
                GRADE_CHANGED,
                {
                    "grade": {"from": old.grade, "to": new.grade},
                    "points": {"from": old.points, "to": new.points},
                },
            )
        )
    return events


def emit(
    session: Session,
    watchers: Mapping[int, list[Watcher]],
    events: Iterable[Event],
    now: datetime,
) -> None:
    """One notification per watching account and one delivery per webhook, per event."""
    events = list(events)
    if not events:
        return
    labels = store.subject_labels(session, {e.subject_id for e in events})
    deliveries = []
    for event in events:
        event_id = uuid.uuid4().hex
        detail = {
            "event": event.kind,
            "event_id": event_id,
            "subject": labels[event.subject_id],
            "data": event.data,
        }
        watching = watchers[event.subject_id]
        notifications.notify_accounts(
            session,
            {w.account_id for w in watching},
            notifications.WATCH_EVENT,
            detail,
            now,
            subject_id=event.subject_id,
            record_id=event.record_id,
        )
        deliveries += [
            {
                "watch_id": w.watch_id,
                "event": event.kind,
                "payload": payload(detail, w.watch_id, now),
                "status": store.PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for w in watching
            if w.webhook_url
        ]
    store.add_deliveries(session, deliveries)


def payload(detail: Mapping[str, Any], watch_id: int, now: datetime) -> str:
    """The JSON body of a webhook delivery: the exact text that is signed and sent."""
    body = {**detail, "watch": watch_id, "occurred_at": now.isoformat()}
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _record(row: Mapping[str, Any]) -> dict[str, Any]:
    cents = row["amount_cents"]
    return {
        "id": row["id"],
        "record_type": row["record_type"],
        "authority": row["authority"],
        "reference": row["reference"],
        "decided_on": row["decided_on"],
        "effective_from": row["effective_from"],
        "amount": None if cents is None else f"{cents // 100}.{cents % 100:02d}",
        "currency": row["currency"],
        "status": row["status"],
        "published_from": row["published_from"],
    }
