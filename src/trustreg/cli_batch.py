"""Batch commands: ``trustreg snapshot`` and ``trustreg rate --all`` on DuckDB or Spark."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from trustreg.cli_common import open_registry, out, parse_day
from trustreg.config import Settings
from trustreg.errors import ValidationError

if TYPE_CHECKING:  # the batch modules load DuckDB and PyArrow: only when run
    from trustreg.batch.rate import Compute, RateSummary

EngineOption = Annotated[
    str, typer.Option(help="duckdb (this machine's cores) or spark (local, or a cluster)")
]
SparkMasterOption = Annotated[
    str | None,
    typer.Option(help="Spark master URL, e.g. spark://host:7077 (default: local[workers])"),
]
WorkDirOption = Annotated[
    Path | None,
    typer.Option(help="Folder for the job's files (on a cluster: one every worker reads)"),
]


def snapshot_command(
    output: Annotated[Path, typer.Option("-o", "--output", help="The snapshot folder")],
    workers: Annotated[int | None, typer.Option(min=1, help="Readers (default: cores)")] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing snapshot folder")] = False,
) -> None:
    """Write the registry as Parquet (subjects, names, identifiers, records, assessments)."""
    from trustreg.batch.snapshot_files import write_snapshot

    factory = open_registry(Settings())
    summary = write_snapshot(factory.kw["bind"], output, workers, force)
    rows = ", ".join(f"{name} {count:,}" for name, count in summary.rows.items())
    out.print(f"snapshot {summary.folder} in {summary.seconds:.1f} s: {rows}", highlight=False)


def rate_command(
    everyone: Annotated[bool, typer.Option("--all", help="Re-evaluate every subject")] = False,
    as_of: Annotated[str | None, typer.Option(help="Evaluate on this day (default: today)")] = None,
    rulebook: Annotated[
        str | None, typer.Option(help="Rulebook version (default: the one in force then)")
    ] = None,
    output: Annotated[
        Path | None, typer.Option(help="Also write subject_id, points, grade, lists as Parquet")
    ] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Processes (default: cores)")] = None,
    engine: EngineOption = "duckdb",
    snapshot: Annotated[
        Path | None,
        typer.Option(help="Rate this snapshot folder into --output; the store is untouched"),
    ] = None,
    spark_master: SparkMasterOption = None,
    work_dir: WorkDirOption = None,
) -> None:
    """Re-evaluate the whole registry in a batch over a snapshot (DuckDB or Spark)."""
    from trustreg.batch.rate import Compute, rate_snapshot
    from trustreg.batch.snapshot_files import open_snapshot

    if not everyone:
        raise ValidationError("--all", "say --all: the batch re-evaluates every subject")
    compute = Compute(engine, spark_master, work_dir)
    day = parse_day(as_of, "--as-of") or datetime.now(UTC).date()
    summary: RateSummary
    if snapshot is not None:
        if output is None:
            raise ValidationError("--output", "rating a snapshot stores nothing: say where to")
        files = open_snapshot(snapshot)
        chosen = files.rulebook(day, rulebook)
        summary = rate_snapshot(files, chosen, day, output, workers, compute=compute)
    else:
        summary = _rate_store(day, rulebook, output, workers, compute)
    _print_summary(summary, output)


def _rate_store(
    day: date, version: str | None, output: Path | None, workers: int | None, compute: Compute
) -> RateSummary:
    """Snapshot the store, evaluate, and store the results."""
    from trustreg.batch.rate import rate_all
    from trustreg.store import queries
    from trustreg.store.db import transaction

    factory = open_registry(Settings())
    with transaction(factory) as session:
        chosen = (
            queries.rulebook_version(session, version)
            if version
            else queries.rulebook_in_force(session, day)
        )
    return rate_all(factory.kw["bind"], chosen, day, output, workers, compute=compute)


def _print_summary(summary: RateSummary, output: Path | None) -> None:
    out.print(
        f"rated {summary.subjects:,} subjects ({summary.records:,} records) as of "
        f"{summary.as_of} under rulebook {summary.rulebook_version} in {summary.seconds:.1f} s",
        highlight=False,
    )
    out.print(
        "grades: " + ", ".join(f"{g} {n:,}" for g, n in sorted(summary.grades.items())),
        highlight=False,
    )
    if summary.lists:
        out.print(
            "lists: " + ", ".join(f"{c} {n:,}" for c, n in sorted(summary.lists.items())),
            highlight=False,
        )
    if output:
        out.print(f"written: {output}")
