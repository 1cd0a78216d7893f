"""Identifier validation, normalisation, masking and the demo generators."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import ric as stdnum_ric
from stdnum.cn import uscc as stdnum_uscc

from trustreg.core.identifiers import (
    SCHEMES,
    Identifier,
    area_codes,
    make_lei,
    make_ric,
    make_uscc,
    mask_identifier,
    normalise_value,
    org_code_check_char,
    parse_identifier,
    ric_area_code,
    ric_birth_date,
    validate_identifier,
)
from trustreg.errors import ValidationError

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
DIGITS = "0123456789"
ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

# Published codes: Beijing-registered SOE, Tencent Technology (Shenzhen), Baosteel, a
# Hubei company with a post-2015 "MA" organisation code, a public institution (12...).
REAL_USCCS = [
    "91110000802100433B",
    "9144030071526726XG",
    "91310000631696382C",
    "91420684MA4927PJ7B",
    "121200004013590816",
]


def reason(exc: pytest.ExceptionInfo[ValidationError]) -> str:
    return exc.value.reason


# --- valid values and normalisation -------------------------------------------------


@pytest.mark.parametrize("value", REAL_USCCS)
def test_real_usccs_validate(value: str) -> None:
    assert validate_identifier("uscc", value) == Identifier("uscc", value)


@pytest.mark.parametrize("value", REAL_USCCS)
def test_real_usccs_carry_a_valid_organisation_code(value: str) -> None:
    assert org_code_check_char(value[8:16]) == value[16]


def test_invented_uscc_from_the_brief_does_not_validate() -> None:
    with pytest.raises(ValidationError) as exc:
        validate_identifier("uscc", "91310000MA1FL8L972")
    assert reason(exc) == "check character is '2', expected '1' (GB 32100-2015)"


@pytest.mark.parametrize(
    ("scheme", "value", "canonical"),
    [
        ("uscc", "91110000802100433b", "91110000802100433B"),
        ("uscc", " 9111 0000-8021 0043 3B ", "91110000802100433B"),
        ("uscc", "９１１１００００８０２１００４３３Ｂ", "91110000802100433B"),
        ("uscc", "9111\u30000000\u200b802100433B", "91110000802100433B"),
        ("ric", "360426 19910101 0071", "360426199101010071"),
        ("ric", "11010119800506004x", "11010119800506004X"),
        ("lei", "213800kud8lajwsq9d15", "213800KUD8LAJWSQ9D15"),
        ("passport", "de : c01x00t47", "DE:C01X00T47"),
        ("registry", "gb:00445790", "GB:00445790"),
        ("registry", "US:12\u20133456789", "US:12-3456789"),
    ],
)
def test_values_are_normalised(scheme: str, value: str, canonical: str) -> None:
    assert validate_identifier(scheme, value).value == canonical


def test_normalise_value_keeps_dashes_unless_the_scheme_drops_them() -> None:
    assert normalise_value("ab-12 ３") == "AB-123"
    assert normalise_value("ab-12 ３", "uscc") == "AB123"


def test_normalise_value_does_not_upper_case_non_ascii_into_ascii() -> None:
    # 'ı'.upper() is 'I'; letting that through would accept a character nobody typed.
    assert normalise_value("ı") == "ı"


@pytest.mark.parametrize(
    "text",
    [
        "uscc:91110000802100433B",
        " USCC : 9111 0000 8021 0043 3b ",
        "ＵＳＣＣ：９１１１００００８０２１００４３３ｂ",
    ],
)
def test_parse_identifier(text: str) -> None:
    ident = parse_identifier(text)
    assert ident == Identifier("uscc", "91110000802100433B")
    assert str(ident) == "uscc:91110000802100433B"


def test_parse_identifier_keeps_the_colon_inside_passport_values() -> None:
    assert str(parse_identifier("passport:DE:C01X00T47")) == "passport:DE:C01X00T47"


def test_parse_identifier_without_colon_names_the_field() -> None:
    with pytest.raises(ValidationError) as exc:
        parse_identifier("91110000802100433B", field="counterparty")
    assert exc.value.field == "counterparty"
    assert "scheme:value" in reason(exc)


def test_scheme_is_normalised() -> None:
    assert validate_identifier(" ＵＳＣＣ ", "91110000802100433B").scheme == "uscc"


# --- failures ---------------------------------------------------------------------


def test_unknown_scheme_lists_known_schemes() -> None:
    with pytest.raises(ValidationError) as exc:
        validate_identifier("ssn", "123")
    assert exc.value.field == "id_scheme"
    assert reason(exc) == (
        "unknown identifier scheme 'ssn'; known schemes: uscc, ric, lei, passport, registry"
    )
    assert SCHEMES == ("uscc", "ric", "lei", "passport", "registry")


def test_empty_value() -> None:
    with pytest.raises(ValidationError) as exc:
        validate_identifier("uscc", " \u3000 ")
    assert reason(exc) == "the uscc value is empty"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("91110000802100433C", "check character is 'C', expected 'B' (GB 32100-2015)"),
        ("9111000080210043", "a USCC has 18 characters, got 16 (GB 32100-2015)"),
        (
            "A1110000802100433B",
            "character 1 is 'A'; characters 1-8 (authority, entity type and area code) "
            "must be digits",
        ),
        (
            "91110000802I00433B",
            "character 12 is 'I'; a USCC uses digits and the letters A-Z except I, O, S, V "
            "and Z (GB 32100-2015)",
        ),
        (
            "91110000802100433#",
            "character 18 is '#'; a USCC uses digits and the letters A-Z except I, O, S, V "
            "and Z (GB 32100-2015)",
        ),
    ],
)
def test_uscc_failures(value: str, expected: str) -> None:
    with pytest.raises(ValidationError) as exc:
        validate_identifier("uscc", value, field="uscc_column")
    assert exc.value.field == "uscc_column"
    assert reason(exc) == expected
    assert exc.value.__cause__ is not None  # translated from stdnum, not swallowed


def _check(body17: str) -> str:
    # stdnum's function wants a full number and ignores its last character.
    return str(stdnum_ric.calc_check_digit(body17 + "0"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("360426199101010072", "check digit is '2', expected '1' (ISO 7064 MOD 11-2)"),
        (
            "360426910101007",
            "15-digit identity numbers are obsolete; only the 18-character form is accepted",
        ),
        ("3604261991010100", "an identity number has 18 characters, got 16"),
        ("36042619910101007A", "an identity number is 17 digits followed by a check digit or 'X'"),
        ("99000019910101001" + _check("99000019910101001"), "unknown area code '990000'"),
        ("11999919910101001" + _check("11999919910101001"), "unknown area code '119999'"),
        (
            "11010320150101001" + _check("11010320150101001"),
            "area code '110103' was not in use in 2015, the year of birth",
        ),
        (
            "36042619910230001" + _check("36042619910230001"),
            "'19910230' (characters 7-14) is not a valid birth date",
        ),
    ],
)
def test_ric_failures(value: str, expected: str) -> None:
    with pytest.raises(ValidationError) as exc:
        validate_identifier("ric", value)
    assert exc.value.field == "id_value"
    assert reason(exc) == expected


def test_ric_area_failures_are_translated_from_stdnum() -> None:
    value = "11999919910101001" + _check("11999919910101001")
    with pytest.raises(ValidationError) as exc:
        validate_identifier("ric", value)
    assert isinstance(exc.value.__cause__, KeyError)  # stdnum's bare KeyError


def test_ric_future_birth_date_refused_only_when_today_is_given() -> None:
    value = make_ric("110101", date(2024, 6, 1), 7)
    assert validate_identifier("ric", value).value == value
    assert validate_identifier("ric", value, today=date(2024, 6, 1)).value == value
    with pytest.raises(ValidationError) as exc:
        validate_identifier("ric", value, today=date(2024, 5, 31))
    assert reason(exc) == "birth date 2024-06-01 is in the future"
    with pytest.raises(ValidationError):
        parse_identifier(f"ric:{value}", today=date(2024, 5, 31))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("213800KUD8LAJWSQ9D16", "check digits are '16', expected '15' (ISO 17442)"),
        ("213800KUD8LAJWSQ9D1", "an LEI has 20 characters, got 19 (ISO 17442)"),
        ("213800KUD8LAJWSQ9D1_", "an LEI uses only digits and the letters A-Z (ISO 17442)"),
    ],
)
def test_lei_failures(value: str, expected: str) -> None:
    with pytest.raises(ValidationError) as exc:
        validate_identifier("lei", value)
    assert reason(exc) == expected


@pytest.mark.parametrize(
    ("scheme", "value", "expected"),
    [
        ("passport", "XX:C01X00T47", "'XX' is not an ISO 3166-1 alpha-2 country code"),
        ("passport", "DEU:C01X00T47", "'DEU' is not an ISO 3166-1 alpha-2 country code"),
        (
            "passport",
            "C01X00T47",
            "write the value as CC:NUMBER, CC an ISO 3166-1 country code, e.g. DE:C01X00T47",
        ),
        ("passport", "DE:", "the number after 'DE:' must have 1-40 characters"),
        ("passport", "DE:" + "1" * 41, "the number after 'DE:' must have 1-40 characters"),
        (
            "passport",
            "DE:C01-X00",
            "the number contains '-'; use only digits and the letters A-Z",
        ),
        (
            "registry",
            "GB:0044#5790",
            "the number contains '#'; use only digits, the letters A-Z, '-', '/' and '.'",
        ),
    ],
)
def test_foreign_failures(scheme: str, value: str, expected: str) -> None:
    with pytest.raises(ValidationError) as exc:
        validate_identifier(scheme, value)
    assert reason(exc) == expected


def test_registry_allows_its_separators() -> None:
    assert validate_identifier("registry", "DE:HRB-12345/A.1").value == "DE:HRB-12345/A.1"


# --- helpers ----------------------------------------------------------------------


def test_ric_birth_date_and_area_code() -> None:
    assert ric_birth_date("360426199101010071") == date(1991, 1, 1)
    assert ric_area_code("360426 19910101 0071") == "360426"
    with pytest.raises(ValidationError):
        ric_birth_date("360426199101010072")


def test_mask_identifier() -> None:
    assert mask_identifier(Identifier("ric", "11010119800506004X")) == "110101********004X"
    assert mask_identifier(Identifier("passport", "DE:C01X00T47")) == "DE:*****0T47"
    assert mask_identifier(Identifier("passport", "GB:1234")) == "GB:**34"
    assert mask_identifier(Identifier("uscc", "91110000802100433B")) == "91110000802100433B"


def test_area_codes() -> None:
    current = area_codes()
    assert "110101" in current
    assert "110103" not in current  # 崇文区, merged into 东城区 in 2010
    assert "110103" in area_codes(2000)
    assert "110115" not in area_codes(1990)  # 大兴区 exists from 2001
    assert all(len(code) == 6 and not code.endswith("00") for code in current)
    assert len(current) > 2500


@pytest.mark.parametrize("code", ["110101", "440305", "510103"])
def test_area_codes_are_accepted_by_stdnum(code: str) -> None:
    assert code in area_codes(1985)
    assert stdnum_ric.is_valid(make_ric(code, date(1985, 3, 4), 12))


def test_generators_refuse_bad_input() -> None:
    with pytest.raises(ValidationError):
        make_uscc("9111000080210043")
    with pytest.raises(ValidationError):
        make_uscc("9111000080210043I")
    with pytest.raises(ValidationError):
        make_ric("11010", date(1980, 1, 1), 1)
    with pytest.raises(ValidationError):
        make_ric("110101", date(1980, 1, 1), 1000)
    with pytest.raises(ValidationError):
        make_lei("5493", "00ABC")


def test_generators_known_values() -> None:
    assert make_uscc("91110000802100433") == "91110000802100433B"
    assert make_ric("360426", date(1991, 1, 1), 7) == "360426199101010071"
    assert make_lei("2138", "00KUD8LAJWSQ9D") == "213800KUD8LAJWSQ9D15"


# --- properties -------------------------------------------------------------------

uscc_bodies = st.builds(
    lambda head, tail: head + tail,
    st.text(DIGITS, min_size=8, max_size=8),
    st.text(USCC_ALPHABET, min_size=9, max_size=9),
)
birth_dates = st.dates(date(1930, 1, 1), date(2010, 12, 31))


@st.composite
def rics(draw: st.DrawFn) -> str:
    birth = draw(birth_dates)
    area = draw(st.sampled_from(area_codes(birth.year)))
    return make_ric(area, birth, draw(st.integers(0, 999)))


@given(uscc_bodies)
def test_make_uscc_always_validates(body: str) -> None:
    value = make_uscc(body)
    assert validate_identifier("uscc", value).value == value
    assert stdnum_uscc.is_valid(value)


@given(rics())
def test_make_ric_always_validates(value: str) -> None:
    assert validate_identifier("ric", value, today=date(2011, 1, 1)).value == value


@given(st.text(ALNUM, min_size=4, max_size=4), st.text(ALNUM, min_size=14, max_size=14))
def test_make_lei_always_validates(prefix: str, body: str) -> None:
    value = make_lei(prefix, body)
    assert validate_identifier("lei", value).value == value


def changed(value: str, position: int, alphabet: str, pick: int) -> str:
    others = [c for c in alphabet if c != value[position]]
    return value[:position] + others[pick % len(others)] + value[position + 1 :]


@given(uscc_bodies, st.integers(0, 17), st.integers(0, 100))
def test_any_single_change_to_a_uscc_is_rejected(body: str, position: int, pick: int) -> None:
    # Alphabet wider than the USCC one, so format errors are exercised too.
    wrong = changed(make_uscc(body), position, ALNUM, pick)
    with pytest.raises(ValidationError):
        validate_identifier("uscc", wrong)


@given(rics(), st.integers(0, 17), st.integers(0, 100))
def test_any_single_change_to_a_ric_is_rejected(value: str, position: int, pick: int) -> None:
    wrong = changed(value, position, DIGITS + "X", pick)
    with pytest.raises(ValidationError):
        validate_identifier("ric", wrong)


def test_a_masked_resident_number_is_read_in_its_published_forms() -> None:
    from trustreg.core.identifiers import parse_masked

    expected = parse_masked("110101********123x")
    assert expected is not None
    assert (expected.head, expected.tail) == ("110101", "123X")
    for text in ("ric:110101********123X", "110101＊＊＊＊＊＊＊＊123X", " 110101********123X "):
        assert parse_masked(text) == expected, text
    assert expected.matches("11010119800517123X")
    assert not expected.matches("11010219800517123X")  # another area
    assert not expected.matches("110101198005171234")  # another tail
    for text in ("110101*******123X", "uscc:110101********123X", "王伟", "110101198005171234"):
        assert parse_masked(text) is None, text
