"""A screening index kept fresh without rebuilding it: a big base and a small delta.

Building the index of a million subjects takes a minute or more, and the registry
gains subjects every few seconds while it serves checks. So the index in service is
two ``core.blocking.ScreeningIndex`` layers:

- the **base**, built once from every subject, never changed;
- the **delta**, rebuilt in milliseconds from the subjects new or changed since the
  base was built;

and the set of base entries the delta **supersedes** (changed subjects, whose base
entry is stale, and subjects known to be gone). A search reads both layers, passes
over superseded base entries before it chooses candidates, and merges the two by
score, best first, ties to the lower subject id: the order of one index filed in id
order. A word's rarity counts both layers less the superseded entries, so a layered
index scores exactly as a fresh index of the same subjects would; the candidates each
layer chooses are the same too while no key of the query is common enough to be cut
(``core.blocking.MAX_KEY_POSTINGS``), which is all a registry of thousands shows.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

import numpy as np
import numpy.typing as npt

from trustreg.core.blocking import Candidate, ScreeningIndex, word_rarity
from trustreg.core.matching import Comparison, Party, Profile, profile


def superseded_mask(base: ScreeningIndex, subject_ids: Collection[int]) -> npt.NDArray[np.bool_]:
    """Which base positions hold one of these subjects."""
    mask = np.zeros(len(base), dtype=np.bool_)
    if not subject_ids or not len(base):
        return mask
    wanted = np.fromiter(subject_ids, dtype=np.int64, count=len(subject_ids))
    held = base.subject_ids
    if len(held) < 2 or bool(np.all(held[1:] > held[:-1])):
        # Filed in id order (as the registry files them): a binary search per id.
        slots = np.minimum(np.searchsorted(held, wanted), len(held) - 1)
        mask[slots[held[slots] == wanted]] = True
    else:
        mask |= np.isin(held, wanted)
    return mask


def key_counts(base: ScreeningIndex, mask: npt.NDArray[np.bool_]) -> dict[int, int]:
    """How many of the masked base entries each key hash has: one pass over the
    postings (tens of milliseconds at a million entries), only when some are masked."""
    if not mask.any():
        return {}
    hits = np.flatnonzero(mask[base.postings])
    slots = np.searchsorted(base.offsets, hits, side="right") - 1
    hashes, counts = np.unique(base.key_hashes[slots], return_counts=True)
    return dict(zip(hashes.tolist(), counts.tolist(), strict=True))


class LayeredIndex:
    """A base index, less its superseded entries, plus a delta index.

    Answers ``search``, ``search_prepared`` and ``len()`` as a ``ScreeningIndex`` of
    the same subjects would. Immutable once made: a fresher one replaces it whole.
    """

    def __init__(
        self,
        base: ScreeningIndex,
        delta: ScreeningIndex | None = None,
        superseded: Collection[int] = (),
    ) -> None:
        self.base = base
        self.delta = delta
        self.thresholds = base.thresholds
        self._skip = superseded_mask(base, superseded) if superseded else None
        skipped = int(self._skip.sum()) if self._skip is not None else 0
        self._gone = key_counts(base, self._skip) if self._skip is not None else {}
        self._size = len(base) - skipped + (len(delta) if delta is not None else 0)
        self._plain = delta is None and not skipped
        self._word_weight: dict[str, float] = {}

    def __len__(self) -> int:
        return self._size

    @property
    def delta_size(self) -> int:
        """Entries in the delta layer."""
        return len(self.delta) if self.delta is not None else 0

    def postings_count(self, key: str) -> int:
        """Entries filed under ``key`` in both layers, superseded ones left out."""
        count = self.base.postings_count(key) - self._gone.get(hash(key), 0)
        return count + (self.delta.postings_count(key) if self.delta is not None else 0)

    def rarity(self, word: str) -> float:
        """Inverse document frequency of a name word over both layers (as
        ``ScreeningIndex.rarity`` computes it for one)."""
        return word_rarity(self._word_weight, self._size, self.postings_count, word)

    def search(self, query: Party, top: int = 3, persons: bool = True) -> list[Candidate]:
        """The ``top`` best entries for the query, best first; without ``persons``,
        entries of persons are passed over."""
        return self.search_prepared(profile(query), top, persons)

    def search_prepared(
        self, prepared: Profile, top: int = 3, persons: bool = True
    ) -> list[Candidate]:
        """``search`` for a query already prepared."""
        if self._plain:
            return self.base.search_prepared(prepared, top, persons)
        found = _by_subject(
            self.base, self.base.compared(prepared, persons, self.rarity, self._skip)
        )
        if self.delta is not None:
            found += _by_subject(self.delta, self.delta.compared(prepared, persons, self.rarity))
        return merged(found, top, self.thresholds.decision)


Scored = tuple[float, int, Comparison]  # score, subject id, comparison


def _by_subject(index: ScreeningIndex, found: list[Scored]) -> list[Scored]:
    return [(score, int(index.subject_ids[p]), c) for score, p, c in found]


def merged(found: list[Scored], top: int, decision: Callable[[float], str]) -> list[Candidate]:
    """The ``top`` best of candidates from several layers: by score, ties to the lower
    subject id (one index filed in id order breaks ties by position, the same)."""
    found.sort(key=lambda f: (-f[0], f[1]))
    return [Candidate(sid, score, decision(score), c) for score, sid, c in found[:top]]
