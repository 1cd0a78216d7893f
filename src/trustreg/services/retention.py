"""Retention: a person's record goes once its time is up, and the person with the last.

A record about a person (subject kinds ``individual`` and ``foreign_individual``) is
kept for its record type's ``retention_days`` after its publicity ends
(``core.rating.publicity_end``; a revoked record stopped being published when it was
revoked). Then :func:`purge`, run by ``trustreg maintain``, deletes it with its status
history and every row that goes with it (``store.purge`` names the tables). A person
left with no record goes too: identifiers, names, assessment, list entries, the
subject. Records of companies and other organisations are not personal data: they
stay.

Each run that deletes anything first appends one audit entry ``retention_purge`` per
record type, holding counts and record ids only. If a run stops half-way, its entries
overstate what went; the next run deletes the rest and names it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from trustreg.core.rating import ENDING_STATUSES, VOID_STATUSES, RecordFact, publicity_end
from trustreg.core.rulebook import RecordType
from trustreg.store import purge as store
from trustreg.store import queries
from trustreg.store.db import make_way, transaction
from trustreg.store.writes import append_audit

RETENTION_CHUNK = 1000
# At most this many records per run, so that one run's audit entries and memory stay
# bounded (the first run after years of records); the next run goes on.
MAX_RECORDS_PER_RUN = 500_000
# Statuses whose publicity may end before the full period (satisfied: for the types
# published only until satisfied).
_ENDED = sorted(ENDING_STATUSES | VOID_STATUSES | {"satisfied"})


@dataclass(slots=True)
class RetentionReport:
    """What one run deleted."""

    records: int = 0
    subjects: int = 0
    by_type: dict[str, int] = field(default_factory=dict)  # records per record type
    rows: dict[str, int] = field(default_factory=dict)  # rows deleted per table
    more: bool = False  # stopped at MAX_RECORDS_PER_RUN: more may be due


def purge_day(fact: RecordFact, rule: RecordType) -> date:
    """The day a record's personal data is due to be deleted."""
    end = publicity_end(fact, rule)
    if fact.status in VOID_STATUSES:
        end = min(end, fact.status_since or fact.effective_from)
    return end + timedelta(days=rule.retention_days)


def purge(
    factory: sessionmaker[Session],
    now: datetime,
    chunk: int = RETENTION_CHUNK,
    limit: int = MAX_RECORDS_PER_RUN,
) -> RetentionReport:
    """Delete the persons' records whose retention has passed on ``now``'s day, and
    the persons left without records. Idempotent: a second run finds nothing."""
    today = now.date()
    with transaction(factory) as session:
        rules = _rules(session, today)
    plan, more = _plan(factory, rules, today, chunk, limit)
    report = RetentionReport(more=more)
    if not plan:
        return report
    departing = _departing(factory, plan, chunk)
    with transaction(factory) as session:
        for code, ids in sorted(plan.items()):
            detail = {
                "as_of": today.isoformat(),
                "records": len(ids),
                "record_ids": ids,
                "subjects": departing.get(code, 0),
            }
            append_audit(session, "registry", "retention_purge", f"record_type:{code}", detail, now)
    ids = sorted(i for found in plan.values() for i in found)
    for start in range(0, len(ids), chunk):
        if start:
            make_way(factory)  # imports and submissions go on meanwhile
        with transaction(factory) as session:
            _purge_chunk(session, rules, today, ids[start : start + chunk], report)
    return report


def _rules(session: Session, today: date) -> dict[str, RecordType]:
    """Each record type as the rulebook in force defines it; a type it no longer has,
    as the newest version that had it."""
    rules = dict(queries.rulebook_in_force(session, today).record_types)
    for version, _effective, _loaded in reversed(queries.rulebook_versions(session)):
        for code, rule in queries.rulebook_version(session, version).record_types.items():
            rules.setdefault(code, rule)
    return rules


def _due(candidate: store.Candidate, rules: dict[str, RecordType], today: date) -> bool:
    rule = rules.get(candidate.record_type)
    if rule is None:
        return False  # no rule has ever said how long to keep it: keep it
    fact = RecordFact(
        candidate.id,
        candidate.record_type,
        candidate.effective_from,
        candidate.status,
        candidate.status_since,
    )
    return purge_day(fact, rule) <= today


def _plan(
    factory: sessionmaker[Session],
    rules: dict[str, RecordType],
    today: date,
    chunk: int,
    limit: int,
) -> tuple[dict[str, list[int]], bool]:
    """The due records by type (ids ascending), read a chunk at a time; and whether
    the run stopped at ``limit``."""
    plan: dict[str, list[int]] = {}
    if not rules:
        return plan, False
    # Necessary conditions over every type at once; each record is then decided exactly.
    effective_by = today - timedelta(
        days=min(r.publicity_days + r.retention_days for r in rules.values())
    )
    ended_by = today - timedelta(days=min(r.retention_days for r in rules.values()))
    after, count = 0, 0
    while True:
        with transaction(factory) as session:
            found = store.candidates(session, after, chunk, effective_by, _ENDED, ended_by)
        for candidate in found:
            if _due(candidate, rules, today):
                plan.setdefault(candidate.record_type, []).append(candidate.id)
                count += 1
        if len(found) < chunk:
            return plan, False
        if count >= limit:
            return plan, True
        after = found[-1].id


def _departing(
    factory: sessionmaker[Session], plan: dict[str, list[int]], chunk: int
) -> dict[str, int]:
    """How many persons lose their last record, by the type of the last one purged."""
    type_of = {i: code for code, ids in plan.items() for i in ids}
    by_subject: dict[int, list[int]] = {}
    with transaction(factory) as session:
        record_ids = sorted(type_of)
        for start in range(0, len(record_ids), chunk):
            for c in store.records_by_id(session, record_ids[start : start + chunk]):
                by_subject.setdefault(c.subject_id, []).append(c.id)
        subject_ids = sorted(by_subject)
        held: dict[int, int] = {}
        for start in range(0, len(subject_ids), chunk):
            for subject_id, _record in store.records_of(
                session, subject_ids[start : start + chunk]
            ):
                held[subject_id] = held.get(subject_id, 0) + 1
    counts: dict[str, int] = {}
    for subject_id, ids in by_subject.items():
        if held.get(subject_id, 0) == len(ids):
            code = type_of[max(ids)]
            counts[code] = counts.get(code, 0) + 1
    return counts


def _purge_chunk(
    session: Session,
    rules: dict[str, RecordType],
    today: date,
    record_ids: Sequence[int],
    report: RetentionReport,
) -> None:
    """Delete these records if still due (read again: an import may have changed one),
    then the persons left without records, then listings that rested only on them."""
    due = [c for c in store.records_by_id(session, record_ids) if _due(c, rules, today)]
    if not due:
        return
    _add(report.rows, store.delete_records(session, [c.id for c in due]))
    subjects = sorted({c.subject_id for c in due})
    gone = store.delete_persons(session, subjects)
    _add(report.rows, gone)
    existing = {record for _subject, record in store.records_of(session, subjects)}
    stale = [
        listing
        for listing, records in store.closed_listings_of(session, subjects)
        if records and not existing.intersection(records)
    ]
    _add(report.rows, {"list_entries": store.delete_listings(session, stale)})
    report.records += len(due)
    report.subjects += gone.get("subjects", 0)
    for c in due:
        report.by_type[c.record_type] = report.by_type.get(c.record_type, 0) + 1


def _add(total: dict[str, int], counts: dict[str, int]) -> None:
    for table, n in counts.items():
        if n:
            total[table] = total.get(table, 0) + n
