"""The matcher and the screening index, without a store (``core.matching``, ``core.blocking``).

Scores are asserted by decision and rank rather than to the digit: the weights are tuned
on the benchmark, and these tests say what must hold whatever the tuning.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.feeds import ric, uscc
from trustreg.core.blocking import Candidate, ScreeningIndex
from trustreg.core.matching import Party, Thresholds, compare, profile

ORG, PERSON = "legal_entity", "individual"


def far(n: int) -> str:
    """A USCC several characters from every other one (``uscc(n)`` are neighbours)."""
    return uscc(n * 111_111)


CANGLAN = 1
ENTRIES = {
    CANGLAN: Party("沧澜远洋航运有限公司", ORG, (("uscc", far(1)),), "CN"),
    2: Party("沧海远洋航运有限公司", ORG, (("uscc", far(2)),), "CN"),  # one character apart
    3: Party("沧澜科技有限公司", ORG, (("uscc", far(3)),), "CN"),  # same name, other trade
    4: Party("远洋航运有限公司", ORG, (("uscc", far(4)),), "CN"),  # only the trade
    5: Party("北京华信科技有限公司", ORG, (("uscc", far(5)),), "CN"),
    6: Party("北京华信贸易有限公司", ORG, (("uscc", far(6)),), "CN"),
    7: Party("上海第三建筑工程有限公司", ORG, (("uscc", far(7)),), "CN"),
    8: Party("上海第八建筑工程有限公司", ORG, (("uscc", far(8)),), "CN"),
    9: Party("张伟", PERSON, (("ric", ric(9)),), "CN", "1980-05-17"),
    10: Party("王芳", PERSON, (("ric", ric(10)),), "CN", "1980-05-17"),
    11: Party("李娜", PERSON, (("ric", ric(11)),), "CN", "1980-05-17"),
}


@pytest.fixture(scope="module")
def index() -> ScreeningIndex:
    return ScreeningIndex.build(ENTRIES.items())


def search(
    index: ScreeningIndex, name: str, kind: str | None = ORG, birth_date: str | None = None
) -> list[Candidate]:
    return index.search(Party(name, kind, birth_date=birth_date), top=3)


def best(
    index: ScreeningIndex, name: str, kind: str | None = ORG, birth_date: str | None = None
) -> tuple[int, str]:
    found = search(index, name, kind, birth_date)
    assert found, f"no candidate for {name!r}"
    return found[0].subject_id, found[0].decision


def decision_for(index: ScreeningIndex, subject_id: int, name: str, kind: str = ORG) -> str:
    found = {c.subject_id: c.decision for c in search(index, name, kind)}
    return found.get(subject_id, "not a candidate")


@pytest.mark.parametrize(
    "query",
    [
        "沧澜远洋航运有限公司",
        "Canglan Ocean Shipping Co., Ltd.",
        "Canglan Yuanyang Hangyun Youxian Gongsi",
        "滄瀾遠洋航運有限公司",  # traditional characters
        "沧澜 远洋航运有限公司",
    ],
)
def test_one_firm_in_three_scripts_is_the_top_match(index: ScreeningIndex, query: str) -> None:
    found = search(index, query)
    assert (found[0].subject_id, found[0].decision) == (CANGLAN, "match")
    others = {c.subject_id: c.decision for c in found[1:]}
    assert others.get(2, "no_match") == "no_match"  # 沧海: another firm
    assert others.get(3, "no_match") == "no_match"  # 沧澜科技: another trade
    assert others.get(4, "no_match") == "no_match"  # no name of its own


def test_numbered_firms_never_match_each_other(index: ScreeningIndex) -> None:
    assert best(index, "上海第三建筑工程有限公司") == (7, "match")
    assert best(index, "Shanghai No. 8 Construction Engineering Co., Ltd.") == (8, "match")
    assert decision_for(index, 8, "上海第三建筑工程有限公司") in ("no_match", "not a candidate")
    assert decision_for(index, 7, "Shanghai No. 8 Construction Engineering") in (
        "no_match",
        "not a candidate",
    )


def test_the_same_trade_name_in_another_industry_is_not_a_match(index: ScreeningIndex) -> None:
    assert best(index, "北京华信贸易有限公司") == (6, "match")
    assert decision_for(index, 5, "北京华信贸易有限公司") == "no_match"
    assert best(index, "Beijing Huaxin Technology Co., Ltd.") == (5, "match")
    assert decision_for(index, 6, "Beijing Huaxin Technology Co., Ltd.") == "no_match"
    assert decision_for(index, 3, "Canglan Ocean Shipping") == "no_match"


@pytest.mark.parametrize("name", ["张伟", "Zhang Wei", "Wei Zhang", "ZHANG Wei", "zhangwei"])
def test_a_persons_name_alone_is_review_and_with_birth_date_a_match(
    index: ScreeningIndex, name: str
) -> None:
    assert best(index, name, PERSON) == (9, "review")
    assert best(index, name, PERSON, birth_date="1980-05-17") == (9, "match")
    assert best(index, name, PERSON, birth_date="19800517") == (9, "match")
    assert best(index, name, PERSON, birth_date="1962-11-03")[1] == "no_match"


def test_a_han_homophone_is_at_most_review() -> None:
    firms = [(5, ENTRIES[5]), (12, Party("北京华鑫科技有限公司", ORG))]
    found = ScreeningIndex.build(firms).search(Party("北京华信科技有限公司", ORG))
    assert [(c.subject_id, c.decision) for c in found][:1] == [(5, "match")]
    assert found[1].subject_id == 12
    assert found[1].decision in ("review", "no_match")


def test_without_persons_person_entries_are_passed_over(index: ScreeningIndex) -> None:
    assert index.search(Party("张伟", PERSON), persons=False) == []
    assert [c.subject_id for c in index.search(Party("张伟"), top=1)] == [9]


def test_an_identifier_finds_its_subject_under_another_name(index: ScreeningIndex) -> None:
    for scheme, value, subject in (("uscc", far(6), 6), ("ric", ric(10), 10)):
        kind = PERSON if scheme == "ric" else ORG
        found = index.search(Party("Blue Whale", kind, ((scheme, value.lower()),)), top=3)
        assert found[0].subject_id == subject
        assert "identifier equal" in found[0].agreed
        assert any(d.startswith("name ") for d in found[0].disagreed)


def test_an_equal_identifier_under_a_new_name_is_at_least_review(index: ScreeningIndex) -> None:
    found = index.search(Party("蓝鲸科技有限公司", ORG, (("uscc", far(6)),)), top=1)
    assert found[0].decision in ("match", "review"), found[0].comparison.explanation


def test_every_candidate_explains_itself_by_feature(index: ScreeningIndex) -> None:
    query = Party("Canglan Ocean Shipping Co., Ltd.", ORG, (("uscc", far(1)),), "CN")
    found = index.search(query, top=5)
    top = found[0]
    assert top.agreed == (
        "name 1.00: canglan ~ canglan",
        "business agrees: ocean, shipping",
        "legal form agrees: limited",
        "identifier equal",
        "country agrees: CN vs CN",
    )
    assert top.disagreed == ()
    assert top.comparison.explanation == "; ".join("+ " + a for a in top.agreed)
    tech = next(c for c in found if c.subject_id == 3)
    assert "name 1.00: canglan ~ canglan" in tech.agreed
    assert "business ocean, shipping vs technology" in tech.disagreed
    assert "identifier differs" in tech.disagreed
    for candidate in found:
        features = candidate.comparison.features
        assert {"name", "identifier", "country"} <= {f.name for f in features}
        assert len(candidate.agreed) + len(candidate.disagreed) == len(features)
        assert candidate.comparison.explanation.count("; ") == len(features) - 1


def test_numbers_feature_says_which_numbers() -> None:
    third, eighth = profile(ENTRIES[7]), profile(ENTRIES[8])
    comparison = compare(third, eighth, lambda _word: 8.0)
    assert "numbers differ: 3 vs 8" in comparison.disagreed
    assert Thresholds().decision(comparison.score) == "no_match"


def test_thresholds_decide_at_their_bounds() -> None:
    thresholds = Thresholds(match=0.85, review=0.60)
    assert [thresholds.decision(s) for s in (0.85, 0.8499, 0.60, 0.5999, 0.0, 1.0)] == [
        "match",
        "review",
        "review",
        "no_match",
        "no_match",
        "match",
    ]


def test_nothing_to_compare_finds_nothing(index: ScreeningIndex) -> None:
    for name in ("", "！？。", "😀🎉", "a"):
        assert index.search(Party(name, ORG)) == []


@hypothesis_settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.text(max_size=120),
    kind=st.sampled_from([None, ORG, PERSON, "foreign_entity"]),
    birth=st.one_of(st.none(), st.text(max_size=12)),
    top=st.integers(1, 6),
)
def test_any_text_is_a_query(
    index: ScreeningIndex, name: str, kind: str | None, birth: str | None, top: int
) -> None:
    found = index.search(Party(name, kind, birth_date=birth, address=name), top=top)
    assert len(found) <= top
    assert [c.score for c in found] == sorted((c.score for c in found), reverse=True)
    for candidate in found:
        assert 0.0 <= candidate.score <= 1.0
        assert candidate.decision == Thresholds().decision(candidate.score)
        assert candidate.subject_id in ENTRIES
