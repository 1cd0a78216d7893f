"""``trustreg audit``: check the audit log's hash chain and read its entries."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from trustreg.cli_common import err, open_registry, out
from trustreg.config import Settings

# Exit codes of `audit verify` (the usual ones otherwise: 2 wrong usage).
INTACT, BROKEN = 0, 1

audit_app = typer.Typer(help="Check and read the tamper-evident audit log.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(
    expect_head: Annotated[
        str | None,
        typer.Option(help="A head hash printed by an earlier run; it must still be in the chain"),
    ] = None,
) -> None:
    """Recompute the audit log's hash chain: exit 0 and one "intact" line, or exit 1
    naming the first entry that was altered, removed or reordered.

    Keep the head hash it prints somewhere else (a cron log) and pass it back with
    ``--expect-head``: that also shows entries removed from the end of the log, or
    a chain rewritten from some entry on.
    """
    from trustreg.services import audit

    report = audit.verify(open_registry(Settings()), expect_head)
    if report.intact:
        out.print(report.summary(), highlight=False)
        raise typer.Exit(INTACT)
    err.print(f"[red]error:[/red] {report.summary()}", highlight=False)
    raise typer.Exit(BROKEN)


@audit_app.command("show")
def audit_show(
    target: Annotated[
        str | None, typer.Option(help="Only entries about this, e.g. subject:42 or batch:7")
    ] = None,
    action: Annotated[
        str | None, typer.Option(help="Only this action, e.g. person_check or import.done")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="How many entries")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Show the newest audit entries first."""
    from trustreg.services import audit

    entries = audit.recent_entries(open_registry(Settings()), limit, target, action)
    if as_json:
        sys.stdout.write(json.dumps(entries, ensure_ascii=False, indent=2) + "\n")
        return
    if not entries:
        out.print("no audit entries")
        return
    # One line per entry (a table squeezes the detail to nothing in a narrow terminal);
    # no markup: a detail may hold brackets.
    for e in entries:
        detail = json.dumps(e["detail"], ensure_ascii=False, sort_keys=True)
        shown = detail if len(detail) <= 160 else detail[:159] + "…"
        line = f"{e['id']}  {e['at']}  {e['actor']}  {e['action']}  {e['target']}  {shown}"
        out.print(line, markup=False, highlight=False)
