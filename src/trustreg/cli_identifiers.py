"""``trustreg identifiers``: change the key under which identifiers are hashed.

The new key is read from ``TRUSTREG_NEW_IDENTIFIER_KEY`` or a prompt, never from the
command line, where other users of the machine could see it in the process list.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from trustreg.cli_common import open_registry, out, secret_from
from trustreg.config import Settings

NEW_KEY_ENV = "TRUSTREG_NEW_IDENTIFIER_KEY"

identifiers_app = typer.Typer(
    help="Manage how identifiers are held (the identifier key).", no_args_is_help=True
)


def _new_key() -> str:
    return secret_from(NEW_KEY_ENV, "new identifier key")


@identifiers_app.command("rekey")
def rekey(
    feeds: Annotated[
        list[Path],
        typer.Argument(help="Subjects or records feed files holding the persons' full numbers"),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check that every person is covered; change nothing")
    ] = False,
) -> None:
    """Hash every identifier again under a new key (read from
    TRUSTREG_NEW_IDENTIFIER_KEY or prompted), in one transaction.

    Run it with the servers stopped and the current key still configured; then set
    TRUSTREG_IDENTIFIER_KEY to the new key and start them again. Persons' numbers come
    from the feeds given: if any person is in none of them, nothing changes.
    """
    from trustreg.services import rekey as service

    settings = Settings()
    factory = open_registry(settings)  # also proves the current key is the store's
    report = service.rekey_identifiers(
        factory,
        settings.identifier_key,
        _new_key(),
        feeds,
        datetime.now(UTC),
        "cli",
        max_line_bytes=settings.import_max_line_bytes,
        dry_run=dry_run,
    )
    verb = "would move" if report.dry_run else "moved"
    out.print(
        f"{verb} {report.person_identifiers} person and {report.organisation_identifiers} "
        f"organisation identifiers to the new key ({report.feed_rows} feed rows read, "
        f"{report.feed_rows_unreadable} unreadable)",
        highlight=False,
    )
    if not report.dry_run:
        out.print("now set TRUSTREG_IDENTIFIER_KEY to the new key and restart", highlight=False)
