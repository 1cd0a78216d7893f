"""Dependencies shared by the routers."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Path, Request, Response
from pydantic import BeforeValidator
from sqlalchemy.orm import Session, sessionmaker

from trustreg.config import Settings
from trustreg.errors import ValidationError
from trustreg.web import auth, i18n


# ``async`` though they do not wait: FastAPI runs a plain ``def`` dependency in a
# worker thread, and that hop would cost every request more than the look-up itself.
async def sessions(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.sessions
    return factory


async def settings(request: Request) -> Settings:
    value: Settings = request.app.state.settings
    return value


async def refuse_nul(request: Request) -> None:
    """Refuse a NUL character in the path or the query (every route): no text of the
    registry holds one, and PostgreSQL cannot even compare text with one, so the query
    would fail (a 500, or a CSV stream cut short after its header)."""
    for name, value in [*request.path_params.items(), *request.query_params.multi_items()]:
        if "\x00" in name or "\x00" in value:
            field = "query" if "\x00" in name else name
            raise ValidationError(field, "must not contain a NUL character (U+0000)")


Sessions = Annotated[sessionmaker[Session], Depends(sessions)]
CurrentSettings = Annotated[Settings, Depends(settings)]
# Every id is a positive signed 64-bit integer in every store: a larger number is no id
# (422), where the database driver would fail on it (500).
MAX_ID = 2**63 - 1
Id = Annotated[int, Path(ge=1, le=MAX_ID)]


def _iso(match: Callable[[str], object], what: str) -> Callable[[object], object]:
    def check(value: object) -> object:
        if isinstance(value, date) or (isinstance(value, str) and match(value)):
            return value
        raise ValueError(f"must be {what}")

    return check


# pydantic also reads a number as a Unix time ("0" is 1970-01-01): the API's days and
# moments are ISO 8601 text, as its document says.
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")
Day = Annotated[date, BeforeValidator(_iso(DAY.fullmatch, "a day, YYYY-MM-DD"))]
Moment = Annotated[
    datetime, BeforeValidator(_iso(MOMENT.match, "an ISO 8601 moment, e.g. 2025-03-01T09:30Z"))
]


def render(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> Response:
    """Render a page in the request's language (``web.i18n``), remembering a language
    chosen with ``?lang=``."""
    language = i18n.language_of(request)
    switch = dict(request.query_params) | {"lang": "en" if language == "zh" else "zh"}
    context = context | {
        "actor": auth.actor_of(request),
        "csrf_token": auth.csrf_token(request),
        "lang": language,
        "html_lang": "zh-CN" if language == "zh" else "en",
        "switch_url": f"{request.url.path}?{urlencode(switch)}",
    }
    response = i18n.templates(language).TemplateResponse(
        request, template, context, status_code=status_code
    )
    auth.set_cookies(request, response)
    if request.query_params.get("lang") in i18n.LANGUAGES:
        response.set_cookie(i18n.COOKIE, language, max_age=365 * 86400, samesite="lax")
    return response
