"""Name normalisation: the forms of one name that the matcher compares.

Pure functions, no I/O. :func:`name_forms` turns a company or person name, in any
script, into a :class:`NameForms`. The steps, in order:

1. Clean: the first 300 characters; control characters become spaces, invisible ones
   (zero-width, bidi marks, lone surrogates) vanish; NFKC (full-width becomes
   half-width); traditional Han becomes simplified (OpenCC ``t2s``); lower case; Latin
   diacritics folded (``é``→``e``, ``ü``→``u``, ``ß``→``ss``); apostrophes dropped
   (``McDonald's``→``mcdonalds``); ``&`` becomes ``and``; dotted abbreviations closed up
   (``S.A.``→``sa``, ``L.L.C.``→``llc``).
2. Set aside (into ``set_aside``, each normalised like ``original``): party labels at
   the start (``SHIPPER:``, ``收货人：``); parentheses naming a branch, office or former
   name (``(Kakamega Branch)``, ``（北京分公司）``); a branch label at the end
   (``上海分公司``, ``Shanghai Branch``: whatever follows the last legal form, else the
   place before the branch word). A branch label adds ``branch`` (or
   ``representative_office``) to ``legal_forms``. Persons: honorifics (``Mr``, ``先生``).
3. Punctuation becomes space. Legal forms are stripped from the end, repeatedly and
   longest first (whole words for Latin, a suffix of the last word for Han, so
   ``北京华信科技有限公司`` loses ``有限公司``), then from the start (``PT``, ``OOO``,
   ``株式会社``); their codes go to ``legal_forms``. A form that is the whole name stays.
   What is left, words joined by single spaces, is ``original``.
4. ``tokens``: each Latin (or other-script) word as it is, each Han character as its
   toneless pypinyin syllable (``ü`` written ``u``: 吕→``lu``), in order. A company's
   Han run is read piece by piece after cutting it at glossary words (step 6), which
   reads polyphones better (空调 ``kong tiao``); a person's run is read whole, and its
   first character takes its surname reading (曾→``zeng``). ``joined`` is the tokens
   without spaces.
5. ``numbers`` (companies only): ``第三``, ``3号``, ``三号``, ``No. 3``, ``3``, ``3rd`` and
   ``third`` all give ``"3"``; in order of appearance.
6. ``translated`` (companies only; persons get their ``tokens``): number expressions
   left out. A Han run is cut greedily, longest glossary word first, each glossary word
   giving its English token and each stretch between them ONE joined pinyin token
   (沧澜远洋航运 → ``canglan ocean shipping``). A one-character glossary word (云) counts
   only after at least two unmatched characters, so a trade name such as 白云 stays
   whole. Latin words go through the synonym table to one canonical word (``tech``→
   ``technology``, ``trade``→``trading``, ``intl``→``international``).
   **Rule for English of several words: it is ONE token, the words joined without
   spaces**, on both sides: 房地产 gives ``realestate`` and so does "Real Estate" (also
   "Realty"); 进出口 and "Import & Export" give ``importexport``; 香港 and "Hong Kong"
   give ``hongkong``. Last, the stop words ``the of and for`` are left out.

``INDUSTRY_WORDS``, ``REGION_WORDS`` and ``GENERIC_WORDS`` are the translated tokens
that name a trade, a place, or neither (international, development, holdings);
:func:`legal_form_family` groups legal-form codes (``gmbh`` and ``limited`` are alike).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from trustreg.core import name_words as nw
from trustreg.core.pinyin import glossary_words, reading
from trustreg.core.spelling import known_word

if TYPE_CHECKING:
    from opencc import OpenCC

MAX_CHARS = 300
PERSON_KINDS = frozenset({"individual", "foreign_individual"})


@dataclass(frozen=True, slots=True)
class NameForms:
    """The comparable forms of one name; see the module docstring for the rules."""

    text: str
    original: str
    script: str
    tokens: tuple[str, ...]
    joined: str
    translated: tuple[str, ...]
    legal_forms: frozenset[str]
    numbers: tuple[str, ...]
    set_aside: tuple[str, ...]

    def __reduce__(self) -> tuple[type[NameForms], tuple[object, ...]]:
        # Pickled positionally: the screening index unpickles many of these.
        return (NameForms, tuple(getattr(self, f) for f in _FORMS_FIELDS))


_FORMS_FIELDS = (
    "text", "original", "script", "tokens", "joined", "translated", "legal_forms", "numbers",
    "set_aside",
)  # fmt: skip


_LATIN_FORM_LENGTHS = tuple(sorted({len(f) for f in nw.LATIN_FORMS}, reverse=True))
_LATIN_FORM_ENDS = frozenset(f[-1] for f in nw.LATIN_FORMS)
_HAN_FORM_LENGTHS = tuple(sorted({len(f) for f in nw.HAN_FORMS}, reverse=True))
_HAN_FORM_ENDS = frozenset(f[-1] for f in nw.HAN_FORMS)
_HAN_BRANCH_SUFFIXES = tuple(sorted(nw.HAN_BRANCH_CODES, key=len, reverse=True))
_PLACE_LENGTHS = tuple(sorted({len(h) for h in nw.PLACE_TOKENS}, reverse=True))
_PHRASE_FIRST = frozenset(key[0] for key in nw.PHRASES)
_PHRASE_MAX = max(len(key) for key in nw.PHRASES)
REGION_WORDS = nw.REGION_WORDS
GENERIC_WORDS = nw.GENERIC_WORDS
INDUSTRY_WORDS = nw.INDUSTRY_WORDS


def legal_form_family(code: str) -> str:
    """The family of a legal-form code: ``limited`` (Ltd, GmbH, LLC, 有限公司 ...),
    ``stock`` (SA, AG, Inc, PLC ...), ``partnership``, ``branch``, ... or the code."""
    return nw.FAMILIES.get(code, code)


# --- patterns ----------------------------------------------------------------------------

_HAN = "\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_HAN_SEARCH = re.compile(f"[{_HAN}]").search
_HAN_FIRST = re.compile(f"[{_HAN}]").match
_PIECE = re.compile(f"[{_HAN}]+|[^\\W_{_HAN}]+")
_NON_WORD = re.compile(r"[\W_]+")
_LATIN_SEARCH = re.compile("[a-z]").search
_OTHER_SEARCH = re.compile(f"[^\\W\\d_a-z{_HAN}]").search
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_INVISIBLE = re.compile(
    "[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff\ud800-\udfff\U000e0000-\U000e007f]"
)
_DOTTED = re.compile(r"(?<![a-z0-9])[a-z](?:\.[a-z])+\.?(?![a-z0-9])")
_PARENS = re.compile(r"\(([^()]*)\)")
_PARTY = re.compile(
    r"^\s*("
    + "|".join(
        label.replace("+", r"\s+") for label in sorted(nw.PARTY_LABELS.split(), key=len)[::-1]
    )
    + r")\s*:\s*"
)
_BRANCH_IN = re.compile(
    "("
    + "|".join(_HAN_BRANCH_SUFFIXES)
    + r")|\b("
    + "|".join(r"\s+".join(k) for k in sorted(nw.LATIN_BRANCH_CODES, key=len, reverse=True))
    + r")\b"
)
_FORMERLY = re.compile(r"(?:formerly|former\s+name|fka|f\W?k\W?a)\b|原名|曾用名|原.*(?:公司|厂)$")
_CN_NUMERAL = "(?:[零〇一二三四五六七八九十两]|[百千](?!货))+"
_CN_NUMBER = re.compile(f"第\\s*([0-9]+|{_CN_NUMERAL})(?:\\s*号)?|([0-9]+|{_CN_NUMERAL})\\s*号")
_CN_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_ORDINAL_SUFFIX = re.compile(r"([0-9]+)(?:st|nd|rd|th)")


# --- cached conversions --------------------------------------------------------------


@lru_cache(maxsize=1)
def _converter() -> OpenCC:
    import opencc

    return opencc.OpenCC("t2s")


@lru_cache(maxsize=1 << 16)
def _han_forms(run: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A company's Han run as syllables and as translated tokens.

    The run is cut at glossary words first and each piece read on its own: the glossary
    works as a word segmenter, which both reads polyphones better than pypinyin does on
    the whole run (空调 kongtiao, 音乐 yinyue) and lets the pieces' readings be cached.
    """
    syllables: list[str] = []
    translated: list[str] = []
    for piece, token in _segments(run):
        readings = reading(piece)
        syllables.extend(readings)
        translated.append(token if token is not None else "".join(readings))
    return tuple(syllables), tuple(translated)


def own_han(forms: NameForms) -> str:
    """A firm's own Han characters: its name without places, glossary words, numbers
    and legal forms (北京华信科技 → 华信). Compared character by character, so that
    homophones (华信, 华鑫) are not taken for one another."""
    if forms.script not in ("han", "mixed"):
        return ""
    text = _CN_NUMBER.sub(" ", forms.original)
    return "".join(_han_own(m.group()) for m in _PIECE.finditer(text) if _HAN_FIRST(m.group()))


@lru_cache(maxsize=1 << 16)
def _han_own(run: str) -> str:
    return "".join(piece for piece, token in _segments(run) if token is None)


def _segments(run: str) -> list[tuple[str, str | None]]:
    """Glossary words (with their token) and the stretches between them (with None)."""
    out: list[tuple[str, str | None]] = []
    start = i = 0
    while i < len(run):
        word = _glossary_word_at(run, i, i - start)
        if word is None:
            i += 1
            continue
        if i > start:
            out.append((run[start:i], None))
        out.append((word, nw.GLOSSARY[word]))
        i += len(word)
        start = i
    if start < len(run):
        out.append((run[start:], None))
    return out


def _glossary_word_at(run: str, i: int, pending: int) -> str | None:
    for length in nw.GLOSS_LENGTHS.get(run[i], ()):
        if i + length > len(run) or (length == 1 and pending < 2):
            continue
        word = run[i : i + length]
        if word in nw.GLOSSARY:
            return word
    return None


# --- the steps -----------------------------------------------------------------------


def _prepare(text: str) -> str:
    s = text[:MAX_CHARS]
    if not s.isprintable():
        s = _INVISIBLE.sub("", _CONTROL.sub(" ", s))
    if s.isascii():
        s = s.lower()
    else:
        s = unicodedata.normalize("NFKC", s)
        if _HAN_SEARCH(s):
            s = _converter().convert(s)
        s = unicodedata.normalize("NFKC", s.lower())
    s = s.translate(nw.FOLD)
    if "." in s:
        s = _DOTTED.sub(lambda m: m.group().replace(".", ""), s)
    return s[:MAX_CHARS]


def _residue(text: str) -> str:
    return " ".join(_NON_WORD.sub(" ", text).split())


def _take_party_labels(s: str, aside: list[str]) -> str:
    if ":" not in s:
        return s
    while match := _PARTY.match(s):
        aside.append(_residue(match.group(1)))
        s = s[match.end() :]
    return s


def _take_parentheses(s: str, aside: list[str], codes: set[str]) -> str:
    if "(" not in s:
        return s

    def replace(match: re.Match[str]) -> str:
        inner = match.group(1)
        branch = _BRANCH_IN.search(inner)
        if branch:
            han, latin = branch.group(1), branch.group(2)
            codes.add(
                nw.HAN_BRANCH_CODES[han] if han else nw.LATIN_BRANCH_CODES[tuple(latin.split())]
            )
        elif not _FORMERLY.match(inner.strip()):
            return f" {inner} "
        if residue := _residue(inner):
            aside.append(residue)
        return " "

    return _PARENS.sub(replace, s)


def _strip_ends(words: list[str], aside: list[str], codes: set[str]) -> None:
    """Branch labels and legal forms, from the end and then the start, until none is left."""
    while words and (
        _take_branch(words, aside, codes)
        or _strip_one_form(words, codes)
        or _strip_prefix(words, codes)
        or _strip_form_before_place(words, codes)
    ):
        pass


def _strip_form_before_place(words: list[str], codes: set[str]) -> bool:
    """A legal form before a trailing place ("Lanjin Paper Limited, Guangzhou"): the
    form goes, the place stays (it is compared as the region)."""
    if len(words) < 3 or words[-1] not in nw.REGION_WORDS:
        return False
    head = words[:-1]
    if not _strip_one_form(head, codes):
        return False
    words[:-1] = head
    return True


def _take_branch(words: list[str], aside: list[str], codes: set[str]) -> bool:
    """A branch label at the end: set aside what follows the company's own name."""
    if _HAN_FIRST(words[-1][-1]):
        return _take_han_branch(words, aside, codes)
    for n in (2, 1):
        tail = tuple(words[-n:])
        if len(words) > n and tail in nw.LATIN_BRANCH_CODES:
            break
    else:
        return False
    end = len(words) - n
    cut = next((i + 1 for i in range(end - 1, -1, -1) if words[i] in _LATIN_FORM_ENDS), -1)
    if cut < 0:
        place = 2 if end >= 3 and words[end - 2] + words[end - 1] in nw.MULTI_WORD_PLACES else 1
        cut = end - place if end > place else end
    codes.add(nw.LATIN_BRANCH_CODES[tail])
    if len(words) - cut > n:
        aside.append(" ".join(words[cut:]))
    del words[cut:]
    return True


def _take_han_branch(words: list[str], aside: list[str], codes: set[str]) -> bool:
    last = words[-1]
    suffix = next((s for s in _HAN_BRANCH_SUFFIXES if last.endswith(s)), None)
    if suffix is None:
        return False
    head = last[: -len(suffix)]
    cut = max(head.rfind("公司") + 2, head.rfind("集团") + 2, 0) if head else 0
    if cut >= 2:
        keep = last[:cut]
    else:
        place = next((head[-n:] for n in _PLACE_LENGTHS if head[-n:] in nw.PLACE_TOKENS), "")
        keep = head[: len(head) - len(place)] if place else head
        if not keep and len(words) == 1:
            keep = head
    if not keep and len(words) == 1:
        return False
    codes.add(nw.HAN_BRANCH_CODES[suffix])
    if len(last) - len(keep) > len(suffix):
        aside.append(last[len(keep) :])
    if keep:
        words[-1] = keep
    else:
        words.pop()
    return True


def _strip_prefix(words: list[str], codes: set[str]) -> bool:
    """Strip a legal form standing before the name; False if none."""
    if len(words) > 1 and words[0] in nw.LATIN_PREFIXES:
        codes.update(nw.LATIN_PREFIXES[words.pop(0)])
        return True
    if len(words) > 2 and words[:2] == ["m", "s"]:
        del words[:2]  # "M/s", the courtesy prefix of Indian trade papers
        return True
    for prefix, found in nw.HAN_PREFIXES.items():
        if words[0].startswith(prefix) and (len(words[0]) > len(prefix) or len(words) > 1):
            codes.update(found)
            words[0] = words[0][len(prefix) :]
            if not words[0]:
                words.pop(0)
            return True
    return False


def _strip_one_form(words: list[str], codes: set[str]) -> bool:
    """Strip the longest legal form at the end; False if none (or it is the whole name)."""
    last = words[-1]
    if last in _LATIN_FORM_ENDS:
        for n in _LATIN_FORM_LENGTHS:
            found = nw.LATIN_FORMS.get(tuple(words[-n:])) if n <= len(words) else None
            if found is not None:
                if n == len(words):
                    return False
                codes.update(found)
                del words[-n:]
                return True
    if last[-1] in _HAN_FORM_ENDS:
        for n in _HAN_FORM_LENGTHS:
            found = nw.HAN_FORMS.get(last[-n:]) if n <= len(last) else None
            if found is not None:
                if n == len(last) and len(words) == 1:
                    return False
                codes.update(found)
                if n == len(last):
                    words.pop()
                else:
                    words[-1] = last[:-n]
                return True
    return False


def _person_words(s: str, aside: list[str]) -> list[str]:
    words = _NON_WORD.sub(" ", s).split()
    while len(words) > 1 and words[0] in nw.HONORIFICS:
        aside.append(words.pop(0))
    if words:
        for title in nw.HAN_HONORIFICS:
            if words[-1].endswith(title) and len(words[-1]) > len(title):
                aside.append(title)
                words[-1] = words[-1][: -len(title)]
                break
    return words


def _script(original: str) -> str:
    found = [
        name
        for name, search in (("han", _HAN_SEARCH), ("latin", _LATIN_SEARCH), ("x", _OTHER_SEARCH))
        if search(original)
    ]
    if len(found) > 1:
        return "mixed"
    return found[0] if found and found[0] != "x" else "other"


def _tokens(original: str, person: bool) -> tuple[str, ...]:
    if not _HAN_SEARCH(original):
        return tuple(original.split())
    out: list[str] = []
    for match in _PIECE.finditer(original):
        piece = match.group()
        if not _HAN_FIRST(piece):
            out.append(piece)
            continue
        syllables = reading(piece) if person else _han_forms(piece)[0]
        if person and match.start() == 0 and piece[0] in nw.SURNAMES:
            syllables = (nw.SURNAMES[piece[0]], *syllables[1:])
        out.extend(syllables)
    return tuple(out)


def _cn_number(numeral: str) -> str:
    if numeral.isdecimal():
        return str(int(numeral))
    if not any(c in _CN_UNITS for c in numeral):
        return str(int("".join(str(_CN_DIGITS[c]) for c in numeral)))
    total = current = 0
    for c in numeral:
        if c in _CN_UNITS:
            total += (current or 1) * _CN_UNITS[c]
            current = 0
        else:
            current = _CN_DIGITS[c]
    return str(total + current)


def _pieces(text: str) -> Iterator[tuple[int, str]]:
    if not _HAN_SEARCH(text):
        return enumerate(text.split())
    return ((m.start(), m.group()) for m in _PIECE.finditer(text))


def _numbers_and_translation(original: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    found: list[tuple[int, str]] = []
    text = original
    if _HAN_SEARCH(original) and ("第" in original or "号" in original):

        def mask(match: re.Match[str]) -> str:
            found.append((match.start(), _cn_number(match.group(1) or match.group(2))))
            return " " * len(match.group())

        text = _CN_NUMBER.sub(mask, original)
    items: list[str] = []
    pieces = list(_pieces(text))
    skip = False
    for index, (at, piece) in enumerate(pieces):
        after = pieces[index + 1][1] if index + 1 < len(pieces) else ""
        if skip:
            skip = False
        elif _HAN_FIRST(piece):
            items.extend(_han_forms(piece)[1])
        elif piece.isdecimal():
            found.append((at, str(int(piece))))
        elif piece in nw.NUMBER_WORDS and after.isdecimal():
            skip = True
            found.append((at, str(int(after))))
        elif piece in nw.ORDINAL_NUMBERS:
            found.append((at, nw.ORDINAL_NUMBERS[piece]))
        elif ordinal := _ORDINAL_SUFFIX.fullmatch(piece):
            found.append((at, str(int(ordinal.group(1)))))
        else:
            items.append(known_word(piece))
    found.sort()
    if not _HAN_SEARCH(original):  # a romanised name may spell glossary words in pinyin
        items = glossary_words(items)
    return tuple(n for _, n in found), _merge_phrases(items)


def _merge_phrases(items: list[str]) -> tuple[str, ...]:
    out: list[str] = []
    i = 0
    while i < len(items):
        word, step = items[i], 1
        if word in _PHRASE_FIRST:
            for n in range(min(_PHRASE_MAX, len(items) - i), 1, -1):
                phrase = nw.PHRASES.get(tuple(items[i : i + n]))
                if phrase is not None:
                    word, step = phrase, n
                    break
        if word not in nw.STOPWORDS:
            out.append(word)
        i += step
    return tuple(out)


def name_forms(text: str, kind: str | None = None) -> NameForms:
    """Normalise one name into the forms the matcher compares; never raises.

    ``kind`` is a subject kind; ``individual`` and ``foreign_individual`` are persons
    (no legal forms, glossary or numbers). Fields are empty where nothing is left.
    """
    raw = text if isinstance(text, str) else ""
    person = kind in PERSON_KINDS
    aside: list[str] = []
    codes: set[str] = set()
    s = _take_party_labels(_prepare(raw), aside)
    if person:
        words = _person_words(s, aside)
    else:
        s = _take_parentheses(s, aside, codes)
        words = _NON_WORD.sub(" ", s).split()
        _strip_ends(words, aside, codes)
    original = " ".join(words)
    tokens = _tokens(original, person)
    numbers, translated = ((), tokens) if person else _numbers_and_translation(original)
    return NameForms(
        text=raw,
        original=original,
        script=_script(original),
        tokens=tokens,
        joined="".join(tokens),
        translated=translated,
        legal_forms=frozenset(codes),
        numbers=numbers,
        set_aside=tuple(aside),
    )
