"""The fixed words of the rulebook: kinds, effects, and what it may never hold."""

from __future__ import annotations

import re

SUBJECT_KINDS = ("legal_entity", "other_org", "individual", "foreign_entity", "foreign_individual")
AUTHORITY_KINDS = ("court", "tax", "market_regulator", "other")
POLARITIES = ("negative", "positive")
LIST_KINDS = ("blacklist", "watchlist", "redlist")
# What a list consequence does to a decision about the subject.
EFFECTS = ("excluded", "restricted", "facilitated")

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
# The purposes a checker may declare to look a person up (and nothing else).
PURPOSES = ("contract", "employment", "tenancy", "credit", "procurement", "court_enforcement")
PERSON_KINDS = ("individual", "foreign_individual")
# What no consequence of a listing may touch (besides the protected categories): a
# person's movement and travel, schooling, and the employment or lives of relatives.
# Matched like PROTECTED_WORDS against the code, decision and English title.
RESTRICTED_LIFE_WORDS = (
    "movement",
    "travel",
    "flight",
    "flights",
    "airline",
    "aviation",
    "rail",
    "railway",
    "train",
    "trains",
    "high_speed",
    "exit_ban",
    "border",
    "departure",
    "residence",
    "hukou",
    "school",
    "schools",
    "schooling",
    "education",
    "university",
    "enrolment",
    "enrollment",
    "admission",
    "tuition",
    "child",
    "children",
    "relatives",
    "relative",
    "spouse",
    "kin",
)
# The same in the Chinese title: travel by air or rail, leaving the country, schools,
# children, relatives, spouses.
RESTRICTED_LIFE_ZH = (
    "出行",
    "出境",
    "乘坐",
    "飞机",
    "民航",
    "高铁",
    "火车",
    "列车",
    "旅游",
    "学校",
    "就读",
    "入学",
    "子女",
    "亲属",
    "家属",
    "配偶",
)
CODE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,62}$")


def forbidden_word(words: tuple[str, ...], *texts: str) -> str | None:
    """The first of ``words`` that occurs as a word, or run of words, in any text.

    Texts are lower-cased and split on spaces, hyphens and underscores, so
    "religious_activity", "Ban on air travel" and "online-speech" all match.
    """
    for text in texts:
        normalised = "_" + re.sub(r"[\s\-_/,.;:()]+", "_", text.strip().lower()) + "_"
        for word in words:
            if f"_{word}_" in normalised:
                return word
    return None
