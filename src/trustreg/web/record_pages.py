"""The public page of one record (its timeline) and the form to dispute it.

The form is plain HTML (``application/x-www-form-urlencoded``), so it works without
JavaScript; a bad field comes back with the form as filled in and the field named.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from trustreg.errors import ValidationError
from trustreg.services import disputes, subjects
from trustreg.web.deps import Sessions, render

router = APIRouter(include_in_schema=False)
MAX_FORM_BYTES = 32_768  # the grounds are at most 4,000 characters


@router.get("/records/{record_id}", response_class=HTMLResponse)
def record_page(request: Request, record_id: int, factory: Sessions) -> Response:
    """A record with its timeline: decided, in effect, every status change, any open
    dispute, and the end of its publicity."""
    view = subjects.find_record(factory, record_id)
    filed = request.query_params.get("filed")
    return render(request, "record.html", {"r": view, "filed": filed is not None})


@router.get("/records/{record_id}/dispute", response_class=HTMLResponse)
def dispute_form(request: Request, record_id: int, factory: Sessions) -> Response:
    view = subjects.find_record(factory, record_id)
    return render(request, "dispute.html", {"r": view, "form": {}, "error": None})


@router.post("/records/{record_id}/dispute", response_class=HTMLResponse)
async def dispute_post(request: Request, record_id: int, factory: Sessions) -> Response:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise ValidationError("form", f"is {len(body)} bytes; at most {MAX_FORM_BYTES}")
    fields = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    form = disputes.DisputeForm(
        filed_by=fields.get("filed_by", ""),
        relation=fields.get("relation", ""),
        contact=fields.get("contact", ""),
        grounds=fields.get("grounds", ""),
    )
    try:
        disputes.file_dispute(factory, record_id, form)
    except ValidationError as exc:
        view = subjects.find_record(factory, record_id)
        context: dict[str, Any] = {"r": view, "form": fields, "error": exc}
        return render(request, "dispute.html", context, status_code=422)
    return RedirectResponse(f"/records/{record_id}?filed=1", status_code=303)
