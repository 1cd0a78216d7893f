"""The rulebook page's history of versions: every loaded version, newest first, with
what each changed from the one before, in English and in Chinese, on both backends."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from trustreg.config import REPO_ROOT, Settings
from trustreg.core.rulebook import parse_rulebook
from trustreg.services import registry
from trustreg.services.rulebook_views import FieldChange, version_changes
from trustreg.web.app import create_app

MODEL = (REPO_ROOT / "rulebooks" / "model.toml").read_text(encoding="utf-8")
TODAY = datetime.now(UTC).date()
ARROW = "→"


def changed(effective_from: str) -> str:
    """Version 2026.3 of the model: minor penalties cost 6 points instead of 5, the
    defaulters' subsidy restriction lasts 200 days instead of 365, defaulters stay
    listed 800 days instead of 730, and one consequence is gone."""
    text = MODEL.replace('version = "2026.2"', 'version = "2026.3"', 1)
    text = text.replace('effective_from = "2026-01-01"', f'effective_from = "{effective_from}"', 1)
    text = text.replace("points = -5\n", "points = -6\n", 1)
    text = text.replace("max_days = 365\n\n[[list]]", "max_days = 200\n\n[[list]]", 1)
    text = text.replace("listing_days = 730", "listing_days = 800", 1)
    start = text.index('[[list.consequence]]\ncode = "licence_review_serious"')
    text = text[:start] + text[text.index("\n\n", start) + 2 :]
    assert text.count("points = -6\n") == 1
    return text


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def load(client: TestClient, text: str) -> None:
    factory: sessionmaker[Session] = client.app.state.sessions  # type: ignore[attr-defined]
    assert registry.load_rulebook(factory, parse_rulebook(text), "test") is True


def version_text(client: TestClient, version: str, lang: str = "en") -> str:
    """The plain text of one version's part of the page."""
    page = client.get("/rulebook", params={"lang": lang})
    assert page.status_code == 200, page.text
    found = re.search(
        rf'<section class="version" id="version-{re.escape(version)}">(.*?)</section>',
        page.text,
        re.DOTALL,
    )
    assert found, f"no section for version {version}"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))).split())


def test_one_version_is_the_first_and_in_force(client: TestClient) -> None:
    page = client.get("/rulebook").text
    assert '<h2 id="versions">Versions</h2>' in page
    text = version_text(client, "2026.2")
    assert "Version 2026.2 in force" in text
    assert "Effective from: 2026-01-01" in text
    [loaded] = [v["loaded_at"] for v in client.get("/api/v1/rulebook/versions").json()["versions"]]
    assert f"Loaded: {loaded[:10]} {loaded[11:16]} UTC" in text
    assert "The first version loaded." in text
    assert "<details" not in page


def test_a_later_version_is_listed_first_with_what_it_changes(client: TestClient) -> None:
    load(client, changed("2099-01-01"))
    page = client.get("/rulebook").text
    assert page.index('id="version-2026.3"') < page.index('id="version-2026.2"')  # newest first
    assert "Rulebook</h1>" in page
    assert '<strong class="version">2026.2</strong>' in page  # the rules shown: in force
    old = version_text(client, "2026.2")
    assert "Version 2026.2 in force" in old
    assert "The first version loaded." in old
    new = version_text(client, "2026.3")
    assert "Version 2026.3 not yet in force" in new
    assert "Effective from: 2099-01-01" in new
    assert "What changed from version 2026.2" in new
    minor = "Changed: 行政处罚（简易程序） Administrative penalty, minor admin_penalty_minor"
    assert f"{minor} Points: -5 {ARROW} changed to -6" in new
    assert (
        f"Listing on List of dishonest judgment defaulters (days): 730 {ARROW} changed to 800"
        in new
    )
    assert f"subsidy_restriction_defaulter Lasts at most (days): 365 {ARROW} changed to 200" in new
    assert "Removed: 行政许可从严审查" in new
    assert "licence_review_serious" in new
    assert "Added:" not in new
    assert 'href="/api/v1/rulebook/diff?from=2026.2&amp;to=2026.3"' in client.get("/rulebook").text


def test_the_history_in_chinese(client: TestClient) -> None:
    load(client, changed("2099-01-01"))
    page = client.get("/rulebook", params={"lang": "zh"}).text
    assert '<h2 id="versions">规则版本</h2>' in page
    new = version_text(client, "2026.3", "zh")
    assert "版本 2026.3 尚未生效" in new
    assert "生效日期： 2099-01-01" in new
    assert "与版本 2026.2 相比的变更" in new
    assert "修改： 行政处罚（简易程序）" in new
    assert f"admin_penalty_minor 分数： -5 {ARROW} 改为 -6" in new
    assert f"列入失信被执行人名单的期限（天）： 730 {ARROW} 改为 800" in new
    assert f"最长期限（天）： 365 {ARROW} 改为 200" in new
    assert "删除： 行政许可从严审查" in new
    for english in ("What changed", "Changed:", "Removed:", "changed to", "not yet in force"):
        assert english not in new
    old = version_text(client, "2026.2", "zh")
    assert "版本 2026.2 现行有效" in old
    assert "首个载入的版本。" in old


def test_a_newer_version_in_effect_supersedes_the_older(client: TestClient) -> None:
    load(client, changed(TODAY.isoformat()))
    assert "Version 2026.3 in force" in version_text(client, "2026.3")
    assert "Version 2026.2 superseded" in version_text(client, "2026.2")


def test_changes_name_every_field_added_removed_and_changed() -> None:
    old = parse_rulebook(MODEL)
    text = MODEL.replace('version = "2026.2"', 'version = "2026.3"', 1)
    text = text.replace("starting_points = 1000", "starting_points = 1010", 1)
    text = text.replace('grade = "AAA"\nmin_points = 1050', 'grade = "AAA"\nmin_points = 1060', 1)
    text = text.replace(
        'title_en = "List of enterprises with abnormal operations"',
        'title_en = "Enterprises with abnormal operations"',
        1,
    )
    minor = text.index('[[record_type]]\ncode = "admin_penalty_minor"')
    block = text[minor : text.index("\n\n", minor) + 2]
    text += "\n" + block.replace('"admin_penalty_minor"', '"admin_penalty_other"', 1)
    changes = version_changes(old, parse_rulebook(text))

    assert [i.code for i in changes.record_types.added] == ["admin_penalty_other"]
    assert not changes.record_types.removed
    assert not changes.record_types.changed
    [listed] = changes.lists.changed
    assert (listed.code, listed.fields) == (
        "abnormal_operations",
        (
            FieldChange(
                "title_en",
                "List of enterprises with abnormal operations",
                "Enterprises with abnormal operations",
            ),
        ),
    )
    assert not changes.consequences
    assert changes.rating == (
        FieldChange("starting_points", 1000, 1010),
        FieldChange("grade", 1050, 1060, "AAA"),
    )
    assert not version_changes(old, old)
