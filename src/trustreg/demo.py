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
from typing import NamedTuple

from stdnum import luhn

from trustreg.core.identifiers import area_codes, make_lei, make_ric, make_uscc, org_code_check_char
from trustreg.errors import ValidationError

SUBJECT_COLUMNS = (
    "kind", "id_scheme", "id_value", "name", "alt_names", "country", "region", "birth_date",
    "registered_on",
)  # fmt: skip
RECORD_COLUMNS = (
    "authority", "reference", "record_type", "subject_kind", "id_scheme", "id_value",
    "subject_name", "decided_on", "effective_from", "amount", "currency", "status", "summary",
)  # fmt: skip

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


class _Source(NamedTuple):
    """A demo authority plus what its reference numbers look like."""

    code: str
    kind: str
    name: str
    region: str  # province it sits in; '' for national bodies
    abbr: str  # court code (京01), province abbreviation (沪) or document stem (证监罚字)


_SOURCES = (
    _Source("court-bj-1", "court", "北京市第一中级人民法院", "北京市", "京01"),
    _Source("court-sh-pd", "court", "上海市浦东新区人民法院", "上海市", "沪0115"),
    _Source("court-gd-sz", "court", "广东省深圳市中级人民法院", "广东省", "粤03"),
    _Source("court-zj-hz", "court", "浙江省杭州市中级人民法院", "浙江省", "浙01"),
    _Source("court-sc-cd", "court", "四川省成都市中级人民法院", "四川省", "川01"),
    _Source("tax-bj", "tax", "国家税务总局北京市税务局", "北京市", "京"),
    _Source("tax-sh", "tax", "国家税务总局上海市税务局", "上海市", "沪"),
    _Source("tax-gd", "tax", "国家税务总局广东省税务局", "广东省", "粤"),
    _Source("samr-gd", "market_regulator", "广东省市场监督管理局", "广东省", "粤"),
    _Source("samr-js", "market_regulator", "江苏省市场监督管理局", "江苏省", "苏"),
    _Source("samr-zj", "market_regulator", "浙江省市场监督管理局", "浙江省", "浙"),
    _Source("other-csrc", "other", "中国证券监督管理委员会", "", "证监罚字"),
    _Source("other-nmpa", "other", "国家药品监督管理局", "", "国药监罚"),
)
# Document-number stem by authority kind and record type ("*": any other type); {a} is
# the authority's abbreviation. Courts use the case-type word: 执 enforcement, 破 bankruptcy.
_STEMS: dict[str, dict[str, str]] = {
    "court": {"insolvency": "破", "*": "执"},
    "tax": {"admin_penalty_minor": "{a}税简罚", "taxpayer_a_grade": "{a}税信", "*": "{a}税稽罚"},
    "market_regulator": {
        "admin_penalty_minor": "{a}市监简罚", "business_abnormal": "{a}市监异", "*": "{a}市监处罚"
    },
    "other": {"*": "{a}"},
}  # fmt: skip

# (province, two-digit area prefix, short form used in names, pinyin, weight)
_REGIONS = (
    ("北京市", "11", "北京", "Beijing", 12), ("上海市", "31", "上海", "Shanghai", 12),
    ("广东省", "44", "广东", "Guangdong", 14), ("浙江省", "33", "浙江", "Zhejiang", 10),
    ("江苏省", "32", "江苏", "Jiangsu", 10), ("四川省", "51", "四川", "Sichuan", 6),
    ("山东省", "37", "山东", "Shandong", 6), ("湖北省", "42", "湖北", "Hubei", 4),
    ("福建省", "35", "福建", "Fujian", 4), ("天津市", "12", "天津", "Tianjin", 3),
    ("重庆市", "50", "重庆", "Chongqing", 3), ("河南省", "41", "河南", "Henan", 3),
    ("陕西省", "61", "陕西", "Shaanxi", 2), ("安徽省", "34", "安徽", "Anhui", 2),
)  # fmt: skip
_REGION_WEIGHTS = tuple(itertools.accumulate(r[4] for r in _REGIONS))


def _pairs(chars: str, pinyin: str) -> tuple[tuple[str, str], ...]:
    return tuple(zip(chars, pinyin.split(), strict=True))


_TRADE = _pairs(
    "华信金瑞恒泰鑫达宏远盛博安鼎嘉润丰海天正中联创凯富明通德兴利源永辉腾航星晨智锦汇诚祥",
    "Hua Xin Jin Rui Heng Tai Xin Da Hong Yuan Sheng Bo An Ding Jia Run Feng Hai Tian Zheng "
    "Zhong Lian Chuang Kai Fu Ming Tong De Xing Li Yuan Yong Hui Teng Hang Xing Chen Zhi Jin "
    "Hui Cheng Xiang",
)
_INDUSTRIES = (
    ("科技", "Technology"), ("贸易", "Trading"), ("航运", "Shipping"), ("机械", "Machinery"),
    ("实业", "Industrial"), ("建设", "Construction"), ("医药", "Pharmaceutical"),
    ("食品", "Food"), ("物流", "Logistics"), ("电子", "Electronics"), ("化工", "Chemical"),
    ("纺织", "Textile"), ("能源", "Energy"), ("置业", "Real Estate"),
)  # fmt: skip
_COMPANY_FORMS = (
    ("有限公司", "Co., Ltd."), ("有限公司", "Co., Ltd."), ("有限责任公司", "Co., Ltd."),
    ("股份有限公司", "Corp., Ltd."), ("集团有限公司", "Group Co., Ltd."),
)  # fmt: skip
_SURNAMES = _pairs(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕",
    "Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo He Gao Lin Luo Zheng "
    "Liang Xie Song Tang Xu Han Feng Deng Cao Peng Zeng Xiao Tian Dong Yuan Pan Jiang Cai Yu "
    "Du Ye Cheng Su Wei Lü",
)
_GIVEN = _pairs(
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂英华红玉志海燕文建国东晓婷欣怡浩然子轩宇雪梅丹",
    "Wei Fang Na Min Jing Li Qiang Lei Jun Yang Yong Yan Jie Juan Tao Ming Chao Xia Ping Gang "
    "Gui Ying Hua Hong Yu Zhi Hai Yan Wen Jian Guo Dong Xiao Ting Xin Yi Hao Ran Zi Xuan Yu "
    "Xue Mei Dan",
)
# other_org variants: (USCC authority+type code, name pattern); {r} region, {t} trade
# name, {s} surname. Types per GB 32100-2015: 91 enterprise, 92 individual business,
# 93 farmers' co-operative, 12 public institution, 51 social organisation.
_OTHER_ORGS = (
    ("91", "{r}{t}投资管理合伙企业（有限合伙）"), ("91", "{r}{t}股权投资合伙企业（有限合伙）"),
    ("92", "{r}{s}记餐馆"), ("92", "{r}{s}记五金店"), ("92", "{r}{t}便利店"),
    ("93", "{r}{t}蔬菜种植专业合作社"), ("12", "{r}{t}职业技术学校"),
    ("51", "{r}{t}商会"),
)  # fmt: skip
_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
_DE_PASSPORT = "CFGHJKLMNPRTVWXYZ0123456789"
_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# A prime larger than any modulus used, so j -> (j * P + salt) % m is a bijection on 0..m-1.
_PRIME = 2**61 - 1


def _digits(k: int, width: int) -> str:
    return f"{k % 10**width:0{width}d}"


def _encode(k: int, alphabet: str, width: int) -> str:
    out = []
    for _ in range(width):
        k, rest = divmod(k, len(alphabet))
        out.append(alphabet[rest])
    return "".join(reversed(out))


def _letter(rng: random.Random) -> str:
    return rng.choice(_LETTERS)


_NumberFormat = tuple[int, Callable[[int, random.Random], str]]  # (space size, formatter)
# Passport numbers per issuing country, roughly in each country's real shape.
_PASSPORTS: dict[str, _NumberFormat] = {
    "DE": (27**9, lambda k, r: _encode(k, _DE_PASSPORT, 9)),
    "GB": (10**9, lambda k, r: _digits(k, 9)),
    "US": (10**8, lambda k, r: _letter(r) + _digits(k, 8)),
    "FR": (10**7, lambda k, r: _digits(k // 10**5, 2) + _letter(r) + _letter(r) + _digits(k, 5)),
    "JP": (10**7, lambda k, r: _letter(r) + _letter(r) + _digits(k, 7)),
    "KR": (10**8, lambda k, r: "M" + _digits(k, 8)),
    "SG": (10**7, lambda k, r: "K" + _digits(k, 7) + _letter(r)),
}
# Company-register numbers: Companies House, Handelsregister B, SIREN (Luhn), KvK, Delaware.
_REGISTRIES: dict[str, _NumberFormat] = {
    "GB": (10**8, lambda k, r: _digits(k, 8)),
    "DE": (10**6, lambda k, r: "HRB" + _digits(k, 6)),
    "FR": (10**8, lambda k, r: _digits(k, 8) + luhn.calc_check_digit(_digits(k, 8))),
    "NL": (10**8, lambda k, r: _digits(k, 8)),
    "US": (10**7, lambda k, r: _digits(k, 7)),
}
# country -> (entity legal forms, given names, family names); '|' separates entries
_FOREIGN = {
    "GB": ("Ltd|PLC", "Oliver|James|Emma|Sophie|Harry", "Smith|Jones|Taylor|Brown|Evans"),
    "DE": ("GmbH|AG", "Lukas|Anna|Felix|Lena|Jonas|Marie", "Müller|Schmidt|Fischer|Weber"),
    "FR": ("S.A.|SAS", "Jean|Marie|Louis|Camille|Hugo|Léa", "Martin|Bernard|Dubois|Petit"),
    "NL": ("B.V.|N.V.", "Daan|Emma|Sem|Julia|Lucas|Sanne", "de Jong|Jansen|de Vries|Bakker"),
    "US": ("Inc.|LLC", "Michael|Jennifer|David|Sarah|Emily", "Johnson|Williams|Miller|Davis"),
    "JP": ("Co., Ltd.|K.K.", "Hiroshi|Yuki|Takeshi|Aiko|Kenji", "Tanaka|Suzuki|Ito|Sato"),
    "KR": ("Co., Ltd.", "Min-jun|Seo-yeon|Ji-ho|Ha-eun|Jae-won", "Kim|Lee|Park|Choi|Jung"),
    "SG": ("Pte. Ltd.", "Wei Ming|Hui Min|Jun Jie|Li Ting", "Tan|Lim|Ng|Ong|Wong"),
}
_FAMILY_NAME_FIRST = frozenset({"KR", "SG"})
_ENTITY_WORDS = (
    "Northwind Atlas Meridian Harbor Crescent Summit Pioneer Silverline Bluewater Evergreen "
    "Keystone Sterling Orion Cobalt Granite Beacon",
    "Trading Logistics Capital Industries Systems Shipping Holdings Materials",
)


def demo_authorities() -> list[DemoAuthority]:
    """Return the demo authorities: courts, tax bureaux, market regulators and others."""
    return [DemoAuthority(s.code, s.kind, s.name) for s in _SOURCES]


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
    point = rng.random() * _REGION_WEIGHTS[-1]
    index = next(i for i, bound in enumerate(_REGION_WEIGHTS) if point < bound)
    return _REGIONS[index]


@lru_cache(maxsize=4096)
def _areas(prefix: str, year: int | None) -> tuple[str, ...]:
    return tuple(code for code in area_codes(year) if code.startswith(prefix))


def _row(**values: str) -> dict[str, str]:
    return {column: values.get(column, "") for column in SUBJECT_COLUMNS}


def _trade_name(rng: random.Random) -> tuple[str, str]:
    chars = rng.sample(_TRADE, 3 if rng.random() < 0.2 else 2)
    return "".join(c for c, _ in chars), "".join(p for _, p in chars).capitalize()


def _uscc(seq: _Sequencer, head: str, area: str, registered: date) -> str:
    # Organisation codes issued since the 2015 reform start with "MA"; older ones are the
    # pre-reform eight-digit codes. Either way the ninth character is the GB 11714 check.
    if registered >= date(2015, 10, 1):
        body8 = "MA" + _encode(seq.draw("uscc-ma", 31**6), "0123456789ABCDEFGHJKLMNPQRTUWXY", 6)
    else:
        body8 = _digits(seq.draw("uscc-old", 10**8), 8)
    return make_uscc(head + area + body8 + org_code_check_char(body8))


def _chinese_org(rng: random.Random, seq: _Sequencer, today: date) -> dict[str, str]:
    province, prefix, short, pinyin, _ = _pick_region(rng)
    registered = _random_date(rng, date(1995, 1, 1), today)
    area = rng.choice((*_areas(prefix, None), prefix + "0000"))
    trade, trade_en = _trade_name(rng)
    if rng.random() < 0.9:
        kind, head = "legal_entity", "91"
        industry, industry_en = rng.choice(_INDUSTRIES)
        form, form_en = rng.choice(_COMPANY_FORMS)
        name = f"{short}{trade}{industry}{form}"
        alt = []
        if rng.random() < 0.4:
            alt.append(f"{pinyin} {trade_en} {industry_en} {form_en}")
        if rng.random() < 0.15:
            old_trade, _ = _trade_name(rng)
            alt.append(f"{short}{old_trade}{rng.choice(_INDUSTRIES)[0]}{form}")
    else:
        kind = "other_org"
        head, pattern = rng.choice(_OTHER_ORGS)
        name = pattern.format(r=short, t=trade, s=rng.choice(_SURNAMES)[0])
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
        region = rng.choice([r for r in _REGIONS if _areas(r[1], birth.year)])
    value = make_ric(rng.choice(_areas(region[1], birth.year)), birth, k // span)
    surname, given = rng.choice(_SURNAMES), rng.sample(_GIVEN, rng.choice((1, 2)))
    name = surname[0] + "".join(c for c, _ in given)
    pinyin = f"{surname[1]} {''.join(p for _, p in given).capitalize()}"
    return _row(kind="individual", id_scheme="ric", id_value=value, name=name,
                alt_names=pinyin if rng.random() < 0.3 else "", country="CN", region=region[0],
                birth_date=birth.isoformat())  # fmt: skip


def _foreign_entity(rng: random.Random, seq: _Sequencer, today: date) -> dict[str, str]:
    country = rng.choice(sorted(_FOREIGN))
    forms = _FOREIGN[country][0].split("|")
    words, trades = (part.split() for part in _ENTITY_WORDS)
    name = f"{rng.choice(words)} {rng.choice(trades)} {rng.choice(forms)}"
    if country in _REGISTRIES and rng.random() < 0.5:
        modulus, formatter = _REGISTRIES[country]
        scheme = "registry"
        value = f"{country}:{formatter(seq.draw(f'registry-{country}', modulus), rng)}"
    else:
        scheme = "lei"
        body = "00" + _encode(seq.draw("lei", 36**12), _BASE36, 12)
        value = make_lei(rng.choice(("5493", "2138", "5299", "9695", "8945")), body)
    registered = _random_date(rng, date(1995, 1, 1), today).isoformat()
    return _row(kind="foreign_entity", id_scheme=scheme, id_value=value, name=name,
                country=country, registered_on=registered)  # fmt: skip


def _foreign_individual(rng: random.Random, seq: _Sequencer, today: date) -> dict[str, str]:
    country = rng.choice(sorted(_PASSPORTS))
    _, given_names, family_names = _FOREIGN[country]
    given, family = rng.choice(given_names.split("|")), rng.choice(family_names.split("|"))
    name = f"{family} {given}" if country in _FAMILY_NAME_FIRST else f"{given} {family}"
    modulus, formatter = _PASSPORTS[country]
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

# How common each record type is relative to the others; codes not listed weigh 1.
_TYPE_WEIGHTS = {
    "judgment_defaulter": 4.0, "insolvency": 0.4, "tax_serious_violation": 0.6,
    "admin_penalty_minor": 4.0, "admin_penalty_general": 3.0, "admin_penalty_serious": 0.8,
    "business_abnormal": 3.0, "taxpayer_a_grade": 1.5,
}  # fmt: skip
# Amount range in CNY per record type, drawn log-uniformly; types not listed have none.
_AMOUNTS = {
    "judgment_defaulter": (2_000, 5_000_000), "tax_serious_violation": (100_000, 20_000_000),
    "admin_penalty_minor": (50, 3_000), "admin_penalty_general": (5_000, 500_000),
    "admin_penalty_serious": (200_000, 10_000_000),
}  # fmt: skip
_SUMMARIES: dict[str, tuple[str, ...]] = {
    "judgment_defaulter": (
        "有履行能力而拒不履行生效法律文书确定的义务，未履行金额{amount}元。",
        "以隐匿、转移财产等方法规避执行，未履行金额{amount}元。",
        "违反财产报告制度，未履行金额{amount}元。"),
    "insolvency": ("人民法院裁定受理破产清算申请。", "人民法院裁定受理重整申请。"),
    "tax_serious_violation": (
        "虚开增值税专用发票，涉及税款{amount}元。", "采取隐匿收入等手段偷税，少缴税款{amount}元。",
        "欠缴税款{amount}元，采取转移财产手段逃避追缴。"),
    "business_abnormal": (
        "通过登记的住所或者经营场所无法联系。", "未按规定期限公示年度报告。",
        "公示企业信息隐瞒真实情况、弄虚作假。"),
    "taxpayer_a_grade": ("{year}年度纳税信用评价为A级。",),
}  # fmt: skip
# What administrative penalties are for, by authority code or, failing that, kind.
_VIOLATIONS: dict[str, tuple[str, ...]] = {
    "tax": ("未按规定期限办理纳税申报", "未按规定开具发票", "未按规定保管账簿凭证"),
    "market_regulator": ("未按规定明码标价", "发布虚假广告", "销售不符合食品安全标准的食品"),
    "other-csrc": ("信息披露违法违规", "内幕交易", "操纵证券市场"),
    "other-nmpa": ("生产不符合强制性标准的医疗器械", "未按规定报告药品不良反应"),
    "other": ("违反行政管理规定",),
}
_INDIVIDUALS = frozenset({"individual", "foreign_individual"})
_NATIONAL_SHARE = 0.1  # how often a national body, not a local one, decides


def _amount(rng: random.Random, code: str, subject_kind: str) -> str:
    bounds = _AMOUNTS.get(code)
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


def _summary(rng: random.Random, code: str, source: _Source, amount: str, decided: date) -> str:
    shown = f"{float(amount):,.2f}".removesuffix(".00") if amount else ""
    if code.startswith("admin_penalty"):
        violations = _VIOLATIONS.get(source.code) or _VIOLATIONS.get(source.kind)
        violation = rng.choice(violations or _VIOLATIONS["other"])
        serious = "，情节严重" if code.endswith("serious") else ""
        on_the_spot = "当场" if code.endswith("minor") else ""
        return f"{violation}{serious}，{on_the_spot}处以罚款{shown}元。"
    template = rng.choice(_SUMMARIES.get(code, ("依法作出处理决定。",)))
    return template.format(amount=shown, year=decided.year - 1)


class _RecordMaker:
    """Draws records for subjects; keeps only per-authority reference counters."""

    def __init__(self, record_types: Sequence[RecordTypeSpec], seed: int, today: date) -> None:
        self.rng = random.Random(f"records/{seed}")
        self.today = today
        self._counters: dict[tuple[str, str, int], int] = {}
        self._sources: dict[str, list[_Source]] = {}
        for code, _kinds, authority_kinds in record_types:
            self._sources[code] = [s for s in _SOURCES if s.kind in authority_kinds]
            if not self._sources[code]:
                raise ValidationError("record_types", f"no demo authority may submit '{code}'")
        self._types_by_kind: dict[str, tuple[list[str], list[float]]] = {}
        for kind in _ALL_KINDS:
            codes = [code for code, kinds, _ in record_types if kind in kinds]
            weights = itertools.accumulate(_TYPE_WEIGHTS.get(code, 1.0) for code in codes)
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
        }

    def _source(self, code: str, region: str) -> _Source:
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

    def _reference(self, source: _Source, code: str, year: int) -> str:
        stems = _STEMS.get(source.kind, _STEMS["other"])
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
