"""``trustreg accounts``: create and manage accounts, their verification and tokens.

The operator runs these on the server. A password is read from a prompt (or from
``TRUSTREG_NEW_PASSWORD`` in scripts), never from the command line, where other users
of the machine could see it in the process list.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from trustreg.cli_common import open_registry, out, secret_from
from trustreg.config import Settings
from trustreg.services import accounts, subjects
from trustreg.services.clock import SystemClock

accounts_app = typer.Typer(
    help="Accounts: operators, authorities, checkers, representatives, reviewers.",
    no_args_is_help=True,
)
ACTOR = "cli"
PASSWORD_ENV = "TRUSTREG_NEW_PASSWORD"


def _password() -> str:
    return secret_from(PASSWORD_ENV, "password")


@accounts_app.command("create")
def create(
    username: str,
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(accounts.ROLES)}")],
    name: Annotated[str, typer.Option(help="Display name")] = "",
    organisation: Annotated[str, typer.Option(help="Organisation (checkers)")] = "",
    authority: Annotated[
        str | None, typer.Option(help="Authority code (authority accounts only)")
    ] = None,
) -> None:
    """Create an account; the password is prompted for (or read from
    TRUSTREG_NEW_PASSWORD). Checkers and representatives start unverified."""
    factory = open_registry(Settings())
    view = accounts.create_account(
        factory,
        username,
        _password(),
        role,
        SystemClock().now(),
        display_name=name,
        organisation=organisation,
        authority=authority,
    )
    state = "verified" if view.verified else "not yet verified"
    out.print(f"account {view.username} created: {view.role}, {state}")


@accounts_app.command("list")
def list_(
    role: Annotated[str | None, typer.Option(help="Only this role")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """List accounts with role, verification and linked subjects."""
    views = accounts.list_accounts(open_registry(Settings()), role)
    if as_json:
        out.print_json(json.dumps([v.to_dict() for v in views]))
        return
    table = Table("username", "role", "organisation", "authority", "verified", "subjects")
    now = SystemClock().now()
    for v in views:
        state = "disabled" if v.disabled else ("yes" if v.verified else "no")
        if v.locked(now):
            state += " (locked)"
        subjects_text = ", ".join(map(str, v.subjects))
        table.add_row(v.username, v.role, v.organisation, v.authority or "", state, subjects_text)
    out.print(table)


@accounts_app.command("verify")
def verify(username: str) -> None:
    """Mark a checker (or representative) as verified by the operator."""
    accounts.verify(open_registry(Settings()), username, SystemClock().now(), ACTOR)
    out.print(f"account {username} verified")


@accounts_app.command("link")
def link(
    username: str,
    subject: Annotated[str, typer.Argument(help="Subject id, or an identifier scheme:value")],
) -> None:
    """Let a representative speak for a subject, after its mandate was checked."""
    settings = Settings()
    factory = open_registry(settings)
    if subject.isdigit():
        subject_id = int(subject)
    else:
        key = settings.identifier_key
        view = subjects.find_by_identifier(factory, subject, masked=True, identifier_key=key)
        subject_id = int(view["id"])
    accounts.link_subject(factory, username, subject_id, SystemClock().now(), ACTOR)
    out.print(f"account {username} now represents subject {subject_id}")


@accounts_app.command("disable")
def disable(username: str) -> None:
    """Disable an account: its sessions and tokens stop working at once."""
    accounts.set_disabled(open_registry(Settings()), username, True, SystemClock().now(), ACTOR)
    out.print(f"account {username} disabled")


@accounts_app.command("enable")
def enable(username: str) -> None:
    """Enable a disabled account again (its old tokens stay revoked)."""
    accounts.set_disabled(open_registry(Settings()), username, False, SystemClock().now(), ACTOR)
    out.print(f"account {username} enabled")


@accounts_app.command("unlock")
def unlock(username: str) -> None:
    """Lift a sign-in lock-out (after repeated failed sign-ins) before it ends."""
    was_locked = accounts.unlock(open_registry(Settings()), username, SystemClock().now(), ACTOR)
    out.print(
        f"account {username} unlocked" if was_locked else f"account {username} was not locked"
    )


@accounts_app.command("password")
def password(username: str) -> None:
    """Set a new password (prompted for, or TRUSTREG_NEW_PASSWORD)."""
    accounts.set_password(
        open_registry(Settings()), username, _password(), SystemClock().now(), ACTOR
    )
    out.print(f"password of {username} changed")


@accounts_app.command("token")
def token(
    username: str,
    scope: Annotated[
        list[str] | None, typer.Option("--scope", help="Limit to this scope (repeatable)")
    ] = None,
    days: Annotated[int, typer.Option(help="Days until it expires (1-730)")] = 90,
    label: Annotated[str, typer.Option(help="What the token is for")] = "",
) -> None:
    """Issue an API bearer token; it is printed once and kept only as a hash."""
    token_id, secret = accounts.issue_api_token(
        open_registry(Settings()),
        username,
        scope or (),
        SystemClock().now(),
        days=days,
        label=label,
    )
    out.print(f"token {token_id} for {username} (expires in {days} days):")
    out.print(secret, highlight=False)


@accounts_app.command("tokens")
def tokens(username: str) -> None:
    """List an account's tokens (never the tokens themselves)."""
    table = Table("id", "label", "scopes", "expires", "revoked")
    for t in accounts.list_api_tokens(open_registry(Settings()), username):
        table.add_row(
            str(t["id"]), t["label"], " ".join(t["scopes"]), t["expires_at"], str(t["revoked"])
        )
    out.print(table)


@accounts_app.command("revoke")
def revoke(token_id: int) -> None:
    """Revoke a token by its id: it stops working at once."""
    accounts.revoke_api_token(open_registry(Settings()), token_id, SystemClock().now(), ACTOR)
    out.print(f"token {token_id} revoked")
