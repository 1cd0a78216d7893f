"""Signing in and out, and one's own account: who one is, the subjects one speaks for,
and one's API tokens (issue, list, revoke). Every form carries the CSRF token."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from trustreg.errors import Unauthorized, ValidationError
from trustreg.services import accounts
from trustreg.services.lockout import Lockout
from trustreg.web import auth, security
from trustreg.web.auth import CurrentActor, now_of
from trustreg.web.deps import CurrentSettings, Id, Sessions, render

router = APIRouter(include_in_schema=False)


async def form_of(request: Request) -> dict[str, str]:
    """The posted form's text fields, after the CSRF check."""
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    auth.check_csrf(request, fields.get(auth.CSRF_FIELD))
    return fields


def _local(path: str | None) -> str:
    # Only a path on this site: an open redirect would let a phishing link use us.
    if path and path.startswith("/") and not path.startswith("//"):
        return path
    return "/account"


@router.get("/account/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request) -> Response:
    next_path = _local(request.query_params.get("next"))
    return render(request, "sign_in.html", {"next": next_path, "error": None, "username": ""})


@router.post("/account/sign-in", response_class=HTMLResponse)
async def sign_in(request: Request, factory: Sessions, settings: CurrentSettings) -> Response:
    fields = await form_of(request)
    username = fields.get("username", "").strip().lower()
    next_path = _local(fields.get("next"))
    # Per username, whether it exists or not (the address is limited before the form is
    # read, web.security); repeated failures lock a real account (services.lockout).
    security.limit(request, security.SIGN_IN_USER, username)
    lockout = Lockout(settings.lockout_failures, settings.lockout_minutes)
    try:
        token = accounts.sign_in(
            factory,
            username,
            fields.get("password", ""),
            now_of(request),
            settings.session_hours,
            lockout,
        )
    except Unauthorized as exc:
        context = {"next": next_path, "error": exc.detail, "username": username}
        return render(request, "sign_in.html", context, status_code=401)
    response = RedirectResponse(next_path, status_code=303)
    auth.start_session(request, response, token)
    return response


@router.post("/account/sign-out")
async def sign_out(request: Request, factory: Sessions) -> Response:
    await form_of(request)
    token = request.cookies.get(auth.SESSION_COOKIE)
    if token:
        accounts.sign_out(factory, token, now_of(request))
    response = RedirectResponse("/", status_code=303)
    auth.end_session(response)
    return response


def _require_signed_in(request: Request, actor: accounts.Actor) -> Response | None:
    if actor.signed_in:
        return None
    return RedirectResponse(f"/account/sign-in?next={request.url.path}", status_code=303)


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, actor: CurrentActor, factory: Sessions) -> Response:
    """One's own account: role, verification, subjects represented, API tokens."""
    redirect = _require_signed_in(request, actor)
    if redirect:
        return redirect
    return render(request, "account.html", _account_context(factory, actor, None, None))


def _account_context(
    factory: Any, actor: accounts.Actor, new_token: str | None, error: ValidationError | None
) -> dict[str, Any]:
    return {
        "account": accounts.get_account(factory, actor.username),
        "tokens": accounts.list_api_tokens(factory, actor.username),
        "scopes": sorted(accounts.ROLE_SCOPES[actor.role]),
        "new_token": new_token,
        "error": error,
    }


@router.post("/account/tokens", response_class=HTMLResponse)
async def create_token(request: Request, actor: CurrentActor, factory: Sessions) -> Response:
    """Issue a token for oneself; it is shown on this page once."""
    fields = await form_of(request)
    redirect = _require_signed_in(request, actor)
    if redirect:
        return redirect
    form = await request.form()
    scopes = [s for s in form.getlist("scope") if isinstance(s, str)]
    try:
        days = int(fields.get("days") or 90)
        _, token = accounts.issue_api_token(
            factory,
            actor.username,
            scopes,
            now_of(request),
            days=days,
            label=fields.get("label", "")[:100],
            actor=actor.label,
        )
    except ValueError:
        error = ValidationError("days", "write the number of days as a whole number")
        return render(request, "account.html", _account_context(factory, actor, None, error), 422)
    except ValidationError as exc:
        return render(request, "account.html", _account_context(factory, actor, None, exc), 422)
    return render(request, "account.html", _account_context(factory, actor, token, None))


@router.post("/account/tokens/{token_id}/revoke")
async def revoke_token(
    request: Request, token_id: Id, actor: CurrentActor, factory: Sessions
) -> Response:
    await form_of(request)
    redirect = _require_signed_in(request, actor)
    if redirect:
        return redirect
    accounts.revoke_api_token(factory, token_id, now_of(request), actor.label, owner=actor.username)
    return RedirectResponse("/account", status_code=303)
