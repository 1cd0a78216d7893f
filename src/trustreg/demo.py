"""Deterministic, realistic demo data: authorities, subjects and records.

Pure data generation, no I/O: the CLI and benchmarks write what these functions yield as
``dict[str, str]`` rows ('' for empty). The same arguments give the same rows, and every
identifier passes :func:`~trustreg.core.identifiers.validate_identifier` (faker's Chinese
identity numbers do not, hence ``random.Random`` and our own generators). Identifiers are
unique by construction, so memory stays flat however many rows are drawn.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from trustreg.core.identifiers import area_codes, make_lei, make_ric, make_uscc, org_code_check_char
from trustreg.demo_tables import (
    AMOUNTS,
    BASE36,
    COMPANY_FORMS,
    ENTITY_WORDS,
    FAMILY_NAME_FIRST,
    FOREIGN,
    GIVEN,
    INDUSTRIES,
    OTHER_ORGS,
    PASSPORTS,
    REGION_WEIGHTS,
    REGIONS,
    REGISTRIES,
    SOURCES,
    STEMS,
    SUMMARIES,
    SURNAMES,
    TRADE,
    TYPE_WEIGHTS,
    VIOLATIONS,
    Source,
    digits,
    encode,
)
from trustreg.errors import ValidationError

SUBJECT_COLUMNS = (
    "kind", "id_scheme", "id_value", "name", "alt_names", "country", "region", "birth_date",
    "registered_on",
)  # fmt: skip
RECORD_COLUMNS = (
    "authority", "reference", "record_type", "subject_kind", "id_scheme", "id_value",
    "subject_name", "decided_on", "effective_from", "amount", "currency", "status", "summary",
    "notified_on",
)  # fmt: skip

BIDDER_COLUMNS = ("identifier", "bidder", "lot")
COUNTERPARTY_COLUMNS = ("ref", "name", "kind", "country")

RecordTypeSpec = tuple[str, Sequence[str], Sequence[str]]
"""(code, subject_kinds, authority_kinds) of one rulebook record type."""

_ALL_KINDS = ("legal_entity", "other_org", "individual", "foreign_entity", "foreign_individual")
_ORGS = ("legal_entity", "other_org")
_PENALTY_AUTHORITIES = ("market_regulator", "tax", "other")
# Mirrors rulebooks/model.toml; pass record_types to follow another rulebook.
MODEL_RECORD_TYPES: tuple[RecordTypeSpec, ...] = (
    ("judgment_defaulter", _ALL_KINDS, ("court",)),
    ("insolvency", (*_ORGS, "foreign_entity"), ("court",)),
    ("tax_serious_violation", (*_ORGS, "individual", "foreign_entity"), ("tax",)),
    ("admin_penalty_minor", _ALL_KINDS, _PENALTY_AUTHORITIES),
    ("admin_penalty_general", _ALL_KINDS, _PENALTY_AUTHORITIES),
    ("admin_penalty_serious", _ALL_KINDS, _PENALTY_AUTHORITIES),
    ("business_abnormal", _ORGS, ("market_regulator",)),
    ("taxpayer_a_grade", _ORGS, ("tax",)),
)


@dataclass(frozen=True)
class DemoAuthority:
    """An authority that submits demo records."""

    code: str
    kind: str
    name: str


def demo_authorities() -> list[DemoAuthority]:
    """Return the demo authorities: courts, tax bureaux, market regulators and others."""
    return [DemoAuthority(s.code, s.kind, s.name) for s in SOURCES]


# A prime larger than any modulus used, so j -> (j * P + salt) % m is a bijection on 0..m-1.
_PRIME = 2**61 - 1


class _Sequencer:
    """Hands out distinct, random-looking numbers per identifier space, remembering none.

    The j-th number drawn is ``(j * _PRIME + salt) % modulus``, a bijection on 0..modulus-1.
    """

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._drawn: dict[str, int] = {}
        self._salt: dict[str, int] = {}

    def draw(self, space: str, modulus: int) -> int:
        j = self._drawn.get(space, 0)
        if j >= modulus:
            raise ValidationError("n", f"more than {modulus} demo identifiers in {space}")
        self._drawn[space] = j + 1
        if space not in self._salt:
            self._salt[space] = random.Random(f"{self._seed}/{space}").randrange(modulus)
        return (j * _PRIME + self._salt[space]) % modulus


def _random_date(rng: random.Random, low: date, high: date) -> date:
    return date.fromordinal(rng.randint(low.toordinal(), high.toordinal()))


def _add_years(day: date, years: int) -> date:
    # 29 February has no counterpart in most years; the 28th is close enough for demo data.
    return day.replace(year=day.year + years, day=min(day.day, 28))


def _pick_region(rng: random.Random) -> tuple[str, str, str, str, int]:
    point = rng.random() * REGION_WEIGHTS[-1]
    index = next(i for i, bound in enumerate(REGION_WEIGHTS) if point < bound)
    return REGIONS[index]


@lru_cache(maxsize=4096)
def _areas(prefix: str, year: int | None) -> tuple[str, ...]:
    return tuple(code for code in area_codes(year) if code.startswith(prefix))


def _row(**values: str) -> dict[str, str]:
    return {column: values.get(column, "") for column in SUBJECT_COLUMNS}


def _trade_name(rng: random.Random) -> tuple[str, str]:
    chars = rng.sample(TRADE, 3 if rng.random() < 0.2 else 2)
    return "".join(c for c, _ in chars), "".join(p for _, p in chars).capitalize()


def _uscc(seq: _Sequencer, head: str, area: str, registered: date) -> str:
    # Organisation codes issued since the 2015 reform start with "MA"; older ones are the
    # pre-reform eight-digit codes. Either way the ninth character is the GB 11714 check.
    if registered >= date(2015, 10, 1):
        body8 = "MA" + encode(seq.draw("uscc-ma", 31**6), "0123456789ABCDEFGHJKLMNPQRTUWXY", 6)
    else:
        body8 = digits(seq.draw("uscc-old", 10**8), 8)
    return make_uscc(head + area + body8 + org_code_check_char(body8))


def _chinese_org(rng: random.Random, seq: _Sequencer, today: date) -> dict[str, str]:
    province, prefix, short, pinyin, _ = _pick_region(rng)
    registered = _random_date(rng, date(1995, 1, 1), today)
    area = rng.choice((*_areas(prefix, None), prefix + "0000"))
    trade, trade_en = _trade_name(rng)
    if rng.random() < 0.9:
        kind, head = "legal_entity", "91"
        industry, industry_en = rng.choice(INDUSTRIES)
        form, form_en = rng.choice(COMPANY_FORMS)
        name = f"{short}{trade}{industry}{form}"
        alt = []
        if rng.random() < 0.4:
            alt.append(f"{pinyin} {trade_en} {industry_en} {form_en}")
        if rng.random() < 0.15:
            old_trade, _ = _trade_name(rng)
            alt.append(f"{short}{old_trade}{rng.choice(INDUSTRIES)[0]}{form}")
    else:
        kind = "other_org"
        head, pattern = rng.choice(OTHER_ORGS)
        name = pattern.format(r=short, t=trade, s=rng.choice(SURNAMES)[0])
        alt = []
    value = _uscc(seq, head, area, registered)
    return _row(kind=kind, id_scheme="uscc", id_value=value, name=name, alt_names="|".join(alt),
                country="CN", region=province, registered_on=registered.isoformat())  # fmt: skip


def _chinese_individual(rng: random.Random, seq: _Sequencer, today: date) -> dict[str, str]:
    # Birth date and sequence come from one bijective draw, so no two people share them
    # and the identity numbers are unique whatever area code each one gets.
    oldest, youngest = _add_years(today, -80), _add_years(today, -18)
    span = youngest.toordinal() - oldest.toordinal() + 1
    k = seq.draw("ric", span * 1000)
    birth = date.fromordinal(oldest.toordinal() + k % span)
    region = _pick_region(rng)
    if not _areas(region[1], birth.year):
        # e.g. Chongqing codes start in 1997; pick a province that had codes then.
        region = rng.choice([r for r in REGIONS if _areas(r[1], birth.year)])
    value = make_ric(rng.choice(_areas(region[1], birth.year)), birth, k // span)
    surname, given = rng.choice(SURNAMES), rng.sample(GIVEN, rng.choice((1, 2)))
    name = surname[0] + "".join(c for c, _ in given)
    pinyin = f"{surname[1]} {''.join(p for _, p in given).capitalize()}"
    return _row(kind="individual", id_scheme="ric", id_value=value, name=name,
                alt_names=pinyin if rng.random() < 0.3 else "", country="CN", region=region[0],
                birth_date=birth.isoformat())  # fmt: skip


def _foreign_entity(rng: random.Random, seq: _Sequencer, today: date) -> dict[str, str]:
    country = rng.choice(sorted(FOREIGN))
    forms = FOREIGN[country][0].split("|")
    words, trades = (part.split() for part in ENTITY_WORDS)
    name = f"{rng.choice(words)} {rng.choice(trades)} {rng.choice(forms)}"
    if country in REGISTRIES and rng.random() < 0.5:
        modulus, formatter = REGISTRIES[country]
        scheme = "registry"
        value = f"{country}:{formatter(seq.draw(f'registry-{country}', modulus), rng)}"
    else:
        scheme = "lei"
        body = "00" + encode(seq.draw("lei", 36**12), BASE36, 12)
        value = make_lei(rng.choice(("5493", "2138", "5299", "9695", "8945")), body)
    registered = _random_date(rng, date(1995, 1, 1), today).isoformat()
    return _row(kind="foreign_entity", id_scheme=scheme, id_value=value, name=name,
                country=country, registered_on=registered)  # fmt: skip


def _foreign_individual(rng: random.Random, seq: _Sequencer, today: date) -> dict[str, str]:
    country = rng.choice(sorted(PASSPORTS))
    _, given_names, family_names = FOREIGN[country]
    given, family = rng.choice(given_names.split("|")), rng.choice(family_names.split("|"))
    name = f"{family} {given}" if country in FAMILY_NAME_FIRST else f"{given} {family}"
    modulus, formatter = PASSPORTS[country]
    value = f"{country}:{formatter(seq.draw(f'passport-{country}', modulus), rng)}"
    birth = _random_date(rng, _add_years(today, -75), _add_years(today, -20)).isoformat()
    return _row(kind="foreign_individual", id_scheme="passport", id_value=value, name=name,
                country=country, birth_date=birth)  # fmt: skip


_SubjectMaker = Callable[[random.Random, _Sequencer, date], dict[str, str]]
# Cumulative shares: ~80% Chinese organisations, 12% residents, 5% foreign entities, 3%
# foreign individuals.
_SUBJECT_MIX: tuple[tuple[float, _SubjectMaker], ...] = (
    (0.80, _chinese_org),
    (0.92, _chinese_individual),
    (0.97, _foreign_entity),
    (1.00, _foreign_individual),
)


def _subject_stream(seed: int, today: date) -> Iterator[dict[str, str]]:
    rng, seq = random.Random(seed), _Sequencer(seed)
    while True:
        point = rng.random()
        maker = next(make for bound, make in _SUBJECT_MIX if point < bound)
        yield maker(rng, seq, today)


def generate_subjects(n: int, seed: int, today: date) -> Iterator[dict[str, str]]:
    """Yield ``n`` demo subjects as rows with exactly the ``SUBJECT_COLUMNS`` keys.

    About 80% Chinese organisations (USCC), 12% Chinese residents (RIC), 5% foreign
    entities (LEI or company register) and 3% foreign individuals (passport). Identifiers
    are valid and unique within a run; the same arguments give the same rows.
    """
    return itertools.islice(_subject_stream(seed, today), n)


# --- records ----------------------------------------------------------------------

_INDIVIDUALS = frozenset({"individual", "foreign_individual"})
_NATIONAL_SHARE = 0.1  # how often a national body, not a local one, decides


def _amount(rng: random.Random, code: str, subject_kind: str) -> str:
    bounds = AMOUNTS.get(code)
    if bounds is None:
        return ""
    low, high = bounds
    if subject_kind in _INDIVIDUALS:
        # The simple procedure caps fines on individuals at 200 yuan (Administrative
        # Penalty Law art. 51); other amounts are smaller for people than for companies.
        high = 200 if code == "admin_penalty_minor" else max(low, high // 10)
    value = math.exp(rng.uniform(math.log(low), math.log(high)))
    if code.startswith("admin_penalty"):
        # Fines are set in round figures; debts and tax owed are exact to the fen.
        value = round(value, 1 - math.floor(math.log10(value)))
    return f"{value:.2f}"


def _summary(rng: random.Random, code: str, source: Source, amount: str, decided: date) -> str:
    shown = f"{float(amount):,.2f}".removesuffix(".00") if amount else ""
    if code.startswith("admin_penalty"):
        violations = VIOLATIONS.get(source.code) or VIOLATIONS.get(source.kind)
        violation = rng.choice(violations or VIOLATIONS["other"])
        serious = "，情节严重" if code.endswith("serious") else ""
        on_the_spot = "当场" if code.endswith("minor") else ""
        return f"{violation}{serious}，{on_the_spot}处以罚款{shown}元。"
    template = rng.choice(SUMMARIES.get(code, ("依法作出处理决定。",)))
    return template.format(amount=shown, year=decided.year - 1)


class _RecordMaker:
    """Draws records for subjects; keeps only per-authority reference counters."""

    def __init__(self, record_types: Sequence[RecordTypeSpec], seed: int, today: date) -> None:
        self.rng = random.Random(f"records/{seed}")
        self.today = today
        self._counters: dict[tuple[str, str, int], int] = {}
        self._sources: dict[str, list[Source]] = {}
        for code, _kinds, authority_kinds in record_types:
            self._sources[code] = [s for s in SOURCES if s.kind in authority_kinds]
            if not self._sources[code]:
                raise ValidationError("record_types", f"no demo authority may submit '{code}'")
        self._types_by_kind: dict[str, tuple[list[str], list[float]]] = {}
        for kind in _ALL_KINDS:
            codes = [code for code, kinds, _ in record_types if kind in kinds]
            weights = itertools.accumulate(TYPE_WEIGHTS.get(code, 1.0) for code in codes)
            self._types_by_kind[kind] = (codes, list(weights))
        if not any(codes for codes, _ in self._types_by_kind.values()):
            raise ValidationError("record_types", "no record type applies to any subject kind")

    def record(self, subject: dict[str, str]) -> dict[str, str] | None:
        """One record about ``subject``, or None if no record type applies to its kind."""
        codes, weights = self._types_by_kind.get(subject["kind"], ([], []))
        if not codes:
            return None
        code = self.rng.choices(codes, cum_weights=weights)[0]
        source = self._source(code, subject["region"])
        decided, effective = self._dates(subject)
        amount = _amount(self.rng, code, subject["kind"])
        satisfied = code == "judgment_defaulter" and self.rng.random() < 0.15
        return {
            "authority": source.code,
            "reference": self._reference(source, code, decided.year),
            "record_type": code,
            "subject_kind": subject["kind"],
            "id_scheme": subject["id_scheme"],
            "id_value": subject["id_value"],
            "subject_name": subject["name"],
            "decided_on": decided.isoformat(),
            "effective_from": effective.isoformat(),
            "amount": amount,
            "currency": "CNY" if amount else "",
            "status": "satisfied" if satisfied else "active",
            "summary": _summary(self.rng, code, source, amount, decided),
            # The authority told the subject with its decision, so the notice period
            # runs from that day (a decision of the last few days is still in notice).
            "notified_on": decided.isoformat(),
        }

    def _source(self, code: str, region: str) -> Source:
        # A local body decides about local subjects, a national one now and then; the demo
        # has local bodies in a few provinces only, so others borrow one.
        sources = self._sources[code]
        national = [s for s in sources if not s.region]
        regional = [s for s in sources if s.region]
        local = [s for s in regional if s.region == region]
        if national and (not regional or self.rng.random() < _NATIONAL_SHARE):
            return self.rng.choice(national)
        return self.rng.choice(local or regional)

    def _dates(self, subject: dict[str, str]) -> tuple[date, date]:
        earliest = self.today - timedelta(days=4 * 365)
        if subject["registered_on"]:
            earliest = max(earliest, date.fromisoformat(subject["registered_on"]))
        elif subject["birth_date"]:
            adult = _add_years(date.fromisoformat(subject["birth_date"]), 18)
            earliest = max(earliest, adult)
        decided = _random_date(self.rng, min(earliest, self.today), self.today)
        effective = min(decided + timedelta(days=self.rng.randint(0, 20)), self.today)
        return decided, effective

    def _reference(self, source: Source, code: str, year: int) -> str:
        stems = STEMS.get(source.kind, STEMS["other"])
        stem = stems.get(code, stems["*"]).format(a=source.abbr)
        key = (source.code, stem, year)
        # Numbers rise with gaps, as a registry sees only some of an authority's decisions.
        number = self._counters.get(key, self.rng.randint(0, 300)) + self.rng.randint(1, 4)
        self._counters[key] = number
        if source.kind == "court":
            return f"({year}){source.abbr}{stem}{number}号"
        return f"{stem}〔{year}〕{number}号"


def generate_records(
    subjects: Sequence[dict[str, str]],
    seed: int,
    today: date,
    record_types: Sequence[RecordTypeSpec] = MODEL_RECORD_TYPES,
) -> Iterator[dict[str, str]]:
    """Yield demo records, about one per two subjects, with the ``RECORD_COLUMNS`` keys.

    Each record's type allows the subject's kind, its authority is of a kind the type
    allows, ``decided_on <= effective_from <= today`` within the last four years, and its
    reference is unique. ``record_types`` defaults to the model rulebook.
    """
    maker = _RecordMaker(record_types, seed, today)
    for subject in subjects:
        for _ in range(maker.rng.choices((0, 1, 2, 3), cum_weights=(60, 90, 97, 100))[0]):
            record = maker.record(subject)
            if record is not None:
                yield record


def generate_record_rows_fast(
    count: int,
    seed: int,
    today: date,
    record_types: Sequence[RecordTypeSpec] = MODEL_RECORD_TYPES,
) -> Iterator[dict[str, str]]:
    """Yield exactly ``count`` record rows about roughly ``count / 4`` subjects.

    Subjects are drawn as needed and dropped once their records are out, so memory stays
    flat for the million-row import benchmark.
    """
    maker = _RecordMaker(record_types, seed, today)
    emitted = 0
    subjects = _subject_stream(seed, today)
    while emitted < count:
        subject = next(subjects)
        for _ in range(min(maker.rng.randint(1, 7), count - emitted)):
            record = maker.record(subject)
            if record is None:
                break
            emitted += 1
            yield record


def tender_bidders(
    subjects: Sequence[dict[str, str]],
    records: Sequence[dict[str, str]],
    seed: int,
    count: int,
) -> list[dict[str, str]]:
    """The bidders of a demo tender: organisations, one in five with records (so the
    check has something to find), the rest drawn from all; deterministic for a seed."""
    rng = random.Random(seed * 7 + 1)
    kinds = ("legal_entity", "other_org", "foreign_entity")
    organisations = [s for s in subjects if s["kind"] in kinds]
    with_records = sorted(
        {(r["id_scheme"], r["id_value"]) for r in records if r["subject_kind"] in kinds}
    )
    chosen = rng.sample(with_records, min(len(with_records), count // 5))
    seen = set(chosen)
    for subject in rng.sample(organisations, min(len(organisations), count * 2)):
        key = (subject["id_scheme"], subject["id_value"])
        if len(chosen) >= count:
            break
        if key not in seen:
            seen.add(key)
            chosen.append(key)
    names = {(s["id_scheme"], s["id_value"]): s["name"] for s in organisations}
    return [
        {
            "identifier": f"{scheme}:{value}",
            "bidder": names.get((scheme, value), ""),
            "lot": str(1 + number % 4),
        }
        for number, (scheme, value) in enumerate(chosen)
    ]


def counterparties(
    subjects: Sequence[dict[str, str]], seed: int, count: int
) -> list[dict[str, str]]:
    """A customer file to screen: registered firms under their Chinese names, in
    English as a foreign partner writes them, in traditional characters, and firms
    the registry does not hold; deterministic for a seed."""
    from trustreg.core.names import name_forms

    rng = random.Random(seed * 11 + 3)
    firms = [s for s in subjects if s["kind"] == "legal_entity"]
    rows = []
    for number, firm in enumerate(rng.sample(firms, min(len(firms), count)), start=1):
        style = number % 4
        name = firm["name"]
        if style == 1:
            words = name_forms(name).translated
            name = " ".join(w.capitalize() for w in words) + " Co., Ltd."
        elif style == 2:
            name = name.translate(_TRADITIONAL)
        elif style == 3:
            name = _trade_name(rng)[0] + rng.choice(("科技", "贸易", "物流")) + "有限公司"
        rows.append(
            {"ref": f"C{number:05d}", "name": name, "kind": "legal_entity", "country": "CN"}
        )
    return rows


# A few simplified characters and their traditional forms, for the demo's customer file.
_TRADITIONAL = str.maketrans(
    "东华电贸易业机械设备国际发展网络药医实集团", "東華電貿易業機械設備國際發展網絡藥醫實集團"
)
