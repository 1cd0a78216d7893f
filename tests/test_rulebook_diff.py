"""`trustreg rulebook diff`: who a rulebook change would move, before it takes effect."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.feeds import REGULATOR, add_authorities, record_row, run_import, write_csv
from trustreg.config import REPO_ROOT
from trustreg.core.rulebook import parse_rulebook
from trustreg.services.rulebook_diff import RulebookDiff, compare_rules, diff

MODEL = (REPO_ROOT / "rulebooks" / "model.toml").read_text(encoding="utf-8")
TODAY = datetime.now(UTC).date()


def harsher() -> str:
    text = MODEL.replace('version = "2026.2"', 'version = "2026.3"', 1)
    changed = text.replace("points = -100\npoints_cap = -300", "points = -200\npoints_cap = -400")
    assert changed != text
    return changed


def test_diff_counts_grade_and_list_changes(factory: sessionmaker[Session], tmp_path: Path) -> None:
    add_authorities(factory)
    effective = (TODAY - timedelta(days=20)).isoformat()
    rows = [
        record_row(1, subject=1, record_type="judgment_defaulter", effective_from=effective),
        record_row(
            2,
            subject=2,
            record_type="admin_penalty_general",
            effective_from=effective,
            authority=REGULATOR,
        ),
    ]
    run_import(factory, "records", write_csv(tmp_path / "r.csv", rows))

    result = diff(factory, parse_rulebook(MODEL), parse_rulebook(harsher()), TODAY)

    assert (result.subjects, result.grade_changes, result.list_changes) == (2, 1, 0)
    assert result.rules_changed == ["judgment_defaulter"]
    [example] = result.grade_examples
    assert (example.old, example.new) == ("B (900)", "C (800)")


def test_no_change_no_difference(factory: sessionmaker[Session], tmp_path: Path) -> None:
    add_authorities(factory)
    run_import(factory, "records", write_csv(tmp_path / "r.csv", [record_row(1)]))
    same = parse_rulebook(MODEL)
    result = diff(factory, same, same, TODAY)
    assert (result.grade_changes, result.list_changes, result.rules_changed) == (0, 0, [])
    assert result.consequences_changed == result.consequences_added == []


def test_diff_names_the_consequences_that_change() -> None:
    new = MODEL.replace('version = "2026.2"', 'version = "2026.3"', 1)
    new = new.replace("max_days = 365\n\n[[list]]", "max_days = 200\n\n[[list]]", 1)
    start = new.index('[[list.consequence]]\ncode = "licence_review_serious"')
    end = new.index("\n\n", start)
    new = new[:start] + new[end + 2 :]
    result = RulebookDiff("2026.2", "2026.3", TODAY)
    compare_rules(parse_rulebook(MODEL), parse_rulebook(new), result)
    assert result.consequences_changed == ["subsidy_restriction_defaulter"]
    assert result.consequences_removed == ["licence_review_serious"]
    assert result.consequences_added == []


def test_a_loaded_version_is_never_changed(factory: sessionmaker[Session]) -> None:
    from trustreg.errors import Conflict
    from trustreg.services import registry

    changed = parse_rulebook(MODEL.replace("points = -5\n", "points = -6\n", 1))
    assert changed.source_text != MODEL
    with pytest.raises(Conflict, match="already loaded with other content"):
        registry.load_rulebook(factory, changed, "test")
    newer = parse_rulebook(
        harsher().replace('effective_from = "2026-01-01"', 'effective_from = "2027-01-01"', 1)
    )
    assert registry.load_rulebook(factory, newer, "test") is True
    assert registry.load_rulebook(factory, newer, "test") is False
    versions = [v for v, _effective, _loaded in registry.rulebook_versions(factory)]
    assert versions == ["2026.2", "2026.3"]
