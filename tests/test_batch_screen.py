"""Batch screening: DuckDB and Spark give the online index's answers, file for file.

One registry of a few hundred demo subjects (organisations and persons, Han and Latin
names, on SQLite and PostgreSQL), one query file of exact names, altered names,
numbers and strangers; the online screening (``services.screening_file`` over the live
index) writes the reference file, and each engine must write the same bytes.
"""

from __future__ import annotations

import csv
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.test_batch_rate import engine_of, populated  # noqa: F401 - the shared fixture
from trustreg.batch import screen_engines
from trustreg.batch.rate import Compute
from trustreg.batch.screen import BatchScreen, screen_batch
from trustreg.batch.snapshot_files import write_snapshot
from trustreg.batch.steps import duck
from trustreg.config import PLACEHOLDER_IDENTIFIER_KEY
from trustreg.core.identifiers import key_check_value
from trustreg.core.matching import Thresholds
from trustreg.errors import ValidationError
from trustreg.services.screening import RegistryIndex
from trustreg.services.screening_file import SCREEN_COLUMNS, ScreenOptions, screen_file
from trustreg.store.db import transaction
from trustreg.store.keys import IDENTIFIER, key_check_of, store_key_check
from trustreg.store.models import AuditEntry, Identifier, Subject

THRESHOLDS = Thresholds()
KEY = PLACEHOLDER_IDENTIFIER_KEY


def queries(factory: sessionmaker[Session], path: Path) -> Path:
    """Exact and altered names of registry subjects, numbers, strangers, bad rows."""
    rng = random.Random(11)
    with transaction(factory) as session:
        subjects = session.execute(
            select(Subject.id, Subject.display_name, Subject.kind).order_by(Subject.id)
        ).all()
        uscc = session.scalars(select(Identifier.value).where(Identifier.scheme == "uscc")).all()
    rows: list[dict[str, str]] = []
    for n, (_sid, name, kind) in enumerate(subjects[::3]):
        altered = name if n % 2 else name[: len(name) // 2] + name[len(name) // 2 + 1 :]
        rows.append({"ref": f"q{n}", "name": altered, "kind": kind})
    for n, value in enumerate(uscc[:10]):
        rows.append({"ref": f"id{n}", "name": "x", "id_scheme": "uscc", "id_value": value})
    for n in range(20):
        word = "".join(rng.choice("bcdfghklmnprstvz") + rng.choice("aeiou") for _ in range(4))
        rows.append({"ref": f"s{n}", "name": f"{word.title()} Trading Ltd"})
    rows += [{"ref": "bad1", "name": ""}, {"ref": "", "name": "No Ref Ltd"}]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=SCREEN_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def online(
    factory: sessionmaker[Session], source: Path, target: Path, options: ScreenOptions
) -> None:
    index = RegistryIndex(factory, THRESHOLDS, workers=1, identifier_key=KEY)
    screen_file(index, source, target, options)


def batch(
    factory: sessionmaker[Session],
    source: Path,
    target: Path,
    options: ScreenOptions,
    compute: Compute,
    snapshot: Path | None = None,
) -> None:
    screen_batch(factory, BatchScreen(options, THRESHOLDS, KEY, compute, snapshot), source, target)


def audit_count(factory: sessionmaker[Session]) -> int:
    with transaction(factory) as session:
        return int(session.scalar(select(func.count(AuditEntry.id))) or 0)


@pytest.mark.parametrize("purpose", [None, "contract"])
def test_engines_write_the_online_answers(
    populated: sessionmaker[Session],  # noqa: F811 - the shared fixture
    tmp_path: Path,
    purpose: str | None,
) -> None:
    source = queries(populated, tmp_path / "in.csv")
    options = ScreenOptions(top=3, purpose=purpose, workers=2)
    online(populated, source, tmp_path / "online.csv", options)
    expected = (tmp_path / "online.csv").read_bytes()
    rejects = (tmp_path / "online.rejects.csv").read_bytes()
    logged = audit_count(populated)
    batch(populated, source, tmp_path / "duckdb.csv", options, Compute("duckdb"))
    assert (tmp_path / "duckdb.csv").read_bytes() == expected
    assert (tmp_path / "duckdb.rejects.csv").read_bytes() == rejects
    persons_shown = audit_count(populated) - logged
    # Every person a result shows is in the audit, as online (none without a purpose).
    assert (persons_shown > 0) == (purpose is not None)
    batch(populated, source, tmp_path / "spark.csv", options, Compute("spark"))
    assert (tmp_path / "spark.csv").read_bytes() == expected
    answered = expected.decode().splitlines()
    assert any(",match," in line for line in answered), "some queries match"
    assert any(",no_match," in line for line in answered), "some find no one"


def test_a_snapshot_is_screened_as_the_store(
    populated: sessionmaker[Session],  # noqa: F811 - the shared fixture
    tmp_path: Path,
) -> None:
    source = queries(populated, tmp_path / "in.csv")
    options = ScreenOptions(top=2, workers=2)
    with transaction(populated) as session:
        if key_check_of(session, IDENTIFIER) is None:  # the fixture's store has none
            store_key_check(session, IDENTIFIER, key_check_value(KEY), datetime.now(UTC))
    snapshot = write_snapshot(engine_of(populated), tmp_path / "snap").folder
    batch(populated, source, tmp_path / "fresh.csv", options, Compute("duckdb"))
    batch(populated, source, tmp_path / "snap.csv", options, Compute("duckdb"), snapshot)
    assert (tmp_path / "snap.csv").read_bytes() == (tmp_path / "fresh.csv").read_bytes()
    other_key = BatchScreen(options, THRESHOLDS, "another key " * 4, Compute(), snapshot)
    with pytest.raises(ValidationError, match="another identifier key"):
        screen_batch(populated, other_key, source, tmp_path / "x.csv")
    assert not (tmp_path / "x.csv").exists()
    resumed = ScreenOptions(resume=True)
    with pytest.raises(ValidationError, match="--engine index"):
        screen_batch(populated, BatchScreen(resumed, THRESHOLDS, KEY), source, tmp_path / "y.csv")


def test_duckdb_slices_the_shared_step_with_the_same_answers(
    populated: sessionmaker[Session],  # noqa: F811 - the shared fixture
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = queries(populated, tmp_path / "in.csv")
    options = ScreenOptions(top=3, purpose="contract", workers=2)
    batch(populated, source, tmp_path / "whole.csv", options, Compute("duckdb"))
    steps: list[str] = []

    def recorded(con: Any, step: str, sql: str, params: Any = None) -> Any:
        steps.append(step)
        return duck(con, step, sql, params)

    # A few rows a slice, as 100,000 queries over 10 million subjects have at 20 million.
    monkeypatch.setattr(screen_engines, "SLICE_ROWS", 50)
    monkeypatch.setattr(screen_engines, "duck", recorded)
    batch(populated, source, tmp_path / "sliced.csv", options, Compute("duckdb"))
    assert steps.count("shared slice") > 1, "the step ran in slices"
    assert (tmp_path / "sliced.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
