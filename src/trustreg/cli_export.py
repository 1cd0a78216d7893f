"""``trustreg export``: write the open-data files and their manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trustreg.cli_common import open_registry, out
from trustreg.config import Settings

# The formats, named here so that `trustreg --help` need not import FollowTheMoney.
FORMATS = ("csv", "jsonl", "parquet", "ftm")


def export_command(
    file_format: Annotated[str, typer.Option("--format", help=f"One of {', '.join(FORMATS)}")],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Directory to write the files into")
    ],
) -> None:
    """Export the public lists, published records and their subjects as open data, with
    a manifest (row counts, SHA-256, rulebook version). Persons appear only where the
    rulebook makes their records public, and then masked."""
    from trustreg.services import export

    report = export.export(open_registry(Settings()), file_format, output)
    for f in report.files:
        out.print(f"{f.name}: {f.rows:,} rows, {f.bytes:,} bytes", highlight=False)
    out.print(
        f"exported ({report.file_format}, rulebook {report.rulebook_version}) to "
        f"{report.directory / 'manifest.json'}",
        highlight=False,
    )
