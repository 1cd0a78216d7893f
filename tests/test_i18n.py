"""The portal in Chinese and English: catalogues complete and compiled, language chosen."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient

from trustreg.config import Settings
from trustreg.web import i18n
from trustreg.web.app import create_app

ZH_PO = i18n.LOCALES / "zh_CN" / "LC_MESSAGES" / "messages.po"


def template_messages() -> set[str]:
    method_map = [("templates/**.html", "jinja2")]
    options = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    found = extract_from_dir(str(i18n.TEMPLATES.parent), method_map, options)
    return {message for _file, _line, message, _comments, _context in found}


def test_every_string_of_the_templates_has_a_chinese_translation() -> None:
    with ZH_PO.open("rb") as handle:
        catalogue = read_po(handle)
    translated = {m.id for m in catalogue if m.id and m.string}
    wanted = template_messages()
    assert wanted, "no strings found: the extraction itself is broken"
    assert wanted - translated == set()


def test_the_compiled_catalogues_agree_with_their_sources() -> None:
    for po in i18n.LOCALES.glob("*/LC_MESSAGES/messages.po"):
        assert po.with_suffix(".mo").read_bytes() == i18n.compiled(po), (
            f"{po}: run `python -m trustreg.web.i18n` after editing it"
        )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_english_unless_asked_otherwise(client: TestClient) -> None:
    page = client.get("/")
    assert "Look up a counterparty" in page.text
    assert '<html lang="en">' in page.text
    assert 'href="/?lang=zh"' in page.text  # the switch


def test_chinese_when_asked_and_then_remembered(client: TestClient) -> None:
    page = client.get("/", params={"lang": "zh"})
    assert "查询交易对象" in page.text
    assert '<html lang="zh-CN">' in page.text
    assert page.cookies.get("lang") == "zh"
    again = client.get("/")  # the client keeps the cookie
    assert "查询交易对象" in again.text
    back = client.get("/", params={"lang": "en"})
    assert "Look up a counterparty" in back.text


def test_the_browsers_preference_counts_when_nothing_was_chosen(settings: Settings) -> None:
    with TestClient(create_app(settings)) as fresh:
        chinese = fresh.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
        assert "查询交易对象" in chinese.text
        other = fresh.get("/", headers={"Accept-Language": "fr-FR,fr;q=0.9"})
        assert "Look up a counterparty" in other.text
