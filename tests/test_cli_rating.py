"""The rating commands as a user runs them: subjects show, maintain, rate --all, diff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from tests.feeds import COURT, record_row, run_cli, uscc, write_csv
from trustreg.config import REPO_ROOT

MODEL = REPO_ROOT / "rulebooks" / "model.toml"
TODAY = datetime.now(UTC).date()


def test_rating_commands(tmp_path: Path) -> None:
    added = run_cli(tmp_path, "authorities", "add", COURT, "--kind", "court", "--name", "法院")
    assert added.returncode == 0, added.stderr
    recent = (TODAY - timedelta(days=20)).isoformat()
    old = (TODAY - timedelta(days=900)).isoformat()
    rows = [
        record_row(1, subject=1, decided_on=recent, effective_from=recent),
        record_row(2, subject=2, decided_on=old, effective_from=old),
    ]
    imported = run_cli(tmp_path, "import", "records", write_csv(tmp_path / "r.csv", rows))
    assert imported.returncode == 0, imported.stderr

    shown = run_cli(tmp_path, "subjects", "show", f"uscc:{uscc(1)}")
    assert "grade B, 900 points" in shown.stdout
    assert "on list dishonest_defaulters" in shown.stdout

    maintained = run_cli(tmp_path, "maintain")
    assert "0 records suspended (dispute overdue), 1 subjects re-evaluated, 1 records expired" in (
        maintained.stdout
    )
    again = run_cli(tmp_path, "maintain")
    assert "0 subjects re-evaluated, 0 records expired" in again.stdout

    parquet = tmp_path / "grades.parquet"
    rated = run_cli(tmp_path, "rate", "--all", "--output", parquet)
    assert rated.returncode == 0, rated.stderr
    assert "rated 2 subjects" in rated.stdout
    rows_out = duckdb.sql(
        f"SELECT subject_id, points, grade FROM '{parquet}' ORDER BY 1"
    ).fetchall()
    assert [(points, grade) for _id, points, grade in rows_out] == [(900, "B"), (1000, "A")]

    unchanged = run_cli(tmp_path, "rulebook", "diff", MODEL, MODEL, "--as-of", TODAY.isoformat())
    assert unchanged.returncode == 0, unchanged.stderr
    assert "2 subjects, 0 change grade, 0 change lists" in unchanged.stdout

    refused = run_cli(tmp_path, "rate")
    assert refused.returncode == 1
    assert "--all" in refused.stderr
