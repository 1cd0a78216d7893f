"""Finding candidates without comparing a query with everyone: an in-memory index.

Every entry is filed under a few keys: words of its names in transliteration and
translation, pairs of syllables (so that 沧澜 meets "Canglan"), word beginnings and
endings for typos, Han character pairs for two-character names, identifier values,
birth dates and words of an address. A query looks up its own keys, rarest first, and
only postings of rare keys are read: the work per query is bounded by
:data:`MAX_POSTINGS`, not by the size of the registry. The best :data:`CANDIDATES` by
shared rarity are then compared in full (``core.matching``).

Why our own: the SQLite FTS5 trigram tokenizer finds nothing under three characters
and knows neither pinyin nor translations, pg_trgm neither; a single in-memory index
serves both stores and the batch alike. Postings are kept as one sorted ``int32``
array with offsets, so a million entries fit in a few hundred megabytes.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from trustreg.core.matching import (
    RARE_WEIGHT,
    Comparison,
    Party,
    Profile,
    Thresholds,
    compare,
    profile,
)

# Keys whose postings are longer than this are too common to find anyone by.
MAX_KEY_POSTINGS = 2_000
# The most postings one query reads in all.
MAX_POSTINGS = 8_000
# Entries compared in full per query.
CANDIDATES = 20
MIN_TYPO_WORD = 6  # words at least this long are also filed by beginning and end


@dataclass(frozen=True, slots=True)
class Candidate:
    """One registry entry that may be the query's party."""

    subject_id: int
    score: float
    decision: str
    comparison: Comparison

    @property
    def agreed(self) -> tuple[str, ...]:
        return self.comparison.agreed

    @property
    def disagreed(self) -> tuple[str, ...]:
        return self.comparison.disagreed


def keys(prepared: Profile) -> set[str]:
    """The keys an entry is filed under, and a query looks for."""
    found: set[str] = set()
    for forms in prepared.names:
        words = [*forms.tokens, *forms.translated]
        found.update("w:" + w for w in words if len(w) > 1)
        for first, second in zip(forms.tokens, forms.tokens[1:], strict=False):
            found.add("w:" + first + second)
            if prepared.person:
                found.add("w:" + second + first)
        for word in words:
            if len(word) >= MIN_TYPO_WORD:
                found.add("p:" + word[:4])
                found.add("s:" + word[-4:])
        if forms.script == "han":
            han = forms.original.replace(" ", "")
            found.update("h:" + han[i : i + 2] for i in range(len(han) - 1))
    found.update("i:" + value for value in prepared.identifiers)
    if prepared.birth:
        found.add("d:" + prepared.birth)
    found.update("a:" + word for word in prepared.address.split() if len(word) >= 3)
    return found


class ScreeningIndex:
    """Registry entries filed by key, with their prepared profiles."""

    def __init__(
        self,
        subject_ids: list[int],
        profiles: list[Profile],
        key_ids: dict[str, int],
        offsets: npt.NDArray[np.int64],
        postings: npt.NDArray[np.int32],
        thresholds: Thresholds,
    ) -> None:
        self.subject_ids = subject_ids
        self.profiles = profiles
        self.key_ids = key_ids
        self.offsets = offsets
        self.postings = postings
        self.thresholds = thresholds
        self._size = len(profiles)
        self._word_weight: dict[str, float] = {}

    @classmethod
    def build(
        cls, entries: Iterable[tuple[int, Party]], thresholds: Thresholds | None = None
    ) -> ScreeningIndex:
        """Prepare and file every entry."""
        return cls.from_profiles(((sid, profile(p)) for sid, p in entries), thresholds)

    @classmethod
    def from_profiles(
        cls, entries: Iterable[tuple[int, Profile]], thresholds: Thresholds | None = None
    ) -> ScreeningIndex:
        """File entries already prepared (e.g. by worker processes)."""
        subject_ids: list[int] = []
        profiles: list[Profile] = []
        key_ids: dict[str, int] = {}
        pair_keys = array("i")
        pair_entries = array("i")
        for position, (subject_id, prepared) in enumerate(entries):
            subject_ids.append(subject_id)
            profiles.append(prepared)
            for key in keys(prepared):
                pair_keys.append(key_ids.setdefault(key, len(key_ids)))
                pair_entries.append(position)
        key_array = np.frombuffer(pair_keys, dtype=np.int32)
        order = np.argsort(key_array, kind="stable")
        postings = np.frombuffer(pair_entries, dtype=np.int32)[order].copy()
        counts = np.bincount(key_array, minlength=len(key_ids))
        offsets = np.zeros(len(key_ids) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        return cls(subject_ids, profiles, key_ids, offsets, postings, thresholds or Thresholds())

    def __len__(self) -> int:
        return self._size

    def postings_count(self, key: str) -> int:
        key_id = self.key_ids.get(key)
        if key_id is None:
            return 0
        return int(self.offsets[key_id + 1] - self.offsets[key_id])

    def rarity(self, word: str) -> float:
        """Inverse document frequency of a name word: rare words weigh more."""
        weight = self._word_weight.get(word)
        if weight is None:
            count = self.postings_count("w:" + word)
            weight = math.log((self._size + 1) / (count + 1)) + 1.0 if count else RARE_WEIGHT
            if len(self._word_weight) < 1_000_000:
                self._word_weight[word] = weight
        return weight

    def search(self, query: Party, top: int = 3, persons: bool = True) -> list[Candidate]:
        """The ``top`` best entries for the query, best first (scores may be low);
        without ``persons``, entries of persons are passed over."""
        return self.search_prepared(profile(query), top, persons)

    def search_prepared(
        self, prepared: Profile, top: int = 3, persons: bool = True
    ) -> list[Candidate]:
        """``search`` for a query already prepared."""
        if not prepared.names and not prepared.identifiers:
            return []
        found = []
        for position in self._candidates(prepared):
            if not persons and self.profiles[position].person:
                continue
            comparison = compare(prepared, self.profiles[position], self.rarity)
            found.append((comparison.score, -position, comparison))
        found.sort(reverse=True)
        return [
            Candidate(self.subject_ids[-neg], score, self.thresholds.decision(score), comparison)
            for score, neg, comparison in found[:top]
        ]

    def _candidates(self, prepared: Profile) -> list[int]:
        """The entries sharing the most rarity with the query, from the postings of its
        rarest keys only (numpy: a query reads a few thousand postings at most)."""
        chosen: list[tuple[int, int]] = []
        read = 0
        for count, key_id in self._rarest_first(prepared):
            if chosen and (count > MAX_KEY_POSTINGS or read + count > MAX_POSTINGS):
                break  # common keys only find what rarer keys have already found
            chosen.append((min(count, MAX_KEY_POSTINGS), key_id))
            read += min(count, MAX_KEY_POSTINGS)
        if not chosen:
            return []
        slices = [
            self.postings[s : s + n] for n, s in ((n, int(self.offsets[k])) for n, k in chosen)
        ]
        positions = np.concatenate(slices)
        weights = np.repeat(
            [math.log((self._size + 1) / (n + 1)) + 1.0 for n, _ in chosen], [n for n, _ in chosen]
        )
        found, inverse = np.unique(positions, return_inverse=True)
        if len(found) <= CANDIDATES:
            return [int(p) for p in found]
        shared = np.bincount(inverse, weights=weights)
        best = np.argpartition(-shared, CANDIDATES)[:CANDIDATES]
        return [int(p) for p in found[best]]

    def _rarest_first(self, prepared: Profile) -> Iterator[tuple[int, int]]:
        found = []
        for key in keys(prepared):
            key_id = self.key_ids.get(key)
            if key_id is not None:
                found.append((int(self.offsets[key_id + 1] - self.offsets[key_id]), key_id))
        return iter(sorted(found))
