"""Demo data: deterministic, valid identifiers, consistent rows, every record type."""

from __future__ import annotations

import itertools
import re
import tomllib
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
from stdnum import numdb

from trustreg.core.identifiers import ric_birth_date, validate_identifier
from trustreg.demo import (
    MODEL_RECORD_TYPES,
    RECORD_COLUMNS,
    SUBJECT_COLUMNS,
    DemoAuthority,
    demo_authorities,
    generate_record_rows_fast,
    generate_records,
    generate_subjects,
)
from trustreg.errors import ValidationError

TODAY = date(2026, 3, 15)
RULEBOOK = Path(__file__).resolve().parents[1] / "rulebooks" / "model.toml"
SCHEME_BY_KIND = {
    "legal_entity": {"uscc"},
    "other_org": {"uscc"},
    "individual": {"ric"},
    "foreign_entity": {"lei", "registry"},
    "foreign_individual": {"passport"},
}
NO_AMOUNT = {"business_abnormal", "taxpayer_a_grade", "insolvency"}


@pytest.fixture(scope="module")
def subjects() -> list[dict[str, str]]:
    return list(generate_subjects(2000, 11, TODAY))


@pytest.fixture(scope="module")
def records(subjects: list[dict[str, str]]) -> list[dict[str, str]]:
    return list(generate_records(subjects, 11, TODAY))


def province_of(area_code: str) -> str:
    """Province name for an area code, read from stdnum's table, not from demo.py."""
    return numdb.get("cn/loc").info(area_code[:2] + "0000")[0][1]["province"]


# --- authorities ------------------------------------------------------------------


def test_demo_authorities() -> None:
    authorities = demo_authorities()
    assert 10 <= len(authorities) <= 15
    assert len({a.code for a in authorities}) == len(authorities)
    assert {a.kind for a in authorities} == {"court", "tax", "market_regulator", "other"}
    assert DemoAuthority("court-bj-1", "court", "北京市第一中级人民法院") in authorities
    assert DemoAuthority("tax-sh", "tax", "国家税务总局上海市税务局") in authorities
    assert DemoAuthority("samr-gd", "market_regulator", "广东省市场监督管理局") in authorities
    assert DemoAuthority("other-csrc", "other", "中国证券监督管理委员会") in authorities


def test_model_record_types_mirror_the_rulebook() -> None:
    rulebook = tomllib.loads(RULEBOOK.read_text(encoding="utf-8"))
    expected = [
        (rt["code"], set(rt["subject_kinds"]), set(rt["authority_kinds"]))
        for rt in rulebook["record_type"]
    ]
    actual = [
        (code, set(kinds), set(authorities)) for code, kinds, authorities in MODEL_RECORD_TYPES
    ]
    assert actual == expected


# --- subjects ---------------------------------------------------------------------


def test_subjects_are_deterministic() -> None:
    first = list(generate_subjects(300, 5, TODAY))
    assert first == list(generate_subjects(300, 5, TODAY))
    assert first != list(generate_subjects(300, 6, TODAY))
    assert len(first) == 300


def test_subject_rows_have_exactly_the_columns(subjects: list[dict[str, str]]) -> None:
    for row in subjects:
        assert tuple(row) == SUBJECT_COLUMNS
        assert all(isinstance(value, str) for value in row.values())


def test_subject_identifiers_validate_and_are_unique(subjects: list[dict[str, str]]) -> None:
    for row in subjects:
        ident = validate_identifier(row["id_scheme"], row["id_value"], today=TODAY)
        assert ident.value == row["id_value"]  # already canonical
        assert row["id_scheme"] in SCHEME_BY_KIND[row["kind"]]
    assert len({(r["id_scheme"], r["id_value"]) for r in subjects}) == len(subjects)


def test_subject_mix(subjects: list[dict[str, str]]) -> None:
    kinds = Counter(row["kind"] for row in subjects)
    assert 0.72 <= (kinds["legal_entity"] + kinds["other_org"]) / 2000 <= 0.88
    assert kinds["other_org"] > 50
    assert 0.08 <= kinds["individual"] / 2000 <= 0.16
    assert 0.03 <= kinds["foreign_entity"] / 2000 <= 0.08
    assert 0.015 <= kinds["foreign_individual"] / 2000 <= 0.05
    schemes = Counter(row["id_scheme"] for row in subjects)
    assert schemes["lei"] > 0
    assert schemes["registry"] > 0


def test_chinese_subjects_sit_where_their_identifier_says(
    subjects: list[dict[str, str]],
) -> None:
    for row in subjects:
        if row["id_scheme"] == "uscc":
            assert row["country"] == "CN"
            assert province_of(row["id_value"][2:8]) == row["region"]
        elif row["id_scheme"] == "ric":
            assert row["country"] == "CN"
            assert province_of(row["id_value"][:6]) == row["region"]
        else:
            assert row["region"] == ""
            assert row["id_value"].startswith(row["country"] + ":") or row["id_scheme"] == "lei"


def test_subject_dates(subjects: list[dict[str, str]]) -> None:
    adult = TODAY.replace(year=TODAY.year - 18)
    for row in subjects:
        if row["kind"] in ("individual", "foreign_individual"):
            assert row["registered_on"] == ""
            assert date.fromisoformat(row["birth_date"]) <= adult
        else:
            assert row["birth_date"] == ""
            assert date(1995, 1, 1) <= date.fromisoformat(row["registered_on"]) <= TODAY
        if row["kind"] == "individual":
            assert ric_birth_date(row["id_value"]).isoformat() == row["birth_date"]


def test_subject_names(subjects: list[dict[str, str]]) -> None:
    han = re.compile(r"^[\u4e00-\u9fff（）]+$")
    for row in subjects:
        assert row["name"]
        if row["kind"] == "individual":
            assert han.match(row["name"])
            assert 2 <= len(row["name"]) <= 3
        elif row["kind"] in ("legal_entity", "other_org"):
            assert han.match(row["name"])
        else:
            assert row["name"].isascii() or row["country"] in ("DE", "FR")
    legal = [r for r in subjects if r["kind"] == "legal_entity"]
    assert all(r["name"].endswith(("有限公司", "有限责任公司")) for r in legal)
    with_alt = [r["alt_names"] for r in legal if r["alt_names"]]
    assert any(alt.isascii() and alt.endswith("Ltd.") for alt in with_alt)
    assert any("|" in alt for alt in with_alt)


# --- records ----------------------------------------------------------------------


def test_records_are_deterministic(subjects: list[dict[str, str]]) -> None:
    first = list(generate_records(subjects[:300], 3, TODAY))
    assert first == list(generate_records(subjects[:300], 3, TODAY))
    assert first != list(generate_records(subjects[:300], 4, TODAY))


def test_about_one_record_per_two_subjects(records: list[dict[str, str]]) -> None:
    assert 0.35 <= len(records) / 2000 <= 0.75


def test_every_record_type_appears(records: list[dict[str, str]]) -> None:
    assert {r["record_type"] for r in records} == {code for code, _, _ in MODEL_RECORD_TYPES}


def test_record_rows_have_exactly_the_columns(records: list[dict[str, str]]) -> None:
    for row in records:
        assert tuple(row) == RECORD_COLUMNS
        assert all(isinstance(value, str) for value in row.values())


def test_records_follow_the_rulebook(records: list[dict[str, str]]) -> None:
    kinds = {a.code: a.kind for a in demo_authorities()}
    rules = {code: (set(s), set(a)) for code, s, a in MODEL_RECORD_TYPES}
    for row in records:
        subject_kinds, authority_kinds = rules[row["record_type"]]
        assert row["subject_kind"] in subject_kinds
        assert kinds[row["authority"]] in authority_kinds


def test_records_copy_their_subject(
    subjects: list[dict[str, str]], records: list[dict[str, str]]
) -> None:
    by_id = {(s["id_scheme"], s["id_value"]): s for s in subjects}
    for row in records:
        subject = by_id[(row["id_scheme"], row["id_value"])]
        assert row["subject_kind"] == subject["kind"]
        assert row["subject_name"] == subject["name"]


def test_record_dates(subjects: list[dict[str, str]], records: list[dict[str, str]]) -> None:
    by_id = {s["id_value"]: s for s in subjects}
    four_years_ago = TODAY - timedelta(days=4 * 366)
    for row in records:
        decided = date.fromisoformat(row["decided_on"])
        effective = date.fromisoformat(row["effective_from"])
        assert four_years_ago <= decided <= effective <= TODAY
        registered = by_id[row["id_value"]]["registered_on"]
        assert not registered or date.fromisoformat(registered) <= decided


def test_record_amounts_and_status(records: list[dict[str, str]]) -> None:
    for row in records:
        if row["record_type"] in NO_AMOUNT:
            assert row["amount"] == ""
        else:
            assert float(row["amount"]) > 0
            assert re.fullmatch(r"\d+\.\d\d", row["amount"])
        assert row["currency"] == ("CNY" if row["amount"] else "")
        assert row["status"] in ("active", "satisfied")
        assert row["status"] == "active" or row["record_type"] == "judgment_defaulter"
        assert row["summary"].endswith("。")
    assert any(row["status"] == "satisfied" for row in records)
    minor = [r for r in records if r["record_type"] == "admin_penalty_minor"]
    assert all(float(r["amount"]) <= 200 for r in minor if r["subject_kind"] == "individual")


def test_references_are_unique_and_well_formed(records: list[dict[str, str]]) -> None:
    assert len({r["reference"] for r in records}) == len(records)
    kinds = {a.code: a.kind for a in demo_authorities()}
    court = re.compile(r"^\((\d{4})\)[\u4e00-\u9fff]\d{2,4}[执破]\d+号$")
    document = re.compile(r"^[\u4e00-\u9fff]+〔(\d{4})〕\d+号$")
    for row in records:
        pattern = court if kinds[row["authority"]] == "court" else document
        match = pattern.match(row["reference"])
        assert match, row["reference"]
        assert match.group(1) == row["decided_on"][:4]
    assert any(r["reference"].startswith("沪税稽罚〔") for r in records)


def test_record_types_parameter() -> None:
    subjects = list(generate_subjects(200, 1, TODAY))
    only = [("business_abnormal", ["legal_entity", "other_org"], ["market_regulator"])]
    rows = list(generate_records(subjects, 1, TODAY, record_types=only))
    assert rows
    assert {r["record_type"] for r in rows} == {"business_abnormal"}
    assert {r["subject_kind"] for r in rows} <= {"legal_entity", "other_org"}
    with pytest.raises(ValidationError) as exc:
        list(generate_records(subjects, 1, TODAY, record_types=[("x", ["individual"], ["army"])]))
    assert exc.value.field == "record_types"


# --- fast stream ------------------------------------------------------------------


def test_fast_rows_count_subjects_and_validity() -> None:
    rows = list(generate_record_rows_fast(4000, 9, TODAY))
    assert len(rows) == 4000
    assert rows == list(generate_record_rows_fast(4000, 9, TODAY))
    assert len({r["reference"] for r in rows}) == 4000
    distinct = {(r["id_scheme"], r["id_value"]) for r in rows}
    assert 4000 / 6 <= len(distinct) <= 4000 / 3
    for scheme, value in distinct:
        validate_identifier(scheme, value, today=TODAY)
    assert {r["record_type"] for r in rows} == {code for code, _, _ in MODEL_RECORD_TYPES}
    assert all(tuple(r) == RECORD_COLUMNS for r in rows)


def test_fast_rows_stream_lazily() -> None:
    # A billion rows would take hours if anything were built up front.
    first = list(itertools.islice(generate_record_rows_fast(10**9, 2, TODAY), 5))
    assert len(first) == 5
    assert list(generate_record_rows_fast(0, 2, TODAY)) == []
