"""The reviewer's queue: open disputes and repair applications by deadline, with the
evidence and a decision form for each (scope ``review``).

Evidence files are downloaded from ``/review/evidence/{id}`` by reviewers and by the
representative who sent them; they are always sent as attachments, never shown
inline, so a file cannot run as a page of this site.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from trustreg.errors import ValidationError
from trustreg.services import disputes, evidence, repair
from trustreg.services.accounts import Actor, require
from trustreg.services.dispute_decisions import Correction, Decision
from trustreg.web.account_pages import form_of
from trustreg.web.auth import CurrentActor, now_of
from trustreg.web.deps import Id, Sessions, render

router = APIRouter(include_in_schema=False)


@router.get("/review", response_class=HTMLResponse)
def review_page(request: Request, actor: CurrentActor, factory: Sessions) -> Response:
    """Open disputes and repair applications, the earliest deadline (the overdue) first."""
    require(actor, "review", "see the review queue")
    return _page(request, actor, factory, None, None)


def _page(
    request: Request,
    actor: Actor,
    factory: Sessions,
    failed: tuple[str, int] | None,
    error: ValidationError | None,
) -> Response:
    items = repair.review_queue(factory, actor, now_of(request))
    context: dict[str, Any] = {
        "items": items,
        "done": _done(request.query_params.get("done", "")),
        "failed": f"{failed[0]}-{failed[1]}" if failed else None,
        "error": error,
        "today": now_of(request).date().isoformat(),
    }
    return render(request, "review.html", context, status_code=422 if error else 200)


def _done(asked: str) -> str | None:
    # Only what this page's own redirect says ("dispute-12"): any other text in the
    # address would be shown as the registry's word ("Decision recorded: ...").
    return asked if re.fullmatch(r"(dispute|repair)-\d{1,12}", asked) else None


@router.post("/review/disputes/{dispute_id}", response_class=HTMLResponse)
async def decide_dispute(
    request: Request, dispute_id: Id, actor: CurrentActor, factory: Sessions
) -> Response:
    require(actor, "review", "decide disputes")
    fields = await form_of(request)
    try:
        decision = Decision(
            fields.get("decision", ""), fields.get("reasons", ""), correction_of(fields)
        )
        disputes.decide(factory, actor, dispute_id, decision, now_of(request))
    except ValidationError as exc:
        return _page(request, actor, factory, ("dispute", dispute_id), exc)
    return RedirectResponse(f"/review?done=dispute-{dispute_id}", status_code=303)


def correction_of(fields: dict[str, str]) -> Correction:
    """The corrected fields of a decision form (empty: unchanged)."""
    return Correction(
        amount=fields.get("amount") or None,
        currency=fields.get("currency") or None,
        effective_from=day_of("effective_from", fields.get("effective_from", "")),
        summary=fields.get("summary"),
    )


def day_of(field: str, text: str) -> date | None:
    if not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValidationError(field, f"'{text[:40]}' is not a date (YYYY-MM-DD)") from exc


@router.post("/review/repairs/{application_id}", response_class=HTMLResponse)
async def decide_repair(
    request: Request, application_id: Id, actor: CurrentActor, factory: Sessions
) -> Response:
    require(actor, "review", "decide repair applications")
    fields = await form_of(request)
    decision, reasons = fields.get("decision", ""), fields.get("reasons", "")
    try:
        repair.decide(factory, actor, application_id, decision, reasons, now_of(request))
    except ValidationError as exc:
        return _page(request, actor, factory, ("repair", application_id), exc)
    return RedirectResponse(f"/review?done=repair-{application_id}", status_code=303)


@router.get("/review/evidence/{file_id}")
def evidence_download(file_id: Id, actor: CurrentActor, factory: Sessions) -> Response:
    """An evidence file, for a reviewer or the representative who sent it."""
    return attachment(evidence.evidence_file(factory, actor, file_id))


def attachment(file: evidence.Download) -> Response:
    """A file sent to be saved, never rendered by the browser as part of this site."""
    return Response(
        file.content,
        media_type=file.content_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(file.filename)}",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )
