"""Who is asking, for every request, and protection of every form against forgery.

The actor comes from a bearer token (``Authorization: Bearer trk_…``, an account's
API token) or from the session cookie set at sign-in; without either the request is
anonymous, which costs no database read (the public look-ups stay fast).

CSRF: every form carries ``csrf_token``, an HMAC of the session token (or, before
sign-in, of a random anonymous cookie) under the secret key. A forged form from
another site cannot know it; ``check_csrf`` refuses a POST without the right one.
Cookies are ``HttpOnly``, ``SameSite=Lax`` and ``Secure`` (setting ``cookie_secure``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request, Response

from trustreg.config import Settings
from trustreg.errors import Forbidden
from trustreg.services import accounts
from trustreg.services.accounts import ANONYMOUS, Actor
from trustreg.services.clock import Clock
from trustreg.store.db import transaction

SESSION_COOKIE = "trustreg_session"
ANON_COOKIE = "trustreg_anon"
CSRF_FIELD = "csrf_token"


def now_of(request: Request) -> datetime:
    """The app's clock (a test may have stopped it)."""
    clock: Clock = request.app.state.clock
    return clock.now()


def actor_of(request: Request) -> Actor:
    """The actor of this request, resolved once and kept on ``request.state``."""
    cached: Actor | None = getattr(request.state, "actor", None)
    if cached is not None:
        return cached
    actor = _resolve(request)
    request.state.actor = actor
    return actor


def _resolve(request: Request) -> Actor:
    header = request.headers.get("authorization", "")
    cookie = request.cookies.get(SESSION_COOKIE)
    if not header.lower().startswith("bearer ") and not cookie:
        return ANONYMOUS
    factory = request.app.state.sessions
    now = now_of(request)
    with transaction(factory) as session:
        if header.lower().startswith("bearer "):
            # An authority's ingest token is not an account token: the records route
            # checks those itself, so here they count as anonymous.
            return accounts.actor_for_token(session, header[7:].strip(), now) or ANONYMOUS
        return accounts.actor_for_session(session, cookie or "", now)


async def current_actor(request: Request) -> Actor:
    # async: see web.deps, a plain def dependency would cost a thread hop.
    return actor_of(request)


CurrentActor = Annotated[Actor, Depends(current_actor)]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _csrf_basis(request: Request) -> str:
    basis = request.cookies.get(SESSION_COOKIE) or request.cookies.get(ANON_COOKIE)
    if basis is None:
        # First visit: the anonymous cookie is set with the page (see ``set_cookies``).
        basis = getattr(request.state, "new_anon", None) or secrets.token_urlsafe(24)
        request.state.new_anon = basis
    return basis


def csrf_token(request: Request) -> str:
    """The token every form of this page must send back."""
    key = _settings(request).secret_key.encode()
    return hmac.new(key, b"csrf:" + _csrf_basis(request).encode(), hashlib.sha256).hexdigest()


def check_csrf(request: Request, sent: str | None) -> None:
    """Refuse a form that does not carry this browser's token."""
    basis = request.cookies.get(SESSION_COOKIE) or request.cookies.get(ANON_COOKIE)
    if basis is None or not sent or not hmac.compare_digest(sent, csrf_token(request)):
        raise Forbidden(
            "the form's security token is missing or out of date (it may have come from "
            "another site); reload the page and send it again"
        )


def set_cookies(request: Request, response: Response) -> None:
    """Set the anonymous CSRF cookie if this page created one."""
    new_anon = getattr(request.state, "new_anon", None)
    if new_anon and not request.cookies.get(ANON_COOKIE):
        response.set_cookie(
            ANON_COOKIE,
            new_anon,
            httponly=True,
            samesite="lax",
            secure=_settings(request).cookie_secure,
        )


def start_session(request: Request, response: Response, token: str) -> None:
    settings = _settings(request)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
    )


def end_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE)
