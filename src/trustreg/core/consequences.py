"""Consequences of a listing: what being on a list means for decisions about a subject.

Each list in the rulebook declares its consequences (``[[list.consequence]]``): the
decision it affects (public procurement, subsidies, licences, simplified procedures,
...), its effect (excluded, restricted or facilitated), its legal basis, the subject
kinds it applies to and its maximum duration. The loader refuses a consequence
without a legal basis, one that may outlast its listing, and one that reaches into a
person's movement, schooling or relatives, or any protected category. A consequence
decides nothing on its own: ``core.eligibility`` applies it to an assessment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trustreg.core import rule_fields as rf
from trustreg.core.vocabulary import (
    CODE_PATTERN,
    EFFECTS,
    PROTECTED_WORDS,
    RESTRICTED_LIFE_WORDS,
    RESTRICTED_LIFE_ZH,
    SUBJECT_KINDS,
    forbidden_word,
)
from trustreg.errors import RulebookError

if TYPE_CHECKING:
    from trustreg.core.rulebook import RecordType, RegistryList

# Which list kinds may carry which effects: a blacklist or watchlist never facilitates,
# a redlist never excludes or restricts.
EFFECTS_BY_KIND = {
    "blacklist": ("excluded", "restricted"),
    "watchlist": ("excluded", "restricted"),
    "redlist": ("facilitated",),
}


@dataclass(frozen=True, slots=True)
class Consequence:
    """What being on one list means for one kind of decision."""

    code: str
    list_code: str
    title_zh: str
    title_en: str
    decision: str  # e.g. public_procurement, public_subsidy, licence, simplified_procedure
    effect: str  # excluded, restricted or facilitated
    legal_basis: str
    subject_kinds: tuple[str, ...]
    # Days from the listing's entry after which the consequence no longer applies; it
    # also ends with the listing, whichever comes first.
    max_days: int

    @property
    def adverse(self) -> bool:
        return self.effect != "facilitated"


def parse_consequences(
    entry: Mapping[str, Any], list_code: str, list_where: str, seen: set[str]
) -> tuple[Consequence, ...]:
    """The ``[[list.consequence]]`` tables of one list; ``seen`` collects codes so each
    is unique in the rulebook."""
    kind = entry.get("kind")
    parsed = []
    for index, table in enumerate(rf.tables(entry, "consequence", list_where), start=1):
        code = table.get("code")
        named = code if isinstance(code, str) and code else f"[{index}]"
        where = f"consequence '{named}' of {list_where}"
        code = rf.text(table, "code", where)
        if not CODE_PATTERN.match(code):
            raise RulebookError(where, "code must be lower-case letters, digits and '_'")
        if code in seen:
            raise RulebookError(where, "code is defined twice")
        seen.add(code)
        consequence = Consequence(
            code=code,
            list_code=list_code,
            title_zh=rf.text(table, "title_zh", where),
            title_en=rf.text(table, "title_en", where),
            decision=rf.text(table, "decision", where),
            effect=rf.choice(table, "effect", EFFECTS, where),
            legal_basis=rf.legal_basis(table, where, "consequence"),
            subject_kinds=rf.choices(table, "subject_kinds", SUBJECT_KINDS, where),
            max_days=rf.days(table, "max_days", where, minimum=1),
        )
        if not CODE_PATTERN.match(consequence.decision):
            raise RulebookError(where, "decision must be lower-case letters, digits and '_'")
        _refuse_unlawful(consequence, where)
        allowed = EFFECTS_BY_KIND.get(str(kind), EFFECTS)
        if consequence.effect not in allowed:
            raise RulebookError(
                where, f"a {kind} cannot have the effect '{consequence.effect}'; only {allowed}"
            )
        parsed.append(consequence)
    return tuple(parsed)


def _refuse_unlawful(consequence: Consequence, where: str) -> None:
    texts = (consequence.code, consequence.decision, consequence.title_en)
    word = forbidden_word(PROTECTED_WORDS, *texts)
    if word is not None:
        raise RulebookError(
            where, f"touches a protected category ({word}); no listing may have that consequence"
        )
    word = forbidden_word(RESTRICTED_LIFE_WORDS, *texts) or next(
        (w for w in RESTRICTED_LIFE_ZH if w in consequence.title_zh), None
    )
    if word is not None:
        raise RulebookError(
            where,
            f"restricts a person's movement, travel, schooling or relatives ({word}); "
            "a listing may bear on decisions about the subject's own dealings, never on those",
        )


def check_durations(
    lists: Mapping[str, RegistryList], record_types: Mapping[str, RecordType]
) -> None:
    """Refuse a consequence that could outlast a listing: its ``max_days`` must not be
    longer than the ``listing_days`` of any record type that leads to its list."""
    for rule in record_types.values():
        for effect in rule.list_effects:
            for consequence in lists[effect.list_code].consequences:
                if consequence.max_days > effect.listing_days:
                    raise RulebookError(
                        f"consequence '{consequence.code}' of list '{effect.list_code}'",
                        f"lasts up to {consequence.max_days} days, longer than the "
                        f"{effect.listing_days}-day listing by record type '{rule.code}': "
                        "a consequence never outlasts its listing",
                    )
