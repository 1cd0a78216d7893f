"""Ratings and list memberships, derived from records by the rulebook (pure).

:func:`evaluate` takes a subject's records, a rulebook and a date and returns an
:class:`Assessment`: points, grade, the lists the subject is on, and one explanation
line per contribution (the starting points first), which always sum to the points.
No I/O and no clock: the same inputs give the same answer in the web app, the CLI and
the batch jobs.

Time. A record counts from its ``effective_from`` until its publicity ends
(``publicity_days`` later; for ``public_until_satisfied`` types also when it is
satisfied; for every type when it is repaired), but not before ``published_from``,
the day its notice period ends (see :func:`counts_from`). A void record (revoked by
its authority, suspended pending a dispute decision, removed after a dispute) never
counts. The caller passes each record's status *as of the evaluation date*, with the
date that status began (``status_since``); which facts were known when is the
caller's business (see ``services.assessments``), so the core stays a function of
its inputs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from trustreg.core.rulebook import RecordType, Rulebook

# Revoked by its authority; suspended from publication because a dispute's deadline
# passed without a decision; removed by a reviewer's decision on a dispute.
VOID_STATUSES = frozenset({"revoked", "suspended", "removed"})
ENDING_STATUSES = frozenset({"repaired", "expired"})


@dataclass(frozen=True, slots=True)
class RecordFact:
    """What evaluation needs to know of one record."""

    id: int
    record_type: str
    effective_from: date
    status: str = "active"
    status_since: date | None = None  # when the status began; None: effective_from
    reference: str = ""
    authority: str = ""
    # The first day it may be published: the end of its notice period (None: no notice).
    published_from: date | None = None


def counts_from(fact: RecordFact) -> date:
    """The first day a record counts: when it takes effect, or when its notice period
    ends if that is later."""
    if fact.published_from is None or fact.published_from <= fact.effective_from:
        return fact.effective_from
    return fact.published_from


@dataclass(frozen=True, slots=True)
class ExplanationLine:
    """One contribution to the points: the record, the rule and its legal basis."""

    points: int
    label: str  # the rule's titles, or "starting points"
    record_id: int | None = None
    record_type: str | None = None
    legal_basis: str | None = None
    reference: str = ""
    effective_from: date | None = None
    note: str = ""

    @property
    def text(self) -> str:
        """The line in words. Built on request: keeping assessments current evaluates
        many subjects whose explanation nobody reads."""
        if self.effective_from is None:
            return self.label
        reference = f" {self.reference}" if self.reference else ""
        return (
            f"{self.label}{reference}, effective {self.effective_from.isoformat()}: "
            f"{self.points:+d}{self.note}"
        )


@dataclass(frozen=True, slots=True)
class ListMembership:
    list_code: str
    entered_on: date
    scheduled_exit: date
    record_ids: tuple[int, ...]
    legal_basis: str


@dataclass(frozen=True, slots=True)
class Assessment:
    subject: int
    as_of: date
    rulebook_version: str
    points: int
    grade: str
    lists: tuple[ListMembership, ...]
    explanation: tuple[ExplanationLine, ...]

    def to_dict(self) -> dict[str, Any]:
        """The assessment as JSON-ready data."""
        return {
            "subject": self.subject,
            "as_of": self.as_of.isoformat(),
            "rulebook_version": self.rulebook_version,
            "points": self.points,
            "grade": self.grade,
            "lists": [
                {
                    "list": m.list_code,
                    "entered_on": m.entered_on.isoformat(),
                    "scheduled_exit": m.scheduled_exit.isoformat(),
                    "records": list(m.record_ids),
                    "legal_basis": m.legal_basis,
                }
                for m in self.lists
            ],
            "explanation": [
                {
                    "points": line.points,
                    "text": line.text,
                    "record": line.record_id,
                    "record_type": line.record_type,
                    "legal_basis": line.legal_basis,
                }
                for line in self.explanation
            ],
        }


@dataclass(frozen=True, slots=True)
class RecordVersion:
    """One history entry of a record: the record as it stood from ``recorded_at`` on."""

    record_id: int
    entry_id: int
    recorded_at: datetime
    record_type: str
    effective_from: date
    status: str
    status_since: date
    reference: str = ""
    # Set once, when the record arrives (its notice period's end); the same in every
    # version, and known exactly when the record is.
    published_from: date | None = None


def facts_as_known(
    versions: Iterable[RecordVersion], as_of: date, known_at: datetime | None = None
) -> list[RecordFact]:
    """The facts to evaluate on ``as_of``, using only what was recorded by ``known_at``.

    For each record: its type and effective date come from its latest version recorded
    by ``known_at``; its status is that of the latest such version whose status had
    taken effect by ``as_of`` (so a later satisfaction does not reach back). A record
    with no version recorded by ``known_at`` was unknown then and is left out. The
    batch job (``batch/rate.py``) applies the same rule in SQL.
    """
    latest: dict[int, RecordVersion] = {}
    status: dict[int, RecordVersion] = {}
    for version in versions:
        if known_at is not None and version.recorded_at > known_at:
            continue
        key = (version.recorded_at, version.entry_id)
        current = latest.get(version.record_id)
        if current is None or key > (current.recorded_at, current.entry_id):
            latest[version.record_id] = version
        if version.status_since <= as_of:
            held = status.get(version.record_id)
            if held is None or key > (held.recorded_at, held.entry_id):
                status[version.record_id] = version
    facts = []
    for record_id, version in latest.items():
        state = status.get(record_id, version)
        facts.append(
            RecordFact(
                id=record_id,
                record_type=version.record_type,
                effective_from=version.effective_from,
                status=state.status if record_id in status else "active",
                status_since=state.status_since if record_id in status else None,
                reference=version.reference,
                published_from=version.published_from,
            )
        )
    return facts


def publicity_end(fact: RecordFact, rule: RecordType) -> date:
    """The first day the record is no longer published."""
    end = fact.effective_from + timedelta(days=rule.publicity_days)
    since = fact.status_since or fact.effective_from
    if fact.status in ENDING_STATUSES or (
        fact.status == "satisfied" and rule.public_until_satisfied
    ):
        end = min(end, since)
    return end


def evaluate(
    subject: int, records: Iterable[RecordFact], rulebook: Rulebook, as_of: date
) -> Assessment:
    """Points, grade, list memberships and explanation of one subject on ``as_of``."""
    facts = sorted(
        (r for r in records if counts_from(r) <= as_of and r.status not in VOID_STATUSES),
        key=lambda r: (r.effective_from, r.id),
    )
    start = rulebook.rating.starting_points
    lines = [ExplanationLine(start, "starting points")]
    per_type: dict[str, int] = {}
    intervals: dict[str, list[tuple[date, date, int, bool]]] = {}
    for fact in facts:
        rule = rulebook.record_types.get(fact.record_type)
        if rule is None:
            continue  # a type this rulebook version does not know has no effect under it
        end = publicity_end(fact, rule)
        if as_of >= end:
            continue
        lines.append(_contribution(fact, rule, per_type))
        for effect in rule.list_effects:
            exit_on = min(end, fact.effective_from + timedelta(days=effect.listing_days))
            if effect.exit_when_satisfied and fact.status == "satisfied":
                exit_on = min(exit_on, fact.status_since or fact.effective_from)
            # Listed once published; the notice period does not lengthen the listing.
            intervals.setdefault(effect.list_code, []).append(
                (counts_from(fact), exit_on, fact.id, effect.extendable)
            )
    points = sum(line.points for line in lines)
    return Assessment(
        subject=subject,
        as_of=as_of,
        rulebook_version=rulebook.version,
        points=points,
        grade=rulebook.rating.grade(points),
        lists=_memberships(intervals, rulebook, as_of),
        explanation=tuple(lines),
    )


def _contribution(fact: RecordFact, rule: RecordType, per_type: dict[str, int]) -> ExplanationLine:
    so_far = per_type.get(rule.code, 0)
    points = rule.points
    note = ""
    if rule.points_cap is not None:
        room = rule.points_cap - so_far
        limited = max(points, room) if points < 0 else min(points, room)
        if limited != points:
            note = f"; capped: {rule.code} counts at most {rule.points_cap} in all"
            points = limited
    per_type[rule.code] = so_far + points
    if rule.points == 0 and not rule.indicates_dishonesty:
        note += "; no points: not a sign of dishonesty"
    return ExplanationLine(
        points=points,
        label=rule.explanation_label,
        record_id=fact.id,
        record_type=rule.code,
        legal_basis=rule.legal_basis,
        reference=fact.reference,
        effective_from=fact.effective_from,
        note=note,
    )


def _memberships(
    intervals: dict[str, list[tuple[date, date, int, bool]]], rulebook: Rulebook, as_of: date
) -> tuple[ListMembership, ...]:
    """Merge each list's overlapping listing periods and keep those covering ``as_of``.

    A decision made while listed joins the listing; it extends it only if its list
    effect is ``extendable``.
    """
    memberships = []
    for code in sorted(intervals):
        chain_start: date | None = None
        chain_end = as_of
        chain_ids: list[int] = []
        for start, end, record_id, extendable in sorted(intervals[code]):
            if start >= end:
                continue  # satisfied or ended before it began
            if chain_start is None or start > chain_end:
                if chain_start is not None and chain_start <= as_of < chain_end:
                    break
                chain_start, chain_end, chain_ids = start, end, [record_id]
            else:
                chain_end = max(chain_end, end) if extendable else chain_end
                chain_ids.append(record_id)
        if chain_start is not None and chain_start <= as_of < chain_end:
            listed = rulebook.lists[code]
            memberships.append(
                ListMembership(code, chain_start, chain_end, tuple(chain_ids), listed.legal_basis)
            )
    return tuple(memberships)


def schedule(
    facts: Iterable[RecordFact], rulebook: Rulebook, as_of: date
) -> tuple[date | None, list[tuple[int, date]]]:
    """In one pass: the next day the assessment changes by itself (see ``next_change``)
    and the records still marked published whose publicity has ended, with the day
    it ended (what ``maintain`` marks expired)."""
    upcoming: date | None = None
    ended: list[tuple[int, date]] = []
    for fact in facts:
        if fact.status in VOID_STATUSES:
            continue
        rule = rulebook.record_types.get(fact.record_type)
        if rule is None:
            continue
        end = publicity_end(fact, rule)
        if end <= as_of and fact.status not in ENDING_STATUSES:
            ended.append((fact.id, end))
        days = [counts_from(fact), end]
        days.extend(
            fact.effective_from + timedelta(days=effect.listing_days)
            for effect in rule.list_effects
        )
        for day in days:
            if day > as_of and (upcoming is None or day < upcoming):
                upcoming = day
    return upcoming, ended


def next_change(facts: Iterable[RecordFact], rulebook: Rulebook, as_of: date) -> date | None:
    """The first day after ``as_of`` on which the assessment changes by itself.

    A record taking effect or its notice period ending, a publicity period or a
    listing ending: the days
    ``trustreg maintain`` must look at this subject again, and no sooner.
    """
    return schedule(facts, rulebook, as_of)[0]
