"""What every ``trustreg`` command shares: the consoles, opening the store, dates."""

from __future__ import annotations

import os
from datetime import date, datetime

import typer
from rich.console import Console
from sqlalchemy.orm import Session, sessionmaker

from trustreg.config import Settings
from trustreg.errors import ValidationError
from trustreg.services import registry
from trustreg.store.db import make_engine

# soft_wrap: a message stays one line however narrow the terminal (or a pipe's 80 columns).
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def open_registry(settings: Settings) -> sessionmaker[Session]:
    """Migrate the store if needed and load the configured rulebook."""
    return registry.initialise(
        make_engine(settings.sqlalchemy_url, **settings.engine_options),
        settings.rulebook,
        settings.identifier_key,
    )


def secret_from(env: str, prompt: str) -> str:
    """A secret from the environment variable ``env`` (scripts) or a hidden, confirmed
    prompt: never from the command line, where the process list shows it."""
    given = os.environ.get(env)
    if given:
        return given
    return str(typer.prompt(prompt, hide_input=True, confirmation_prompt=True))


def parse_day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ValidationError(option, f"'{text}' is not a date (YYYY-MM-DD)") from exc


def parse_moment(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValidationError(option, f"'{text}' is not a moment (YYYY-MM-DDTHH:MM:SS)") from exc
