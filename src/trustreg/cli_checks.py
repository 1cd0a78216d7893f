"""``trustreg eligibility``: may a decision be taken in a subject's favour?"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from trustreg.cli_common import open_registry, out, parse_day, parse_moment
from trustreg.config import Settings
from trustreg.core.vocabulary import PURPOSES
from trustreg.errors import ValidationError
from trustreg.services import eligibility, tender_check


def eligibility_command(
    decision: Annotated[
        str,
        typer.Option(
            help="The decision: public_procurement, public_subsidy, licence, "
            "simplified_procedure, ... (as the rulebook names them)"
        ),
    ],
    subject: Annotated[
        str | None,
        typer.Argument(help="SCHEME:VALUE, e.g. uscc:91110000802100433B (or give --file)"),
    ] = None,
    on: Annotated[str | None, typer.Option(help="Day of the decision (default: today)")] = None,
    known_at: Annotated[
        str | None, typer.Option(help="As the registry knew it then (default: now)")
    ] = None,
    purpose: Annotated[
        str | None,
        typer.Option(help=f"Required for persons (logged): {', '.join(PURPOSES)}"),
    ] = None,
    file: Annotated[
        Path | None, typer.Option(help="A CSV of bidders with an 'identifier' column")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(help="Answers for --file (.csv or .jsonl; default: NAME.answers.csv)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Answer eligible, restricted or excluded for a decision, with every consequence,
    its list entry, records, legal basis and end date; or answer a file of bidders
    (exit 1 if some rows could not be answered)."""
    if (subject is None) == (file is None):
        raise ValidationError("SUBJECT", "give one subject, or --file with bidders, not both")
    query = eligibility.EligibilityQuery(
        decision,
        parse_day(on, "--on"),
        parse_moment(known_at, "--known-at"),
        purpose,
        actor="cli",
    )
    settings = Settings()
    factory = open_registry(settings)
    key = settings.identifier_key
    if file is not None:
        target = output or file.with_name(file.stem + ".answers.csv")
        report = tender_check.check_file(factory, file, target, query, identifier_key=key)
        out.print(
            f"{report.rows:,} bidders checked for {decision} in {report.seconds:.2f} s: "
            f"{report.eligible:,} eligible, {report.restricted:,} restricted, "
            f"{report.excluded:,} excluded, {report.errors:,} not answered → {target}",
            highlight=False,
        )
        raise typer.Exit(report.exit_code)
    assert subject is not None
    answer = eligibility.check(factory, subject, query, identifier_key=key)
    if as_json:
        sys.stdout.write(json.dumps(answer, ensure_ascii=False, indent=2) + "\n")
        return
    _print_answer(answer)


def _print_answer(answer: dict[str, Any]) -> None:
    colour = {"eligible": "green", "restricted": "yellow", "excluded": "red"}[answer["answer"]]
    out.print(
        f"{answer['identifier']} {answer['name']}: [bold {colour}]{answer['answer']}[/] for "
        f"{answer['decision']} on {answer['on']} (rulebook {answer['rulebook_version']})",
        highlight=False,
    )
    if answer["answer"] != "eligible":
        out.print(f"eligible again from {answer['eligible_from']}", highlight=False)
    for c in answer["consequences"]:
        out.print(
            f"  {c['effect']}: {c['title_en']} ({c['title_zh']}), ends on {c['ends_on']}\n"
            f"    legal basis: {c['legal_basis']}\n"
            f"    list {c['list']} since {c['listed_on']}, scheduled exit {c['listing_exit']}",
            highlight=False,
        )
        for r in c["records"]:
            out.print(
                f"    record {r['id']}: {r.get('record_type')} {r.get('authority')} "
                f"{r.get('reference')}, effective {r.get('effective_from')}",
                highlight=False,
            )
    if not answer["consequences"]:
        out.print("no consequence applies", highlight=False)
