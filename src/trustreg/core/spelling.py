"""Known words and slips: a Latin word in a company name as the token the tables know.

Pure. A word one slip away from a known word ("Eectric", "Muniipal") is taken for it;
places only for a letter left out or added.
"""

from __future__ import annotations

from functools import lru_cache

from trustreg.core import name_words as nw
from trustreg.core.pinyin import syllables

# Words of legal forms ("limited", "gongsi"), for telling them from a firm's own name
# where a form was not at the end.
LEGAL_WORDS = frozenset(w for form in nw.LATIN_FORMS for w in form) | {"stock", "share"}


@lru_cache(maxsize=1)
def _vocabulary() -> tuple[dict[str, str], dict[str, str]]:
    """Every English word the tables know with the token it stands for; places apart."""
    known = {word: word for word in nw.GLOSSARY.values() if word not in nw.REGION_WORDS}
    known.update({w: w for w in LEGAL_WORDS if len(w) >= 5})
    known.update({w: w for phrase in nw.PHRASES for w in phrase})  # "commerce" in phrases
    known.update(nw.SYNONYMS)
    places = {w: w for w in nw.REGION_WORDS}
    return known, places


@lru_cache(maxsize=1 << 16)
def known_word(word: str) -> str:
    """A Latin word as its canonical token; a word one slip away from a known one
    ("Eectric", "Muniipal") is taken for it. Short words are left alone, and a place
    only for a letter left out or added: trade names in pinyin are often one letter
    from a city (Yinghuan, Yinchuan)."""
    known, places = _vocabulary()
    canonical = known.get(word) or places.get(word)
    if canonical is not None or len(word) < 5 or not word.isalpha() or syllables(word):
        return canonical or word  # a word that reads as pinyin is a name, not a slip
    from rapidfuzz import fuzz, process

    close = process.extractOne(word, known.keys(), scorer=fuzz.ratio, score_cutoff=87)
    if close:
        return known[close[0]]
    place = process.extractOne(word, places.keys(), scorer=fuzz.ratio, score_cutoff=91)
    return places[place[0]] if place else word
