"""An automated accessibility audit of every portal page: axe-core (WCAG 2.0/2.1 A
and AA rules) in Debian's Chromium, in English and Chinese, on a desktop and a phone
screen. A violation fails the test with the rule, its help text and the elements.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.test_browser import CHROMIUM, launch, served

__all__ = ["served"]  # the fixture, shared with the browser tests

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed"),
]
RULES = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
PAGES = (
    "/",
    "/search?q=北京星河科技",
    "/search?q=uscc:91110000802100433B",
    "/search?q=110101********123X",
    "/lists",
    "/lists/dishonest_defaulters",
    "/statistics",
    "/rulebook",
    "/api/docs",
)
SCREENS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


def violations(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    found = Axe().run(page, options=RULES).response["violations"]
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(node["target"][0] for node in v["nodes"][:5])
        for v in found
    ]


def pages_of_the_registry(base: str, page: Any) -> list[str]:
    """The fixed pages, and those reached from the profile: record, dispute and repair
    forms, certificate and its verification."""
    urls = [base + path for path in PAGES]
    page.goto(f"{base}/search?q=uscc:91110000802100433B")
    profile = page.url
    record = page.get_attribute("table.records a[href^='/records/']", "href")
    page.goto(profile + "/certificate")
    verify = page.get_attribute("a[href*='/verify/']", "href")
    assert verify is not None
    # The dispute and repair forms as an anonymous visitor sees them (who may use them);
    # the signed-in forms and the review queue: tests/test_disputes.py.
    forms = [f"{base}{record}/dispute", f"{base}{record}/repair"]
    verify = verify if verify.startswith("http") else base + verify
    return [*urls, profile, base + record, *forms, profile + "/certificate", verify]


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("screen", sorted(SCREENS))
def test_every_portal_page_passes_the_wcag_rules_of_axe(
    served: str, browser: Any, language: str, screen: str
) -> None:
    context = browser.new_context(viewport=SCREENS[screen])
    page = context.new_page()
    problems: dict[str, list[str]] = {}
    for url in pages_of_the_registry(served, page):
        joiner = "&" if "?" in url else "?"
        page.goto(f"{url}{joiner}lang={language}")
        assert page.locator("main, body").count() >= 1, url
        if found := violations(page):
            problems[url] = found
    context.close()
    assert problems == {}


def test_the_audit_finds_what_it_should(browser: Any) -> None:
    """The audit itself works: a page with a nameless image and an unlabelled field fails."""
    page = browser.new_page()
    page.set_content('<html><body><main><img src="x.png"><input id="q"></main></body></html>')
    found = " ".join(violations(page))
    page.close()
    assert "image-alt" in found
    assert "label" in found
    assert "html-has-lang" in found
