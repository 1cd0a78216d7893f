"""The rulebook: which record types the registry may hold, and under which law.

A rulebook is a TOML file (see ``rulebooks/model.toml`` and ``docs/rulebook.md``).
Loading is pure: :func:`parse_rulebook` takes the text and returns a validated
:class:`Rulebook` or raises :class:`~trustreg.errors.RulebookError` naming the rule.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

from trustreg.core import rule_fields as rf
from trustreg.core.consequences import Consequence, check_durations, parse_consequences
from trustreg.core.vocabulary import (
    AUTHORITY_KINDS,
    CODE_PATTERN,
    LIST_KINDS,
    POLARITIES,
    PROTECTED_WORDS,
    SUBJECT_KINDS,
    forbidden_word,
)
from trustreg.errors import RulebookError


@dataclass(frozen=True, slots=True)
class RecordType:
    """One kind of decided fact the registry may hold."""

    code: str
    title_zh: str
    title_en: str
    legal_basis: str
    category: str
    polarity: str
    subject_kinds: tuple[str, ...]
    authority_kinds: tuple[str, ...]
    publicity_days: int
    notice_days: int
    indicates_dishonesty: bool
    points: int = 0
    # The most this type may add up to for one subject (same sign as points); None: no cap.
    points_cap: int | None = None
    # Published only while unsatisfied (and at most publicity_days): judgment defaulters.
    public_until_satisfied: bool = False
    list_effects: tuple[ListEffect, ...] = ()
    # Days after effective_from from which the subject may apply for repair; None: never.
    repair_after_days: int | None = None
    # Days a record is kept after its publicity ends, before its personal data is purged.
    retention_days: int = 180
    # Whether records of this type about persons are shown to the public (masked).
    persons_public: bool = False
    # Days the registry has to answer a dispute of a record of this type.
    dispute_days: int = 30
    # Published at once though the subject is still being given notice (notice_days
    # then only tells the subject; the rule must say so, the default waits).
    publish_during_notice: bool = False

    @property
    def explanation_label(self) -> str:
        return f"{self.title_en} ({self.title_zh})"


@dataclass(frozen=True, slots=True)
class ListEffect:
    """A record type puts its subject on a list, for a period."""

    list_code: str
    listing_days: int
    exit_when_satisfied: bool = True
    # A new decision of the same type while listed extends the listing from its own date.
    extendable: bool = True


@dataclass(frozen=True, slots=True)
class RegistryList:
    """A published list whose membership follows from records."""

    code: str
    title_zh: str
    title_en: str
    legal_basis: str
    kind: str
    # Membership states dishonesty: only types with indicates_dishonesty may lead here.
    dishonesty: bool
    # What being on the list means for decisions taken about the subject.
    consequences: tuple[Consequence, ...] = ()


@dataclass(frozen=True, slots=True)
class GradeBand:
    grade: str
    min_points: int | None  # None: the lowest band, everything below the others


@dataclass(frozen=True, slots=True)
class Rating:
    starting_points: int
    bands: tuple[GradeBand, ...]  # highest first

    def grade(self, points: int) -> str:
        for band in self.bands:
            if band.min_points is None or points >= band.min_points:
                return band.grade
        return self.bands[-1].grade


DEFAULT_RATING = Rating(
    1000,
    (
        GradeBand("AAA", 1050),
        GradeBand("AA", 1030),
        GradeBand("A", 960),
        GradeBand("B", 850),
        GradeBand("C", 600),
        GradeBand("D", None),
    ),
)


@dataclass(frozen=True, slots=True)
class Rulebook:
    """A validated rulebook version."""

    name: str
    version: str
    effective_from: date
    record_types: Mapping[str, RecordType]
    source_text: str
    lists: Mapping[str, RegistryList] = field(default_factory=dict)
    rating: Rating = DEFAULT_RATING

    def record_type(self, code: str) -> RecordType | None:
        return self.record_types.get(code)


def parse_rulebook(text: str) -> Rulebook:
    """Parse and validate rulebook TOML text; raise RulebookError naming the rule."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulebookError("rulebook", f"not valid TOML: {exc}") from exc
    header = rf.table(data, "rulebook", "rulebook")
    name = rf.text(header, "name", "rulebook")
    version = rf.text(header, "version", "rulebook")
    effective_from = rf.date_value(header, "effective_from", "rulebook")
    lists = _lists(data)
    entries = data.get("record_type")
    if not isinstance(entries, list) or not entries:
        raise RulebookError("record_type", "the rulebook has no [[record_type]] tables")
    types: dict[str, RecordType] = {}
    for index, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise RulebookError(f"record_type[{index}]", "must be a table")
        record_type = _record_type(entry, index, lists)
        if record_type.code in types:
            raise RulebookError(f"record_type '{record_type.code}'", "code is defined twice")
        types[record_type.code] = record_type
    check_durations(lists, types)
    rating = _rating(data)
    return Rulebook(name, version, effective_from, types, text, lists, rating)


@lru_cache(maxsize=16)
def parse_rulebook_cached(text: str) -> Rulebook:
    """``parse_rulebook`` for texts read again and again (the store keeps the text)."""
    return parse_rulebook(text)


def _lists(data: Mapping[str, Any]) -> dict[str, RegistryList]:
    lists: dict[str, RegistryList] = {}
    seen: set[str] = set()  # consequence codes, unique across the rulebook
    for index, entry in enumerate(rf.tables(data, "list", "list"), start=1):
        code = entry.get("code")
        where = f"list '{code}'" if isinstance(code, str) and code else f"list[{index}]"
        code = rf.text(entry, "code", where)
        if code in lists:
            raise RulebookError(where, "code is defined twice")
        _refuse_protected(where, code, rf.text(entry, "kind", where))
        lists[code] = RegistryList(
            code=code,
            title_zh=rf.text(entry, "title_zh", where),
            title_en=rf.text(entry, "title_en", where),
            legal_basis=rf.legal_basis(entry, where, "list"),
            kind=rf.choice(entry, "kind", LIST_KINDS, where),
            dishonesty=rf.flag(entry, "dishonesty", where, default=False),
            consequences=parse_consequences(entry, code, where, seen),
        )
    return lists


def _rating(data: Mapping[str, Any]) -> Rating:
    section = data.get("rating")
    if section is None:
        return DEFAULT_RATING
    if not isinstance(section, dict):
        raise RulebookError("rating", "must be a table")
    bands = []
    for index, entry in enumerate(rf.tables(section, "grade", "rating"), start=1):
        where = f"rating.grade[{index}]"
        bands.append(
            GradeBand(rf.text(entry, "grade", where), rf.optional_int(entry, "min_points", where))
        )
    if not bands:
        raise RulebookError("rating", "needs [[rating.grade]] bands")
    floors = [b.min_points for b in bands[:-1]]
    if None in floors or bands[-1].min_points is not None:
        raise RulebookError("rating", "every band but the last needs min_points; the last none")
    if floors != sorted(floors, reverse=True) or len(set(floors)) != len(floors):  # type: ignore[type-var]
        raise RulebookError("rating", "bands must go from the highest min_points down")
    return Rating(rf.whole(section, "starting_points", "rating", 1000), tuple(bands))


def _record_type(
    entry: Mapping[str, Any], index: int, lists: Mapping[str, RegistryList]
) -> RecordType:
    code = entry.get("code")
    where = f"record_type '{code}'" if isinstance(code, str) and code else f"record_type[{index}]"
    code = rf.text(entry, "code", where)
    if not CODE_PATTERN.match(code):
        raise RulebookError(where, "code must be lower-case letters, digits and '_'")
    basis = rf.legal_basis(entry, where)
    category = rf.text(entry, "category", where)
    _refuse_protected(where, code, category)
    polarity = rf.choice(entry, "polarity", POLARITIES, where)
    dishonesty = rf.flag(entry, "indicates_dishonesty", where, default=polarity == "negative")
    if dishonesty and polarity == "positive":
        raise RulebookError(where, "a positive record type cannot indicate dishonesty")
    points, cap = _points(entry, where, polarity)
    return RecordType(
        code=code,
        title_zh=rf.text(entry, "title_zh", where),
        title_en=rf.text(entry, "title_en", where),
        legal_basis=basis,
        category=category,
        polarity=polarity,
        subject_kinds=rf.choices(entry, "subject_kinds", SUBJECT_KINDS, where),
        authority_kinds=rf.choices(entry, "authority_kinds", AUTHORITY_KINDS, where),
        publicity_days=rf.days(entry, "publicity_days", where, minimum=1),
        notice_days=rf.days(entry, "notice_days", where, minimum=0),
        indicates_dishonesty=dishonesty,
        points=points,
        points_cap=cap,
        public_until_satisfied=rf.flag(entry, "public_until_satisfied", where, default=False),
        list_effects=_list_effects(entry, where, lists, dishonesty),
        repair_after_days=rf.optional_int(entry, "repair_after_days", where),
        retention_days=rf.whole(entry, "retention_days", where, default=180),
        persons_public=rf.flag(entry, "persons_public", where, default=False),
        dispute_days=rf.days(entry, "dispute_days", where, minimum=1, default=30),
        publish_during_notice=rf.flag(entry, "publish_during_notice", where, default=False),
    )


def _points(entry: Mapping[str, Any], where: str, polarity: str) -> tuple[int, int | None]:
    points = rf.whole(entry, "points", where, default=0)
    cap = rf.optional_int(entry, "points_cap", where)
    sign = -1 if polarity == "negative" else 1
    if points * sign < 0:
        raise RulebookError(where, f"a {polarity} record type cannot have {points} points")
    if cap is not None and (cap * sign < 0 or abs(cap) < abs(points)):
        raise RulebookError(where, f"points_cap {cap} must have the sign of points and be larger")
    return points, cap


def _list_effects(
    entry: Mapping[str, Any], where: str, lists: Mapping[str, RegistryList], dishonesty: bool
) -> tuple[ListEffect, ...]:
    effects = []
    for table in rf.tables(entry, "list_effect", where):
        code = rf.text(table, "list", where)
        target = lists.get(code)
        if target is None:
            raise RulebookError(where, f"list effect names an undefined list '{code}'")
        if target.dishonesty and not dishonesty:
            raise RulebookError(
                where,
                f"cannot put anyone on '{code}', a dishonesty list: this record type does not "
                "indicate dishonesty (unable to pay is not unwilling to pay)",
            )
        effects.append(
            ListEffect(
                list_code=code,
                listing_days=rf.days(table, "listing_days", where, minimum=1),
                exit_when_satisfied=rf.flag(table, "exit_when_satisfied", where, default=True),
                extendable=rf.flag(table, "extendable", where, default=True),
            )
        )
    return tuple(effects)


def _refuse_protected(where: str, code: str, category: str) -> None:
    word = forbidden_word(PROTECTED_WORDS, category, code)
    if word is not None:
        raise RulebookError(
            where, f"category '{category}' is protected ({word}); the registry may not hold it"
        )
