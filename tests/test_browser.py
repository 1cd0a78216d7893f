"""The pages in a real browser: Debian's Chromium driven by Playwright."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from tests.pgserver import free_port
from trustreg.config import Settings
from trustreg.core.validation import RECORD_COLUMNS
from trustreg.services import ingest, registry
from trustreg.web.app import create_app

pytestmark = pytest.mark.browser
# Screenshots a person can look at after the run (var/ is not committed).
ARTEFACTS = Path(__file__).resolve().parents[1] / "var" / "test-artifacts" / "browser"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ROW = (
    "court-bj-1,(2025)京01执77号,judgment_defaulter,legal_entity,uscc,91110000802100433B,"
    "北京星河科技有限公司,2025-02-03,2025-02-13,880000,CNY,active,拒不履行生效判决,2025-02-03"
)
FEED = ",".join(RECORD_COLUMNS) + "\n" + ROW + "\n"


@pytest.fixture
def served(sqlite_settings: Settings, tmp_path: Path) -> Iterator[str]:
    app = create_app(sqlite_settings)
    factory = app.state.sessions
    registry.add_authority(factory, "court-bj-1", "court", "北京市第一中级人民法院")
    feed = tmp_path / "records.csv"
    feed.write_text(FEED, encoding="utf-8")
    options = ingest.ImportOptions(identifier_key=sqlite_settings.identifier_key)
    assert ingest.import_file(factory, "records", feed, options).created == 1
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (make test installs it)")
def test_search_by_identifier_opens_the_profile(served: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page()
        page.goto(served)
        assert "1 subjects, 1 records" in page.inner_text("main")
        page.fill("#q", "USCC: 9111 0000 8021 0043 3b")
        page.click("button[type=submit]")
        page.wait_for_url("**/subjects/*")
        assert page.inner_text("h1") == "北京星河科技有限公司"
        assert "(2025)京01执77号" in page.inner_text("table.records")
        page.screenshot(path=str(tmp_path / "profile.png"))
        page.goto(served)
        page.fill("#q", "uscc:91110000802100433C")
        page.click("button[type=submit]")
        assert "expected 'B'" in page.inner_text("[role=alert]")
        browser.close()


def launch(playwright: Any) -> Any:
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    )


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (make test installs it)")
def test_search_profile_certificate_verify(served: str) -> None:
    from playwright.sync_api import sync_playwright

    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(locale="zh-CN", viewport={"width": 1100, "height": 900})
        page.goto(served)
        page.fill("#q", "Beijing Xinghe Technology Co., Ltd.")
        page.click("button[type=submit]")
        page.click("text=北京星河科技有限公司")
        page.wait_for_url("**/subjects/*")
        assert "约束与激励措施" in page.inner_text("main")  # Chinese for a zh-CN browser
        page.screenshot(path=str(ARTEFACTS / "profile.png"), full_page=True)
        page.click("a[href$='/certificate']")
        page.wait_for_url("**/certificate")
        page.screenshot(path=str(ARTEFACTS / "certificate.png"), full_page=True)
        page.click("a.verify-link")
        page.wait_for_url("**/verify/*")
        assert page.locator(".verdict.good").count() == 1
        assert "仍然成立" in page.inner_text("main")  # the verdict in the browser's language
        page.screenshot(path=str(ARTEFACTS / "verify.png"), full_page=True)
        browser.close()


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (make test installs it)")
def test_the_language_switch_and_a_phone_screen(served: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(locale="en-US", viewport={"width": 390, "height": 844})
        page.goto(served)
        assert page.inner_text("h1") == "Look up a counterparty"
        page.click("a.lang")
        assert page.inner_text("h1") == "查询交易对象"
        page.goto(served)  # remembered
        assert page.inner_text("h1") == "查询交易对象"
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, "the home page must fit a phone screen"
        page.screenshot(path=str(ARTEFACTS / "home-phone-zh.png"))
        browser.close()


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (make test installs it)")
def test_everything_works_without_javascript(served: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        context = browser.new_context(java_script_enabled=False, locale="en-US")
        page = context.new_page()
        page.goto(served)
        page.fill("#q", "北京星河科技")
        page.click("button[type=submit]")
        page.wait_for_url("**/search?*")
        page.click("text=北京星河科技有限公司")
        page.wait_for_url("**/subjects/*")
        assert "(2025)京01执77号" in page.inner_text("table.records")
        browser.close()
