"""Eligibility: may a decision be taken in a subject's favour on a day? (pure)

The answer follows from the same assessment everything else uses
(``core.rating.evaluate``): the subject's list memberships on the day, and the
consequences the rulebook attaches to each list (``core.consequences``). A consequence
applies from the listing's entry for at most its ``max_days``, and never past the
listing's scheduled exit.

``excluded`` beats ``restricted``; ``facilitated`` consequences are reported but leave
the answer ``eligible``. For an adverse answer, :func:`decide` also finds the first
day on which the subject is eligible again, by evaluating the days on which the
answer can change: a consequence ending, or a known status change (a judgment
satisfied, a record repaired or revoked) taking effect.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from trustreg.core.consequences import Consequence
from trustreg.core.rating import Assessment, RecordVersion, evaluate, facts_as_known
from trustreg.core.rulebook import Rulebook

ANSWERS = ("eligible", "restricted", "excluded")  # from best to worst
# How many later days to try when looking for the day the subject is eligible again;
# each try is one evaluation, and every candidate day comes from a known fact.
MAX_LOOKAHEAD = 200


@dataclass(frozen=True, slots=True)
class ConsequenceInForce:
    """A consequence that applies on the day, with the listing that causes it."""

    consequence: Consequence
    entered_on: date  # the listing's entry
    listing_exit: date  # the listing's scheduled exit
    ends_on: date  # first day the consequence no longer applies
    record_ids: tuple[int, ...]  # the records that caused the listing
    list_legal_basis: str


@dataclass(frozen=True, slots=True)
class Eligibility:
    """The answer for one subject, one decision, one day."""

    subject: int
    decision: str
    on: date
    rulebook_version: str
    answer: str  # eligible, restricted or excluded
    consequences: tuple[ConsequenceInForce, ...]
    eligible_from: date  # ``on`` itself when eligible

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "decision": self.decision,
            "on": self.on.isoformat(),
            "rulebook_version": self.rulebook_version,
            "answer": self.answer,
            "eligible_from": self.eligible_from.isoformat(),
            "consequences": [consequence_dict(c) for c in self.consequences],
        }


def consequence_dict(item: ConsequenceInForce) -> dict[str, Any]:
    c = item.consequence
    return {
        "code": c.code,
        "title_zh": c.title_zh,
        "title_en": c.title_en,
        "decision": c.decision,
        "effect": c.effect,
        "legal_basis": c.legal_basis,
        "list": c.list_code,
        "list_legal_basis": item.list_legal_basis,
        "listed_on": item.entered_on.isoformat(),
        "listing_exit": item.listing_exit.isoformat(),
        "ends_on": item.ends_on.isoformat(),
        "records": list(item.record_ids),
    }


def consequences_in_force(
    assessment: Assessment, rulebook: Rulebook, subject_kind: str, decision: str | None = None
) -> tuple[ConsequenceInForce, ...]:
    """The consequences of the subject's list memberships that apply on the
    assessment's day (for one decision, or for all)."""
    found = []
    for membership in assessment.lists:
        listed = rulebook.lists.get(membership.list_code)
        if listed is None:
            continue
        for consequence in listed.consequences:
            if decision is not None and consequence.decision != decision:
                continue
            if subject_kind not in consequence.subject_kinds:
                continue
            ends_on = min(
                membership.entered_on + timedelta(days=consequence.max_days),
                membership.scheduled_exit,
            )
            if assessment.as_of < ends_on:
                found.append(
                    ConsequenceInForce(
                        consequence,
                        membership.entered_on,
                        membership.scheduled_exit,
                        ends_on,
                        membership.record_ids,
                        membership.legal_basis,
                    )
                )
    return tuple(found)


def answer_for(consequences: Sequence[ConsequenceInForce]) -> str:
    """The worst effect among the consequences: excluded, restricted, else eligible."""
    effects = {c.consequence.effect for c in consequences}
    if "excluded" in effects:
        return "excluded"
    return "restricted" if "restricted" in effects else "eligible"


def decide(
    subject: int,
    subject_kind: str,
    versions: Sequence[RecordVersion],
    rulebook_for: Callable[[date], Rulebook],
    decision: str,
    on: date,
    known_at: datetime | None = None,
) -> Eligibility:
    """Eligibility of one subject for ``decision`` on ``on``, as known at ``known_at``.

    ``rulebook_for`` gives the rulebook in force on a day (the caller's choice: the
    store's versions, or one named version).
    """

    def on_day(day: date) -> tuple[Rulebook, tuple[ConsequenceInForce, ...]]:
        rulebook = rulebook_for(day)
        assessment = evaluate(subject, facts_as_known(versions, day, known_at), rulebook, day)
        return rulebook, consequences_in_force(assessment, rulebook, subject_kind, decision)

    rulebook, found = on_day(on)
    answer = answer_for(found)
    eligible_from = on
    if answer != "eligible":
        eligible_from = _eligible_again(on, found, versions, known_at, on_day)
    return Eligibility(subject, decision, on, rulebook.version, answer, found, eligible_from)


def _eligible_again(
    on: date,
    found: Sequence[ConsequenceInForce],
    versions: Sequence[RecordVersion],
    known_at: datetime | None,
    on_day: Callable[[date], tuple[Rulebook, tuple[ConsequenceInForce, ...]]],
) -> date:
    """The first day after ``on`` with no adverse consequence, trying only the days
    on which the answer can change."""
    candidates = [c.ends_on for c in found]
    candidates += [
        v.status_since
        for v in versions
        if v.status_since > on and (known_at is None or v.recorded_at <= known_at)
    ]
    heapq.heapify(candidates)
    tried: set[date] = set()
    latest = max(c.ends_on for c in found)
    while candidates and len(tried) < MAX_LOOKAHEAD:
        day = heapq.heappop(candidates)
        if day in tried:
            continue
        tried.add(day)
        _, later = on_day(day)
        if answer_for(later) == "eligible":
            return day
        for item in later:
            heapq.heappush(candidates, item.ends_on)
            latest = max(latest, item.ends_on)
    return latest
