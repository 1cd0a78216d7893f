"""The public page of one record (its timeline), and the forms to dispute it and to
apply for its repair.

Disputes and repair applications come from a signed-in representative of the
record's subject; anyone else gets a page saying who may and how to get an account.
The forms are plain HTML (``multipart/form-data``, for the evidence files), so they
work without JavaScript, carry the CSRF token, and come back with the field named
and the text kept when something is wrong.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from python_multipart.multipart import parse_options_header
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException, MultiPartParser

from trustreg.errors import ValidationError
from trustreg.services import disputes, evidence, repair
from trustreg.services.accounts import Actor, require
from trustreg.web import auth, purpose_pages
from trustreg.web.account_pages import form_of
from trustreg.web.auth import CurrentActor, now_of
from trustreg.web.deps import Id, Sessions, render

router = APIRouter(include_in_schema=False)
# Five files of 5 MB and the text fields: a larger body is refused before it is read.
MAX_BODY = evidence.MAX_FILES * evidence.MAX_BYTES + 256 * 1024


@router.get("/records/{record_id}", response_class=HTMLResponse)
def record_page(
    request: Request, record_id: Id, factory: Sessions, actor: CurrentActor
) -> Response:
    """A record with its timeline: decided, in effect, every status change, any open
    dispute, its repair, and the end of its publicity. A person's record goes through
    the purpose gate (``web.purpose_pages``) unless the rulebook publishes it."""
    view = purpose_pages.record_view(request, factory, actor, record_id, None)
    if isinstance(view, Response):
        return view
    context = _context(request, factory, actor, view)
    context["filed"] = request.query_params.get("filed")
    return render(request, "record.html", context)


@router.post("/records/{record_id}", response_class=HTMLResponse)
async def record_lookup(
    request: Request, record_id: Id, factory: Sessions, actor: CurrentActor
) -> Response:
    """A person's record for the purpose declared in the form (CSRF-checked)."""
    purpose = (await form_of(request)).get("purpose", "")
    view = purpose_pages.record_view(request, factory, actor, record_id, purpose)
    if isinstance(view, Response):
        return view
    return render(request, "record.html", _context(request, factory, actor, view))


def _context(
    request: Request, factory: sessionmaker[Session], actor: Actor, view: dict[str, Any]
) -> dict[str, Any]:
    party = actor.represents(view["subject"]["id"])
    state = repair.record_state(
        factory, view["id"], now_of(request).date(), party or actor.may("review")
    )
    return {"r": view, "party": party, "repair": state, "filed": None}


# ------------------------------------------------------------------ disputes


@router.get("/records/{record_id}/dispute", response_class=HTMLResponse)
def dispute_form(
    request: Request, record_id: Id, factory: Sessions, actor: CurrentActor
) -> Response:
    """The dispute form for a representative of the record's subject; for anyone
    else, who may dispute and how to get an account."""
    return _form_page(request, factory, actor, record_id, "dispute.html", {}, None)


@router.post("/records/{record_id}/dispute", response_class=HTMLResponse)
async def dispute_post(
    request: Request, record_id: Id, factory: Sessions, actor: CurrentActor
) -> Response:
    require(actor, "dispute", "dispute a record")
    fields, uploads = await posted(request)
    try:
        disputes.dispute_record(
            factory, actor, record_id, fields.get("grounds", ""), uploads, now_of(request)
        )
    except ValidationError as exc:
        return _form_page(request, factory, actor, record_id, "dispute.html", fields, exc)
    return RedirectResponse(f"/records/{record_id}?filed=dispute", status_code=303)


# ------------------------------------------------------------------ repair


@router.get("/records/{record_id}/repair", response_class=HTMLResponse)
def repair_form(
    request: Request, record_id: Id, factory: Sessions, actor: CurrentActor
) -> Response:
    """The credit repair form for a representative of the record's subject, once the
    record may be repaired; otherwise why not, or who may apply."""
    return _form_page(request, factory, actor, record_id, "repair.html", {}, None)


@router.post("/records/{record_id}/repair", response_class=HTMLResponse)
async def repair_post(
    request: Request, record_id: Id, factory: Sessions, actor: CurrentActor
) -> Response:
    require(actor, "dispute", "apply for credit repair")
    fields, uploads = await posted(request)
    try:
        repair.apply(factory, actor, record_id, fields.get("grounds", ""), uploads, now_of(request))
    except ValidationError as exc:
        return _form_page(request, factory, actor, record_id, "repair.html", fields, exc)
    return RedirectResponse(f"/records/{record_id}?filed=repair", status_code=303)


def _form_page(
    request: Request,
    factory: sessionmaker[Session],
    actor: Actor,
    record_id: Id,
    template: str,
    fields: dict[str, str],
    error: ValidationError | None,
) -> Response:
    """A dispute or repair form: the form itself only for a representative of the
    subject; anyone else learns who may use it and how to get an account (nothing
    about the record), answered 401 when not signed in and 403 otherwise."""
    found = purpose_pages.record_view(request, factory, actor, record_id, None)
    # A person's record this visitor may not see (a Response): only who may use the form.
    view = found if isinstance(found, dict) else None
    context: dict[str, Any] = {"r": None, "record_id": record_id, "form": {}, "error": None}
    if view is None or not actor.represents(view["subject"]["id"]):
        context["state"] = None
        return render(request, template, context, status_code=403 if actor.signed_in else 401)
    state = repair.record_state(factory, record_id, now_of(request).date(), True)
    context |= {"r": view, "form": fields, "error": error, "state": state}
    return render(request, template, context, status_code=422 if error else 200)


async def posted(
    request: Request, csrf: bool = True
) -> tuple[dict[str, str], list[evidence.Upload]]:
    """The text fields and the evidence files of a form (a page's after the CSRF check;
    the API's come with a bearer token or a same-site session cookie)."""
    length = int(request.headers.get("content-length") or 0)
    if length > MAX_BODY:
        raise ValidationError(
            "evidence",
            f"the form has {length:,} bytes; at most {evidence.MAX_FILES} files of 5 MB each",
        )
    form = await _form(request)
    try:  # the form's spooled files are closed however this ends
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        if csrf:
            auth.check_csrf(request, fields.get(auth.CSRF_FIELD))
        if any(isinstance(f, str) and f for f in form.getlist("evidence")):
            raise ValidationError("evidence", "must be files (multipart/form-data), not text")
        files = [f for f in form.getlist("evidence") if isinstance(f, UploadFile)]
        return fields, [await upload_of(f) for f in files]
    finally:
        await form.close()


async def _form(request: Request) -> FormData:
    """The posted form. A multipart form must end with its closing boundary: one cut
    short would otherwise be taken for the parts that arrived, its last file dropped
    without a word (and that file's spool left open). 400 for a malformed one."""
    limits = {"max_files": evidence.MAX_FILES + 1, "max_fields": 20}
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    if kind != b"multipart/form-data" or not options.get(b"boundary"):
        return await request.form(**limits)  # a missing boundary is refused there
    closing = b"--" + options[b"boundary"] + b"--"
    parser = MultiPartParser(request.headers, _ending_with(request.stream(), closing), **limits)
    try:
        return await parser.parse()
    except MultiPartException as exc:  # as Request.form would answer it
        raise HTTPException(status_code=400, detail=exc.message) from exc


async def _ending_with(
    stream: AsyncGenerator[bytes, None], closing: bytes
) -> AsyncGenerator[bytes, None]:
    """The body, raising (inside the parser, which then closes its files) if it never
    carries the closing boundary."""
    seen, tail = False, b""
    async for chunk in stream:
        if not seen:
            seen = closing in tail + chunk
            tail = (tail + chunk)[-len(closing) :]
        yield chunk
    if not seen:
        raise MultiPartException("the form ends before its closing boundary: it was cut short")


async def upload_of(file: UploadFile) -> evidence.Upload:
    """An uploaded file as the evidence checks take it; one too large is not read."""
    if file.size is not None and file.size > evidence.MAX_BYTES:
        return evidence.Upload(file.filename or "", b"", size=file.size)
    return evidence.Upload(file.filename or "", await file.read(evidence.MAX_BYTES + 1))
