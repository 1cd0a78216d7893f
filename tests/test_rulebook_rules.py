"""The rulebook loader refuses broken rules with a message naming the rule.

Each case is the model rulebook with one small edit; the test first checks that the
edit really changed the text, so a reworded model rulebook cannot make a case pass
vacuously.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from trustreg.core.rulebook import Rulebook, parse_rulebook
from trustreg.errors import RulebookError, ValidationError

MODEL_TEXT = (Path(__file__).resolve().parents[1] / "rulebooks" / "model.toml").read_text(
    encoding="utf-8"
)

INSOLVENCY_END = "retention_days = 365\n"  # the last line of the insolvency record type


def edited(old: str, new: str) -> str:
    """The model rulebook with ``old`` (which must occur exactly once) replaced."""
    assert MODEL_TEXT.count(old) == 1, f"the model rulebook should hold {old!r} once"
    text = MODEL_TEXT.replace(old, new)
    assert text != MODEL_TEXT
    return text


def refusal(text: str) -> RulebookError:
    with pytest.raises(RulebookError) as caught:
        parse_rulebook(text)
    return caught.value


def test_the_model_rulebook_loads() -> None:
    rulebook = parse_rulebook(MODEL_TEXT)
    assert isinstance(rulebook, Rulebook)
    assert rulebook.version == "2026.2"
    assert sorted(rulebook.lists) == [
        "abnormal_operations",
        "dishonest_defaulters",
        "redlist",
        "serious_violators",
    ]
    assert len(rulebook.record_types) == 8
    assert rulebook.rating.starting_points == 1000
    assert [b.grade for b in rulebook.rating.bands] == ["AAA", "AA", "A", "B", "C", "D"]


def test_every_effect_onto_a_dishonesty_list_comes_from_a_dishonest_type() -> None:
    rulebook = parse_rulebook(MODEL_TEXT)
    onto_dishonesty = {
        code
        for code, rule in rulebook.record_types.items()
        for effect in rule.list_effects
        if rulebook.lists[effect.list_code].dishonesty
    }
    assert onto_dishonesty == {
        "judgment_defaulter",
        "tax_serious_violation",
        "admin_penalty_serious",
    }
    assert all(rulebook.record_types[code].indicates_dishonesty for code in onto_dishonesty)
    assert not rulebook.record_types["insolvency"].indicates_dishonesty


def test_a_refusal_is_a_validation_error_naming_the_rule() -> None:
    error = refusal(edited('code = "insolvency"', 'code = "Insolvency!"'))
    assert isinstance(error, ValidationError)
    assert error.status == 422
    assert error.field == "record_type 'Insolvency!'"
    assert str(error) == f"{error.field}: {error.reason}"


# --- lists ----------------------------------------------------------------------------


def test_a_list_without_legal_basis_is_refused() -> None:
    text = edited(
        'legal_basis = "Interim Regulations on Enterprise Information Disclosure art. 17"\n', ""
    )
    error = refusal(text)
    assert error.field == "list 'abnormal_operations'"
    assert error.reason == "has no legal basis; every list must cite its law"


def test_a_list_with_a_blank_legal_basis_is_refused() -> None:
    text = edited(
        'legal_basis = "SAT Measures on Tax Credit Management (2014) art. 30"',
        'legal_basis = "  "',
    )
    error = refusal(text)
    assert error.field == "list 'redlist'"
    assert "has no legal basis" in error.reason


def test_a_list_on_a_protected_category_is_refused() -> None:
    error = refusal(edited('code = "redlist"', 'code = "religious_redlist"'))
    assert error.field == "list 'religious_redlist'"
    assert "protected (religious)" in error.reason


def test_a_list_effect_naming_an_undefined_list_is_refused() -> None:
    error = refusal(edited('list = "redlist"', 'list = "goodlist"'))
    assert error.field == "record_type 'taxpayer_a_grade'"
    assert error.reason == "list effect names an undefined list 'goodlist'"


def test_insolvency_cannot_lead_to_a_dishonesty_list() -> None:
    effect = '[[record_type.list_effect]]\nlist = "dishonest_defaulters"\nlisting_days = 730\n'
    error = refusal(edited(INSOLVENCY_END, INSOLVENCY_END + effect))
    assert error.field == "record_type 'insolvency'"
    assert "'dishonest_defaulters', a dishonesty list" in error.reason
    assert "unable to pay is not unwilling to pay" in error.reason


def test_a_minor_penalty_cannot_lead_to_a_dishonesty_list() -> None:
    effect = '[[record_type.list_effect]]\nlist = "serious_violators"\nlisting_days = 90\n'
    error = refusal(edited("retention_days = 90\n", "retention_days = 90\n" + effect))
    assert error.field == "record_type 'admin_penalty_minor'"
    assert "does not indicate dishonesty" in error.reason


def test_insolvency_may_lead_to_a_list_that_states_no_dishonesty() -> None:
    effect = '[[record_type.list_effect]]\nlist = "abnormal_operations"\nlisting_days = 1095\n'
    rulebook = parse_rulebook(edited(INSOLVENCY_END, INSOLVENCY_END + effect))
    (only,) = rulebook.record_types["insolvency"].list_effects
    assert (only.list_code, only.listing_days) == ("abnormal_operations", 1095)


# --- points ----------------------------------------------------------------------------


def test_positive_points_on_a_negative_type_are_refused() -> None:
    error = refusal(edited("points = -5\n", "points = 5\n"))
    assert error.field == "record_type 'admin_penalty_minor'"
    assert error.reason == "a negative record type cannot have 5 points"


def test_negative_points_on_a_positive_type_are_refused() -> None:
    error = refusal(edited("points = 30\n", "points = -30\n"))
    assert error.field == "record_type 'taxpayer_a_grade'"
    assert error.reason == "a positive record type cannot have -30 points"


def test_a_cap_smaller_than_the_points_is_refused() -> None:
    error = refusal(edited("points = -100\npoints_cap = -300", "points = -100\npoints_cap = -50"))
    assert error.field == "record_type 'judgment_defaulter'"
    assert error.reason == "points_cap -50 must have the sign of points and be larger"


@pytest.mark.parametrize(
    ("old", "new", "rule", "cap"),
    [
        ("points_cap = -20\n", "points_cap = 20\n", "admin_penalty_minor", "20"),
        ("points_cap = 60\n", "points_cap = -60\n", "taxpayer_a_grade", "-60"),
    ],
)
def test_a_cap_with_the_wrong_sign_is_refused(old: str, new: str, rule: str, cap: str) -> None:
    error = refusal(edited(old, new))
    assert error.field == f"record_type '{rule}'"
    assert error.reason == f"points_cap {cap} must have the sign of points and be larger"


def test_a_cap_equal_to_the_points_is_allowed() -> None:
    rulebook = parse_rulebook(edited("points_cap = 60\n", "points_cap = 30\n"))
    assert rulebook.record_types["taxpayer_a_grade"].points_cap == 30


# --- grade bands -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("min_points = 1030\n", "min_points = 1060\n"),  # AA above AAA
        ("min_points = 850\n", "min_points = 960\n"),  # B equal to A
        ("min_points = 600\n", "min_points = 1100\n"),  # C on top
    ],
)
def test_grade_bands_not_descending_are_refused(old: str, new: str) -> None:
    error = refusal(edited(old, new))
    assert error.field == "rating"
    assert error.reason == "bands must go from the highest min_points down"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('grade = "D"\n', 'grade = "D"\nmin_points = 0\n'),  # the last band has a floor
        ("min_points = 850\n", ""),  # a middle band has none
    ],
)
def test_grade_bands_need_a_floor_on_all_but_the_last(old: str, new: str) -> None:
    error = refusal(edited(old, new))
    assert error.field == "rating"
    assert error.reason == "every band but the last needs min_points; the last none"


def test_a_rating_without_bands_is_refused() -> None:
    bands = MODEL_TEXT[MODEL_TEXT.index("[[rating.grade]]") : MODEL_TEXT.index("# Published")]
    error = refusal(edited(bands, ""))
    assert error.field == "rating"
    assert "needs [[rating.grade]] bands" in error.reason


# --- record types ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "field", "word"),
    [
        ('category = "insolvency"', 'category = "health"', "insolvency", "health"),
        ('category = "insolvency"', 'category = "Health status"', "insolvency", "health"),
        ('category = "tax"', 'category = "ethnicity"', "tax_serious_violation", "ethnicity"),
        ('category = "business_status"', 'category = "speech"', "business_abnormal", "speech"),
        (
            'category = "commendation"',
            'category = "Trade-union membership"',
            "taxpayer_a_grade",
            "trade_union",
        ),
        (
            'code = "admin_penalty_minor"',
            'code = "online_speech_violation"',
            "online_speech_violation",
            "speech",
        ),
        (
            'code = "admin_penalty_minor"',
            'code = "religious_activity"',
            "religious_activity",
            "religious",
        ),
        # A protected term of two words in the code, not only in the category.
        (
            'code = "admin_penalty_minor"',
            'code = "trade_union_activity"',
            "trade_union_activity",
            "trade_union",
        ),
        (
            'code = "admin_penalty_minor"',
            'code = "sex_life_offence"',
            "sex_life_offence",
            "sex_life",
        ),
    ],
)
def test_a_record_type_on_a_protected_category_is_refused(
    old: str, new: str, field: str, word: str
) -> None:
    error = refusal(edited(old, new))
    assert error.field == f"record_type '{field}'"
    assert f"is protected ({word}); the registry may not hold it" in error.reason


def test_a_code_merely_containing_a_protected_term_is_not_refused() -> None:
    # "essex_life_cover" holds the letters of "sex_life" but not the words.
    rulebook = parse_rulebook(edited('code = "admin_penalty_minor"', 'code = "essex_life_cover"'))
    assert "essex_life_cover" in rulebook.record_types


def test_a_record_type_without_legal_basis_is_refused() -> None:
    error = refusal(
        edited('legal_basis = "Enterprise Bankruptcy Law of the PRC arts. 7, 14"\n', "")
    )
    assert error.field == "record_type 'insolvency'"
    assert error.reason == "has no legal basis; every record type must cite its law"


def test_a_record_type_with_a_token_legal_basis_is_refused() -> None:
    text = edited(
        'legal_basis = "Enterprise Bankruptcy Law of the PRC arts. 7, 14"', 'legal_basis = "law"'
    )
    error = refusal(text)
    assert error.field == "record_type 'insolvency'"
    assert error.reason == "has no legal basis; every record type must cite its law"


def test_a_record_type_defined_twice_is_refused() -> None:
    error = refusal(edited('code = "admin_penalty_general"', 'code = "admin_penalty_minor"'))
    assert error.field == "record_type 'admin_penalty_minor'"
    assert error.reason == "code is defined twice"


def test_a_positive_record_type_cannot_indicate_dishonesty() -> None:
    text = edited(
        'polarity = "positive"', 'polarity = "positive"\nindicates_dishonesty = true'
    ).replace(
        'category = "commendation"\npolarity = "positive"\nsubject_kinds',
        'category = "commendation"\npolarity = "positive"\nsubject_kinds',
        1,
    )
    error = refusal(text.replace("indicates_dishonesty = false\npoints = 30", "points = 30", 1))
    assert error.field == "record_type 'taxpayer_a_grade'"
    assert "positive record type cannot indicate dishonesty" in error.reason
