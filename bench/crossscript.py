"""A seeded cross-script company set: a registry of Chinese firms under their Han names
and foreign firms under their Latin names, and screening queries with known truth.

Registry names follow the Chinese pattern region + trade name (字号) + industry +
legal form (北京华信科技有限公司), sometimes with the region in brackets
(华信科技（北京）有限公司), no region, a secondary word (发展, 集团, 控股), or a number
instead of a trade name (上海第三建筑工程有限公司). Trade names are drawn from a Zipf-like
pool, so the same trade name recurs across cities and industries.

Positive queries render a registry firm as it appears on documents abroad: English
translations with varying industry and legal-form renderings (region kept, dropped,
moved), full pinyin, traditional characters, a one-letter typo, a party label or branch,
upper case. Hard negatives have no true record: the same region and industry with
another trade name, the same trade name in an industry it is not registered in, another
number of a numbered firm, and foreign look-alikes.

Truth stays knowable by construction: no two registry firms share region, trade-name
pinyin and industry; a region is dropped only where trade name and industry alone are
unique; a negative's trade-name pinyin is at least two edits from the firm it imitates,
so that no one-letter typo of a positive can spell it.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache
from itertools import accumulate

import opencc
from pypinyin import lazy_pinyin
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

import crossscript_lexicon as lex
from screening_common import Dataset, Query, Record

_S2T = opencc.OpenCC("s2t")
POSITIVE_SHARE = 0.75


@dataclass(frozen=True, slots=True)
class CnFirm:
    id: int
    region: int | None  # index into REGIONS
    in_brackets: bool  # 华信科技（北京）有限公司
    trade: str  # Han trade name; "" for numbered firms
    number: int | None  # index into NUMERALS for numbered firms
    industry: int  # index into INDUSTRIES, or NUMBERED_INDUSTRIES when numbered
    secondary: int | None
    legal: int
    han: str


@dataclass(frozen=True, slots=True)
class ForeignFirm:
    id: int
    country: str
    city: str | None
    brand: str
    industry: str
    legal: int
    name: str


@cache
def pinyin(han: str) -> str:
    """Toneless pinyin of a word, capitalised: 华信 -> Huaxin, 西安 -> Xi'an."""
    syllables = lazy_pinyin(han.replace(" ", "")) or [""]
    # the apostrophe marks a syllable that starts with a vowel, as in Xi'an
    word = syllables[0] + "".join("'" * (s[0] in "aeo") + s for s in syllables[1:])
    return word.capitalize()


def _words_pinyin(han: str) -> str:
    return " ".join(pinyin(w) for w in han.split())


def _zipf(items: Sequence[str], s: float = 1.0, offset: int = 1) -> list[float]:
    """Cumulative Zipf-like weights; the offset flattens the head."""
    return list(accumulate(1 / (i + offset) ** s for i in range(len(items))))


class Generator:
    """Builds the registry and then its queries, all from one seeded random source."""

    def __init__(self, size: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.cn: list[CnFirm] = []
        self.foreign: list[ForeignFirm] = []
        self.keys: set[tuple[object, ...]] = set()  # (region, trade pinyin | number, industry)
        self.pairs: dict[tuple[str, int], int] = {}  # (trade pinyin, industry) -> firms
        self.trades: dict[object, set[str]] = {}  # industry -> trade pinyins or brands
        self.brand_pairs: dict[tuple[str, str], int] = {}  # (brand, industry) -> firms
        self.numbers: dict[tuple[int, int], set[int]] = {}  # (region, industry) -> numbers
        self.pool = self._trade_pool(max(400, size // 5))
        self.pool_cum = _zipf(self.pool, offset=50)
        self.region_cum = list(accumulate(w for _, _, w in lex.REGIONS))
        n_foreign, n_numbered = size // 8, size * 3 // 100
        for _ in range(size - n_foreign - n_numbered):
            self._add_cn(numbered=False)
        for _ in range(n_numbered):
            self._add_cn(numbered=True)
        for _ in range(n_foreign):
            self._add_foreign()

    # -- registry -------------------------------------------------------------------------

    def _trade_pool(self, n: int) -> list[str]:
        chars = list(dict.fromkeys(lex.TRADE_CHARS))
        regions = {han for han, _, _ in lex.REGIONS}
        classics = list(lex.CLASSIC_TRADE_NAMES)
        self.rng.shuffle(classics)
        pool = dict.fromkeys(classics)
        while len(pool) < n:
            name = "".join(self.rng.sample(chars, 3 if self.rng.random() < 0.15 else 2))
            if name not in regions:
                pool[name] = None
        return list(pool)

    def _region(self) -> int:
        return self.rng.choices(range(len(lex.REGIONS)), cum_weights=self.region_cum)[0]

    def _add_cn(self, *, numbered: bool) -> None:
        rng = self.rng
        for _ in range(1000):
            if numbered:
                region: int | None = self._region()
                number: int | None = rng.choices(range(12), weights=[6, 5, 5, 4, 3, 3, *[1] * 6])[0]
                industry = rng.randrange(len(lex.NUMBERED_INDUSTRIES))
                trade, secondary, legal = "", None, 0
                key: tuple[object, ...] = (region, "No.", number, industry)
            else:
                region = None if rng.random() < 0.12 else self._region()
                number = None
                trade = rng.choices(self.pool, cum_weights=self.pool_cum)[0]
                weights = [6, 5, 4, *[1] * (len(lex.INDUSTRIES) - 3)]
                industry = rng.choices(range(len(lex.INDUSTRIES)), weights=weights)[0]
                secondary = rng.randrange(len(lex.SECONDARY)) if rng.random() < 0.15 else None
                legal = rng.choices(range(3), weights=[w for *_, w in lex.LEGAL_FORMS])[0]
                key = (region, pinyin(trade), industry)
            if key not in self.keys:
                break
        else:
            raise RuntimeError("the word lists are too small for this registry size")
        in_brackets = region is not None and not numbered and rng.random() < 0.08
        firm = CnFirm(
            len(self.cn) + len(self.foreign), region, in_brackets, trade, number,
            industry, secondary, legal, "",
        )  # fmt: skip
        self.keys.add(key)
        if numbered:
            self.numbers.setdefault((region, industry), set()).add(number)  # type: ignore[arg-type]
        else:
            pair = (pinyin(trade), industry)
            self.pairs[pair] = self.pairs.get(pair, 0) + 1
            self.trades.setdefault(industry, set()).add(pair[0])
        self.cn.append(_with_han(firm))

    def _add_foreign(self) -> None:
        rng = self.rng
        brands_cum = _zipf(lex.BRANDS, 0.6)
        for _ in range(1000):
            country = rng.choices(list(lex.FOREIGN), weights=[3, 3, 3, 1, 1, 1, 2, 1])[0]
            cities, industries, legals = lex.FOREIGN[country]
            city = rng.choice(cities) if rng.random() < 0.6 else None
            brand = rng.choices(lex.BRANDS, cum_weights=brands_cum)[0]
            industry = rng.choice(industries)
            key = (country, city, brand, industry)
            if key not in self.keys:
                break
        else:
            raise RuntimeError("the foreign word lists are too small for this registry size")
        self.keys.add(key)
        legal = rng.randrange(len(legals))
        name = " ".join(p for p in (city, brand, industry, legals[legal][0]) if p)
        self.brand_pairs[brand, industry] = self.brand_pairs.get((brand, industry), 0) + 1
        self.trades.setdefault(industry, set()).add(brand)
        firm_id = len(self.cn) + len(self.foreign)
        self.foreign.append(ForeignFirm(firm_id, country, city, brand, industry, legal, name))

    def registry(self) -> list[Record]:
        records = [Record(f.id, f.han, kind="legal_entity", country="CN") for f in self.cn]
        records += [
            Record(f.id, f.name, kind="foreign_entity", country=f.country) for f in self.foreign
        ]
        return sorted(records, key=lambda r: r.id)

    # -- renderings -----------------------------------------------------------------------

    def _pick(self, options: Sequence[str]) -> str:
        """The usual rendering half the time, otherwise any."""
        return options[0] if self.rng.random() < 0.5 else self.rng.choice(options)

    def english(self, firm: CnFirm, layout: str = "usual") -> str:
        """An English name; layout: usual, drop (no region), moved (region elsewhere)."""
        rng = self.rng
        if firm.number is not None:
            _, num, ordinal = lex.NUMERALS[firm.number]
            trade = rng.choice((f"No. {num}", f"No.{num}", ordinal, f"No {num}"))
            industry = self._pick(lex.NUMBERED_INDUSTRIES[firm.industry][1])
        else:
            trade = pinyin(firm.trade)
            if rng.random() < 0.1:
                trade = " ".join(p.capitalize() for p in lazy_pinyin(firm.trade))
            if rng.random() < 0.5:  # ü is written v (Lvyuan) or u (Luyuan)
                trade = trade.replace("v", "u")
            industry = self._pick(lex.INDUSTRIES[firm.industry][1])
        if firm.secondary is not None:
            industry += " " + self._pick(lex.SECONDARY[firm.secondary][1])
        legal = self._pick(lex.LEGAL_FORMS[firm.legal][1])
        region = lex.REGIONS[firm.region][1] if firm.region is not None else None
        if region is None or layout == "drop":
            return f"{trade} {industry} {legal}"
        if layout == "moved":
            if firm.in_brackets:
                return f"{region} {trade} {industry} {legal}"
            return rng.choice(
                (f"{trade} {industry} ({region}) {legal}", f"{trade} {industry} {legal}, {region}")
            )
        if firm.in_brackets:
            return f"{trade} {industry} ({region}) {legal}"
        return f"{region} {trade} {industry} {legal}"

    def full_pinyin(self, firm: CnFirm) -> str:
        region = lex.REGIONS[firm.region][0] if firm.region is not None else ""
        if firm.number is not None:
            middle = "Di" + pinyin(lex.NUMERALS[firm.number][0]).lower()
            industry = lex.NUMBERED_INDUSTRIES[firm.industry][0]
        else:
            middle, industry = pinyin(firm.trade), lex.INDUSTRIES[firm.industry][0]
        tail = _words_pinyin(industry)
        if firm.secondary is not None:
            tail += " " + _words_pinyin(lex.SECONDARY[firm.secondary][0])
        legal = _words_pinyin(lex.LEGAL_FORMS[firm.legal][0])
        if firm.in_brackets:
            return f"{middle} {tail} ({pinyin(region)}) {legal}"
        return " ".join(p for p in (pinyin(region) if region else "", middle, tail, legal) if p)

    def _branch_city(self, firm: CnFirm) -> tuple[str, str]:
        cities = [(h, e) for h, e, _ in lex.REGIONS[30:] if h != _region_han(firm)]
        return self.rng.choice(cities)

    def _typo(self, text: str) -> str:
        rng = self.rng
        words = text.split(" ")
        spots = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
        i = rng.choice(spots)
        word, at = words[i], rng.randrange(1, len(words[i]) - 1)
        letter = rng.choice("abcdefghijklmnopqrstuvwxyz")
        edits = (
            word[:at] + word[at + 1 :],  # a letter dropped
            word[:at] + letter + word[at:],  # one added
            word[:at] + letter + word[at + 1 :],  # one replaced
            word[: at - 1] + word[at] + word[at - 1] + word[at + 1 :],  # two swapped
        )
        candidates = [e for e in edits if e != word]
        words[i] = rng.choice(candidates)
        return " ".join(words)

    # -- queries --------------------------------------------------------------------------

    def positive_cn(self, firm: CnFirm) -> tuple[str, str]:
        rng = self.rng
        region_unique = self.pairs.get((pinyin(firm.trade), firm.industry), 0) == 1
        variants = ["en", "pinyin", "traditional", "typo", "labelled", "upper"]
        if firm.number is None and firm.region is None and not region_unique:
            # Firms often drop the region in English, so an English name without one
            # could be any firm of that trade name and industry; only Han or pinyin
            # spellings point at the firm that has no region in its name.
            variants = ["pinyin", "traditional"]
        elif firm.number is None and firm.region is not None:
            variants.append("moved")
            if region_unique:
                variants.append("no_region")
        variant = rng.choice(variants)
        if variant == "en":
            return variant, self.english(firm)
        if variant == "no_region":
            return variant, self.english(firm, "drop")
        if variant == "moved":
            return variant, self.english(firm, "moved")
        if variant == "pinyin":
            return variant, self.full_pinyin(firm)
        if variant == "traditional":
            return variant, _S2T.convert(firm.han)
        if variant == "typo":
            return variant, self._typo(self.english(firm))
        if variant == "upper":
            return variant, self.english(firm).upper()
        city_han, city_en = self._branch_city(firm)
        name = self.english(firm)
        return variant, rng.choice(
            (
                f"{rng.choice(lex.PARTY_LABELS)} {name.upper() if rng.random() < 0.5 else name}",
                f"{name} ({city_en} Branch)",
                f"{name}, {city_en} Branch",
                f"{firm.han}{city_han}分公司",
            )
        )

    def positive_foreign(self, firm: ForeignFirm) -> tuple[str, str]:
        rng = self.rng
        legals = lex.FOREIGN[firm.country][2][firm.legal]
        variants = ["upper", "typo", "labelled"]
        if len(legals) > 1:
            variants.append("legal_form")
        if firm.city is not None:
            variants.append("moved")
            if self.brand_pairs[firm.brand, firm.industry] == 1:
                variants.append("no_region")
        variant = rng.choice(variants)
        city, legal = firm.city, legals[0]
        if variant == "legal_form":
            legal = rng.choice(legals[1:])
        if variant == "moved" and city is not None:
            spellings = lex.CITY_VARIANTS.get(city, ())
            if spellings and rng.random() < 0.5:
                city = rng.choice(spellings)
            else:
                return variant, f"{firm.brand} {firm.industry} {legal}, {city}"
        if variant == "no_region":
            city = None
        name = " ".join(p for p in (city, firm.brand, firm.industry, legal) if p)
        if variant == "upper":
            return variant, name.upper()
        if variant == "typo":
            return variant, self._typo(name)
        if variant == "labelled":
            return variant, f"{rng.choice(lex.PARTY_LABELS)} {name}"
        return variant, name

    def _far(self, name: str, industry: object) -> bool:
        """No firm of this industry has a name within one edit of ``name``."""
        others = self.trades.get(industry, ())
        near = process.extractOne(
            name, others, scorer=Levenshtein.distance, processor=str.lower, score_cutoff=1
        )
        return near is None

    def neg_other_trade(self, firm: CnFirm) -> str | None:
        for _ in range(100):
            if self.rng.random() < 0.5:
                other = self.rng.choice([t for t in self.pool if set(t) & set(firm.trade)])
            else:
                other = self.rng.choices(self.pool, cum_weights=self.pool_cum)[0]
            if self._far(pinyin(other), firm.industry):
                return self._negative_name(_with_han(replace(firm, trade=other)))
        return None

    def neg_other_industry(self, firm: CnFirm) -> str | None:
        own = pinyin(firm.trade)
        free = [i for i in range(len(lex.INDUSTRIES)) if self._far(own, i)]
        if not free:  # this trade name is taken in every industry
            return None
        return self._negative_name(_with_han(replace(firm, industry=self.rng.choice(free))))

    def neg_numbered(self, firm: CnFirm) -> str:
        taken = self.numbers[firm.region, firm.industry]  # type: ignore[index]
        number = self.rng.choice([n for n in range(12) if n not in taken])
        return self._negative_name(_with_han(replace(firm, number=number)))

    def neg_foreign(self, firm: ForeignFirm) -> str:
        rng = self.rng
        legal = lex.FOREIGN[firm.country][2][firm.legal][0]
        if rng.random() < 0.5:
            brands = [b for b in lex.BRANDS if self._far(b, firm.industry)]
            brand, industry = rng.choice(brands), firm.industry
        else:
            industries = lex.FOREIGN[firm.country][1]
            free = [i for i in industries if self._far(firm.brand, i)]
            brand, industry = firm.brand, rng.choice(free or industries)
            if not free:  # this brand is registered in every industry of the country
                brand = rng.choice([b for b in lex.BRANDS if self._far(b, industry)])
        name = " ".join(p for p in (firm.city, brand, industry, legal) if p)
        return name.upper() if rng.random() < 0.2 else name

    def _negative_name(self, firm: CnFirm) -> str:
        rng = self.rng
        if rng.random() < 0.3:
            return firm.han
        name = self.english(firm)
        return name.upper() if rng.random() < 0.2 else name

    def queries(self, n: int) -> list[Query]:
        """About n queries: three in four with a true record, the rest hard negatives."""
        rng = self.rng
        plain = [f for f in self.cn if f.number is None]
        numbered = [f for f in self.cn if f.number is not None]
        n_pos = round(n * POSITIVE_SHARE)
        n_foreign, n_numbered = n_pos * 12 // 100, min(len(numbered), n_pos * 4 // 100)
        out: list[tuple[str, int | None, str]] = []
        for firm in rng.sample(plain, n_pos - n_foreign - n_numbered) + rng.sample(
            numbered, n_numbered
        ):
            variant, text = self.positive_cn(firm)
            out.append((text, firm.id, ("numbered_" if firm.number is not None else "") + variant))
        for foreign in rng.sample(self.foreign, n_foreign):
            variant, text = self.positive_foreign(foreign)
            out.append((text, foreign.id, "foreign_" + variant))
        n_neg = n - n_pos
        for make in (self.neg_other_trade, self.neg_other_industry):
            names = (make(firm) for firm in rng.sample(plain, len(plain)))
            wanted = n_neg * 32 // 100
            for name in names:
                if name is not None:
                    out.append((name, None, "neg_" + make.__name__[4:]))
                    wanted -= 1
                if not wanted:
                    break
        for firm in rng.choices(numbered, k=n_neg * 20 // 100):
            out.append((self.neg_numbered(firm), None, "neg_numbered"))
        for foreign in rng.sample(self.foreign, n_neg - n_neg * 84 // 100):
            out.append((self.neg_foreign(foreign), None, "neg_foreign"))
        rng.shuffle(out)
        return [Query(Record(i, text), truth, v) for i, (text, truth, v) in enumerate(out)]


def _region_han(firm: CnFirm) -> str:
    return lex.REGIONS[firm.region][0] if firm.region is not None else ""


def _with_han(firm: CnFirm) -> CnFirm:
    """The firm with its Han name spelt from its parts."""
    region = _region_han(firm)
    if firm.number is not None:
        industry = lex.NUMBERED_INDUSTRIES[firm.industry][0]
        middle = "第" + lex.NUMERALS[firm.number][0]
    else:
        industry, middle = lex.INDUSTRIES[firm.industry][0], firm.trade
    secondary = lex.SECONDARY[firm.secondary][0] if firm.secondary is not None else ""
    legal = lex.LEGAL_FORMS[firm.legal][0]
    if firm.in_brackets:
        han = f"{middle}{industry}{secondary}（{region}）{legal}"
    else:
        han = f"{region}{middle}{industry}{secondary}{legal}"
    return replace(firm, han=han.replace(" ", ""))


def build(size: int, n_queries: int, seed: int) -> Dataset:
    """The cross-script dataset: ``size`` registry firms and about ``n_queries`` queries."""
    generator = Generator(size, seed)
    return Dataset("cross-script", generator.registry(), generator.queries(n_queries))
