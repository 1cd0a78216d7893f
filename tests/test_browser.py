"""The pages in a real browser: Debian's Chromium driven by Playwright."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from tests.pgserver import free_port
from trustreg.config import Settings
from trustreg.core.validation import RECORD_COLUMNS
from trustreg.services import ingest, registry
from trustreg.web.app import create_app

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ROW = (
    "court-bj-1,(2025)京01执77号,judgment_defaulter,legal_entity,uscc,91110000802100433B,"
    "北京星河科技有限公司,2025-02-03,2025-02-13,880000,CNY,active,拒不履行生效判决"
)
FEED = ",".join(RECORD_COLUMNS) + "\n" + ROW + "\n"


@pytest.fixture
def served(sqlite_settings: Settings, tmp_path: Path) -> Iterator[str]:
    app = create_app(sqlite_settings)
    factory = app.state.sessions
    registry.add_authority(factory, "court-bj-1", "court", "北京市第一中级人民法院")
    feed = tmp_path / "records.csv"
    feed.write_text(FEED, encoding="utf-8")
    assert ingest.import_file(factory, "records", feed, ingest.ImportOptions()).created == 1
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
        browser = playwright.chromium.launch(
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
