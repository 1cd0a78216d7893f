"""Ratings and list memberships under the model rulebook: properties and worked examples.

The worked examples write their expected points, grades and dates out by hand from
``rulebooks/model.toml``; none is computed by the code under test.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trustreg.core.rating import (
    Assessment,
    ListMembership,
    RecordFact,
    RecordVersion,
    evaluate,
    facts_as_known,
)
from trustreg.core.rulebook import parse_rulebook

MODEL = Path(__file__).resolve().parents[1] / "rulebooks" / "model.toml"
RULEBOOK = parse_rulebook(MODEL.read_text(encoding="utf-8"))
SUBJECT = 7

TYPES = sorted(RULEBOOK.record_types)
STATUSES = ("active", "disputed", "satisfied", "repaired", "expired", "revoked")
FIRST_DAY = date(2025, 1, 1)
LAST_DAY = date(2029, 12, 31)

DISHONEST = "dishonest_defaulters"
SERIOUS = "serious_violators"
ABNORMAL = "abnormal_operations"
REDLIST = "redlist"


# --- strategies -----------------------------------------------------------------------


@st.composite
def record_facts(draw: st.DrawFn, record_id: int, types: tuple[str, ...] = ()) -> RecordFact:
    """One record of a model rulebook type; its status began on or after it took effect."""
    effective = draw(st.dates(FIRST_DAY, LAST_DAY))
    return RecordFact(
        id=record_id,
        record_type=draw(st.sampled_from(types or TYPES)),
        effective_from=effective,
        status=draw(st.sampled_from(STATUSES)),
        status_since=draw(st.none() | st.dates(effective, LAST_DAY)),
        reference=f"ref-{record_id}",
    )


@st.composite
def fact_lists(draw: st.DrawFn, max_size: int = 12) -> list[RecordFact]:
    ids = draw(st.lists(st.integers(1, 100_000), unique=True, max_size=max_size))
    return [draw(record_facts(record_id)) for record_id in ids]


as_of_dates = st.dates(FIRST_DAY, LAST_DAY + timedelta(days=400))


def rate(records: list[RecordFact], as_of: date) -> Assessment:
    return evaluate(SUBJECT, records, RULEBOOK, as_of)


def fresh_id(records: list[RecordFact]) -> int:
    return max((r.id for r in records), default=0) + 1


# --- properties -----------------------------------------------------------------------


@given(fact_lists(), as_of_dates)
def test_explanation_lines_sum_to_the_points(records: list[RecordFact], as_of: date) -> None:
    assessment = rate(records, as_of)
    assert sum(line.points for line in assessment.explanation) == assessment.points
    assert assessment.explanation[0].points == 1000
    assert assessment.explanation[0].record_id is None
    ids = {r.id for r in records}
    assert all(line.record_id in ids for line in assessment.explanation[1:])
    assert assessment.grade == RULEBOOK.rating.grade(assessment.points)
    assert assessment.as_of == as_of
    assert assessment.rulebook_version == "2026.2"


@given(fact_lists(), as_of_dates, st.data())
def test_record_order_does_not_matter(
    records: list[RecordFact], as_of: date, data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(records))
    assert rate(shuffled, as_of) == rate(records, as_of)


@given(fact_lists(), as_of_dates)
def test_evaluation_is_deterministic(records: list[RecordFact], as_of: date) -> None:
    first = rate(records, as_of)
    assert rate(list(records), as_of) == first
    assert evaluate(SUBJECT, iter(records), RULEBOOK, as_of) == first  # a one-pass iterable
    assert rate(records, as_of).to_dict() == first.to_dict()


@given(fact_lists(), as_of_dates, st.data())
def test_a_record_effective_after_as_of_changes_nothing(
    records: list[RecordFact], as_of: date, data: st.DataObject
) -> None:
    later = data.draw(record_facts(fresh_id(records)))
    effective = as_of + timedelta(days=data.draw(st.integers(1, 1500)))
    since = effective + timedelta(days=data.draw(st.integers(0, 400)))
    future = RecordFact(later.id, later.record_type, effective, later.status, since)
    assert rate([*records, future], as_of) == rate(records, as_of)


@given(fact_lists(), st.data())
def test_a_record_past_its_publicity_end_never_counts(
    records: list[RecordFact], data: st.DataObject
) -> None:
    record = data.draw(record_facts(fresh_id(records)))
    rule = RULEBOOK.record_types[record.record_type]
    # The record is no longer published from publicity_days after it took effect, and
    # earlier once it is repaired or expired (or satisfied, where the rule says so).
    ends = [record.effective_from + timedelta(days=rule.publicity_days)]
    since = record.status_since or record.effective_from
    if record.status in ("repaired", "expired") or (
        record.status == "satisfied" and rule.public_until_satisfied
    ):
        ends.append(since)
    as_of = data.draw(st.sampled_from(ends)) + timedelta(days=data.draw(st.integers(0, 800)))
    assert rate([*records, record], as_of) == rate(records, as_of)


@given(fact_lists(), as_of_dates)
def test_memberships_cover_as_of_and_name_their_records(
    records: list[RecordFact], as_of: date
) -> None:
    by_id = {r.id: r for r in records}
    assessment = rate(records, as_of)
    codes = [m.list_code for m in assessment.lists]
    assert codes == sorted(set(codes))
    for membership in assessment.lists:
        assert membership.entered_on <= as_of < membership.scheduled_exit
        assert membership.record_ids
        assert len(set(membership.record_ids)) == len(membership.record_ids)
        assert membership.legal_basis == RULEBOOK.lists[membership.list_code].legal_basis
        for record_id in membership.record_ids:
            assert record_id in by_id
            record = by_id[record_id]
            assert record.status != "revoked"
            assert record.effective_from <= as_of
            rule = RULEBOOK.record_types[record.record_type]
            assert membership.list_code in {e.list_code for e in rule.list_effects}
        assert membership.entered_on == min(by_id[i].effective_from for i in membership.record_ids)


@given(fact_lists(), as_of_dates, st.data())
def test_a_revoked_record_changes_nothing(
    records: list[RecordFact], as_of: date, data: st.DataObject
) -> None:
    record = data.draw(record_facts(fresh_id(records)))
    revoked = RecordFact(record.id, record.record_type, record.effective_from, "revoked")
    assert rate([*records, revoked], as_of) == rate(records, as_of)


@given(fact_lists(), as_of_dates, st.data())
def test_insolvency_never_puts_anyone_on_a_dishonesty_list(
    records: list[RecordFact], as_of: date, data: st.DataObject
) -> None:
    start = fresh_id(records)
    count = data.draw(st.integers(1, 3))
    insolvencies = [data.draw(record_facts(start + i, ("insolvency",))) for i in range(count)]
    with_them = rate([*records, *insolvencies], as_of)
    without = rate(records, as_of)
    assert with_them.lists == without.lists
    assert with_them.points == without.points
    insolvent_ids = {r.id for r in insolvencies}
    for membership in with_them.lists:
        if RULEBOOK.lists[membership.list_code].dishonesty:
            assert not insolvent_ids & set(membership.record_ids)


# --- worked examples, one per record type ----------------------------------------------


def fact(
    record_id: int,
    record_type: str,
    effective: date,
    status: str = "active",
    since: date | None = None,
) -> RecordFact:
    return RecordFact(record_id, record_type, effective, status, since, reference=f"R{record_id}")


def listed(assessment: Assessment) -> dict[str, tuple[date, date, tuple[int, ...]]]:
    return {m.list_code: (m.entered_on, m.scheduled_exit, m.record_ids) for m in assessment.lists}


MARCH_1 = date(2026, 3, 1)
NOV_1 = date(2026, 11, 1)


def test_judgment_defaulter_costs_100_and_lists_for_730_days() -> None:
    assessment = rate([fact(1, "judgment_defaulter", MARCH_1)], NOV_1)
    assert assessment.points == 900
    assert assessment.grade == "B"
    # 2026-03-01 + 365 days = 2027-03-01; + 365 more = 2028-02-29 (2028 is a leap year).
    assert assessment.lists == (
        ListMembership(
            DISHONEST,
            MARCH_1,
            date(2028, 2, 29),
            (1,),
            RULEBOOK.lists[DISHONEST].legal_basis,
        ),
    )
    assert assessment.lists[0].legal_basis.startswith("SPC Provisions on Publishing")
    start, line = assessment.explanation
    assert (start.points, start.text) == (1000, "starting points")
    assert (line.points, line.record_id, line.record_type) == (-100, 1, "judgment_defaulter")
    assert line.legal_basis is not None
    assert line.legal_basis.startswith("Civil Procedure Law of the PRC art. 266")
    assert line.text == (
        "Dishonest judgment defaulter (失信被执行人) R1, effective 2026-03-01: -100"
    )


def test_judgment_defaulter_leaves_on_the_last_day_of_publicity() -> None:
    records = [fact(1, "judgment_defaulter", MARCH_1)]
    assert rate(records, date(2028, 2, 28)).points == 900
    assert listed(rate(records, date(2028, 2, 28))) == {
        DISHONEST: (MARCH_1, date(2028, 2, 29), (1,))
    }
    gone = rate(records, date(2028, 2, 29))
    assert (gone.points, gone.grade, gone.lists) == (1000, "A", ())


def _versions_of_a_satisfied_judgment() -> list[RecordVersion]:
    return [
        RecordVersion(
            1, 1, datetime(2026, 3, 2, 9), "judgment_defaulter", MARCH_1, "active", MARCH_1
        ),
        RecordVersion(
            1,
            2,
            datetime(2026, 6, 2, 9),
            "judgment_defaulter",
            MARCH_1,
            "satisfied",
            date(2026, 6, 1),
        ),
    ]


def test_satisfied_judgment_ends_points_and_listing_but_not_before_it_was_satisfied() -> None:
    versions = _versions_of_a_satisfied_judgment()
    after = rate(facts_as_known(versions, NOV_1), NOV_1)
    assert (after.points, after.grade, after.lists) == (1000, "A", ())
    assert [line.points for line in after.explanation] == [1000]

    before = rate(facts_as_known(versions, date(2026, 5, 1)), date(2026, 5, 1))
    assert (before.points, before.grade) == (900, "B")
    assert listed(before) == {DISHONEST: (MARCH_1, date(2028, 2, 29), (1,))}


def test_satisfied_status_passed_directly_ends_the_listing_on_the_day() -> None:
    records = [fact(1, "judgment_defaulter", MARCH_1, "satisfied", date(2026, 6, 1))]
    assert rate(records, NOV_1).points == 1000
    assert rate(records, date(2026, 6, 1)).lists == ()
    on_may_31 = rate(records, date(2026, 5, 31))
    assert on_may_31.points == 900
    assert listed(on_may_31) == {DISHONEST: (MARCH_1, date(2026, 6, 1), (1,))}


def test_insolvency_costs_nothing_and_lists_nowhere() -> None:
    assessment = rate([fact(1, "insolvency", MARCH_1)], NOV_1)
    assert (assessment.points, assessment.grade, assessment.lists) == (1000, "A", ())
    line = assessment.explanation[1]
    assert (line.points, line.record_type) == (0, "insolvency")
    assert "no points: not a sign of dishonesty" in line.text


def test_tax_serious_violation_costs_150_and_lists_for_1095_days() -> None:
    assessment = rate([fact(1, "tax_serious_violation", MARCH_1)], NOV_1)
    assert (assessment.points, assessment.grade) == (850, "B")
    # 2026-03-01 + 365 = 2027-03-01, + 366 = 2028-03-01, + 365 = 2029-03-01 is 1096 days.
    assert listed(assessment) == {SERIOUS: (MARCH_1, date(2029, 2, 28), (1,))}


def test_tax_serious_violation_stays_listed_when_satisfied() -> None:
    records = [fact(1, "tax_serious_violation", MARCH_1, "satisfied", date(2026, 6, 1))]
    assessment = rate(records, NOV_1)
    assert (assessment.points, assessment.grade) == (850, "B")
    assert listed(assessment) == {SERIOUS: (MARCH_1, date(2029, 2, 28), (1,))}


def test_minor_penalty_is_published_for_90_days() -> None:
    records = [fact(1, "admin_penalty_minor", date(2026, 9, 1))]
    on_nov_1 = rate(records, NOV_1)
    assert (on_nov_1.points, on_nov_1.grade, on_nov_1.lists) == (995, "A", ())
    # 2026-09-01 + 29 = 09-30, + 31 = 10-31, + 30 = 11-30: 90 days.
    assert rate(records, date(2026, 11, 29)).points == 995
    assert rate(records, date(2026, 11, 30)).points == 1000
    gone = rate(records, date(2026, 12, 1))
    assert (gone.points, gone.grade, gone.explanation[1:]) == (1000, "A", ())


def test_five_minor_penalties_are_capped_at_minus_20() -> None:
    records = [fact(i, "admin_penalty_minor", date(2026, 9, 1)) for i in range(1, 6)]
    assessment = rate(records, NOV_1)
    assert (assessment.points, assessment.grade) == (980, "A")
    assert [line.points for line in assessment.explanation] == [1000, -5, -5, -5, -5, 0]
    assert "capped" in assessment.explanation[-1].text
    assert assessment.explanation[-1].record_id == 5
    assert not any("capped" in line.text for line in assessment.explanation[:-1])


def test_four_judgments_are_capped_at_minus_300() -> None:
    records = [fact(i, "judgment_defaulter", date(2026, i, 1)) for i in (1, 2, 3, 4)]
    assessment = rate(records, NOV_1)
    assert (assessment.points, assessment.grade) == (700, "C")
    assert [line.points for line in assessment.explanation] == [1000, -100, -100, -100, 0]
    # The last judgment (2026-04-01) extends the listing: + 731 days is 2028-04-01.
    assert listed(assessment) == {
        DISHONEST: (date(2026, 1, 1), date(2028, 3, 31), (1, 2, 3, 4)),
    }


def test_general_penalty_costs_30() -> None:
    assessment = rate([fact(1, "admin_penalty_general", MARCH_1)], NOV_1)
    assert (assessment.points, assessment.grade, assessment.lists) == (970, "A", ())
    # Published for 365 days: gone on 2027-03-01.
    assert rate([fact(1, "admin_penalty_general", MARCH_1)], date(2027, 2, 28)).points == 970
    assert rate([fact(1, "admin_penalty_general", MARCH_1)], date(2027, 3, 1)).points == 1000


def test_serious_penalty_costs_100_and_lists_as_serious_violator() -> None:
    assessment = rate([fact(1, "admin_penalty_serious", MARCH_1)], NOV_1)
    assert (assessment.points, assessment.grade) == (900, "B")
    assert listed(assessment) == {SERIOUS: (MARCH_1, date(2029, 2, 28), (1,))}


def test_business_abnormal_costs_20_and_lists_on_abnormal_operations() -> None:
    assessment = rate([fact(1, "business_abnormal", MARCH_1)], NOV_1)
    assert (assessment.points, assessment.grade) == (980, "A")
    assert listed(assessment) == {ABNORMAL: (MARCH_1, date(2029, 2, 28), (1,))}


def test_business_abnormal_leaves_the_list_when_satisfied_but_stays_published() -> None:
    records = [fact(1, "business_abnormal", MARCH_1, "satisfied", date(2026, 6, 1))]
    assessment = rate(records, NOV_1)
    assert (assessment.points, assessment.grade, assessment.lists) == (980, "A", ())


def test_grade_a_taxpayer_adds_30_and_is_redlisted_for_a_year() -> None:
    assessment = rate([fact(1, "taxpayer_a_grade", MARCH_1)], NOV_1)
    assert (assessment.points, assessment.grade) == (1030, "AA")
    assert listed(assessment) == {REDLIST: (MARCH_1, date(2027, 3, 1), (1,))}


def test_two_grade_a_years_reach_aaa_and_a_third_is_capped() -> None:
    two = [fact(1, "taxpayer_a_grade", MARCH_1), fact(2, "taxpayer_a_grade", date(2026, 4, 1))]
    assessment = rate(two, NOV_1)
    assert (assessment.points, assessment.grade) == (1060, "AAA")
    three = [*two, fact(3, "taxpayer_a_grade", date(2026, 5, 1))]
    capped = rate(three, NOV_1)
    assert (capped.points, capped.grade) == (1060, "AAA")
    assert [line.points for line in capped.explanation] == [1000, 30, 30, 0]
    assert listed(capped) == {REDLIST: (MARCH_1, date(2027, 5, 1), (1, 2, 3))}


def test_a_mixed_file_reaches_grade_d() -> None:
    records = [
        fact(1, "judgment_defaulter", date(2026, 1, 10)),
        fact(2, "judgment_defaulter", date(2026, 2, 10)),
        fact(3, "judgment_defaulter", date(2026, 3, 10)),
        fact(4, "tax_serious_violation", date(2026, 4, 1)),
        fact(5, "tax_serious_violation", date(2026, 5, 1)),
        fact(6, "admin_penalty_serious", date(2026, 6, 1)),
        fact(7, "insolvency", date(2026, 7, 1)),
        fact(8, "admin_penalty_minor", date(2026, 10, 1)),
        fact(9, "taxpayer_a_grade", date(2026, 2, 1)),
        fact(10, "judgment_defaulter", date(2026, 3, 15), "revoked", date(2026, 4, 1)),
    ]
    assessment = rate(records, NOV_1)
    # 1000 - 3 * 100 - 2 * 150 - 100 + 0 - 5 + 30 = 325
    assert (assessment.points, assessment.grade) == (325, "D")
    assert (
        len(assessment.explanation) == 10
    )  # starting points and nine records, not the revoked one
    assert 10 not in {line.record_id for line in assessment.explanation}
    assert listed(assessment) == {
        # last judgment 2026-03-10 + 730 days (2028-03-10 would be 731)
        DISHONEST: (date(2026, 1, 10), date(2028, 3, 9), (1, 2, 3)),
        REDLIST: (date(2026, 2, 1), date(2027, 2, 1), (9,)),
        # the serious penalty of 2026-06-01 + 1095 days (2029-06-01 would be 1096)
        SERIOUS: (date(2026, 4, 1), date(2029, 5, 31), (4, 5, 6)),
    }
    assert [m.list_code for m in assessment.lists] == [DISHONEST, REDLIST, SERIOUS]


def test_assessment_as_json() -> None:
    data = rate([fact(1, "judgment_defaulter", MARCH_1)], NOV_1).to_dict()
    assert data["points"] == 900
    assert data["grade"] == "B"
    assert data["as_of"] == "2026-11-01"
    assert data["lists"][0]["list"] == DISHONEST
    assert data["lists"][0]["entered_on"] == "2026-03-01"
    assert data["lists"][0]["scheduled_exit"] == "2028-02-29"
    assert data["lists"][0]["records"] == [1]
    assert [line["points"] for line in data["explanation"]] == [1000, -100]


@pytest.mark.parametrize(
    ("points", "grade"),
    [
        (1200, "AAA"),
        (1050, "AAA"),
        (1049, "AA"),
        (1030, "AA"),
        (1029, "A"),
        (960, "A"),
        (959, "B"),
        (850, "B"),
        (849, "C"),
        (600, "C"),
        (599, "D"),
        (0, "D"),
        (-100, "D"),
    ],
)
def test_grade_bands(points: int, grade: str) -> None:
    assert RULEBOOK.rating.grade(points) == grade


# --- facts as known at a moment ---------------------------------------------------------


def version(
    record_id: int,
    entry_id: int,
    recorded_at: datetime,
    record_type: str,
    effective: date,
    status: str = "active",
    since: date | None = None,
) -> RecordVersion:
    return RecordVersion(
        record_id, entry_id, recorded_at, record_type, effective, status, since or effective
    )


def test_a_record_recorded_after_known_at_is_left_out() -> None:
    versions = [
        version(1, 1, datetime(2026, 3, 2, 9), "judgment_defaulter", MARCH_1),
        version(2, 2, datetime(2026, 10, 15, 9), "judgment_defaulter", date(2026, 4, 1)),
    ]
    known_then = facts_as_known(versions, NOV_1, known_at=datetime(2026, 10, 1))
    assert [f.id for f in known_then] == [1]
    assert rate(known_then, NOV_1).points == 900
    known_now = facts_as_known(versions, NOV_1)
    assert sorted(f.id for f in known_now) == [1, 2]
    assert rate(known_now, NOV_1).points == 800


def test_a_correction_recorded_after_known_at_does_not_change_what_was_known() -> None:
    versions = [
        version(1, 1, datetime(2026, 3, 2, 9), "admin_penalty_general", MARCH_1),
        version(1, 5, datetime(2026, 8, 1, 9), "admin_penalty_serious", MARCH_1),
    ]
    then = facts_as_known(versions, NOV_1, known_at=datetime(2026, 7, 1))
    assert [(f.id, f.record_type) for f in then] == [(1, "admin_penalty_general")]
    assert (rate(then, NOV_1).points, rate(then, NOV_1).lists) == (970, ())
    now = facts_as_known(versions, NOV_1)
    assert [(f.id, f.record_type) for f in now] == [(1, "admin_penalty_serious")]
    assert rate(now, NOV_1).points == 900
    assert listed(rate(now, NOV_1)) == {SERIOUS: (MARCH_1, date(2029, 2, 28), (1,))}


def test_a_correction_of_the_effective_date_uses_the_latest_known_version() -> None:
    versions = [
        version(1, 1, datetime(2026, 3, 2, 9), "judgment_defaulter", MARCH_1),
        version(1, 2, datetime(2026, 3, 5, 9), "judgment_defaulter", date(2026, 2, 1)),
    ]
    (record,) = facts_as_known(versions, NOV_1)
    assert record.effective_from == date(2026, 2, 1)
    (before,) = facts_as_known(versions, NOV_1, known_at=datetime(2026, 3, 3))
    assert before.effective_from == MARCH_1


def test_a_satisfaction_does_not_reach_back_before_its_status_since() -> None:
    versions = _versions_of_a_satisfied_judgment()
    (on_may_1,) = facts_as_known(versions, date(2026, 5, 1))
    assert on_may_1.status == "active"
    (on_nov_1,) = facts_as_known(versions, NOV_1)
    assert (on_nov_1.status, on_nov_1.status_since) == ("satisfied", date(2026, 6, 1))


def test_a_backdated_satisfaction_is_unknown_before_it_was_recorded() -> None:
    versions = [
        version(1, 1, datetime(2026, 3, 2, 9), "judgment_defaulter", MARCH_1),
        version(
            1,
            2,
            datetime(2026, 9, 1, 9),
            "judgment_defaulter",
            MARCH_1,
            "satisfied",
            date(2026, 6, 1),
        ),
    ]
    (then,) = facts_as_known(versions, NOV_1, known_at=datetime(2026, 8, 1))
    assert then.status == "active"
    assert rate([then], NOV_1).points == 900
    (now,) = facts_as_known(versions, NOV_1)
    assert now.status == "satisfied"
    assert rate([now], NOV_1).points == 1000


def test_versions_recorded_at_the_same_moment_follow_the_entry_order() -> None:
    moment = datetime(2026, 6, 2, 9)
    versions = [
        version(1, 4, moment, "judgment_defaulter", MARCH_1, "satisfied", date(2026, 6, 1)),
        version(1, 3, moment, "judgment_defaulter", MARCH_1),
    ]
    (record,) = facts_as_known(versions, NOV_1)
    assert record.status == "satisfied"
    (reversed_order,) = facts_as_known(list(reversed(versions)), NOV_1)
    assert reversed_order == record


@settings(max_examples=50)
@given(st.lists(st.integers(1, 5), min_size=1, max_size=8), st.data())
def test_facts_as_known_ignores_the_order_of_versions(
    record_ids: list[int], data: st.DataObject
) -> None:
    versions = []
    for entry_id, record_id in enumerate(record_ids, start=1):
        effective = data.draw(st.dates(FIRST_DAY, LAST_DAY))
        versions.append(
            version(
                record_id,
                entry_id,
                data.draw(st.datetimes(datetime(2025, 1, 1), datetime(2030, 1, 1))),
                data.draw(st.sampled_from(TYPES)),
                effective,
                data.draw(st.sampled_from(STATUSES)),
                data.draw(st.dates(effective, LAST_DAY)),
            )
        )
    as_of = data.draw(as_of_dates)
    shuffled = data.draw(st.permutations(versions))
    expected = sorted(facts_as_known(versions, as_of), key=lambda f: f.id)
    assert sorted(facts_as_known(shuffled, as_of), key=lambda f: f.id) == expected
    assert sorted(f.id for f in expected) == sorted(set(record_ids))


def test_a_new_decision_extends_a_listing_only_if_extendable() -> None:
    """While listed, a new extendable decision moves the scheduled exit; another does not."""
    later = date(2027, 1, 1)
    records = [fact(1, "judgment_defaulter", MARCH_1), fact(2, "judgment_defaulter", later)]
    on = date(2027, 6, 1)
    extended = listed(evaluate(SUBJECT, records, RULEBOOK, on))
    assert extended[DISHONEST] == (MARCH_1, date(2028, 12, 31), (1, 2))

    text = MODEL.read_text(encoding="utf-8")
    fixed = text.replace(
        "listing_days = 730\nexit_when_satisfied = true\nextendable = true",
        "listing_days = 730\nexit_when_satisfied = true\nextendable = false",
    )
    assert fixed != text
    strict = parse_rulebook(fixed)
    assert listed(evaluate(SUBJECT, records, strict, on))[DISHONEST] == (
        MARCH_1,
        date(2028, 2, 29),
        (1, 2),
    )
