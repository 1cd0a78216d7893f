"""Eligibility worked out by hand: consequences of listings, day by day (core, no store).

Day 1 is 2026-01-01. Every expected date below is written out, not computed by the
code under test.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from trustreg.core.eligibility import Eligibility, decide
from trustreg.core.rating import RecordVersion
from trustreg.core.rulebook import Rulebook, parse_rulebook
from trustreg.errors import RulebookError

RULEBOOK = """
[rulebook]
name = "Worked examples"
version = "t.1"
effective_from = "2025-01-01"

[[list]]
code = "defaulters"
title_zh = "失信被执行人名单"
title_en = "Dishonest judgment defaulters"
legal_basis = "SPC Provisions (2017) art. 1"
kind = "blacklist"
dishonesty = true
[[list.consequence]]
code = "no_tenders"
title_zh = "限制参加政府采购"
title_en = "Excluded from public procurement"
decision = "public_procurement"
effect = "excluded"
legal_basis = "Government Procurement Law art. 22"
subject_kinds = ["legal_entity", "individual"]
max_days = 730
[[list.consequence]]
code = "subsidy_limit"
title_zh = "限制获得补贴"
title_en = "Restricted from subsidies"
decision = "public_subsidy"
effect = "restricted"
legal_basis = "SPC Provisions (2017) art. 11"
subject_kinds = ["legal_entity"]
max_days = 100

[[list]]
code = "violators"
title_zh = "严重失信主体名单"
title_en = "Seriously untrustworthy"
legal_basis = "State Council Opinions No. 49"
kind = "blacklist"
dishonesty = true
[[list.consequence]]
code = "no_tenders_violator"
title_zh = "三年内不得参加政府采购"
title_en = "Excluded from public procurement"
decision = "public_procurement"
effect = "excluded"
legal_basis = "Regulations on Government Procurement art. 19"
subject_kinds = ["legal_entity"]
max_days = 1095
[[list.consequence]]
code = "no_subsidies_violator"
title_zh = "不得获得补贴"
title_en = "Excluded from subsidies"
decision = "public_subsidy"
effect = "excluded"
legal_basis = "State Council Opinions No. 49 part 3"
subject_kinds = ["legal_entity"]
max_days = 1095

[[list]]
code = "redlist"
title_zh = "守信激励对象名单"
title_en = "Redlist"
legal_basis = "SAT Measures art. 30"
kind = "redlist"
[[list.consequence]]
code = "green_channel"
title_zh = "绿色通道"
title_en = "Simplified procedures"
decision = "simplified_procedure"
effect = "facilitated"
legal_basis = "SAT Measures art. 30(1)"
subject_kinds = ["legal_entity"]
max_days = 365

[[record_type]]
code = "judgment_defaulter"
title_zh = "失信被执行人"
title_en = "Dishonest judgment defaulter"
legal_basis = "Civil Procedure Law art. 266"
category = "enforcement"
polarity = "negative"
subject_kinds = ["legal_entity", "individual"]
authority_kinds = ["court"]
publicity_days = 730
notice_days = 0
points = -100
public_until_satisfied = true
[[record_type.list_effect]]
list = "defaulters"
listing_days = 730
exit_when_satisfied = true

[[record_type]]
code = "tax_violation"
title_zh = "重大税收违法"
title_en = "Major tax violation"
legal_basis = "Tax Collection Law art. 63"
category = "tax"
polarity = "negative"
subject_kinds = ["legal_entity"]
authority_kinds = ["tax"]
publicity_days = 1095
notice_days = 0
points = -150
repair_after_days = 365
[[record_type.list_effect]]
list = "violators"
listing_days = 1095
exit_when_satisfied = false

[[record_type]]
code = "a_grade"
title_zh = "A级纳税人"
title_en = "Grade A taxpayer"
legal_basis = "SAT Measures art. 19"
category = "commendation"
polarity = "positive"
subject_kinds = ["legal_entity"]
authority_kinds = ["tax"]
publicity_days = 365
notice_days = 0
points = 30
[[record_type.list_effect]]
list = "redlist"
listing_days = 365
"""
BOOK = parse_rulebook(RULEBOOK)
MODEL = Path(__file__).resolve().parents[1] / "rulebooks" / "model.toml"


def day(n: int) -> date:
    """Day ``n`` of the examples: day 1 is 2026-01-01."""
    return date(2026, 1, 1) + timedelta(days=n - 1)


def at(n: int) -> datetime:
    """Noon UTC of day ``n``: when the registry learned something."""
    return datetime.combine(day(n), datetime.min.time(), UTC) + timedelta(hours=12)


def version(
    record: int,
    entry: int,
    record_type: str,
    effective: int,
    status: str = "active",
    since: int = 0,
) -> RecordVersion:
    """Record ``record`` as recorded on day ``since or effective``."""
    since = since or effective
    return RecordVersion(
        record, entry, at(since), record_type, day(effective), status, day(since), f"ref-{record}"
    )


def check(
    versions: list[RecordVersion],
    decision: str,
    on: date,
    kind: str = "legal_entity",
    known_at: datetime | None = None,
    book: Rulebook = BOOK,
) -> Eligibility:
    return decide(1, kind, versions, lambda _day: book, decision, on, known_at)


# Listed on day 1 as a judgment defaulter; the judgment is satisfied on day 40.
SATISFIED = [
    version(1, 1, "judgment_defaulter", 1),
    version(1, 2, "judgment_defaulter", 1, "satisfied", since=40),
]


def test_listed_on_day_1_satisfied_on_day_40_eligible_from_day_40() -> None:
    before = check(SATISFIED, "public_procurement", day(10))
    assert before.answer == "excluded"
    assert before.eligible_from == date(2026, 2, 9)  # day 40
    (only,) = before.consequences
    assert only.consequence.code == "no_tenders"
    assert only.consequence.legal_basis == "Government Procurement Law art. 22"
    assert (only.entered_on, only.record_ids) == (date(2026, 1, 1), (1,))
    # On day 10 the listing was still scheduled to run its 730 days.
    assert only.ends_on == only.listing_exit == date(2028, 1, 1)
    assert check(SATISFIED, "public_procurement", day(39)).answer == "excluded"
    on_40 = check(SATISFIED, "public_procurement", day(40))
    assert (on_40.answer, on_40.consequences, on_40.eligible_from) == (
        "eligible",
        (),
        date(2026, 2, 9),
    )


def test_as_known_before_the_satisfaction_the_exclusion_ran_its_full_term() -> None:
    then = check(SATISFIED, "public_procurement", day(10), known_at=at(20))
    assert then.answer == "excluded"
    assert then.eligible_from == date(2028, 1, 1)  # day 1 + 730 days
    # Asked on day 45 but as known on day 20: still excluded, nothing was known yet.
    assert check(SATISFIED, "public_procurement", day(45), known_at=at(20)).answer == "excluded"


def test_listing_ended_by_repair() -> None:
    repaired = [
        version(2, 1, "tax_violation", 1),
        version(2, 2, "tax_violation", 1, "repaired", since=400),  # 2027-02-04
    ]
    before = check(repaired, "public_procurement", day(399))
    assert before.answer == "excluded"
    assert [c.consequence.code for c in before.consequences] == ["no_tenders_violator"]
    assert before.eligible_from == date(2027, 2, 4)
    assert check(repaired, "public_procurement", day(400)).answer == "eligible"
    # Without the repair, the exclusion runs its 1,095 days (2028 has 366).
    unrepaired = check(repaired[:1], "public_procurement", day(399))
    assert unrepaired.eligible_from == date(2028, 12, 31)


def test_a_consequence_shorter_than_its_listing() -> None:
    listed = [version(3, 1, "judgment_defaulter", 1)]
    early = check(listed, "public_subsidy", day(50))
    assert early.answer == "restricted"
    (only,) = early.consequences
    assert only.consequence.code == "subsidy_limit"
    assert only.ends_on == early.eligible_from == date(2026, 4, 11)  # day 1 + 100 days
    assert only.listing_exit == date(2028, 1, 1)
    assert check(listed, "public_subsidy", day(100)).answer == "restricted"
    late = check(listed, "public_subsidy", day(101))
    assert (late.answer, late.consequences) == ("eligible", ())
    # Still listed, and still excluded from procurement, on that day.
    assert check(listed, "public_procurement", day(101)).answer == "excluded"


def test_excluded_beats_restricted_and_eligibility_waits_for_every_listing() -> None:
    both = [version(4, 1, "judgment_defaulter", 1), version(5, 2, "tax_violation", 201)]
    subsidy = check(both, "public_subsidy", day(250))
    assert subsidy.answer == "excluded"
    assert sorted(c.consequence.code for c in subsidy.consequences) == [
        "no_subsidies_violator"  # subsidy_limit ended on day 101
    ]
    procurement = check(both, "public_procurement", day(250))
    assert sorted(c.consequence.code for c in procurement.consequences) == [
        "no_tenders",
        "no_tenders_violator",
    ]
    # no_tenders ends 2028-01-01; no_tenders_violator 1,095 days after day 201 (2026-07-20).
    assert procurement.eligible_from == date(2029, 7, 19)


def test_eligibility_comes_back_only_when_every_listing_has_ended() -> None:
    # Satisfied on day 40, but a tax violation from day 20 keeps the exclusion.
    mixed = [*SATISFIED, version(6, 3, "tax_violation", 20)]
    answer = check(mixed, "public_procurement", day(30))
    assert answer.answer == "excluded"
    assert answer.eligible_from == date(2029, 1, 19)  # 2026-01-20 + 1,095 days


def test_consequences_apply_only_to_their_subject_kinds() -> None:
    listed = [version(7, 1, "judgment_defaulter", 1)]
    assert check(listed, "public_procurement", day(10), kind="individual").answer == "excluded"
    person = check(listed, "public_subsidy", day(10), kind="individual")
    assert (person.answer, person.consequences) == ("eligible", ())


def test_a_redlist_facilitates_and_leaves_the_answer_eligible() -> None:
    redlisted = [version(8, 1, "a_grade", 1)]
    answer = check(redlisted, "simplified_procedure", day(10))
    assert answer.answer == "eligible"
    (only,) = answer.consequences
    assert (only.consequence.effect, only.ends_on) == ("facilitated", date(2027, 1, 1))
    assert check(redlisted, "simplified_procedure", day(366)).consequences == ()


def test_a_revoked_record_never_excluded_anyone() -> None:
    revoked = [
        version(9, 1, "judgment_defaulter", 1),
        version(9, 2, "judgment_defaulter", 1, "revoked", since=1),
    ]
    assert check(revoked, "public_procurement", day(10)).answer == "eligible"


def test_a_record_that_takes_effect_later_does_not_exclude_before() -> None:
    later = [version(10, 1, "judgment_defaulter", 30)]
    assert check(later, "public_procurement", day(29)).answer == "eligible"
    assert check(later, "public_procurement", day(30)).answer == "excluded"


def test_the_answer_as_data() -> None:
    data = check(SATISFIED, "public_procurement", day(10)).to_dict()
    assert data["answer"] == "excluded"
    assert data["eligible_from"] == "2026-02-09"
    (item,) = data["consequences"]
    assert item == {
        "code": "no_tenders",
        "title_zh": "限制参加政府采购",
        "title_en": "Excluded from public procurement",
        "decision": "public_procurement",
        "effect": "excluded",
        "legal_basis": "Government Procurement Law art. 22",
        "list": "defaulters",
        "list_legal_basis": "SPC Provisions (2017) art. 1",
        "listed_on": "2026-01-01",
        "listing_exit": "2028-01-01",
        "ends_on": "2028-01-01",
        "records": [1],
    }


# --- the loader refuses unlawful consequences -------------------------------------------

FIRST = RULEBOOK.index("[[list.consequence]]")


def with_consequence(body: str) -> str:
    """The rulebook with one more consequence on the defaulters list."""
    return RULEBOOK[:FIRST] + "[[list.consequence]]\n" + body + "\n" + RULEBOOK[FIRST:]


def consequence(**fields: str) -> str:
    values = {
        "code": '"extra"',
        "title_zh": '"限制"',
        "title_en": '"Restricted"',
        "decision": '"licence"',
        "effect": '"restricted"',
        "legal_basis": '"Administrative Licensing Law art. 12"',
        "subject_kinds": '["legal_entity"]',
        "max_days": "365",
    }
    values.update(fields)
    return "\n".join(f"{key} = {value}" for key, value in values.items() if value)


def refusal(text: str) -> RulebookError:
    with pytest.raises(RulebookError) as caught:
        parse_rulebook(text)
    return caught.value


def test_a_well_formed_extra_consequence_loads() -> None:
    book = parse_rulebook(with_consequence(consequence()))
    assert book.lists["defaulters"].consequences[0].code == "extra"


@pytest.mark.parametrize(
    ("fields", "word"),
    [
        ({"code": '"air_travel_ban"', "decision": '"air_travel"'}, "travel"),
        ({"title_en": '"Ban on flights and high-speed trains"'}, "flights"),
        ({"title_zh": '"限制乘坐飞机"'}, "乘坐"),
        ({"decision": '"school_admission"'}, "school"),
        ({"title_en": '"Children may not attend private schools"'}, "schools"),
        ({"title_en": '"No enrolment of the children"'}, "enrolment"),
        ({"title_en": '"Spouse barred from civil service"'}, "spouse"),
        ({"title_zh": '"限制子女就读高收费私立学校"'}, "学校"),
    ],
)
def test_a_consequence_on_movement_schooling_or_relatives_is_refused(
    fields: dict[str, str], word: str
) -> None:
    error = refusal(with_consequence(consequence(**fields)))
    assert error.field.startswith("consequence '")
    assert error.field.endswith("of list 'defaulters'")
    assert f"restricts a person's movement, travel, schooling or relatives ({word})" in (
        error.reason
    )


@pytest.mark.parametrize(
    ("fields", "word"),
    [
        ({"decision": '"religious_office"'}, "religious"),
        ({"code": '"relatives_employment"'}, "relatives"),
        ({"title_en": '"Barred from trade-union office"'}, "trade_union"),
    ],
)
def test_a_consequence_on_a_protected_category_is_refused(
    fields: dict[str, str], word: str
) -> None:
    error = refusal(with_consequence(consequence(**fields)))
    assert error.reason.startswith(f"touches a protected category ({word})")


def test_a_consequence_without_legal_basis_is_refused() -> None:
    error = refusal(with_consequence(consequence(legal_basis="")))
    assert error.field == "consequence 'extra' of list 'defaulters'"
    assert error.reason == "has no legal basis; every consequence must cite its law"


def test_a_consequence_that_outlasts_its_listing_is_refused() -> None:
    error = refusal(with_consequence(consequence(max_days="731")))
    assert error.field == "consequence 'extra' of list 'defaulters'"
    assert error.reason == (
        "lasts up to 731 days, longer than the 730-day listing by record type "
        "'judgment_defaulter': a consequence never outlasts its listing"
    )


def test_a_blacklist_cannot_facilitate_and_a_redlist_cannot_exclude() -> None:
    error = refusal(with_consequence(consequence(effect='"facilitated"')))
    assert "a blacklist cannot have the effect 'facilitated'" in error.reason
    redlist_exclusion = RULEBOOK.replace('effect = "facilitated"', 'effect = "excluded"')
    assert "a redlist cannot have the effect 'excluded'" in refusal(redlist_exclusion).reason


def test_consequence_codes_are_unique_in_the_rulebook() -> None:
    error = refusal(with_consequence(consequence(code='"no_tenders_violator"')))
    assert error.reason == "code is defined twice"


def test_an_unknown_effect_or_subject_kind_is_refused() -> None:
    assert (
        "'effect' is 'banned'" in refusal(with_consequence(consequence(effect='"banned"'))).reason
    )
    assert (
        "'subject_kinds' has unknown ['pets']"
        in refusal(with_consequence(consequence(subject_kinds='["pets"]'))).reason
    )


def test_the_model_rulebook_declares_a_consequence_for_every_list() -> None:
    book = parse_rulebook(MODEL.read_text(encoding="utf-8"))
    assert all(listed.consequences for listed in book.lists.values())
    assert {c.decision for listed in book.lists.values() for c in listed.consequences} == {
        "public_procurement",
        "public_subsidy",
        "licence",
        "simplified_procedure",
    }
