"""Pages of watches and the feed: ``/watches`` (list, add, end, delivery log) and
``/feed`` (what one has been told, newest first). Every form carries the CSRF token."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from trustreg.core.vocabulary import PURPOSES
from trustreg.errors import Forbidden, TrustRegError
from trustreg.services import notifications, watch
from trustreg.services.accounts import Actor
from trustreg.web.account_pages import form_of
from trustreg.web.auth import CurrentActor, now_of
from trustreg.web.deps import CurrentSettings, Id, Sessions, render

router = APIRouter(include_in_schema=False)


def _sign_in_first(request: Request, actor: Actor) -> Response | None:
    if actor.signed_in:
        return None
    return RedirectResponse(f"/account/sign-in?next={request.url.path}", status_code=303)


def _checker_only(actor: Actor) -> None:
    if not actor.may("watch"):
        raise Forbidden(f"a {actor.role} account cannot watch subjects")


def _context(factory: Any, actor: Actor, **extra: Any) -> dict[str, Any]:
    return {
        "watches": watch.list_watches(factory, actor),
        "purposes": PURPOSES,
        "created": None,
        "error": None,
        "asked": {"subject": "", "webhook_url": "", "purpose": ""},
        "log": None,
    } | extra


@router.get("/watches", response_class=HTMLResponse)
def watches_page(request: Request, actor: CurrentActor, factory: Sessions) -> Response:
    """One's watches, a form to add one (``?subject=`` fills it in), and a button to
    end each."""
    redirect = _sign_in_first(request, actor)
    if redirect:
        return redirect
    _checker_only(actor)
    asked = {"subject": request.query_params.get("subject", "")[:100]}
    return render(
        request, "watches.html", _context(factory, actor, asked=asked | {"webhook_url": ""})
    )


@router.post("/watches", response_class=HTMLResponse)
async def add_watch(
    request: Request, actor: CurrentActor, factory: Sessions, settings: CurrentSettings
) -> Response:
    """Watch a subject; its webhook secret is shown on the answer page, once."""
    fields = await form_of(request)
    redirect = _sign_in_first(request, actor)
    if redirect:
        return redirect
    _checker_only(actor)
    asked = watch.WatchRequest(
        fields.get("subject", "")[:100],
        fields.get("webhook_url", "").strip() or None,
        fields.get("purpose") or None,
    )
    try:
        created = watch.create_watch(
            factory,
            actor,
            asked,
            now_of(request),
            identifier_key=settings.identifier_key,
            production=settings.environment == "production",
            channel="watch",
        )
    except TrustRegError as exc:
        # Shown on the form with what was typed; the page says what to correct.
        typed = {k: fields.get(k, "") for k in ("subject", "webhook_url", "purpose")}
        context = _context(factory, actor, error=exc, asked=typed)
        return render(request, "watches.html", context, status_code=exc.status)
    return render(request, "watches.html", _context(factory, actor, created=created))


@router.post("/watches/{watch_id}/end")
async def end_watch(
    request: Request, watch_id: Id, actor: CurrentActor, factory: Sessions
) -> Response:
    await form_of(request)
    redirect = _sign_in_first(request, actor)
    if redirect:
        return redirect
    watch.end_watch(factory, actor, watch_id, now_of(request))
    return RedirectResponse("/watches", status_code=303)


@router.get("/watches/{watch_id}", response_class=HTMLResponse)
def delivery_log_page(
    request: Request, watch_id: Id, actor: CurrentActor, factory: Sessions
) -> Response:
    """One's watches with the delivery log of one of them."""
    redirect = _sign_in_first(request, actor)
    if redirect:
        return redirect
    _checker_only(actor)
    log = watch.delivery_log(factory, actor, watch_id)
    return render(request, "watches.html", _context(factory, actor, log=log))


@router.get("/feed", response_class=HTMLResponse)
def feed_page(request: Request, actor: CurrentActor, factory: Sessions) -> Response:
    """What one has been told, newest first."""
    redirect = _sign_in_first(request, actor)
    if redirect:
        return redirect
    return render(request, "feed.html", {"feed": notifications.feed(factory, actor)})


@router.post("/feed/read")
async def mark_feed_read(request: Request, actor: CurrentActor, factory: Sessions) -> Response:
    await form_of(request)
    redirect = _sign_in_first(request, actor)
    if redirect:
        return redirect
    notifications.mark_read(factory, actor, now_of(request))
    return RedirectResponse("/feed", status_code=303)
