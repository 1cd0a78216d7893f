"""Re-rating on Apache Spark: the core's rules, grouped by subject, on any cluster.

Spark reads the snapshot's record versions, groups them by subject (``collect_list``
in the JVM, no Python per row) and hands the groups to Python in Arrow batches
(``mapInArrow``), where every subject goes through the same functions as on DuckDB:
``core.rating.facts_as_known`` for its records' facts on the day, then
``batch.worker.assess`` (``core.rating.evaluate`` and ``schedule``). Subjects without
records are joined in and get the starting points. Nothing of a rule is written again
for Spark: what differs from the DuckDB engine is only who groups and who runs.

The results (``RESULT_COLUMNS``) go to a folder of Parquet files, which ``batch.rate``
then tallies, writes to ``--output`` and stores, exactly as it does its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]

from trustreg.batch.spark import spark_session
from trustreg.batch.worker import assess
from trustreg.core.rating import Assessment, RecordVersion, facts_as_known
from trustreg.core.rulebook import parse_rulebook_cached

# The record version fields the job carries, in RecordVersion's terms.
VERSION_FIELDS = (
    "record_id",
    "entry_id",
    "changed_at",
    "record_type",
    "effective_from",
    "status",
    "status_since",
    "reference",
    "published_from",
)
RESULT_SCHEMA = pa.schema(
    [
        ("subject_id", pa.int64()),
        ("points", pa.int64()),
        ("grade", pa.string()),
        ("lists", pa.list_(pa.string())),
        ("explanation", pa.string()),  # JSON, as stored
        ("next_change", pa.date32()),
        ("memberships", pa.string()),  # JSON: [[list, entered_on, scheduled_exit, [ids]]]
    ]
)
RESULT_DDL = (
    "subject_id long, points long, grade string, lists array<string>, explanation string, "
    "next_change date, memberships string"
)


def rate_on_spark(
    versions: Path,
    subjects: Path,
    rulebook_text: str,
    as_of: date,
    results: Path,
    master: str | None = None,
    cores: int | None = None,
) -> None:
    """Evaluate every subject of the snapshot on Spark; write the results to ``results``.

    ``versions`` and ``subjects`` are the snapshot's folders (paths every Spark worker
    can read); ``master`` a Spark master URL (default: local on ``cores`` cores).
    """
    from pyspark.sql import functions as F  # noqa: N812 - Spark's own idiom

    with spark_session(master, cores) as spark:
        grouped = (
            spark.read.parquet(str(versions))
            .groupBy("subject_id")
            .agg(F.collect_list(F.struct(*VERSION_FIELDS)).alias("versions"))
        )
        everyone = spark.read.parquet(str(subjects)).select("subject_id")
        joined = everyone.join(grouped, "subject_id", "left")
        evaluated = joined.mapInArrow(partial(evaluate_batches, rulebook_text, as_of), RESULT_DDL)
        evaluated.write.mode("overwrite").parquet(str(results))


def evaluate_batches(rulebook_text: str, as_of: date, batches: Iterator[Any]) -> Iterator[Any]:
    """In a Spark Python worker: each Arrow batch of (subject_id, versions) evaluated."""
    rulebook = parse_rulebook_cached(rulebook_text)
    for batch in batches:
        columns: dict[str, list[Any]] = {name: [] for name in RESULT_SCHEMA.names}
        for subject_id, versions in zip(
            batch.column("subject_id").to_pylist(),
            batch.column("versions").to_pylist(),
            strict=True,
        ):
            facts = facts_as_known([_version(v) for v in versions or ()], as_of)
            facts.sort(key=lambda fact: fact.id)  # as the DuckDB engine reads them
            assessment, next_day = assess(subject_id, facts, rulebook, as_of)
            columns["subject_id"].append(subject_id)
            columns["points"].append(assessment.points)
            columns["grade"].append(assessment.grade)
            columns["lists"].append([m.list_code for m in assessment.lists])
            columns["explanation"].append(json.dumps(assessment.to_dict(), ensure_ascii=False))
            columns["next_change"].append(next_day)
            columns["memberships"].append(_memberships(assessment))
        yield pa.RecordBatch.from_pydict(columns, schema=RESULT_SCHEMA)


def _memberships(assessment: Assessment) -> str:
    """The lists held, as ``batch.worker`` reads them back to store."""
    held = [
        (m.list_code, m.entered_on.isoformat(), m.scheduled_exit.isoformat(), list(m.record_ids))
        for m in assessment.lists
    ]
    return json.dumps(held)


def _version(row: dict[str, Any]) -> RecordVersion:
    changed: datetime = row["changed_at"]
    return RecordVersion(
        record_id=row["record_id"],
        entry_id=row["entry_id"],
        # Parquet keeps the UTC time without its zone: it is put back.
        recorded_at=changed if changed.tzinfo else changed.replace(tzinfo=UTC),
        record_type=row["record_type"],
        effective_from=row["effective_from"],
        status=row["status"],
        status_since=row["status_since"],
        reference=row["reference"] or "",
        published_from=row["published_from"],
    )
