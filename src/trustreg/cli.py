"""The ``trustreg`` command: a thin shell over the services.

Domain errors become one line on stderr and the exit code their class carries
(``trustreg.errors``): 1 invalid input or rejected rows, 2 unreadable file,
3 not found, 4 conflict, 5 not allowed.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError as PydanticValidationError
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from trustreg import logs
from trustreg.cli_accounts import accounts_app
from trustreg.cli_audit import audit_app
from trustreg.cli_backup import backup_command, restore_command
from trustreg.cli_batch import rate_command, snapshot_command
from trustreg.cli_checks import eligibility_command
from trustreg.cli_common import err, open_registry, out, parse_day
from trustreg.cli_export import export_command
from trustreg.cli_identifiers import identifiers_app
from trustreg.cli_screening import check_command, screen_command
from trustreg.cli_watch import watch_app
from trustreg.config import Settings
from trustreg.errors import TrustRegError
from trustreg.services import ingest, registry, subjects

app = typer.Typer(
    help="Trust Registry: a public credit-information registry.", no_args_is_help=True
)
rulebook_app = typer.Typer(help="Check and load rulebooks.", no_args_is_help=True)
authorities_app = typer.Typer(
    help="Manage the authorities that submit records.", no_args_is_help=True
)
import_app = typer.Typer(help="Import the subjects and records feeds.", no_args_is_help=True)
subjects_app = typer.Typer(help="Look subjects up.", no_args_is_help=True)
app.add_typer(rulebook_app, name="rulebook")
app.add_typer(authorities_app, name="authorities")
app.add_typer(import_app, name="import")
app.add_typer(subjects_app, name="subjects")
app.add_typer(accounts_app, name="accounts")
app.add_typer(audit_app, name="audit")
app.add_typer(watch_app, name="watch")
app.add_typer(identifiers_app, name="identifiers")


@app.command()
def init() -> None:
    """Create or upgrade the store and load the configured rulebook."""
    settings = Settings()
    open_registry(settings)
    out.print(f"store ready: {settings.sqlalchemy_url}")


@rulebook_app.command("check")
def rulebook_check(file: Path) -> None:
    """Validate a rulebook file; exits non-zero with the reason if it is refused."""
    rulebook = registry.read_rulebook(file)
    out.print(
        f"{file}: rulebook {rulebook.version} (effective {rulebook.effective_from}) is valid, "
        f"{len(rulebook.record_types)} record types"
    )


@rulebook_app.command("load")
def rulebook_load(file: Path) -> None:
    """Load a new rulebook version; it applies from its effective date, older ones stay."""
    rulebook = registry.read_rulebook(file)
    loaded = registry.load_rulebook(open_registry(Settings()), rulebook, "cli")
    state = "loaded" if loaded else "already loaded"
    out.print(f"rulebook {rulebook.version} (effective {rulebook.effective_from}) {state}")


@rulebook_app.command("versions")
def rulebook_versions() -> None:
    """List every loaded rulebook version with its effective date."""
    table = Table("version", "effective from", "loaded at")
    for version, effective, loaded in registry.rulebook_versions(open_registry(Settings())):
        table.add_row(version, effective.isoformat(), loaded.isoformat(timespec="seconds"))
    out.print(table)


@rulebook_app.command("diff")
def rulebook_diff(
    old: Annotated[Path, typer.Argument(help="The rulebook in force (TOML file)")],
    new: Annotated[Path, typer.Argument(help="The proposed rulebook (TOML file)")],
    as_of: Annotated[
        str | None, typer.Option(help="Evaluate on this day (default: NEW's effective date)")
    ] = None,
) -> None:
    """Show how many subjects a rulebook change would move to another grade or list."""
    from trustreg.services.rulebook_diff import diff

    day = parse_day(as_of, "--as-of")
    result = diff(
        open_registry(Settings()), registry.read_rulebook(old), registry.read_rulebook(new), day
    )
    out.print(
        f"rulebook {result.old_version} -> {result.new_version}, as of {result.as_of}: "
        f"{result.subjects} subjects, {result.grade_changes} change grade, "
        f"{result.list_changes} change lists",
        highlight=False,
    )
    for label, codes in (
        ("record types added", result.rules_added),
        ("record types removed", result.rules_removed),
        ("record types changed", result.rules_changed),
        ("consequences added", result.consequences_added),
        ("consequences removed", result.consequences_removed),
        ("consequences changed", result.consequences_changed),
    ):
        if codes:
            out.print(f"  {label}: {', '.join(codes)}", highlight=False)
    for label, examples in (("grade", result.grade_examples), ("lists", result.list_examples)):
        for change in examples:
            out.print(
                f"  e.g. subject {change.subject} {label}: {change.old} -> {change.new}",
                highlight=False,
            )


@authorities_app.command("add")
def authorities_add(
    code: str,
    kind: Annotated[str, typer.Option(help="court, tax, market_regulator or other")],
    name: Annotated[str, typer.Option(help="The authority's official name")],
    record_types: Annotated[
        str | None, typer.Option(help="Comma-separated codes; default: all its kind may submit")
    ] = None,
) -> None:
    """Register an authority that may submit records."""
    chosen = [c.strip() for c in record_types.split(",") if c.strip()] if record_types else None
    view = registry.add_authority(open_registry(Settings()), code, kind, name, chosen)
    out.print(f"added {view.code} ({view.kind}): may submit {', '.join(view.record_types)}")


@authorities_app.command("list")
def authorities_list() -> None:
    """List the authorities and the record types each may submit."""
    table = Table("code", "kind", "name", "record types")
    for view in registry.list_authorities(open_registry(Settings())):
        table.add_row(view.code, view.kind, view.name, ", ".join(view.record_types))
    out.print(table)


@authorities_app.command("token")
def authorities_token(
    code: str,
    days: Annotated[int, typer.Option(min=1, max=366, help="Days until the token expires")] = 90,
) -> None:
    """Issue an API token for an authority (shown once; kept only as a hash)."""
    settings = Settings()
    out.print(registry.issue_token(open_registry(settings), settings.secret_key, code, days))


def _import(
    feed: str,
    file: Path,
    file_format: str | None,
    encoding: str | None,
    rejects: Path | None,
    progress_lines: bool,
) -> None:
    settings = Settings()
    factory = open_registry(settings)
    options = ingest.ImportOptions(
        identifier_key=settings.identifier_key,
        file_format=file_format,
        encoding=encoding,
        rejects_path=rejects,
        actor="cli",
        chunk_rows=settings.import_chunk_rows,
        max_line_bytes=settings.import_max_line_bytes,
        max_name_chars=settings.max_name_chars,
    )
    size = file.stat().st_size if file.is_file() else 0
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=True, disable=progress_lines) as progress:
        task = progress.add_task(f"importing {file.name}", total=size)

        def committed(done: int, so_far: ingest.ImportReport) -> None:
            progress.update(task, completed=done)
            if progress_lines:  # printed after the commit: these rows are stored
                line = (
                    f"batch {so_far.batch_id}: {so_far.rows_read} rows read, committed: "
                    f"{so_far.created} created, {so_far.updated} updated, "
                    f"{so_far.unchanged} unchanged, {so_far.rejected} rejected"
                )
                print(line, file=sys.stderr, flush=True)  # whole and unwrapped, at once

        report = ingest.import_file(factory, feed, file, options, committed)
    out.print(
        f"batch {report.batch_id}: {report.rows_read} rows read ({report.file_format}, "
        f"{report.encoding}): {report.created} created, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.rejected} rejected"
    )
    if report.rejects_path:
        err.print(f"rejected rows and reasons: {report.rejects_path}")
    raise typer.Exit(report.exit_code)


FormatOption = Annotated[
    str | None, typer.Option("--format", help="csv or jsonl (default: by name)")
]
EncodingOption = Annotated[str | None, typer.Option(help="utf-8 or gb18030 (default: detected)")]
RejectsOption = Annotated[
    Path | None, typer.Option(help="Rejection report (default: NAME.rejects.csv beside the file)")
]
ProgressLinesOption = Annotated[
    bool,
    typer.Option(
        "--progress-lines",
        help="Instead of the progress bar, a line on stderr after each committed chunk "
        "(for logs: the rows it counts are stored, even if the import is then killed)",
    ),
]


@import_app.command("subjects")
def import_subjects(
    file: Path,
    file_format: FormatOption = None,
    encoding: EncodingOption = None,
    rejects: RejectsOption = None,
    progress_lines: ProgressLinesOption = False,
) -> None:
    """Import the business-register feed (CSV or JSON Lines)."""
    _import("subjects", file, file_format, encoding, rejects, progress_lines)


@import_app.command("records")
def import_records(
    file: Path,
    file_format: FormatOption = None,
    encoding: EncodingOption = None,
    rejects: RejectsOption = None,
    progress_lines: ProgressLinesOption = False,
) -> None:
    """Import credit records submitted by authorities (CSV or JSON Lines)."""
    _import("records", file, file_format, encoding, rejects, progress_lines)


@subjects_app.command("show")
def subjects_show(
    identifier: Annotated[str, typer.Argument(help="SCHEME:VALUE, e.g. uscc:91110000802100433B")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Show a subject with its identifiers, names and records."""
    settings = Settings()
    view = subjects.find_by_identifier(
        open_registry(settings), identifier, masked=False, identifier_key=settings.identifier_key
    )
    if as_json:
        sys.stdout.write(json.dumps(view, ensure_ascii=False, indent=2) + "\n")
        return
    out.print(f"[bold]{view['name']}[/bold]  ({view['kind']}, id {view['id']})")
    out.print("identifiers: " + ", ".join(view["identifiers"]))
    others = [f"{n['name']} ({n['kind']})" for n in view["names"] if n["kind"] != "original"]
    if others:
        out.print("other names: " + "; ".join(others))
    _print_assessment(view["assessment"])
    table = Table("type", "authority", "reference", "effective", "amount", "status")
    for r in view["records"]:
        amount = f"{r['amount']} {r['currency']}" if r["amount"] else ""
        table.add_row(
            r["record_type"],
            r["authority"],
            r["reference"],
            r["effective_from"],
            amount,
            r["status"],
        )
    out.print(table if view["records"] else "no records")


def _print_assessment(assessment: dict[str, Any]) -> None:
    out.print(
        f"grade [bold]{assessment['grade']}[/bold], {assessment['points']} points "
        f"(as of {assessment['as_of']}, rulebook {assessment['rulebook_version']})"
    )
    for line in assessment["explanation"]:
        basis = f"  [dim]{line['legal_basis']}[/dim]" if line["legal_basis"] else ""
        out.print(f"  {line['points']:+6d}  {line['text']}{basis}", highlight=False)
    for entry in assessment["lists"]:
        out.print(
            f"  on list {entry['list']} ({entry.get('title_zh', '')}) since "
            f"{entry['entered_on']}, until {entry['scheduled_exit']}",
            highlight=False,
        )


@app.command()
def maintain() -> None:
    """Suspend records whose dispute is overdue, expire records past their publicity,
    end listings past their period, publish records whose notice ended, re-evaluate
    what changed today and delete personal data past its retention (idempotent; safe
    to run from cron)."""
    from trustreg.services.maintenance import run_daily

    daily = run_daily(open_registry(Settings()))
    report, purged = daily.maintained, daily.maintained.retention
    out.print(
        f"maintain: {daily.suspended} records suspended (dispute overdue), "
        f"{report.subjects} subjects re-evaluated, {report.expired} records expired, "
        f"{purged.records} person records and {purged.subjects} persons deleted (retention)"
        + ("; more are due: run again" if purged.more else "")
    )
    if daily.partitions.created:
        out.print(f"maintain: made the record partitions {', '.join(daily.partitions.created)}")
    if daily.partitions.refused:
        out.print(
            f"maintain: may not make the record partitions {', '.join(daily.partitions.refused)}"
            " (only the tables' owner may): run maintain as the owner role (docs/deploy.md)"
        )
    for year in daily.partitions.in_default:
        out.print(
            f"maintain: the records of {year} are in records_default (no partition of "
            'their own); see docs/deploy.md, "Partitions"'
        )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on")] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="Server processes (default: TRUSTREG_WEB_WORKERS, 1)"),
    ] = None,
    warm: Annotated[
        bool, typer.Option(help="Build the screening index before serving (always with 2+)")
    ] = False,
) -> None:
    """Serve the registry's web pages and API.

    With several workers, one parent builds the screening index and forks the workers,
    which share it; with one, the index is built on the first check unless ``--warm``.
    """
    from trustreg.web.server import run

    settings = Settings()
    open_registry(settings)
    count = workers or settings.web_workers
    run(settings, host or settings.host, port or settings.port, count, warm or count > 1)


@app.command()
def demo(
    subjects_count: Annotated[
        int, typer.Option("--subjects", min=10, help="How many subjects to generate")
    ] = 20_000,
    seed: Annotated[int, typer.Option(help="Seed: the same seed builds the same registry")] = 2026,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Build only")] = False,
    host: Annotated[str | None, typer.Option(help="Address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on")] = None,
) -> None:
    """Build a deterministic demo registry, then serve it."""
    from trustreg.services.demo_build import build_demo, demo_settings
    from trustreg.web.server import run

    settings = Settings()
    out.print(build_demo(settings, subjects_count, seed, err))
    if not no_serve:
        settings = demo_settings(settings)
        run(settings, host or settings.host, port or settings.port)


app.command("rate")(rate_command)
app.command("snapshot")(snapshot_command)
app.command("eligibility")(eligibility_command)
app.command("check")(check_command)
app.command("screen")(screen_command)
app.command("export")(export_command)
app.command("backup")(backup_command)
app.command("restore")(restore_command)


def main() -> None:
    """Entry point: run the app and turn domain errors into one line and an exit code.

    Wrong usage (unknown command, missing argument, bad option value) is Typer's: it
    prints the usage and exits 2.
    """
    # Settings are validated again by the command itself, which reports what is wrong.
    with contextlib.suppress(PydanticValidationError):
        logs.start_run(Settings())  # stderr, JSON in production; one id for this run
    try:
        app()
    except TrustRegError as exc:
        err.print(f"[red]error:[/red] {escape(exc.detail)}", highlight=False)
        sys.exit(exc.exit_code)
