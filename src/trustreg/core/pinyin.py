"""Pinyin for the name matcher: reading Han runs, cutting Latin words into syllables,
and glossary words spelled in pinyin. Pure; pypinyin's dictionaries are loaded on first use."""

from __future__ import annotations

from functools import lru_cache

from trustreg.core import name_words as nw


@lru_cache(maxsize=1 << 16)
def reading(run: str) -> tuple[str, ...]:
    """One toneless syllable per character of a Han run (an unknown character stays).

    A run that is a word in pypinyin's phrase dictionary is read as that word (its
    polyphones resolved); any other run character by character, each in its most
    common reading. Reading whole runs through pypinyin's segmenter costs about ten
    times as much, and the pieces we read are already cut at glossary words.
    """
    from pypinyin import Style, lazy_pinyin
    from pypinyin.phrases_dict import phrases_dict

    if len(run) > 1 and run in phrases_dict:
        syllables = lazy_pinyin(run, style=Style.NORMAL, errors="default")
        if len(syllables) == len(run):
            return tuple(s.replace("v", "u") for s in syllables)
    return tuple(_char_reading(c) for c in run)


@lru_cache(maxsize=1 << 15)
def _char_reading(char: str) -> str:
    from pypinyin import Style, lazy_pinyin

    reading = lazy_pinyin(char, style=Style.NORMAL, errors="default")
    return reading[0].replace("v", "u") if reading else char


@lru_cache(maxsize=1)
def _glossary() -> dict[str, str]:
    """Glossary words spelled in pinyin (keji, hangyun, maoyi) → their English token:
    a romanised name ("Canglan Yuanyang Hangyun") meets the English one. Words of one
    character and readings that are English words already are left out."""
    english = {*nw.GLOSSARY.values(), *nw.SYNONYMS, *nw.SYNONYMS.values()}
    found: dict[str, str] = {}
    for han, token in nw.GLOSSARY.items():
        spelled = "".join(reading(han))
        if len(han) >= 2 and spelled.isascii() and spelled not in english:
            found.setdefault(spelled, token)
    return found


def glossary_words(items: list[str]) -> list[str]:
    """Latin words that spell a glossary word in pinyin, joined or syllable by
    syllable ("hang yun"), become its English token."""
    glossary = _glossary()
    out: list[str] = []
    i = 0
    while i < len(items):
        for n in (4, 3, 2, 1):
            token = glossary.get("".join(items[i : i + n])) if i + n <= len(items) else None
            if token is not None:
                out.append(token)
                i += n
                break
        else:
            out.append(items[i])
            i += 1
    return out


@lru_cache(maxsize=1)
def _syllable_inventory() -> frozenset[str]:
    """Every toneless Mandarin syllable pypinyin knows (about 410)."""
    from pypinyin import Style
    from pypinyin.pinyin_dict import pinyin_dict
    from pypinyin.style import convert as convert_style

    found: set[str] = set()
    for readings in pinyin_dict.values():
        for reading in readings.split(","):
            plain = convert_style(reading, Style.NORMAL, strict=False)
            if plain.isascii() and plain.isalpha():
                found.add(plain.replace("v", "u"))
    return frozenset(found)


@lru_cache(maxsize=1 << 16)
def syllables(word: str) -> tuple[str, ...]:
    """A Latin word cut into pinyin syllables, fewest first ("tianan" → tian an,
    "xian" → xian); empty when it is not pinyin (a foreign word, or a typo)."""
    inventory = _syllable_inventory()
    best: list[tuple[str, ...] | None] = [None] * (len(word) + 1)
    best[0] = ()
    for end in range(1, len(word) + 1):
        for start in range(max(0, end - 6), end):
            head = best[start]
            piece = word[start:end]
            if head is not None and piece in inventory:
                candidate = (*head, piece)
                current = best[end]
                if current is None or len(candidate) < len(current):
                    best[end] = candidate
    return best[len(word)] or ()
