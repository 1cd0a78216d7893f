"""Subject identifiers: parse, normalise, validate, mask, and generate for the demo.

Pure functions, no I/O. An identifier is a scheme and a value (``uscc:91110000802100433B``):

    uscc      Unified Social Credit Code, GB 32100-2015 (Chinese organisations)
    ric       Resident Identity Card number, GB 11643-1999 (Chinese residents)
    lei       Legal Entity Identifier, ISO 17442
    passport  ``CC:NUMBER``, CC an ISO 3166-1 alpha-2 country code
    registry  ``CC:NUMBER``, a foreign company-register number

``ric`` and ``passport`` identify a person (:data:`PERSON_SCHEMES`): the registry keeps
such a number only as a keyed hash (:func:`identifier_hash`) and its masked form
(:func:`mask_identifier`), see :func:`stored_identifier` and ``docs/privacy.md``.

The check-digit arithmetic comes from python-stdnum; every stdnum failure is caught
specifically and re-raised as our :class:`~trustreg.errors.ValidationError`, whose reason
says what is wrong in words a clerk can act on (the expected check character, the unknown
area code, ...).
"""

from __future__ import annotations

import functools
import hmac
import re
import unicodedata
from collections.abc import Callable
from datetime import date
from functools import lru_cache
from typing import NamedTuple

import pycountry
from stdnum import numdb
from stdnum.cn import ric as stdnum_ric
from stdnum.cn import uscc as stdnum_uscc
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength
from stdnum.iso7064 import mod_11_2, mod_97_10

from trustreg.errors import ValidationError

SCHEMES: tuple[str, ...] = ("uscc", "ric", "lei", "passport", "registry")
# The schemes that identify an individual: kept as a keyed hash and a masked form only.
# Organisation identifiers are public and kept in clear.
PERSON_SCHEMES = frozenset({"ric", "passport"})

# Separators people type inside these numbers; passport and registry numbers keep '-'
# because there it can be part of the number itself.
_DASH_SCHEMES = frozenset({"uscc", "ric", "lei"})
_DIGITS = frozenset("0123456789")
_ALNUM = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
# GB 32100-2015 leaves out I, O, S, V and Z so they cannot be mistaken for 1, 0, 5, U, 2.
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_REGISTRY_CHARS = _ALNUM | frozenset("-/.")
_FOREIGN_NUMBER_MAX = 40
# Copy-paste artefacts that NFKC leaves alone: zero-width characters vanish, typographic
# dashes (from word processors) become '-'.
_TRANSLATE = {
    **dict.fromkeys((0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF)),
    **dict.fromkeys((0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2212), "-"),
}
_YEAR_RANGE = re.compile(r"^\[(\d*)-(\d*)\](.*)$")
_MASK_RIC_HEAD = 6
_MASK_TAIL = 4


class Identifier(NamedTuple):
    """A validated identifier in canonical form.

    A named tuple rather than a dataclass: imports hash and compare millions of them,
    and a tuple does both in C.
    """

    scheme: str
    value: str

    def __str__(self) -> str:
        return f"{self.scheme}:{self.value}"


def normalise_value(value: str, scheme: str = "") -> str:
    """Return ``value`` in canonical spelling, without judging whether it is valid.

    Applies NFKC (full-width ``９１Ａ`` becomes ``91A``, the full-width colon becomes
    ``:``), removes all whitespace including the ideographic space, and upper-cases ASCII
    letters. For ``uscc``, ``ric`` and ``lei`` it also removes ``-``.
    """
    text = unicodedata.normalize("NFKC", value).translate(_TRANSLATE)
    # Only ASCII is upper-cased: str.upper() would turn some non-ASCII letters (the
    # dotless ı, the long ſ) into valid ASCII ones and let garbage through.
    text = "".join(ch.upper() if ch.isascii() else ch for ch in text if not ch.isspace())
    if scheme in _DASH_SCHEMES:
        text = text.replace("-", "")
    return text


def validate_identifier(
    scheme: str, value: str, field: str = "id_value", *, today: date | None = None
) -> Identifier:
    """Validate ``value`` under ``scheme`` and return the canonical :class:`Identifier`.

    Raises :class:`~trustreg.errors.ValidationError` on field ``id_scheme`` for an unknown
    scheme and on ``field`` for a bad value. ``today``, when given, refuses resident
    identity numbers whose birth date lies after it.
    """
    return _validate_cached(_normalise_scheme(scheme, "id_scheme"), value, field, today)


@lru_cache(maxsize=65_536)
def _validate_cached(scheme: str, value: str, field: str, today: date | None) -> Identifier:
    # Feeds repeat identifiers (several records per subject); the check is pure, so a
    # bounded cache of valid answers saves the repeated work. Errors are never cached.
    return _validate(scheme, value, field, today)


def parse_identifier(text: str, field: str = "identifier", today: date | None = None) -> Identifier:
    """Parse and validate ``scheme:value`` text such as ``uscc:91110000802100433B``.

    Tolerates case, surrounding and inner spaces and full-width characters
    (``ＵＳＣＣ：９１１１…``). Every problem is reported on ``field``.
    """
    normalised = unicodedata.normalize("NFKC", text)
    scheme, colon, value = normalised.partition(":")
    if not colon:
        raise ValidationError(
            field, "write the identifier as scheme:value, e.g. uscc:91110000802100433B"
        )
    return _validate(_normalise_scheme(scheme, field), value, field, today)


def ric_birth_date(value: str) -> date:
    """Return the birth date encoded in a valid resident identity number."""
    ident = validate_identifier("ric", value)
    return _ric_birth(ident.value, "id_value")


def ric_area_code(value: str) -> str:
    """Return the six-digit area code of a valid resident identity number."""
    return validate_identifier("ric", value).value[:6]


def mask_identifier(ident: Identifier) -> str:
    """Return the identifier value with the personal part hidden for public display.

    Resident identity numbers keep the area code and the last four characters
    (``110101********123X``); passports keep the country and the last few characters
    (``DE:*****0T47``). Organisation identifiers are public and come back unchanged.
    """
    if ident.scheme == "ric":
        hidden = len(ident.value) - _MASK_RIC_HEAD - _MASK_TAIL
        return ident.value[:_MASK_RIC_HEAD] + "*" * hidden + ident.value[-_MASK_TAIL:]
    if ident.scheme == "passport":
        country, _, number = ident.value.partition(":")
        # Short numbers would be nearly readable with four characters shown.
        shown = min(_MASK_TAIL, len(number) // 2)
        return f"{country}:" + "*" * (len(number) - shown) + number[len(number) - shown :]
    return ident.value


class StoredIdentifier(NamedTuple):
    """An identifier as the store keeps it: ``value`` masked for a person's number
    (in clear for an organisation's), and the keyed hash every look-up goes through."""

    scheme: str
    value: str
    value_hash: str


def identifier_hash(key: str, ident: Identifier) -> str:
    """The keyed hash of a canonical identifier: HMAC-SHA256 of ``scheme:value`` under
    ``key`` (UTF-8), as 64 hex digits.

    Equal identifiers give equal hashes, so the hash finds a subject by its full number;
    without the key it cannot be computed, so a copy of the database does not tell whose
    number it is (a resident number has few unknown digits once its masked form is known:
    the key is what keeps them unknown).
    """
    return _keyed_hash(key, ident.scheme, ident.value)


@functools.lru_cache(maxsize=65_536)
def _keyed_hash(key: str, scheme: str, value: str) -> str:
    # Cached: an import hashes each subject's identifier once to find it and again to
    # store it, and names a subject once per record.
    return hmac.digest(key.encode(), f"{scheme}:{value}".encode(), "sha256").hex()


def key_check_value(key: str) -> str:
    """A value that tells whether ``key`` is the key a store was built with, without
    revealing it: the HMAC-SHA256 of a fixed text under the key."""
    return hmac.digest(key.encode(), b"trustreg identifier key check", "sha256").hex()


def stored_identifier(key: str, ident: Identifier) -> StoredIdentifier:
    """What the store keeps of ``ident``: a person's number masked, with its keyed hash."""
    value = mask_identifier(ident) if ident.scheme in PERSON_SCHEMES else ident.value
    return StoredIdentifier(ident.scheme, value, identifier_hash(key, ident))


class MaskedIdentifier(NamedTuple):
    """A person's number as the registry publishes it: the shown head and tail."""

    scheme: str
    head: str
    tail: str
    length: int

    @property
    def value(self) -> str:
        """The masked number as the store keeps it (``110101********123X``)."""
        return self.head + "*" * (self.length - len(self.head) - len(self.tail)) + self.tail

    def matches(self, value: str) -> bool:
        return (
            len(value) == self.length and value.startswith(self.head) and value.endswith(self.tail)
        )


_MASKED_RIC = re.compile(r"(?:ric:)?(\d{6})\*{8}(\d{3}[\dX])", re.IGNORECASE)


def parse_masked(text: str) -> MaskedIdentifier | None:
    """A resident identity number as published (``110101********123X``, optionally
    ``ric:`` before it, full-width asterisks allowed); None if ``text`` is not one.

    Only resident numbers: a masked passport shows four characters, too few to find
    anyone by.
    """
    folded = unicodedata.normalize("NFKC", text).strip().replace(" ", "")
    found = _MASKED_RIC.fullmatch(folded)
    if found is None:
        return None
    return MaskedIdentifier("ric", found[1], found[2].upper(), 18)


def _normalise_scheme(scheme: str, field: str) -> str:
    key = unicodedata.normalize("NFKC", scheme).strip().lower()
    if key not in SCHEMES:
        raise ValidationError(
            field, f"unknown identifier scheme '{key}'; known schemes: {', '.join(SCHEMES)}"
        )
    return key


def _validate(scheme: str, value: str, field: str, today: date | None) -> Identifier:
    canonical = normalise_value(value, scheme)
    if not canonical:
        raise ValidationError(field, f"the {scheme} value is empty")
    return Identifier(scheme, _VALIDATORS[scheme](canonical, field, today))


# --- uscc -------------------------------------------------------------------------


def _validate_uscc(value: str, field: str, today: date | None) -> str:
    try:
        return str(stdnum_uscc.validate(value))
    # InvalidLength is a subclass of InvalidFormat, so it must be caught first.
    except InvalidLength as exc:
        raise ValidationError(
            field, f"a USCC has 18 characters, got {len(value)} (GB 32100-2015)"
        ) from exc
    except InvalidFormat as exc:
        raise ValidationError(field, _uscc_format_problem(value)) from exc
    except InvalidChecksum as exc:
        expected = stdnum_uscc.calc_check_digit(value[:17])
        raise ValidationError(
            field, f"check character is '{value[17]}', expected '{expected}' (GB 32100-2015)"
        ) from exc


def _uscc_format_problem(value: str) -> str:
    for position, char in enumerate(value, start=1):
        if position <= 8 and char not in _DIGITS:
            return (
                f"character {position} is '{char}'; characters 1-8 (authority, entity type "
                "and area code) must be digits"
            )
        if char not in _USCC_ALPHABET:
            return (
                f"character {position} is '{char}'; a USCC uses digits and the letters A-Z "
                "except I, O, S, V and Z (GB 32100-2015)"
            )
    return "not a valid USCC (GB 32100-2015)"


# --- ric --------------------------------------------------------------------------


def _validate_ric(value: str, field: str, today: date | None) -> str:
    if len(value) == 15 and set(value) <= _DIGITS:
        raise ValidationError(
            field, "15-digit identity numbers are obsolete; only the 18-character form is accepted"
        )
    if len(value) != 18:
        raise ValidationError(field, f"an identity number has 18 characters, got {len(value)}")
    if not set(value[:17]) <= _DIGITS or value[17] not in "0123456789X":
        raise ValidationError(
            field, "an identity number is 17 digits followed by a check digit or 'X'"
        )
    expected = mod_11_2.calc_check_digit(value[:17])
    if value[17] != expected:
        raise ValidationError(
            field, f"check digit is '{value[17]}', expected '{expected}' (ISO 7064 MOD 11-2)"
        )
    birth = _ric_birth(value, field)
    if today is not None and birth > today:
        raise ValidationError(field, f"birth date {birth.isoformat()} is in the future")
    _check_ric_area(value, birth.year, field)
    return value


def _ric_birth(value: str, field: str) -> date:
    try:
        return stdnum_ric.get_birth_date(value)
    except InvalidComponent as exc:
        raise ValidationError(
            field, f"'{value[6:14]}' (characters 7-14) is not a valid birth date"
        ) from exc


def _check_ric_area(value: str, birth_year: int, field: str) -> None:
    try:
        stdnum_ric.get_birth_place(value)
    # stdnum raises a bare KeyError when the province exists but the county does not.
    except (InvalidComponent, KeyError) as exc:
        area = value[:6]
        if area in _area_periods():
            reason = f"area code '{area}' was not in use in {birth_year}, the year of birth"
        else:
            reason = f"unknown area code '{area}'"
        raise ValidationError(field, reason) from exc


# --- lei --------------------------------------------------------------------------


def _validate_lei(value: str, field: str, today: date | None) -> str:
    if len(value) != 20:
        raise ValidationError(field, f"an LEI has 20 characters, got {len(value)} (ISO 17442)")
    if not set(value) <= _ALNUM:
        raise ValidationError(field, "an LEI uses only digits and the letters A-Z (ISO 17442)")
    try:
        mod_97_10.validate(value)
    except InvalidChecksum as exc:
        expected = mod_97_10.calc_check_digits(value[:18])
        raise ValidationError(
            field, f"check digits are '{value[18:]}', expected '{expected}' (ISO 17442)"
        ) from exc
    return value


# --- passport and registry ----------------------------------------------------------


def _validate_passport(value: str, field: str, today: date | None) -> str:
    return _validate_foreign(value, field, _ALNUM, "digits and the letters A-Z", "DE:C01X00T47")


def _validate_registry(value: str, field: str, today: date | None) -> str:
    described = "digits, the letters A-Z, '-', '/' and '.'"
    return _validate_foreign(value, field, _REGISTRY_CHARS, described, "GB:00445790")


def _validate_foreign(
    value: str, field: str, allowed: frozenset[str], described: str, example: str
) -> str:
    if ":" not in value:
        raise ValidationError(
            field, f"write the value as CC:NUMBER, CC an ISO 3166-1 country code, e.g. {example}"
        )
    country, _, number = value.partition(":")
    if len(country) != 2 or pycountry.countries.get(alpha_2=country) is None:
        raise ValidationError(field, f"'{country}' is not an ISO 3166-1 alpha-2 country code")
    if not 1 <= len(number) <= _FOREIGN_NUMBER_MAX:
        raise ValidationError(
            field, f"the number after '{country}:' must have 1-{_FOREIGN_NUMBER_MAX} characters"
        )
    bad = sorted(set(number) - allowed)
    if bad:
        raise ValidationError(
            field, f"the number contains {', '.join(repr(c) for c in bad)}; use only {described}"
        )
    return value


_VALIDATORS: dict[str, Callable[[str, str, date | None], str]] = {
    "uscc": _validate_uscc,
    "ric": _validate_ric,
    "lei": _validate_lei,
    "passport": _validate_passport,
    "registry": _validate_registry,
}


# --- area codes -------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _area_periods() -> dict[str, tuple[tuple[int | None, int | None], ...]]:
    """Map every six-digit area code stdnum knows to the year ranges it was in use.

    Read from the same table ``stdnum.cn.ric`` checks against, so a code we hand out is a
    code the validator accepts. ``None`` ends mean open (always / still in use).
    """
    periods: dict[str, tuple[tuple[int | None, int | None], ...]] = {}
    for length, low, high, _props, children in numdb.get("cn/loc").prefixes:
        if length != 2 or low != high:
            continue
        for _clen, clow, chigh, cprops, _ in children:
            county = cprops.get("county")
            if county is None or clow != chigh:
                continue
            periods[low + clow] = tuple(_parse_period(part) for part in county.split(","))
    return periods


def _parse_period(part: str) -> tuple[int | None, int | None]:
    match = _YEAR_RANGE.match(part)
    if match is None:
        return (None, None)
    start, end = match.group(1), match.group(2)
    return (int(start) if start else None, int(end) if end else None)


@functools.lru_cache(maxsize=256)
def area_codes(year: int | None = None) -> list[str]:
    """Return the county-level area codes (six digits, not ending in ``00``), sorted.

    Without ``year``: the codes still in use today. With ``year``: the codes that were in
    use in that year, i.e. that ``stdnum.cn.ric`` accepts for someone born then. The list is
    cached; do not mutate it.
    """
    codes = []
    for code, ranges in _area_periods().items():
        if code.endswith("00"):
            continue
        if year is None:
            in_use = any(end is None for _start, end in ranges)
        else:
            in_use = any(
                (start is None or start <= year) and (end is None or year <= end)
                for start, end in ranges
            )
        if in_use:
            codes.append(code)
    return sorted(codes)


# --- generators for demo data -----------------------------------------------------


def org_code_check_char(body8: str) -> str:
    """Return the GB 11714 check character for an eight-character organisation code body.

    Characters 9-17 of a USCC are the organisation code: eight characters and this check
    character. stdnum does not check it, but real codes carry it, so demo codes do too.
    """
    if len(body8) != 8 or not set(body8) <= _ALNUM:
        raise ValidationError("body8", "needs eight characters from 0-9 and A-Z")
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(char, 36) * weight for char, weight in zip(body8, weights, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def make_uscc(body17: str) -> str:
    """Append the GB 32100-2015 check character to the first 17 characters of a USCC.

    ``body17`` is the registration authority, entity type, six-digit area code and
    nine-character organisation code.
    """
    if len(body17) != 17 or not set(body17[:8]) <= _DIGITS:
        raise ValidationError("body17", "needs 17 characters, the first eight digits")
    if not set(body17[8:]) <= set(_USCC_ALPHABET):
        raise ValidationError("body17", "characters 9-17 must come from the USCC alphabet")
    return body17 + stdnum_uscc.calc_check_digit(body17)


def make_ric(area: str, birth: date, sequence: int) -> str:
    """Build a resident identity number from area code, birth date and sequence (0-999).

    Odd sequences are men, even ones women, as on real cards.
    """
    if len(area) != 6 or not set(area) <= _DIGITS:
        raise ValidationError("area", "needs six digits")
    if not 0 <= sequence <= 999:
        raise ValidationError("sequence", "must be between 0 and 999")
    body = f"{area}{birth:%Y%m%d}{sequence:03d}"
    return body + mod_11_2.calc_check_digit(body)


def make_lei(prefix4: str, body: str) -> str:
    """Build an LEI from the 4-character issuer prefix and the 14 characters after it."""
    if len(prefix4) != 4 or not set(prefix4) <= _ALNUM:
        raise ValidationError("prefix4", "needs four characters from 0-9 and A-Z")
    if len(body) != 14 or not set(body) <= _ALNUM:
        raise ValidationError("body", "needs fourteen characters from 0-9 and A-Z")
    return prefix4 + body + mod_97_10.calc_check_digits(prefix4 + body)
