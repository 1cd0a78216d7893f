"""Finding candidates without comparing a query with everyone: an in-memory index.

Every entry is filed under a few keys: words of its names in transliteration and
translation, pairs of syllables (so that 沧澜 meets "Canglan"), word beginnings and
endings for typos, Han character pairs for two-character names, identifier values
(a person's number: its keyed hash, see ``core.matching``), birth dates and words of
an address. A query looks up its own keys, rarest first, and only postings of rare
keys are read: the work per query is bounded by
:data:`MAX_POSTINGS`, not by the size of the registry. The best :data:`CANDIDATES` by
shared rarity are then compared in full (``core.matching``).

Why our own: the SQLite FTS5 trigram tokenizer finds nothing under three characters
and knows neither pinyin nor translations, pg_trgm neither; a single in-memory index
serves both stores and the batch alike. Postings are kept as one sorted ``int32``
array with offsets and the profiles as one bytes object, so a million entries fit in
well under a gigabyte and are shared by forked workers without being copied.
"""

from __future__ import annotations

import math
import pickle
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

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
    slim,
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
    for i, forms in enumerate(prepared.names):
        han = forms.script == "han"
        # A Han name's single syllables find everyone; its words and syllable pairs do.
        words = list(forms.translated) if han else [*forms.tokens, *forms.translated]
        if han and prepared.person:
            words = []
        found.update("w:" + w for w in words if len(w) > 1)
        for first, second in zip(forms.tokens, forms.tokens[1:], strict=False):
            found.add("w:" + first + second)
            if prepared.person:
                found.add("w:" + second + first)
        own = forms.tokens if prepared.person else prepared.own[i]
        for word in own:
            if len(word) >= MIN_TYPO_WORD:
                found.add("p:" + word[:4])
                found.add("s:" + word[-4:])
        chars = forms.original.replace(" ", "") if prepared.person and han else prepared.own_han[i]
        found.update("h:" + chars[j : j + 2] for j in range(max(1, len(chars) - 1)) if chars)
    found.update("i:" + value for value in prepared.identifiers)
    if prepared.birth:
        found.add("d:" + prepared.birth)
    found.update("a:" + word for word in prepared.address.split() if len(word) >= 3)
    return found


def filed(prepared: Profile) -> tuple[bytes, bool, str]:
    """An entry as the index keeps it: its slim profile pickled, whether it is a
    person, and its keys joined (cheap to send back from a worker process)."""
    data = pickle.dumps(slim(prepared), protocol=pickle.HIGHEST_PROTOCOL)
    return data, prepared.person, "\x1f".join(keys(prepared))


def word_rarity(
    cache: dict[str, float], size: int, postings_count: Callable[[str], int], word: str
) -> float:
    """Inverse document frequency of a name word among ``size`` entries, remembered in
    ``cache`` (bounded: a million words at most)."""
    weight = cache.get(word)
    if weight is None:
        count = postings_count("w:" + word)
        weight = math.log((size + 1) / (count + 1)) + 1.0 if count else RARE_WEIGHT
        if len(cache) < 1_000_000:
            cache[word] = weight
    return weight


class ScreeningIndex:
    """Registry entries filed by key, with their prepared profiles.

    Everything lives in a few flat arrays and one bytes object, not in a million
    Python objects: a worker process forked from the builder shares them as they are
    (reading Python objects would copy their pages, one refcount at a time), and
    freeing them at exit costs nothing. Keys are kept as their 64-bit hashes, sorted;
    profiles are unpickled when compared.
    """

    def __init__(
        self,
        arrays: dict[str, npt.NDArray[Any]],
        blob: bytes,
        thresholds: Thresholds,
    ) -> None:
        self.subject_ids = arrays["subject_ids"]  # int64, one per entry
        self.persons = arrays["persons"]  # bool, one per entry
        self.blob_offsets = arrays["blob_offsets"]  # int64, entries + 1
        self.key_hashes = arrays["key_hashes"]  # int64, sorted, one per key
        self.offsets = arrays["offsets"]  # int64, keys + 1: where each key's postings start
        self.postings = arrays["postings"]  # int32 entry positions, grouped by key
        self.blob = blob
        self.thresholds = thresholds
        self._size = len(self.subject_ids)
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
        """File entries already prepared."""
        return cls.from_filed(((sid, *filed(p)) for sid, p in entries), thresholds)

    @classmethod
    def from_filed(
        cls,
        entries: Iterable[tuple[int, bytes, bool, str]],
        thresholds: Thresholds | None = None,
    ) -> ScreeningIndex:
        """File entries made by ``filed``, in the order given."""
        subject_ids, blob_offsets = array("q"), array("q", [0])
        persons = bytearray()
        pieces: list[bytes] = []
        key_hashes, entry_of_key = array("q"), array("i")
        for position, (subject_id, data, person, joined_keys) in enumerate(entries):
            subject_ids.append(subject_id)
            persons.append(person)
            pieces.append(data)
            blob_offsets.append(blob_offsets[-1] + len(data))
            for key in joined_keys.split("\x1f") if joined_keys else ():
                key_hashes.append(hash(key))
                entry_of_key.append(position)
        hashes = np.frombuffer(key_hashes, dtype=np.int64)
        order = np.argsort(hashes, kind="stable")
        ordered = hashes[order]
        unique, starts = np.unique(ordered, return_index=True)
        arrays = {
            "subject_ids": np.frombuffer(subject_ids, dtype=np.int64).copy(),
            "persons": np.frombuffer(bytes(persons), dtype=np.bool_).copy(),
            "blob_offsets": np.frombuffer(blob_offsets, dtype=np.int64).copy(),
            "key_hashes": unique,
            "offsets": np.append(starts, len(ordered)).astype(np.int64),
            "postings": np.frombuffer(entry_of_key, dtype=np.int32)[order].copy(),
        }
        return cls(arrays, b"".join(pieces), thresholds or Thresholds())

    def __len__(self) -> int:
        return self._size

    def _key_slot(self, key: str) -> int:
        """The key's place in the sorted hashes, or -1 if no entry has it."""
        wanted = hash(key)
        slot = int(np.searchsorted(self.key_hashes, wanted))
        if slot < len(self.key_hashes) and self.key_hashes[slot] == wanted:
            return slot
        return -1

    def postings_count(self, key: str) -> int:
        slot = self._key_slot(key)
        return 0 if slot < 0 else int(self.offsets[slot + 1] - self.offsets[slot])

    def profile_at(self, position: int) -> Profile:
        start, end = self.blob_offsets[position], self.blob_offsets[position + 1]
        found: Profile = pickle.loads(self.blob[start:end])
        return found

    def rarity(self, word: str) -> float:
        """Inverse document frequency of a name word: rare words weigh more."""
        return word_rarity(self._word_weight, self._size, self.postings_count, word)

    def search(self, query: Party, top: int = 3, persons: bool = True) -> list[Candidate]:
        """The ``top`` best entries for the query, best first (scores may be low);
        without ``persons``, entries of persons are passed over."""
        return self.search_prepared(profile(query), top, persons)

    def search_prepared(
        self, prepared: Profile, top: int = 3, persons: bool = True
    ) -> list[Candidate]:
        """``search`` for a query already prepared."""
        found = self.compared(prepared, persons, self.rarity)
        found.sort(key=lambda f: (f[0], -f[1]), reverse=True)
        return [
            Candidate(int(self.subject_ids[p]), score, self.thresholds.decision(score), comparison)
            for score, p, comparison in found[:top]
        ]

    def compared(
        self,
        prepared: Profile,
        persons: bool,
        rarity: Callable[[str], float],
        skip: npt.NDArray[np.bool_] | None = None,
    ) -> list[tuple[float, int, Comparison]]:
        """(score, position, comparison) of every candidate compared in full, unsorted;
        entries whose position ``skip`` marks are passed over before the candidates are
        chosen (``core.layered``: entries a newer layer has replaced)."""
        if not prepared.names and not prepared.identifiers:
            return []
        found = []
        for position in self._candidates(prepared, skip):
            if not persons and self.persons[position]:
                continue
            comparison = compare(prepared, self.profile_at(position), rarity)
            found.append((comparison.score, position, comparison))
        return found

    def _candidates(
        self, prepared: Profile, skip: npt.NDArray[np.bool_] | None = None
    ) -> list[int]:
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
        shared = np.bincount(inverse, weights=weights)
        if skip is not None:
            kept = ~skip[found]
            found, shared = found[kept], shared[kept]
        if len(found) <= CANDIDATES:
            return [int(p) for p in found]
        best = np.argpartition(-shared, CANDIDATES)[:CANDIDATES]
        return [int(p) for p in found[best]]

    def _rarest_first(self, prepared: Profile) -> list[tuple[int, int]]:
        """(postings, slot) of the query's keys that some entry has, rarest first."""
        wanted = np.fromiter((hash(k) for k in keys(prepared)), dtype=np.int64)
        slots = np.searchsorted(self.key_hashes, wanted)
        inside = slots < len(self.key_hashes)
        slots, wanted = slots[inside], wanted[inside]
        slots = slots[self.key_hashes[slots] == wanted]
        counts = self.offsets[slots + 1] - self.offsets[slots]
        return sorted(zip(counts.tolist(), slots.tolist(), strict=True))
