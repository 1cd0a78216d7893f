"""Static tables behind the demo data generator in :mod:`trustreg.demo`.

Pure data: the demo authorities and their reference-number stems, provinces with area
prefixes and weights, the words Chinese company, other-organisation and personal names are
made of, passport and company-register number formats per country, foreign names and legal
forms, and per record type the weights, amount ranges, summaries and penalty reasons. The
only code is what builds the tables, including the :func:`digits` and :func:`encode`
helpers the number formats share with the generator.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from typing import NamedTuple

from stdnum import luhn


class Source(NamedTuple):
    """A demo authority plus what its reference numbers look like."""

    code: str
    kind: str
    name: str
    region: str  # province it sits in; '' for national bodies
    abbr: str  # court code (京01), province abbreviation (沪) or document stem (证监罚字)


SOURCES = (
    Source("court-bj-1", "court", "北京市第一中级人民法院", "北京市", "京01"),
    Source("court-sh-pd", "court", "上海市浦东新区人民法院", "上海市", "沪0115"),
    Source("court-gd-sz", "court", "广东省深圳市中级人民法院", "广东省", "粤03"),
    Source("court-zj-hz", "court", "浙江省杭州市中级人民法院", "浙江省", "浙01"),
    Source("court-sc-cd", "court", "四川省成都市中级人民法院", "四川省", "川01"),
    Source("tax-bj", "tax", "国家税务总局北京市税务局", "北京市", "京"),
    Source("tax-sh", "tax", "国家税务总局上海市税务局", "上海市", "沪"),
    Source("tax-gd", "tax", "国家税务总局广东省税务局", "广东省", "粤"),
    Source("samr-gd", "market_regulator", "广东省市场监督管理局", "广东省", "粤"),
    Source("samr-js", "market_regulator", "江苏省市场监督管理局", "江苏省", "苏"),
    Source("samr-zj", "market_regulator", "浙江省市场监督管理局", "浙江省", "浙"),
    Source("other-csrc", "other", "中国证券监督管理委员会", "", "证监罚字"),
    Source("other-nmpa", "other", "国家药品监督管理局", "", "国药监罚"),
)
# Document-number stem by authority kind and record type ("*": any other type); {a} is
# the authority's abbreviation. Courts use the case-type word: 执 enforcement, 破 bankruptcy.
STEMS: dict[str, dict[str, str]] = {
    "court": {"insolvency": "破", "*": "执"},
    "tax": {"admin_penalty_minor": "{a}税简罚", "taxpayer_a_grade": "{a}税信", "*": "{a}税稽罚"},
    "market_regulator": {
        "admin_penalty_minor": "{a}市监简罚", "business_abnormal": "{a}市监异", "*": "{a}市监处罚"
    },
    "other": {"*": "{a}"},
}  # fmt: skip

# (province, two-digit area prefix, short form used in names, pinyin, weight)
REGIONS = (
    ("北京市", "11", "北京", "Beijing", 12), ("上海市", "31", "上海", "Shanghai", 12),
    ("广东省", "44", "广东", "Guangdong", 14), ("浙江省", "33", "浙江", "Zhejiang", 10),
    ("江苏省", "32", "江苏", "Jiangsu", 10), ("四川省", "51", "四川", "Sichuan", 6),
    ("山东省", "37", "山东", "Shandong", 6), ("湖北省", "42", "湖北", "Hubei", 4),
    ("福建省", "35", "福建", "Fujian", 4), ("天津市", "12", "天津", "Tianjin", 3),
    ("重庆市", "50", "重庆", "Chongqing", 3), ("河南省", "41", "河南", "Henan", 3),
    ("陕西省", "61", "陕西", "Shaanxi", 2), ("安徽省", "34", "安徽", "Anhui", 2),
)  # fmt: skip
REGION_WEIGHTS = tuple(itertools.accumulate(r[4] for r in REGIONS))


def _pairs(chars: str, pinyin: str) -> tuple[tuple[str, str], ...]:
    return tuple(zip(chars, pinyin.split(), strict=True))


TRADE = _pairs(
    "华信金瑞恒泰鑫达宏远盛博安鼎嘉润丰海天正中联创凯富明通德兴利源永辉腾航星晨智锦汇诚祥",
    "Hua Xin Jin Rui Heng Tai Xin Da Hong Yuan Sheng Bo An Ding Jia Run Feng Hai Tian Zheng "
    "Zhong Lian Chuang Kai Fu Ming Tong De Xing Li Yuan Yong Hui Teng Hang Xing Chen Zhi Jin "
    "Hui Cheng Xiang",
)
INDUSTRIES = (
    ("科技", "Technology"), ("贸易", "Trading"), ("航运", "Shipping"), ("机械", "Machinery"),
    ("实业", "Industrial"), ("建设", "Construction"), ("医药", "Pharmaceutical"),
    ("食品", "Food"), ("物流", "Logistics"), ("电子", "Electronics"), ("化工", "Chemical"),
    ("纺织", "Textile"), ("能源", "Energy"), ("置业", "Real Estate"),
)  # fmt: skip
COMPANY_FORMS = (
    ("有限公司", "Co., Ltd."), ("有限公司", "Co., Ltd."), ("有限责任公司", "Co., Ltd."),
    ("股份有限公司", "Corp., Ltd."), ("集团有限公司", "Group Co., Ltd."),
)  # fmt: skip
SURNAMES = _pairs(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕",
    "Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo He Gao Lin Luo Zheng "
    "Liang Xie Song Tang Xu Han Feng Deng Cao Peng Zeng Xiao Tian Dong Yuan Pan Jiang Cai Yu "
    "Du Ye Cheng Su Wei Lü",
)
GIVEN = _pairs(
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂英华红玉志海燕文建国东晓婷欣怡浩然子轩宇雪梅丹",
    "Wei Fang Na Min Jing Li Qiang Lei Jun Yang Yong Yan Jie Juan Tao Ming Chao Xia Ping Gang "
    "Gui Ying Hua Hong Yu Zhi Hai Yan Wen Jian Guo Dong Xiao Ting Xin Yi Hao Ran Zi Xuan Yu "
    "Xue Mei Dan",
)
# other_org variants: (USCC authority+type code, name pattern); {r} region, {t} trade
# name, {s} surname. Types per GB 32100-2015: 91 enterprise, 92 individual business,
# 93 farmers' co-operative, 12 public institution, 51 social organisation.
OTHER_ORGS = (
    ("91", "{r}{t}投资管理合伙企业（有限合伙）"), ("91", "{r}{t}股权投资合伙企业（有限合伙）"),
    ("92", "{r}{s}记餐馆"), ("92", "{r}{s}记五金店"), ("92", "{r}{t}便利店"),
    ("93", "{r}{t}蔬菜种植专业合作社"), ("12", "{r}{t}职业技术学校"),
    ("51", "{r}{t}商会"),
)  # fmt: skip
_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
_DE_PASSPORT = "CFGHJKLMNPRTVWXYZ0123456789"
BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def digits(k: int, width: int) -> str:
    """``k`` as exactly ``width`` decimal digits (its last ones, zero-padded)."""
    return f"{k % 10**width:0{width}d}"


def encode(k: int, alphabet: str, width: int) -> str:
    """``k`` as exactly ``width`` characters of ``alphabet``, most significant first."""
    out = []
    for _ in range(width):
        k, rest = divmod(k, len(alphabet))
        out.append(alphabet[rest])
    return "".join(reversed(out))


def _letter(rng: random.Random) -> str:
    return rng.choice(_LETTERS)


_NumberFormat = tuple[int, Callable[[int, random.Random], str]]  # (space size, formatter)
# Passport numbers per issuing country, roughly in each country's real shape.
PASSPORTS: dict[str, _NumberFormat] = {
    "DE": (27**9, lambda k, r: encode(k, _DE_PASSPORT, 9)),
    "GB": (10**9, lambda k, r: digits(k, 9)),
    "US": (10**8, lambda k, r: _letter(r) + digits(k, 8)),
    "FR": (10**7, lambda k, r: digits(k // 10**5, 2) + _letter(r) + _letter(r) + digits(k, 5)),
    "JP": (10**7, lambda k, r: _letter(r) + _letter(r) + digits(k, 7)),
    "KR": (10**8, lambda k, r: "M" + digits(k, 8)),
    "SG": (10**7, lambda k, r: "K" + digits(k, 7) + _letter(r)),
}
# Company-register numbers: Companies House, Handelsregister B, SIREN (Luhn), KvK, Delaware.
REGISTRIES: dict[str, _NumberFormat] = {
    "GB": (10**8, lambda k, r: digits(k, 8)),
    "DE": (10**6, lambda k, r: "HRB" + digits(k, 6)),
    "FR": (10**8, lambda k, r: digits(k, 8) + luhn.calc_check_digit(digits(k, 8))),
    "NL": (10**8, lambda k, r: digits(k, 8)),
    "US": (10**7, lambda k, r: digits(k, 7)),
}
# country -> (entity legal forms, given names, family names); '|' separates entries
FOREIGN = {
    "GB": ("Ltd|PLC", "Oliver|James|Emma|Sophie|Harry", "Smith|Jones|Taylor|Brown|Evans"),
    "DE": ("GmbH|AG", "Lukas|Anna|Felix|Lena|Jonas|Marie", "Müller|Schmidt|Fischer|Weber"),
    "FR": ("S.A.|SAS", "Jean|Marie|Louis|Camille|Hugo|Léa", "Martin|Bernard|Dubois|Petit"),
    "NL": ("B.V.|N.V.", "Daan|Emma|Sem|Julia|Lucas|Sanne", "de Jong|Jansen|de Vries|Bakker"),
    "US": ("Inc.|LLC", "Michael|Jennifer|David|Sarah|Emily", "Johnson|Williams|Miller|Davis"),
    "JP": ("Co., Ltd.|K.K.", "Hiroshi|Yuki|Takeshi|Aiko|Kenji", "Tanaka|Suzuki|Ito|Sato"),
    "KR": ("Co., Ltd.", "Min-jun|Seo-yeon|Ji-ho|Ha-eun|Jae-won", "Kim|Lee|Park|Choi|Jung"),
    "SG": ("Pte. Ltd.", "Wei Ming|Hui Min|Jun Jie|Li Ting", "Tan|Lim|Ng|Ong|Wong"),
}
FAMILY_NAME_FIRST = frozenset({"KR", "SG"})
ENTITY_WORDS = (
    "Northwind Atlas Meridian Harbor Crescent Summit Pioneer Silverline Bluewater Evergreen "
    "Keystone Sterling Orion Cobalt Granite Beacon",
    "Trading Logistics Capital Industries Systems Shipping Holdings Materials",
)

# How common each record type is relative to the others; codes not listed weigh 1.
TYPE_WEIGHTS = {
    "judgment_defaulter": 4.0, "insolvency": 0.4, "tax_serious_violation": 0.6,
    "admin_penalty_minor": 4.0, "admin_penalty_general": 3.0, "admin_penalty_serious": 0.8,
    "business_abnormal": 3.0, "taxpayer_a_grade": 1.5,
}  # fmt: skip
# Amount range in CNY per record type, drawn log-uniformly; types not listed have none.
AMOUNTS = {
    "judgment_defaulter": (2_000, 5_000_000), "tax_serious_violation": (100_000, 20_000_000),
    "admin_penalty_minor": (50, 3_000), "admin_penalty_general": (5_000, 500_000),
    "admin_penalty_serious": (200_000, 10_000_000),
}  # fmt: skip
SUMMARIES: dict[str, tuple[str, ...]] = {
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
VIOLATIONS: dict[str, tuple[str, ...]] = {
    "tax": ("未按规定期限办理纳税申报", "未按规定开具发票", "未按规定保管账簿凭证"),
    "market_regulator": ("未按规定明码标价", "发布虚假广告", "销售不符合食品安全标准的食品"),
    "other-csrc": ("信息披露违法违规", "内幕交易", "操纵证券市场"),
    "other-nmpa": ("生产不符合强制性标准的医疗器械", "未按规定报告药品不良反应"),
    "other": ("违反行政管理规定",),
}
