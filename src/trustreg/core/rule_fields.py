"""Readers for rulebook TOML values; each raises RulebookError naming the rule."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from trustreg.errors import RulebookError


def table(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise RulebookError(where, f"missing [{key}] table")
    return value


def text(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise RulebookError(where, f"'{key}' must be a non-empty string")
    return value.strip()


def date_value(data: Mapping[str, Any], key: str, where: str) -> date:
    value = data.get(key)
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError as exc:
            raise RulebookError(where, f"'{key}' is not a date (YYYY-MM-DD)") from exc
    raise RulebookError(where, f"'{key}' must be a date (YYYY-MM-DD)")


def days(
    data: Mapping[str, Any], key: str, where: str, minimum: int, default: int | None = None
) -> int:
    value = data.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise RulebookError(where, f"'{key}' must be a whole number of days ≥ {minimum}")
    return value


def choice(data: Mapping[str, Any], key: str, allowed: Sequence[str], where: str) -> str:
    value = data.get(key)
    if value not in allowed:
        raise RulebookError(where, f"'{key}' is {value!r}; expected one of {', '.join(allowed)}")
    return str(value)


def choices(
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


def optional_int(data: Mapping[str, Any], key: str, where: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise RulebookError(where, f"'{key}' must be a whole number")
    return value


def whole(data: Mapping[str, Any], key: str, where: str, default: int) -> int:
    value = optional_int(data, key, where)
    return default if value is None else value


def flag(data: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise RulebookError(where, f"'{key}' must be true or false")
    return value


def tables(data: Mapping[str, Any], key: str, where: str) -> list[Mapping[str, Any]]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise RulebookError(where, f"'{key}' must be a list of tables ([[{key}]])")
    return value


def legal_basis(entry: Mapping[str, Any], where: str, what: str = "record type") -> str:
    """The entry's legal basis; RulebookError when it has none."""
    value = entry.get("legal_basis")
    if not isinstance(value, str) or len(value.strip()) < 5:
        raise RulebookError(where, f"has no legal basis; every {what} must cite its law")
    return value.strip()
