"""Dependencies shared by the routers."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request, Response
from sqlalchemy.orm import Session, sessionmaker

from trustreg.config import Settings
from trustreg.web import auth, i18n


# ``async`` though they do not wait: FastAPI runs a plain ``def`` dependency in a
# worker thread, and that hop would cost every request more than the look-up itself.
async def sessions(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.sessions
    return factory


async def settings(request: Request) -> Settings:
    value: Settings = request.app.state.settings
    return value


Sessions = Annotated[sessionmaker[Session], Depends(sessions)]
CurrentSettings = Annotated[Settings, Depends(settings)]


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
