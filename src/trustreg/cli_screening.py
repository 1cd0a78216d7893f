"""``trustreg check`` and ``trustreg screen``: counterparty checks, one or a file."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from trustreg.cli_batch import SparkMasterOption, WorkDirOption
from trustreg.cli_common import err, open_registry, out
from trustreg.config import Settings
from trustreg.core.matching import Thresholds
from trustreg.core.vocabulary import PURPOSES
from trustreg.errors import ValidationError
from trustreg.services import screening
from trustreg.services.screening_file import ScreenOptions, ScreenReport, screen_file

PurposeOption = Annotated[
    str | None,
    typer.Option(help=f"Required to see persons (logged): {', '.join(PURPOSES)}"),
]


def _registry(settings: Settings) -> screening.RegistryIndex:
    thresholds = Thresholds(settings.match_threshold, settings.review_threshold)
    return screening.RegistryIndex(
        open_registry(settings),
        thresholds,
        workers=settings.screening_workers,
        identifier_key=settings.identifier_key,
    )


def check_command(
    name: Annotated[str, typer.Argument(help="The counterparty's name, in any script")],
    kind: Annotated[str | None, typer.Option(help="legal_entity, individual, ...")] = None,
    identifier: Annotated[
        str | None, typer.Option("--id", help="SCHEME:VALUE, looked up exactly")
    ] = None,
    country: Annotated[str | None, typer.Option(help="ISO country code")] = None,
    birth_date: Annotated[str | None, typer.Option(help="YYYY-MM-DD (persons)")] = None,
    address: Annotated[str | None, typer.Option(help="Address or region")] = None,
    top: Annotated[int, typer.Option(min=1, max=screening.MAX_TOP)] = 5,
    purpose: PurposeOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Check one counterparty: candidates with score, decision and the evidence."""
    query = screening.CheckQuery(name, kind, identifier, country, birth_date, address)
    answer = screening.check(_registry(Settings()), query, top, purpose, actor="cli")
    if as_json:
        sys.stdout.write(json.dumps(answer, ensure_ascii=False, indent=2) + "\n")
        return
    if not answer["candidates"]:
        out.print("no candidates")
    for rank, c in enumerate(answer["candidates"], start=1):
        lists = ", ".join(c["lists"]) or "no list"
        out.print(
            f"{rank}. {c['score']:.4f} {c['decision']}: {c['name']} ({c['matched_id']}, "
            f"subject {c['subject']}) grade {c['grade'] or '-'}, {lists}",
            highlight=False,
        )
        out.print(f"   {c['explanation']}", highlight=False)


def screen_command(
    source: Annotated[Path, typer.Argument(help="CSV or JSON Lines: ref,name,kind,...")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The result CSV")],
    top: Annotated[int, typer.Option(min=1, max=screening.MAX_TOP, help="Rows per query")] = 3,
    resume: Annotated[
        bool, typer.Option(help="Continue an interrupted run (--engine index)")
    ] = False,
    purpose: PurposeOption = None,
    file_format: Annotated[str | None, typer.Option("--format", help="csv or jsonl")] = None,
    encoding: Annotated[str | None, typer.Option(help="utf-8 or gb18030")] = None,
    engine: Annotated[
        str,
        typer.Option(
            help="duckdb or spark (a batch over a snapshot), or index (the live index, resumable)"
        ),
    ] = "duckdb",
    snapshot: Annotated[
        Path | None, typer.Option(help="Screen against this snapshot folder (default: a new one)")
    ] = None,
    spark_master: SparkMasterOption = None,
    work_dir: WorkDirOption = None,
) -> None:
    """Screen a file of counterparties against the registry (exit 1 if rows were
    rejected: see OUTPUT.rejects.csv)."""
    settings = Settings()
    options = ScreenOptions(
        top=top,
        resume=resume,
        purpose=purpose,
        actor="cli",
        workers=settings.screening_workers,
        file_format=file_format,
        encoding=encoding,
        max_line_bytes=settings.import_max_line_bytes,
    )
    if engine == "index":
        if snapshot or spark_master:
            raise ValidationError("--engine", "index screens the live store: no snapshot")
        report = _screen_on_index(settings, source, output, options)
    else:
        report = _screen_in_batch(
            settings, source, output, options, engine, snapshot, spark_master, work_dir
        )
    _print_report(report, output)


def _screen_on_index(
    settings: Settings, source: Path, output: Path, options: ScreenOptions
) -> ScreenReport:
    registry = _registry(settings)
    with err.status("building the screening index"):
        registry.current()
    size = source.stat().st_size if source.is_file() else 0
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn())
    with Progress(*columns, TimeRemainingColumn(), console=err, transient=True) as progress:
        task = progress.add_task(f"screening {source.name}", total=size)
        return screen_file(
            registry, source, output, options, lambda done: progress.update(task, completed=done)
        )


def _screen_in_batch(
    settings: Settings,
    source: Path,
    output: Path,
    options: ScreenOptions,
    engine: str,
    snapshot: Path | None,
    spark_master: str | None,
    work_dir: Path | None,
) -> ScreenReport:
    from trustreg.batch.rate import Compute
    from trustreg.batch.screen import BatchScreen, screen_batch

    job = BatchScreen(
        options,
        Thresholds(settings.match_threshold, settings.review_threshold),
        settings.identifier_key,
        Compute(engine, spark_master, work_dir),
        snapshot,
    )
    with err.status(f"screening {source.name} on {engine}"):
        return screen_batch(open_registry(settings), job, source, output)


def _print_report(report: ScreenReport, output: Path) -> None:
    resumed = f" (resumed after row {report.resumed_after})" if report.resumed_after else ""
    rate = report.rows / report.seconds if report.seconds else 0.0
    out.print(
        f"{report.rows:,} queries screened in {report.seconds:.1f} s ({rate:,.0f}/s){resumed}: "
        f"{report.matched:,} match, {report.review:,} review, {report.no_match:,} no match, "
        f"{report.rejected:,} rejected → {output}",
        highlight=False,
    )
    if report.rejects_path:
        err.print(f"rejected rows and reasons: {report.rejects_path}")
    raise typer.Exit(report.exit_code)
