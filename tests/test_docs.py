"""Documentation that must stay in step with the code."""

from __future__ import annotations

from trustreg.config import REPO_ROOT, Settings


def test_every_setting_is_documented() -> None:
    text = (REPO_ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    for name in Settings.model_fields:
        assert f"`TRUSTREG_{name.upper()}`" in text, f"TRUSTREG_{name.upper()} is not documented"


def test_every_setting_has_a_reason() -> None:
    for name, field in Settings.model_fields.items():
        assert field.description, f"setting {name} has no description"


def test_readme_starts_with_the_two_commands() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    head = readme[:1500]
    assert "make demo" in head
    assert "make test" in head
