"""Comparing a query with a registry entry: features, a score in [0, 1], an explanation.

Pure. A party (query or entry) is prepared once into a :class:`Profile` (its name forms
from ``core.names`` and normalised details); :func:`compare` then weighs the evidence,
each feature adding or taking away log-odds, in the manner of Fellegi and Sunter:

- the name, in the original script and in transliteration, on its distinctive words
  (for organisations the region, industry and legal-form words are set aside and
  compared on their own: "Huaxin Technology" and "Huaxin Trading" share their
  distinctive word but not their industry); words are weighted by rarity, so a word
  found in many names counts for little;
- numbers in names, which must agree ("No. 3" is not "No. 8");
- identifiers, birth dates, country and address, where both sides have them.

A person's number (``ric``, ``passport``) is compared by its keyed hash
(``core.identifiers.identifier_hash``), the only full form the registry keeps: equal
hashes settle the match as equal numbers do, but a near miss (a typo) can only be seen
between numbers in clear, that is organisation identifiers.

The sum becomes a score through the logistic function; two thresholds (configuration:
``match`` and ``review``) turn it into a decision. Every feature that agreed or
disagreed is reported, in words.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz
from rapidfuzz.distance import Indel, Levenshtein

from trustreg.core.identifiers import PERSON_SCHEMES, Identifier, identifier_hash
from trustreg.core.names import (
    GENERIC_WORDS,
    INDUSTRY_WORDS,
    REGION_WORDS,
    NameForms,
    legal_form_family,
    name_forms,
    own_han,
)
from trustreg.core.pinyin import syllables
from trustreg.core.spelling import LEGAL_WORDS
from trustreg.core.vocabulary import PERSON_KINDS

# The log-odds at which the score is one half: a full name that agrees in every word
# passes it; a person's name alone does not reach a match without a birth date or an
# identifier to go with it.
OFFSET = 6.0
# A word's weight when nothing is known of its frequency (a word the index never saw).
RARE_WEIGHT = 8.0
# Schemes whose values carry a check character (validated on the way in).
CHECKED_SCHEMES = frozenset({"uscc", "ric", "lei"})
IDENTIFIER_EQUAL = 10.0
# Marks a person's number, given as its keyed hash: compared for equality only.
HASHED = "#"
# Words compared on their own, not as part of a firm's distinctive name.
BUSINESS_WORDS = INDUSTRY_WORDS | GENERIC_WORDS
SET_APART = BUSINESS_WORDS | REGION_WORDS | LEGAL_WORDS
# Address similarity → weight: a whole address that agrees is strong evidence.
ADDRESS_WEIGHTS = ((0.95, 6.0), (0.9, 4.5), (0.8, 3.0), (0.7, 1.5), (0.5, 0.0), (0.0, -2.0))
_NOT_ALNUM = re.compile(r"[^0-9A-Z]")
_NOT_DIGIT = re.compile(r"\D")

Rarity = Callable[[str], float]


@dataclass(frozen=True, slots=True)
class Party:
    """A query or a registry entry, as the matcher sees it."""

    name: str
    kind: str | None = None
    # (scheme, value); for a person's scheme (PERSON_SCHEMES) the value is the keyed
    # hash of the number, as the registry keeps it (``core.identifiers``).
    identifiers: tuple[tuple[str, str], ...] = ()
    country: str | None = None
    birth_date: str | None = None  # YYYY-MM-DD or YYYYMMDD as given
    address: str | None = None
    other_names: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Scores at or above ``match`` are matches; at or above ``review``, for review."""

    match: float = 0.85
    review: float = 0.60

    def decision(self, score: float) -> str:
        if score >= self.match:
            return "match"
        return "review" if score >= self.review else "no_match"


@dataclass(frozen=True, slots=True)
class Profile:
    """A party prepared for comparison (computed once per entry or query)."""

    person: bool
    names: tuple[NameForms, ...]
    own: tuple[tuple[str, ...], ...]  # each name's distinctive words (organisations)
    own_han: tuple[str, ...]  # each name's distinctive Han characters, if any
    # Normalised values, scheme left out (schemes overlap); a hash marked with HASHED.
    identifiers: tuple[str, ...]
    birth: str  # eight digits, or "" when unknown or unreadable
    country: str
    address: str
    checked: bool = False  # an identifier carries a check character: typos cannot pass

    def __reduce__(self) -> tuple[type[Profile], tuple[object, ...]]:
        # Pickled positionally: the index unpickles a profile per candidate, and the
        # dataclass default (a field-by-field state) takes three times as long.
        return (Profile, tuple(getattr(self, f) for f in _PROFILE_FIELDS))


_PROFILE_FIELDS = (
    "person", "names", "own", "own_han", "identifiers", "birth", "country", "address", "checked",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Feature:
    """One piece of evidence: what it is, whether it agreed, and its weight."""

    name: str
    agrees: bool
    weight: float
    detail: str


@dataclass(frozen=True, slots=True)
class Comparison:
    score: float
    features: tuple[Feature, ...]

    @property
    def agreed(self) -> tuple[str, ...]:
        return tuple(f.detail for f in self.features if f.agrees)

    @property
    def disagreed(self) -> tuple[str, ...]:
        return tuple(f.detail for f in self.features if not f.agrees)

    @property
    def explanation(self) -> str:
        """One line: what agreed (+) and what disagreed (-)."""
        return "; ".join(("+ " if f.agrees else "- ") + f.detail for f in self.features)


def with_hashed_numbers(party: Party, key: str) -> Party:
    """``party`` with each person's number (given canonical, in clear) replaced by its
    keyed hash under ``key``: the form registry entries are compared in."""
    identifiers = tuple(
        (s, identifier_hash(key, Identifier(s, v)) if s in PERSON_SCHEMES else v)
        for s, v in party.identifiers
    )
    return dataclasses.replace(party, identifiers=identifiers)


def profile(party: Party) -> Profile:
    """Prepare a party: name forms of every name, and its details normalised."""
    person = party.kind in PERSON_KINDS
    texts = [party.name, *party.other_names]
    names = tuple(
        forms for forms in (name_forms(t, party.kind) for t in texts if t) if forms.tokens
    )
    return Profile(
        person=person,
        names=names,
        own=tuple(() if person else tuple(_distinctive(f.translated)) for f in names),
        own_han=tuple("" if person else own_han(f) for f in names),
        identifiers=tuple(
            t for t in (_identifier_token(s, value) for s, value in party.identifiers) if t
        ),
        checked=any(scheme in CHECKED_SCHEMES for scheme, _ in party.identifiers),
        birth=_birth(party.birth_date),
        country=(party.country or "").strip().upper()[:2],
        address=" ".join((party.address or "").lower().split())[:300],
    )


def compare(query: Profile, entry: Profile, rarity: Rarity) -> Comparison:
    """Weigh all the evidence between a query and an entry."""
    best: list[Feature] = []
    best_weight = -math.inf
    for i, a in enumerate(query.names):
        for j, b in enumerate(entry.names):
            if entry.person:
                features = [_person_name(a, b)]
            else:
                own = (query.own[i], entry.own[j], query.own_han[i], entry.own_han[j])
                features = _organisation_name(a, b, own, rarity)
            weight = sum(f.weight for f in features)
            if weight > best_weight:
                best, best_weight = features, weight
    features = best + _detail_features(query, entry)
    total = sum(f.weight for f in features)
    if set(query.identifiers) & set(entry.identifiers):
        total = max(total, OFFSET + 3.0)  # the identifier decides: at least 0.95
    score = 1.0 / (1.0 + math.exp(-(total - OFFSET)))
    return Comparison(round(score, 4), tuple(features))


# --- names ------------------------------------------------------------------------------


def _person_name(a: NameForms, b: NameForms) -> Feature:
    return _name_feature(_person_similarity(a, b), a.tokens, b.tokens, 14.0, top=7.0)


def _organisation_name(
    a: NameForms, b: NameForms, own: tuple[Sequence[str], Sequence[str], str, str], rarity: Rarity
) -> list[Feature]:
    own_a, own_b, han_a, han_b = own
    steep = False
    if han_a and han_b:
        # Both in Han: the characters decide, and a different character is another firm
        # (华信, 华鑫 sound alike: at most a review, never a match).
        similarity = fuzz.ratio(han_a, han_b) / 100
        if "".join(own_a) == "".join(own_b):
            similarity = max(similarity, 0.75)
        steep = True
    elif own_a and own_b:
        similarity = _weighted_overlap(own_a, own_b, rarity)
        if len(own_a) != len(own_b):  # "Hua Xin" and "Huaxin": the same, split otherwise
            similarity = max(similarity, _word_similarity("".join(own_a), "".join(own_b)))
    elif own_a or own_b:
        similarity = 0.3  # one has a name of its own, the other only generic words
    else:
        # Only place, trade and number ("上海第三建筑工程"): those must all agree.
        similarity = fuzz.token_sort_ratio(" ".join(a.translated), " ".join(b.translated)) / 100
    shown_a, shown_b = own_a or a.translated, own_b or b.translated
    features = [_name_feature(similarity, shown_a, shown_b, 35.0 if steep else 20.0)]
    features += _business(a.translated, b.translated)
    features += _region(a.translated, b.translated)
    features += _numbers(a.numbers, b.numbers)
    features += _legal_forms(a.legal_forms, b.legal_forms)
    return features


def _distinctive(words: Sequence[str]) -> list[str]:
    """A firm's own words: not its place, trade, legal form or generic qualifiers."""
    return [w for w in words if w not in SET_APART and not w.isdecimal()]


def _name_feature(
    similarity: float, a: Sequence[str], b: Sequence[str], slope: float, top: float = 8.0
) -> Feature:
    """``top`` for names that agree, ``slope`` less for each unit of difference."""
    weight = top - slope * (1.0 - similarity)
    shown = f"name {similarity:.2f}: {' '.join(a)} ~ {' '.join(b)}"
    return Feature("name", similarity >= 0.8, round(weight, 2), shown)


def _business(a: Sequence[str], b: Sequence[str]) -> list[Feature]:
    """What the firms say they do (industry words, and generic ones such as holdings or
    international): the same, one saying more, or something else. Trade names repeat
    across industries, so this weighs nearly as much as the name."""
    mine, theirs = set(a) & BUSINESS_WORDS, set(b) & BUSINESS_WORDS
    if not mine or not theirs:
        return []
    shared = mine & theirs
    if mine == theirs:
        return [Feature("business", True, 2.5, f"business agrees: {', '.join(sorted(shared))}")]
    shown = f"business {', '.join(sorted(mine))} vs {', '.join(sorted(theirs))}"
    if shared:
        return [Feature("business", False, -3.5, shown + " (partly)")]
    return [Feature("business", False, -5.0, shown)]


def _region(a: Sequence[str], b: Sequence[str]) -> list[Feature]:
    mine, theirs = set(a) & REGION_WORDS, set(b) & REGION_WORDS
    if not mine and not theirs:
        return []
    if not mine or not theirs:
        return [
            Feature(
                "region",
                False,
                -0.3,
                f"region on one side only: {', '.join(sorted(mine | theirs))}",
            )
        ]
    if mine & theirs:
        return [Feature("region", True, 0.5, f"region agrees: {', '.join(sorted(mine & theirs))}")]
    shown = f"region differs: {', '.join(sorted(mine))} vs {', '.join(sorted(theirs))}"
    return [Feature("region", False, -6.0, shown)]


def _person_similarity(a: NameForms, b: NameForms) -> float:
    """Persons: either order (surname first or last), split or joined syllables."""
    left, right = " ".join(a.tokens), " ".join(b.tokens)
    return (
        max(
            fuzz.token_sort_ratio(left, right),
            fuzz.ratio(a.joined, b.joined),
            fuzz.ratio("".join(reversed(a.tokens)), b.joined),
        )
        / 100
    )


def _weighted_overlap(a: Sequence[str], b: Sequence[str], rarity: Rarity) -> float:
    """Dice overlap of two word lists, each word weighted by rarity; a word meets its
    closest counterpart (a typo still counts, in part)."""
    if not a or not b:
        return 0.0
    matched = 0.0
    for word in a:
        closest = max(_word_similarity(word, other) for other in b)
        if closest >= 0.8:
            matched += closest * rarity(word)
    total = sum(rarity(w) for w in a) + sum(rarity(w) for w in b)
    return min(1.0, 2 * matched / total) if total else 0.0


def _word_similarity(a: str, b: str) -> float:
    """Pinyin words are compared syllable by syllable: "tianan" (天安) and "tianyuan"
    (天远) share one syllable of two, not six letters of eight. Other words (foreign,
    or mistyped) letter by letter."""
    if a == b:
        return 1.0
    syllables_a, syllables_b = syllables(a), syllables(b)
    if syllables_a and syllables_b:
        return Indel.normalized_similarity(syllables_a, syllables_b)
    return fuzz.ratio(a, b) / 100


def _numbers(a: Sequence[str], b: Sequence[str]) -> list[Feature]:
    if not a and not b:
        return []
    if set(a) == set(b):
        return [Feature("numbers", True, 1.0, f"numbers agree: {', '.join(a)}")]
    shown = f"numbers differ: {', '.join(a) or 'none'} vs {', '.join(b) or 'none'}"
    return [Feature("numbers", False, -7.0 if a and b else -2.0, shown)]


def _legal_forms(a: frozenset[str], b: frozenset[str]) -> list[Feature]:
    if not a or not b:
        return []
    shown = f"legal form {', '.join(sorted(a))} vs {', '.join(sorted(b))}"
    if a & b:
        return [Feature("legal_form", True, 0.8, f"legal form agrees: {', '.join(sorted(a & b))}")]
    if {legal_form_family(c) for c in a} & {legal_form_family(c) for c in b}:
        return [Feature("legal_form", True, 0.2, shown + " (alike)")]
    return [Feature("legal_form", False, -1.0, shown)]


# --- details ----------------------------------------------------------------------------


def _detail_features(query: Profile, entry: Profile) -> list[Feature]:
    features = []
    if query.identifiers and entry.identifiers:
        features.append(_identifier(query, entry))
    if query.birth and entry.birth:
        features.append(_birth_date(query.birth, entry.birth))
    if query.country and entry.country:
        same = query.country == entry.country
        shown = f"country {'agrees' if same else 'differs'}: {query.country} vs {entry.country}"
        features.append(Feature("country", same, 0.5 if same else -2.5, shown))
    if query.address and entry.address:
        similarity = fuzz.token_set_ratio(query.address, entry.address) / 100
        weight = next(w for floor, w in ADDRESS_WEIGHTS if similarity >= floor)
        if not entry.person:
            weight = min(weight, 1.5)  # a firm's registered region says less than a home
        shown = f"address {similarity:.2f}"
        features.append(Feature("address", weight > 0, weight, shown))
    return features


def _identifier_token(scheme: str, value: str) -> str:
    token = _NOT_ALNUM.sub("", value.upper())
    return HASHED + token if token and scheme in PERSON_SCHEMES else token


def _identifier(query: Profile, entry: Profile) -> Feature:
    mine, theirs = query.identifiers, entry.identifiers
    if set(mine) & set(theirs):
        # A national identifier belongs to one subject: equal settles it, whatever the
        # name says (a renamed firm keeps its USCC). See compare().
        return Feature("identifier", True, IDENTIFIER_EQUAL, "identifier equal")
    # A keyed hash tells equal from different and nothing more: near misses are
    # measured between numbers in clear only (organisations'; persons' are hashed).
    distance = min(
        (
            Levenshtein.distance(a, b)
            for a in mine
            for b in theirs
            if not (a.startswith(HASHED) or b.startswith(HASHED))
        ),
        default=None,
    )
    if distance is not None and distance <= 2 and not (query.checked and entry.checked):
        weight = 3.0 if distance == 1 else 1.0
        return Feature("identifier", True, weight, f"identifier differs in {distance} characters")
    # Identifiers get mistyped and replaced; a different one weighs, but does not veto.
    # Two valid identifiers with check characters that differ are two subjects.
    return Feature("identifier", False, -3.0, "identifier differs")


def _birth_date(mine: str, theirs: str) -> Feature:
    """Equal, close (a slip in month or day, or the two swapped) or different; the
    dates themselves are not shown: the registry's side is a person's birth date."""
    if mine == theirs:
        return Feature("birth_date", True, 5.0, "birth date equal")
    swapped = mine[:4] + mine[6:8] + mine[4:6] == theirs
    same_year = mine[:4] == theirs[:4]
    distance = Levenshtein.distance(mine, theirs)
    if swapped or (distance == 1 and same_year):
        return Feature("birth_date", True, 2.5, "birth date close (month or day)")
    if distance == 1:  # a slip in the year: weaker, a decade apart is another person
        return Feature("birth_date", True, 1.0, "birth date differs in one digit of the year")
    if distance == 2 and same_year:
        return Feature("birth_date", False, 0.0, "birth date differs in two digits")
    return Feature("birth_date", False, -2.5, "birth date differs")


def _birth(text: str | None) -> str:
    digits = _NOT_DIGIT.sub("", text or "")
    return digits if len(digits) == 8 else ""


def slim(prepared: Profile) -> Profile:
    """What an indexed entry keeps for comparison: the forms ``compare`` reads and no
    more (a million entries are held in memory)."""
    names = tuple(
        NameForms(
            text="",
            original="",
            script=forms.script,
            tokens=forms.tokens if prepared.person else (),
            joined=forms.joined if prepared.person else "",
            translated=forms.translated,
            legal_forms=forms.legal_forms,
            numbers=forms.numbers,
            set_aside=(),
        )
        for forms in prepared.names
    )
    return Profile(
        prepared.person,
        names,
        prepared.own,
        prepared.own_han,
        prepared.identifiers,
        prepared.birth,
        prepared.country,
        prepared.address,
        prepared.checked,
    )
