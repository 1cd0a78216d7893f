"""Watches and the feed under ``/api/v1`` (scope ``watch``; the feed: any account).

A checker watches a subject and is told of its changes in its feed and, with a
webhook URL, by a signed POST (``docs/watches.md``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field, StringConstraints

from trustreg.core.vocabulary import PURPOSES
from trustreg.services import notifications, watch
from trustreg.services.accounts import require
from trustreg.web.auth import CurrentActor, now_of
from trustreg.web.deps import MAX_ID, CurrentSettings, Id, Sessions
from trustreg.web.openapi import problems

router = APIRouter(prefix="/api/v1", tags=["watches"])


class WatchBody(BaseModel):
    """What to watch, and where to send its changes."""

    subject: (
        Annotated[int, Field(ge=1, le=MAX_ID)] | Annotated[str, StringConstraints(max_length=100)]
    ) = Field(
        description="The subject's id, or one of its identifiers as SCHEME:VALUE "
        "(e.g. uscc:91110000802100433B)",
    )
    webhook_url: str | None = Field(
        None,
        max_length=2000,
        description="Where to POST each change (https in production); none: feed only",
    )
    purpose: str | None = Field(
        None,
        max_length=32,
        description=f"Why a person is watched: one of {', '.join(PURPOSES)}. Required for "
        "persons (and only a verified checker may); logged and shown to the person.",
    )


@router.post("/watches", status_code=201, responses=problems(401, 403, 404, 409))
def post_watch(
    request: Request,
    body: WatchBody,
    actor: CurrentActor,
    factory: Sessions,
    settings: CurrentSettings,
) -> dict[str, Any]:
    """Watch a subject. The answer holds ``secret``, the key that signs this watch's
    webhook bodies (``X-Trustreg-Signature``): it is shown this once, keep it."""
    asked = watch.WatchRequest(str(body.subject), body.webhook_url, body.purpose)
    return watch.create_watch(
        factory,
        actor,
        asked,
        now_of(request),
        identifier_key=settings.identifier_key,
        production=settings.environment == "production",
    )


@router.get("/watches", responses=problems(401, 403))
def get_watches(
    actor: CurrentActor,
    factory: Sessions,
    ended: Annotated[bool, Query(description="Include watches that were ended")] = False,
) -> dict[str, Any]:
    """Your watches, newest first, with how many deliveries are pending, delivered
    and failed. The secrets are never shown again."""
    return {"watches": watch.list_watches(factory, actor, ended)}


@router.delete("/watches/{watch_id}", responses=problems(401, 403, 404))
def delete_watch(
    request: Request, watch_id: Id, actor: CurrentActor, factory: Sessions
) -> dict[str, Any]:
    """End a watch: no more events, and deliveries not yet made are given up. The
    watch and its delivery log stay readable."""
    return watch.end_watch(factory, actor, watch_id, now_of(request))


@router.get("/watches/{watch_id}/deliveries", responses=problems(401, 403, 404))
def get_deliveries(watch_id: Id, actor: CurrentActor, factory: Sessions) -> dict[str, Any]:
    """The delivery log of a watch, newest first: each event's payload, its state
    (``pending``, ``delivered``, ``failed``), the next attempt, and every attempt
    with its HTTP status or error."""
    return watch.delivery_log(factory, actor, watch_id)


@router.get("/feed", responses=problems(401, 403))
def get_feed(actor: CurrentActor, factory: Sessions) -> dict[str, Any]:
    """What you have been told, newest first: your watched subjects' changes
    (``kind`` ``watch_event``, with ``detail.event``) and any other notification."""
    require(actor, "read", "read your feed")
    return {"feed": notifications.feed(factory, actor)}
