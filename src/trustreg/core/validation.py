"""Row validation for the subjects and records feeds (pure: no I/O, no clock).

Each ``validate_*`` function takes one input row (column name to text) and a
:class:`ValidationContext`, and returns a typed input or raises
:class:`~trustreg.errors.ValidationError` naming the first field that is wrong.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import NamedTuple

import pycountry

from trustreg.core.identifiers import (
    Identifier,
    ric_birth_date,
    validate_identifier,
)
from trustreg.core.rulebook import RecordType
from trustreg.core.vocabulary import SUBJECT_KINDS
from trustreg.errors import ValidationError

SUBJECT_COLUMNS = (
    "kind",
    "id_scheme",
    "id_value",
    "name",
    "alt_names",
    "country",
    "region",
    "birth_date",
    "registered_on",
)
SUBJECT_REQUIRED = ("kind", "id_scheme", "id_value", "name")
RECORD_COLUMNS = (
    "authority",
    "reference",
    "record_type",
    "subject_kind",
    "id_scheme",
    "id_value",
    "subject_name",
    "decided_on",
    "effective_from",
    "amount",
    "currency",
    "status",
    "summary",
    # The day the authority gave the subject notice that the record will be published:
    # the type's notice period runs from then, not from the day the record arrives.
    "notified_on",
)
RECORD_REQUIRED = RECORD_COLUMNS[:9]
# What an authority may state when it submits a record; the others are the registry's own.
SUBMITTED_STATUSES = ("active", "satisfied", "revoked")
# Every status a record may have. ``suspended`` (a dispute's deadline passed without a
# decision) and ``removed`` (a reviewer removed it after a dispute) are void, as
# ``revoked`` is; ``disputed`` is shown from the open dispute and kept for old data.
RECORD_STATUSES = (
    "active",
    "disputed",
    "satisfied",
    "repaired",
    "expired",
    "revoked",
    "suspended",
    "removed",
)
# Which identifier schemes fit which subject kinds (a USCC is never a person's number).
SCHEME_KINDS: Mapping[str, tuple[str, ...]] = {
    "uscc": ("legal_entity", "other_org"),
    "ric": ("individual",),
    "lei": ("legal_entity", "other_org", "foreign_entity"),
    "passport": ("individual", "foreign_individual"),
    "registry": ("foreign_entity",),
}
MAX_REFERENCE = 128
MAX_SUMMARY = 2000
MAX_REGION = 64
MAX_AMOUNT_CENTS = 10**17
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\ufeff]")


@dataclass(frozen=True, slots=True)
class AuthorityGrant:
    """What the validator needs to know of an authority."""

    id: int
    code: str
    kind: str
    record_types: frozenset[str]


@dataclass(frozen=True, slots=True)
class ValidationContext:
    record_types: Mapping[str, RecordType]
    authorities: Mapping[str, AuthorityGrant]
    today: date
    max_name_chars: int = 200


# Inputs are named tuples: a reader process sends millions of them to the importing
# process, and tuples pickle and unpickle in C, dataclasses through Python code.
class SubjectInput(NamedTuple):
    kind: str
    identifier: Identifier
    name: str
    alt_names: tuple[str, ...]
    country: str | None
    region: str | None
    birth_date: date | None
    registered_on: date | None


class RecordInput(NamedTuple):
    authority: AuthorityGrant
    reference: str
    record_type: str
    subject_kind: str
    identifier: Identifier
    subject_name: str
    decided_on: date
    effective_from: date
    amount_cents: int | None
    currency: str | None
    status: str
    summary: str
    notified_on: date | None = None


def validate_subject_row(row: Mapping[str, str], ctx: ValidationContext) -> SubjectInput:
    """Validate one row of the business-register feed."""
    kind = _choice(row, "kind", SUBJECT_KINDS)
    identifier = _identifier(row, kind, ctx.today)
    name = _name(row, "name", ctx.max_name_chars)
    alt_names = tuple(
        _check_name("alt_names", part.strip(), ctx.max_name_chars)
        for part in row.get("alt_names", "").split("|")
        if part.strip()
    )
    birth_date = _date(row, "birth_date", ctx.today, required=False)
    if identifier.scheme == "ric":
        from_number = ric_birth_date(identifier.value)
        if birth_date is not None and birth_date != from_number:
            raise ValidationError(
                "birth_date", f"{birth_date} differs from the identity number ({from_number})"
            )
        birth_date = from_number
    if birth_date is not None and kind not in ("individual", "foreign_individual"):
        raise ValidationError("birth_date", f"a {kind} has no birth date")
    return SubjectInput(
        kind=kind,
        identifier=identifier,
        name=name,
        alt_names=alt_names,
        country=_country(row, identifier),
        region=_text(row, "region", MAX_REGION) or None,
        birth_date=birth_date,
        registered_on=_date(row, "registered_on", ctx.today, required=False),
    )


def validate_record_row(row: Mapping[str, str], ctx: ValidationContext) -> RecordInput:
    """Validate one row of the records feed against the rulebook and the authorities."""
    authority_code = _required(row, "authority")
    authority = ctx.authorities.get(authority_code)
    if authority is None:
        raise ValidationError("authority", f"unknown authority '{authority_code}'")
    reference = _text(row, "reference", MAX_REFERENCE, required=True)
    type_code = _required(row, "record_type")
    record_type = ctx.record_types.get(type_code)
    if record_type is None:
        raise ValidationError("record_type", f"unknown record type '{type_code}'")
    if type_code not in authority.record_types:
        raise ValidationError(
            "record_type",
            f"authority '{authority.code}' ({authority.kind}) may not submit '{type_code}'",
        )
    kind = _choice(row, "subject_kind", SUBJECT_KINDS)
    if kind not in record_type.subject_kinds:
        raise ValidationError("subject_kind", f"'{type_code}' does not apply to a {kind}")
    identifier = _identifier(row, kind, ctx.today)
    decided_on = _required_date(row, "decided_on", ctx.today)
    effective_from = _required_date(row, "effective_from", ctx.today)
    if effective_from < decided_on:
        raise ValidationError(
            "effective_from", f"{effective_from} is before decided_on {decided_on}"
        )
    amount_cents, currency = _amount(row)
    status = (row.get("status") or "active").strip().lower()
    if status not in SUBMITTED_STATUSES:
        raise ValidationError(
            "status", f"'{status}' cannot be submitted; use {', '.join(SUBMITTED_STATUSES)}"
        )
    return RecordInput(
        authority=authority,
        reference=reference,
        record_type=type_code,
        subject_kind=kind,
        identifier=identifier,
        subject_name=_name(row, "subject_name", ctx.max_name_chars),
        decided_on=decided_on,
        effective_from=effective_from,
        amount_cents=amount_cents,
        currency=currency,
        status=status,
        summary=_text(row, "summary", MAX_SUMMARY),
        notified_on=_date(row, "notified_on", ctx.today, required=False),
    )


def _required(row: Mapping[str, str], column: str) -> str:
    value = (row.get(column) or "").strip()
    if not value:
        raise ValidationError(column, "is empty")
    _refuse_control(column, value)
    return value


def _text(row: Mapping[str, str], column: str, limit: int, required: bool = False) -> str:
    value = _required(row, column) if required else (row.get(column) or "").strip()
    _refuse_control(column, value)
    if len(value) > limit:
        raise ValidationError(column, f"is {len(value)} characters long; the limit is {limit}")
    return value


def _refuse_control(column: str, value: str) -> None:
    found = CONTROL.search(value)
    if found:
        raise ValidationError(
            column,
            f"contains control character U+{ord(found.group()):04X} "
            f"at position {found.start() + 1}",
        )


def _name(row: Mapping[str, str], column: str, limit: int) -> str:
    return _check_name(column, _required(row, column), limit)


def _check_name(column: str, value: str, limit: int) -> str:
    _refuse_control(column, value)
    value = " ".join(unicodedata.normalize("NFC", value).split())
    if len(value) > limit:
        raise ValidationError(column, f"is {len(value)} characters long; the limit is {limit}")
    return value


def _choice(row: Mapping[str, str], column: str, allowed: tuple[str, ...]) -> str:
    value = _required(row, column).lower()
    if value not in allowed:
        raise ValidationError(column, f"'{value}' is not one of {', '.join(allowed)}")
    return value


def _identifier(row: Mapping[str, str], kind: str, today: date) -> Identifier:
    scheme = _required(row, "id_scheme")
    identifier = validate_identifier(scheme, _required(row, "id_value"), "id_value", today=today)
    if kind not in SCHEME_KINDS[identifier.scheme]:
        raise ValidationError(
            "id_scheme", f"a {identifier.scheme} identifier does not belong to a {kind}"
        )
    return identifier


def _date(row: Mapping[str, str], column: str, today: date, required: bool) -> date | None:
    text = _required(row, column) if required else (row.get(column) or "").strip()
    if not text:
        return None
    try:
        value = _parse_date(text)
    except ValueError as exc:
        raise ValidationError(column, f"'{text[:40]}' is not a date (YYYY-MM-DD)") from exc
    if value > today:
        raise ValidationError(column, f"{value} is in the future")
    if value.year < 1900:
        raise ValidationError(column, f"{value} is before 1900")
    return value


def _required_date(row: Mapping[str, str], column: str, today: date) -> date:
    value = _date(row, column, today, required=True)
    if value is None:  # _date raised already for an empty required column
        raise ValidationError(column, "is empty")
    return value


@lru_cache(maxsize=8192)
def _parse_date(text: str) -> date:
    # Feeds repeat a few thousand distinct dates millions of times.
    return date.fromisoformat(text)


def _amount(row: Mapping[str, str]) -> tuple[int | None, str | None]:
    text = (row.get("amount") or "").strip().replace(",", "")
    currency = (row.get("currency") or "").strip().upper()
    if not text:
        if currency:
            _currency(currency)
        return None, currency or None
    try:
        amount = Decimal(text)
    except InvalidOperation as exc:
        raise ValidationError("amount", f"'{text[:40]}' is not a number") from exc
    if not amount.is_finite() or amount < 0:
        raise ValidationError("amount", f"{text} is negative or not a finite number")
    cents = amount * 100
    if cents != cents.to_integral_value() or cents >= MAX_AMOUNT_CENTS:
        raise ValidationError("amount", f"{text} has more than two decimals or is too large")
    if not currency:
        raise ValidationError("currency", "is empty; an amount needs an ISO 4217 currency code")
    return int(cents), _currency(currency)


def _currency(code: str) -> str:
    if code not in _currency_codes():
        raise ValidationError("currency", f"'{code[:10]}' is not an ISO 4217 currency code")
    return code


@lru_cache(maxsize=1)
def _currency_codes() -> frozenset[str]:
    return frozenset(c.alpha_3 for c in pycountry.currencies)


@lru_cache(maxsize=1)
def _country_codes() -> frozenset[str]:
    return frozenset(c.alpha_2 for c in pycountry.countries)


def _country(row: Mapping[str, str], identifier: Identifier) -> str | None:
    code = (row.get("country") or "").strip().upper()
    if identifier.scheme in ("passport", "registry"):
        from_value = identifier.value.split(":", 1)[0]
        if code and code != from_value:
            raise ValidationError("country", f"'{code}' differs from the identifier's {from_value}")
        code = from_value
    elif identifier.scheme in ("uscc", "ric") and not code:
        code = "CN"
    if code and code not in _country_codes():
        raise ValidationError("country", f"'{code[:10]}' is not an ISO 3166 country code")
    return code or None
