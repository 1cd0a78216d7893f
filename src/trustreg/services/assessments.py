"""Keeping assessments current, answering "as of" questions, and daily maintenance.

The core decides (``core.rating``); this module loads record versions, calls it,
and stores the outcome: the subject's current assessment, its list entries (opened
and closed on time) and the records whose publicity has ended (marked expired).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from trustreg.core.rating import Assessment, evaluate, facts_as_known, schedule
from trustreg.errors import NotFound, ValidationError
from trustreg.services import retention, watch_events
from trustreg.services.retention import RetentionReport
from trustreg.store import assessments as store
from trustreg.store import queries
from trustreg.store.db import make_way, transaction
from trustreg.store.models import Subject
from trustreg.store.writes import append_audit

# Subjects re-evaluated per transaction: it holds the write lock, so a short one.
MAINTAIN_CHUNK = 500


def assess(
    session: Session,
    subject_id: int,
    as_of: date,
    known_at: datetime | None = None,
    version: str | None = None,
) -> Assessment:
    """The subject's standing on ``as_of`` as the registry knew it at ``known_at``.

    Without ``known_at``: with everything known now. The rulebook is the one in force
    on ``as_of`` (among those loaded by ``known_at``) unless a version is named.
    """
    if session.get(Subject, subject_id) is None:
        raise NotFound(f"no subject with id {subject_id}")
    rulebook = (
        queries.rulebook_version(session, version)
        if version
        else queries.rulebook_in_force(session, as_of, known_at)
    )
    versions = store.record_versions(session, [subject_id])[subject_id]
    return evaluate(subject_id, facts_as_known(versions, as_of, known_at), rulebook, as_of)


def refresh(
    session: Session,
    subject_ids: Collection[int],
    now: datetime,
    expire: bool = False,
    fresh: Collection[int] = (),
) -> int:
    """Re-evaluate these subjects as of today, in the caller's transaction.

    List entries are opened and closed and the stored assessments replaced. With
    ``expire`` (what ``maintain`` does), records whose publicity has ended are also
    marked expired. ``fresh`` subjects were created in this transaction. Returns how
    many records expired.
    """
    if not subject_ids:
        return 0
    store.lock_subjects(session, subject_ids)  # a concurrent import or maintain waits
    today = now.date()
    rulebook = queries.rulebook_in_force(session, today)
    current = store.current_facts(session, subject_ids)
    watched = watch_events.before(session, subject_ids)  # empty when nobody watches
    results = []
    ended: list[tuple[int, date]] = []
    for subject_id in subject_ids:
        facts = current[subject_id]
        upcoming, overdue = schedule(facts, rulebook, today)
        ended += overdue if expire else []
        assessment = evaluate(subject_id, facts, rulebook, today)
        # Records whose publicity has ended but are not yet marked: due for maintain today.
        results.append((assessment, today if overdue and not expire else upcoming))
    store.expire_records(session, ended, now)
    store.replace_assessments(session, results, now)
    store.sync_list_entries(session, [a for a, _ in results], today, fresh)
    watch_events.after(session, watched, [a for a, _ in results], now)
    return len(ended)


@dataclass(frozen=True, slots=True)
class MaintainReport:
    subjects: int
    expired: int
    retention: RetentionReport = field(default_factory=RetentionReport)


def maintain(factory: sessionmaker[Session], now: datetime | None = None) -> MaintainReport:
    """Expire records past their publicity, end listings past their period,
    re-evaluate only the subjects whose assessment changes by itself today, and delete
    the personal data whose retention has passed (``services.retention``).

    Idempotent and safe from cron: a second run the same day finds nothing to do.
    Subjects that have no assessment yet (e.g. from before this version) get one.
    """
    now = now or datetime.now(UTC)
    with transaction(factory) as session:
        due = store.due_subjects(session, now.date()) + store.unassessed_subjects(session)
    expired = 0
    for start in range(0, len(due), MAINTAIN_CHUNK):
        if start:
            make_way(factory)  # imports and submissions go on meanwhile
        with transaction(factory) as session:
            expired += refresh(session, due[start : start + MAINTAIN_CHUNK], now, expire=True)
    if due:
        with transaction(factory) as session:
            counts = {"subjects": len(due), "expired": expired}
            append_audit(session, "registry", "maintain", "registry", counts, now)
    return MaintainReport(len(due), expired, retention.purge(factory, now))


def subject_assessment(
    factory: sessionmaker[Session],
    subject_id: int,
    as_of: date | None = None,
    known_at: datetime | None = None,
    version: str | None = None,
) -> dict[str, Any]:
    """An assessment as JSON-ready data (the API and the CLI show this)."""
    now = datetime.now(UTC)
    as_of = as_of or now.date()
    known_at = moment(known_at, now)
    with transaction(factory) as session:
        result = assess(session, subject_id, as_of, known_at, version).to_dict()
    result["known_at"] = (known_at or now).isoformat()
    return result


def moment(known_at: datetime | None, now: datetime) -> datetime | None:
    """A ``known_at`` as asked (naive means UTC); ValidationError if it is to come."""
    if known_at is not None and known_at.tzinfo is None:
        known_at = known_at.replace(tzinfo=UTC)
    if known_at is not None and known_at > now:
        raise ValidationError("known_at", "is in the future; nothing is known of it yet")
    return known_at
