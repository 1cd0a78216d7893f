"""CLI usage errors and the generated CLI reference."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.feeds import TRUSTREG, cli_env
from trustreg.cli_reference import reference
from trustreg.config import REPO_ROOT


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["import", "records"], "Missing argument"),
        (["nosuch"], "No such command"),
        (["authorities", "token", "x", "--days", "0"], "--days"),
    ],
)
def test_wrong_usage_prints_usage_not_a_traceback(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = subprocess.run(
        [str(TRUSTREG), *args],
        env=cli_env(tmp_path),
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert "Usage:" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_reference_is_current() -> None:
    text = (REPO_ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert text == reference(), "run: python -m trustreg.cli_reference > docs/cli.md"


def test_cli_reference_lists_every_command() -> None:
    text = reference()
    for command in (
        "import records",
        "import subjects",
        "subjects show",
        "rulebook check",
        "authorities add",
        "authorities list",
        "demo",
        "serve",
        "init",
    ):
        assert f"## `trustreg {command}`" in text
