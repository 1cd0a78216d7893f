"""Name normalisation: legal forms, set-aside residue, pinyin, glossary, numbers."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from trustreg.core import name_words
from trustreg.core.names import (
    GENERIC_WORDS,
    INDUSTRY_WORDS,
    MAX_CHARS,
    REGION_WORDS,
    NameForms,
    legal_form_family,
    name_forms,
)


def _without_text(forms: NameForms) -> dict[str, object]:
    fields = dataclasses.asdict(forms)
    del fields["text"]
    return fields


# --- the worked examples of the brief ----------------------------------------------------


def test_han_name_meets_its_english_rendering() -> None:
    han = name_forms("沧澜远洋航运有限公司")
    latin = name_forms("Canglan Ocean Shipping Co., Ltd.")
    assert han.translated == latin.translated == ("canglan", "ocean", "shipping")
    assert han.legal_forms == latin.legal_forms == {"limited"}
    assert han.original == "沧澜远洋航运"
    assert han.tokens == ("cang", "lan", "yuan", "yang", "hang", "yun")
    assert han.joined == "canglanyuanyanghangyun"
    assert latin.original == "canglan ocean shipping"


def test_traditional_is_simplified() -> None:
    traditional = name_forms("滄瀾遠洋航運有限公司")
    assert traditional.text == "滄瀾遠洋航運有限公司"
    assert _without_text(traditional) == _without_text(name_forms("沧澜远洋航运有限公司"))


def test_full_width_becomes_half_width() -> None:
    forms = name_forms("ＡＢＣ　Ｔｒａｄｉｎｇ")
    assert forms.original == "abc trading"
    assert forms.tokens == ("abc", "trading")
    assert forms.script == "latin"


def test_diacritics_fold_and_sa_is_a_legal_form() -> None:
    forms = name_forms("Société Générale S.A.")
    assert forms.original == "societe generale"
    assert forms.legal_forms == {"sa"}


def test_party_label_and_branch_parenthesis_are_set_aside() -> None:
    forms = name_forms("SHIPPER: ACME TRADING CO., LTD. (Kakamega Branch)")
    assert forms.set_aside == ("shipper", "kakamega branch")
    assert forms.legal_forms == {"limited", "branch"}
    assert forms.original == "acme trading"
    assert forms.translated == ("acme", "trading")


def test_legal_form_without_a_space_is_stripped() -> None:
    forms = name_forms("北京华信科技有限公司")
    assert forms.original == "北京华信科技"
    assert forms.legal_forms == {"limited"}
    assert forms.translated == ("beijing", "huaxin", "technology")
    assert forms.tokens == ("bei", "jing", "hua", "xin", "ke", "ji")
    assert forms.script == "han"


@pytest.mark.parametrize(
    ("text", "numbers", "translated"),
    [
        ("第三建筑工程有限公司", ("3",), ("construction", "engineering")),
        ("No. 8 Machinery Co", ("8",), ("machinery",)),
        ("北京第3建筑工程有限公司", ("3",), ("beijing", "construction", "engineering")),
        ("3号仓库", ("3",), ("warehousing",)),
        ("三号机械厂", ("3",), ("machinery",)),
        ("上海市第十三号", ("13",), ("shanghai",)),
        ("Second Avenue Trading", ("2",), ("avenue", "trading")),
        ("2nd Avenue Trading", ("2",), ("avenue", "trading")),
        # 第一百货 is "No. 1 Department Store", not "No. 100 ..."
        ("上海第一百货商店", ("1",), ("shanghai", "departmentstore", "store")),
        ("A1 Steel No 12 and 7th", ("12", "7"), ("a1", "steel")),
    ],
)
def test_numbers(text: str, numbers: tuple[str, ...], translated: tuple[str, ...]) -> None:
    forms = name_forms(text)
    assert forms.numbers == numbers
    assert forms.translated == translated


# --- legal forms -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "original", "legal_forms"),
    [
        ("华信股份有限公司", "华信", {"joint_stock", "limited"}),
        ("华信有限责任公司", "华信", {"limited_liability", "limited"}),
        ("华信集团有限公司", "华信", {"group", "limited"}),
        ("中国远洋运输（集团）总公司", "中国远洋运输", {"group", "corporation"}),
        ("XX投资合伙企业（有限合伙）", "xx投资", {"lp", "partnership"}),
        ("华信机械厂", "华信机械", {"factory"}),
        ("ACME L.L.C.", "acme", {"llc", "limited_liability"}),
        ("ACME Company Limited", "acme", {"limited"}),
        ("ACME GmbH & Co. KG", "acme", {"gmbh", "company", "kg"}),
        ("Tata Consultancy Services Private Limited", "tata consultancy services", {"pvt_ltd"}),
        ("Acme Pte. Ltd.", "acme", {"pte_ltd"}),
        ("Acme Sdn. Bhd.", "acme", {"sdn_bhd"}),
        ("Fincantieri S.p.A.", "fincantieri", {"spa"}),
        ("Philips N.V.", "philips", {"nv"}),
        ("PT Astra International Tbk", "astra international", {"pt", "tbk"}),
        ("OOO Romashka", "romashka", {"ooo"}),
        ("トヨタ自動車株式会社", "トヨタ自动车", {"kk"}),
        ("McDonald's Corporation", "mcdonalds", {"corporation"}),
        ("M/S ABC Traders", "abc traders", set()),
    ],
)
def test_legal_forms(text: str, original: str, legal_forms: set[str]) -> None:
    forms = name_forms(text)
    assert forms.original == original
    assert forms.legal_forms == legal_forms


@pytest.mark.parametrize("text", ["Limited", "公司", "Co., Ltd.", "集团", "分公司", "Branch"])
def test_a_legal_form_that_is_the_whole_name_stays(text: str) -> None:
    forms = name_forms(text)
    assert forms.original
    assert forms.legal_forms == set()


def test_legal_form_families() -> None:
    assert legal_form_family("gmbh") == legal_form_family("limited") == "limited"
    assert legal_form_family("sa") == legal_form_family("inc") == "stock"
    assert legal_form_family("unheard_of") == "unheard_of"


# --- branches and other residue --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "original", "set_aside"),
    [
        ("北京华信科技有限公司上海分公司", "北京华信科技", ("上海分公司",)),
        ("北京华信科技有限公司（北京分公司）", "北京华信科技", ("北京分公司",)),
        ("中国银行股份有限公司北京市分行", "中国银行", ("北京市分行",)),
        ("中国银行北京分行", "中国银行", ("北京分行",)),
        ("华信上海分公司", "华信", ("上海分公司",)),
        ("ACME TRADING CO., LTD. SHANGHAI BRANCH", "acme trading", ("shanghai branch",)),
        ("Bank of China Hong Kong Branch", "bank of china", ("hong kong branch",)),
        ("ABC Co., Ltd. (formerly XYZ Trading)", "abc", ("formerly xyz trading",)),
        ("收货人：上海华信贸易有限公司", "上海华信贸易", ("收货人",)),
        ("NOTIFY PARTY: Acme Ltd", "acme", ("notify party",)),
    ],
)
def test_set_aside(text: str, original: str, set_aside: tuple[str, ...]) -> None:
    forms = name_forms(text)
    assert forms.original == original
    assert forms.set_aside == set_aside


def test_branch_label_is_a_legal_form() -> None:
    assert "branch" in name_forms("中国银行北京分行").legal_forms
    assert (
        "representative_office" in name_forms("Acme Ltd Beijing Representative Office").legal_forms
    )


def test_a_place_in_parentheses_stays_in_the_name() -> None:
    han = name_forms("ABC（香港）有限公司")
    latin = name_forms("ABC (Hong Kong) Limited")
    assert han.original == "abc 香港"
    assert han.script == "mixed"
    assert han.translated == latin.translated == ("abc", "hongkong")


# --- pinyin, glossary, synonyms --------------------------------------------------------


def test_pinyin_uses_phrase_readings() -> None:
    assert name_forms("重庆银行").tokens == ("chong", "qing", "yin", "hang")
    assert name_forms("重庆银行").translated == ("chongqing", "bank")
    # read piece by piece after the glossary cut: 空调 is kongtiao, not kongdiao
    assert name_forms("苏州旭长空调").tokens[-2:] == ("kong", "tiao")


def test_u_umlaut_is_written_u_on_both_sides() -> None:
    assert name_forms("吕伟", "individual").tokens == ("lu", "wei")
    assert name_forms("Lü Wei", "foreign_individual").tokens == ("lu", "wei")
    assert name_forms("绿源", "legal_entity").joined == "luyuan"


@pytest.mark.parametrize(
    ("han", "english", "translated"),
    [
        ("房地产开发有限公司", "Real Estate Development Ltd", ("realestate", "development")),
        ("北京华信进出口有限公司", "Beijing Huaxin Import & Export Co., Ltd.", None),
        ("高科技进出口公司", "Hi-Tech Imp. & Exp. Co", ("hightechnology", "importexport")),
        ("重工", "Heavy Industries", ("heavyindustry",)),
        ("商会", "Chamber of Commerce", ("chamberofcommerce",)),
        ("科技", "Science and Technology", ("technology",)),
        ("融资租赁", "Finance Lease", ("financialleasing",)),
        ("内蒙古自治区", "Inner Mongolia", ("innermongolia",)),
        ("陕西", "Shaanxi", ("shaanxi",)),
    ],
)
def test_han_and_english_meet(han: str, english: str, translated: tuple[str, ...] | None) -> None:
    assert name_forms(han).translated == name_forms(english).translated
    if translated is not None:
        assert name_forms(han).translated == translated


def test_latin_synonyms_map_to_one_word() -> None:
    forms = name_forms("Acme Intl Tech Trade Mfg Svcs")
    expected = ("acme", "international", "technology", "trading", "manufacturing", "services")
    assert forms.translated == expected


def test_every_glossary_word_meets_its_english() -> None:
    """The rule for multi-word English holds for every entry, on both sides."""
    entries = name_words.pairs(name_words.PLACES + name_words.GENERIC + name_words.INDUSTRY)
    for han, english in entries:
        token = name_words.GLOSSARY[han]
        assert name_forms(english.replace("+", " ")).translated == (token,), english
        if len(han) > 1:  # one-character words count only after a trade name
            assert name_forms(han).translated == (token,), han


def test_glossary_is_large_and_consistent() -> None:
    entries = name_words.pairs(name_words.GENERIC + name_words.INDUSTRY)
    assert len(entries) >= 250
    assert len({han for han, _ in entries}) == len(entries)
    assert not INDUSTRY_WORDS & REGION_WORDS
    assert not INDUSTRY_WORDS & GENERIC_WORDS
    assert not REGION_WORDS & GENERIC_WORDS
    canonical = set(name_words.GLOSSARY.values())
    assert {name_words.SYNONYMS.get(word, word) for word in canonical} == canonical


def test_one_character_glossary_word_needs_a_trade_name_first() -> None:
    assert name_forms("白云机场").translated == ("baiyun", "airport")
    assert name_forms("北京华云科技").translated == ("beijing", "huayun", "technology")
    assert name_forms("华信云科技").translated == ("huaxin", "cloud", "technology")


# --- persons -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("张伟", ("zhang", "wei")),
        ("ZHANG Wei", ("zhang", "wei")),
        ("Wei ZHANG", ("wei", "zhang")),
        ("Zhang, Wei", ("zhang", "wei")),
        ("Mr. ZHANG Wei", ("zhang", "wei")),
        ("张伟先生", ("zhang", "wei")),
        ("曾伟", ("zeng", "wei")),
        ("Ma Co", ("ma", "co")),
    ],
)
def test_person_names(text: str, tokens: tuple[str, ...]) -> None:
    forms = name_forms(text, "individual")
    assert forms.tokens == tokens
    assert forms.joined == "".join(tokens)
    assert forms.translated == tokens
    assert forms.legal_forms == set()
    assert forms.numbers == ()


def test_person_title_is_set_aside() -> None:
    assert name_forms("Mr. ZHANG Wei", "foreign_individual").set_aside == ("mr",)


# --- bad input -----------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "!!!", "😀", "（）", "\x00\x01", "\u200b", "\ud800"])
def test_nothing_left_gives_empty_forms(text: str) -> None:
    forms = name_forms(text)
    assert forms.text == text
    assert (forms.original, forms.tokens, forms.joined, forms.translated) == ("", (), "", ())
    assert forms.script == "other"


def test_long_input_is_truncated() -> None:
    text = "x" * 10_000
    forms = name_forms(text)
    assert forms.text == text
    assert forms.original == "x" * MAX_CHARS


@pytest.mark.parametrize(
    ("text", "original", "script"),
    [
        ("a", "a", "latin"),
        ("华", "华", "han"),
        ("a\x00b\tc\u200bd", "a b cd", "latin"),
        ("ООО Газпром", "газпром", "other"),
        ("Huaxin华信", "huaxin华信", "mixed"),
    ],
)
def test_odd_input(text: str, original: str, script: str) -> None:
    forms = name_forms(text)
    assert forms.original == original
    assert forms.script == script


_PIECES = st.sampled_from(
    [
        "Co., Ltd.", " Limited", " S.A.", " Branch", "SHIPPER: ", "收货人：", " LLC", "PT ",
        " No. 3", " 2nd", " GmbH & Co. KG", "(Hong Kong)", " Group", "分公司", "（有限合伙）",
        "株式会社", "M/S ", "Real Estate", "第", "号", "三", "百货", "沧澜", "遠洋", "ＡＢ",
        "é", "ß", "'", "&", "(", ")", " ", ".", "云", "上海",
    ]
)  # fmt: skip
_TEXTS = st.lists(st.one_of(st.characters(), _PIECES), max_size=25).map("".join)


@hypothesis_settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(text=_TEXTS, kind=st.sampled_from([None, "legal_entity", "individual"]))
def test_never_crashes_and_is_idempotent(text: str, kind: str | None) -> None:
    forms = name_forms(text, kind)
    assert name_forms(forms.original, kind).original == forms.original
    assert forms.joined == "".join(forms.tokens)
    assert len(forms.original) <= MAX_CHARS
    assert forms.script in {"han", "latin", "mixed", "other"}
