"""What a rulebook change would do, before it takes effect."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.orm import Session, sessionmaker

from trustreg.core.rating import evaluate, facts_as_known
from trustreg.core.rulebook import Rulebook
from trustreg.store import assessments as store
from trustreg.store.db import transaction

CHUNK = 2000
EXAMPLES = 5


@dataclass(frozen=True, slots=True)
class Change:
    subject: int
    old: str
    new: str


@dataclass
class RulebookDiff:
    """How many subjects would change grade or lists, with a few examples of each."""

    old_version: str
    new_version: str
    as_of: date
    subjects: int = 0
    grade_changes: int = 0
    list_changes: int = 0
    grade_examples: list[Change] = field(default_factory=list)
    list_examples: list[Change] = field(default_factory=list)
    rules_added: list[str] = field(default_factory=list)
    rules_removed: list[str] = field(default_factory=list)
    rules_changed: list[str] = field(default_factory=list)
    consequences_added: list[str] = field(default_factory=list)
    consequences_removed: list[str] = field(default_factory=list)
    consequences_changed: list[str] = field(default_factory=list)


def diff(
    factory: sessionmaker[Session], old: Rulebook, new: Rulebook, as_of: date | None = None
) -> RulebookDiff:
    """Evaluate every subject under both rulebooks on ``as_of`` (default: the day the
    new one takes effect) and count who would change grade or list."""
    as_of = as_of or new.effective_from
    result = RulebookDiff(old.version, new.version, as_of)
    compare_rules(old, new, result)
    with transaction(factory) as session:
        subject_ids = store.all_subject_ids(session)
    for start in range(0, len(subject_ids), CHUNK):
        with transaction(factory) as session:
            _compare_chunk(session, subject_ids[start : start + CHUNK], old, new, result)
    return result


def _compare_chunk(
    session: Session, ids: list[int], old: Rulebook, new: Rulebook, result: RulebookDiff
) -> None:
    versions = store.record_versions(session, ids)
    for subject_id in ids:
        facts = facts_as_known(versions[subject_id], result.as_of)
        before = evaluate(subject_id, facts, old, result.as_of)
        after = evaluate(subject_id, facts, new, result.as_of)
        result.subjects += 1
        if before.grade != after.grade:
            result.grade_changes += 1
            if len(result.grade_examples) < EXAMPLES:
                result.grade_examples.append(
                    Change(
                        subject_id,
                        f"{before.grade} ({before.points})",
                        f"{after.grade} ({after.points})",
                    )
                )
        old_lists = sorted(m.list_code for m in before.lists)
        new_lists = sorted(m.list_code for m in after.lists)
        if old_lists != new_lists:
            result.list_changes += 1
            if len(result.list_examples) < EXAMPLES:
                result.list_examples.append(
                    Change(subject_id, ", ".join(old_lists) or "-", ", ".join(new_lists) or "-")
                )


def compare_rules(old: Rulebook, new: Rulebook, result: RulebookDiff) -> None:
    result.rules_added = sorted(set(new.record_types) - set(old.record_types))
    result.rules_removed = sorted(set(old.record_types) - set(new.record_types))
    result.rules_changed = sorted(
        code
        for code in set(old.record_types) & set(new.record_types)
        if old.record_types[code] != new.record_types[code]
    )
    before = {c.code: c for listed in old.lists.values() for c in listed.consequences}
    after = {c.code: c for listed in new.lists.values() for c in listed.consequences}
    result.consequences_added = sorted(set(after) - set(before))
    result.consequences_removed = sorted(set(before) - set(after))
    result.consequences_changed = sorted(
        code for code in set(before) & set(after) if before[code] != after[code]
    )
