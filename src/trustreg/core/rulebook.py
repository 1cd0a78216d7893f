"""The rulebook: which record types the registry may hold, and under which law.

A rulebook is a TOML file (see ``rulebooks/model.toml`` and ``docs/rulebook.md``).
Loading is pure: :func:`parse_rulebook` takes the text and returns a validated
:class:`Rulebook` or raises :class:`~trustreg.errors.RulebookError` naming the rule.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from trustreg.errors import RulebookError

SUBJECT_KINDS = ("legal_entity", "other_org", "individual", "foreign_entity", "foreign_individual")
AUTHORITY_KINDS = ("court", "tax", "market_regulator", "other")
POLARITIES = ("negative", "positive")

# Categories the registry must never hold (DESIGN.md, principle 1). Words are matched
# against the category and against each word of the code, so "religious_activity" or
# "online_speech_violation" are refused as well as the bare category names.
PROTECTED_WORDS = (
    "political",
    "politics",
    "opinion",
    "religion",
    "religious",
    "belief",
    "faith",
    "ethnicity",
    "ethnic",
    "race",
    "racial",
    "health",
    "medical",
    "disability",
    "sexual",
    "sex_life",
    "trade_union",
    "union_membership",
    "family",
    "relatives",
    "kinship",
    "speech",
    "expression",
    "online_expression",
)
CODE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,62}$")


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


@dataclass(frozen=True, slots=True)
class Rulebook:
    """A validated rulebook version."""

    name: str
    version: str
    effective_from: date
    record_types: Mapping[str, RecordType]
    source_text: str

    def record_type(self, code: str) -> RecordType | None:
        return self.record_types.get(code)


def parse_rulebook(text: str) -> Rulebook:
    """Parse and validate rulebook TOML text; raise RulebookError naming the rule."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulebookError("rulebook", f"not valid TOML: {exc}") from exc
    header = _table(data, "rulebook", "rulebook")
    name = _text(header, "name", "rulebook")
    version = _text(header, "version", "rulebook")
    effective_from = _date(header, "effective_from", "rulebook")
    entries = data.get("record_type")
    if not isinstance(entries, list) or not entries:
        raise RulebookError("record_type", "the rulebook has no [[record_type]] tables")
    types: dict[str, RecordType] = {}
    for index, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise RulebookError(f"record_type[{index}]", "must be a table")
        record_type = _record_type(entry, index)
        if record_type.code in types:
            raise RulebookError(f"record_type '{record_type.code}'", "code is defined twice")
        types[record_type.code] = record_type
    return Rulebook(name, version, effective_from, types, text)


def _record_type(entry: Mapping[str, Any], index: int) -> RecordType:
    code = entry.get("code")
    where = f"record_type '{code}'" if isinstance(code, str) and code else f"record_type[{index}]"
    code = _text(entry, "code", where)
    if not CODE_PATTERN.match(code):
        raise RulebookError(where, "code must be lower-case letters, digits and '_'")
    legal_basis = entry.get("legal_basis")
    if not isinstance(legal_basis, str) or len(legal_basis.strip()) < 5:
        raise RulebookError(where, "has no legal basis; every record type must cite its law")
    category = _text(entry, "category", where)
    _refuse_protected(where, code, category)
    polarity = _choice(entry, "polarity", POLARITIES, where)
    return RecordType(
        code=code,
        title_zh=_text(entry, "title_zh", where),
        title_en=_text(entry, "title_en", where),
        legal_basis=legal_basis.strip(),
        category=category,
        polarity=polarity,
        subject_kinds=_choices(entry, "subject_kinds", SUBJECT_KINDS, where),
        authority_kinds=_choices(entry, "authority_kinds", AUTHORITY_KINDS, where),
        publicity_days=_days(entry, "publicity_days", where, minimum=1),
        notice_days=_days(entry, "notice_days", where, minimum=0),
        indicates_dishonesty=bool(entry.get("indicates_dishonesty", polarity == "negative")),
    )


def _refuse_protected(where: str, code: str, category: str) -> None:
    normalised = re.sub(r"[\s\-]+", "_", category.strip().lower())
    words = set(normalised.split("_")) | set(code.split("_")) | {normalised}
    for word in PROTECTED_WORDS:
        if word in words or (("_" in word) and word in normalised):
            raise RulebookError(
                where,
                f"category '{category}' is protected ({word}); the registry may not hold it",
            )


def _table(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise RulebookError(where, f"missing [{key}] table")
    return value


def _text(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise RulebookError(where, f"'{key}' must be a non-empty string")
    return value.strip()


def _date(data: Mapping[str, Any], key: str, where: str) -> date:
    value = data.get(key)
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError as exc:
            raise RulebookError(where, f"'{key}' is not a date (YYYY-MM-DD)") from exc
    raise RulebookError(where, f"'{key}' must be a date (YYYY-MM-DD)")


def _days(data: Mapping[str, Any], key: str, where: str, minimum: int) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise RulebookError(where, f"'{key}' must be a whole number of days ≥ {minimum}")
    return value


def _choice(data: Mapping[str, Any], key: str, allowed: Sequence[str], where: str) -> str:
    value = data.get(key)
    if value not in allowed:
        raise RulebookError(where, f"'{key}' is {value!r}; expected one of {', '.join(allowed)}")
    return str(value)


def _choices(
    data: Mapping[str, Any], key: str, allowed: Sequence[str], where: str
) -> tuple[str, ...]:
    values = data.get(key)
    if not isinstance(values, list) or not values:
        raise RulebookError(where, f"'{key}' must be a non-empty list")
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise RulebookError(
            where, f"'{key}' has unknown {unknown!r}; expected some of {', '.join(allowed)}"
        )
    return tuple(values)
