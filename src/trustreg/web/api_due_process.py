"""Disputes and credit repair under ``/api/v1`` (``docs/rights.md``).

Representatives of a subject (scope ``dispute``) file disputes and repair applications
with evidence files (``multipart/form-data``); reviewers (scope ``review``) list them
by deadline and decide. Errors are problem+json: 401 without an account, 403 for one
that may not, 404 for a dispute or application the caller may not see, 409 for one
already decided or a record with one open, 422 naming the field.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from trustreg.services import disputes, evidence, repair
from trustreg.services.accounts import require
from trustreg.services.dispute_decisions import Correction, Decision
from trustreg.web.auth import CurrentActor, now_of
from trustreg.web.deps import Day, Id, Sessions
from trustreg.web.openapi import problems
from trustreg.web.record_pages import posted
from trustreg.web.review_pages import attachment

router = APIRouter(prefix="/api/v1", tags=["disputes and repair"])

# The body is read by ``record_pages.posted`` (which refuses an oversized one before
# parsing it), so the form is described here for the OpenAPI document.
MULTIPART: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["grounds"],
                    "properties": {
                        "grounds": {"type": "string", "minLength": 20, "maxLength": 4000},
                        "evidence": {
                            "type": "array",
                            "maxItems": evidence.MAX_FILES,
                            "items": {"type": "string", "format": "binary"},
                            "description": "PDF, JPEG, PNG or plain UTF-8 text, 5 MB each",
                        },
                    },
                }
            }
        },
    }
}


EVIDENCE_FILE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file as it was sent, as an attachment",
        "content": {
            media: {"schema": {"type": "string", "format": "binary"}}
            for media in ("application/pdf", "image/jpeg", "image/png", "text/plain")
        },
    }
}


class CorrectionBody(BaseModel):
    """The corrected fields of a ``corrected`` decision (left out: unchanged)."""

    amount: str | None = Field(None, max_length=40, description="e.g. 12000.00")
    currency: str | None = Field(None, max_length=3, description="ISO 4217, e.g. CNY")
    effective_from: Day | None = None
    summary: str | None = Field(None, max_length=2000)


class DisputeDecisionBody(BaseModel):
    decision: Literal["upheld", "corrected", "removed"]
    reasons: str = Field(max_length=4000, description="Shown on the record's public timeline")
    correction: CorrectionBody | None = None


class RepairDecisionBody(BaseModel):
    decision: Literal["approved", "rejected"]
    reasons: str = Field("", max_length=4000, description="Required to reject")


@router.get("/disputes", responses=problems(401, 403))
def list_disputes(request: Request, actor: CurrentActor, factory: Sessions) -> dict[str, Any]:
    """Open disputes, the earliest deadline (the overdue) first: reviewers only."""
    items = repair.review_queue(factory, actor, now_of(request))
    return {"disputes": [i for i in items if i["kind"] == "dispute"]}


@router.get("/disputes/{dispute_id}", responses=problems(401, 403, 404))
def get_dispute(dispute_id: Id, actor: CurrentActor, factory: Sessions) -> dict[str, Any]:
    """One dispute with grounds and evidence: its reviewer or the subject's representative."""
    return disputes.dispute_for(factory, actor, dispute_id)


@router.post(
    "/records/{record_id}/disputes",
    status_code=201,
    openapi_extra=MULTIPART,
    responses=problems(401, 403, 404, 409, 413),
)
async def post_dispute(
    request: Request, record_id: Id, actor: CurrentActor, factory: Sessions
) -> dict[str, Any]:
    """Dispute a record as a representative of its subject (``multipart/form-data``:
    ``grounds`` and up to five ``evidence`` files). The record shows "disputed" at
    once; the registry answers by ``answer_due`` and asks the authority to re-verify."""
    require(actor, "dispute", "dispute a record")
    fields, uploads = await posted(request, csrf=False)
    grounds = fields.get("grounds", "")
    return disputes.dispute_record(factory, actor, record_id, grounds, uploads, now_of(request))


@router.post("/disputes/{dispute_id}/decision", responses=problems(401, 403, 404, 409))
def post_dispute_decision(
    request: Request,
    dispute_id: Id,
    body: DisputeDecisionBody,
    actor: CurrentActor,
    factory: Sessions,
) -> dict[str, Any]:
    """Decide a dispute: ``upheld``, ``corrected`` (with ``correction``) or ``removed``.
    Assessments and lists change at once; the subject and its recent checkers are told."""
    fix = body.correction or CorrectionBody()
    correction = Correction(fix.amount, fix.currency, fix.effective_from, fix.summary)
    decision = Decision(body.decision, body.reasons, correction)
    return disputes.decide(factory, actor, dispute_id, decision, now_of(request))


@router.get("/repairs", responses=problems(401, 403))
def list_repairs(request: Request, actor: CurrentActor, factory: Sessions) -> dict[str, Any]:
    """Open repair applications, the earliest deadline first: reviewers only."""
    items = repair.review_queue(factory, actor, now_of(request))
    return {"repairs": [i for i in items if i["kind"] == "repair"]}


@router.get("/repairs/{application_id}", responses=problems(401, 403, 404))
def get_repair(application_id: Id, actor: CurrentActor, factory: Sessions) -> dict[str, Any]:
    """One application with grounds and evidence: reviewer or the subject's representative."""
    return repair.application_for(factory, actor, application_id)


@router.post(
    "/records/{record_id}/repairs",
    status_code=201,
    openapi_extra=MULTIPART,
    responses=problems(401, 403, 404, 409, 413),
)
async def post_repair(
    request: Request, record_id: Id, actor: CurrentActor, factory: Sessions
) -> dict[str, Any]:
    """Apply for credit repair of a record as a representative of its subject (form as
    for a dispute), from the earliest repair day of its type; a refusal names it."""
    require(actor, "dispute", "apply for credit repair")
    fields, uploads = await posted(request, csrf=False)
    grounds = fields.get("grounds", "")
    return repair.apply(factory, actor, record_id, grounds, uploads, now_of(request))


@router.post("/repairs/{application_id}/decision", responses=problems(401, 403, 404, 409))
def post_repair_decision(
    request: Request,
    application_id: Id,
    body: RepairDecisionBody,
    actor: CurrentActor,
    factory: Sessions,
) -> dict[str, Any]:
    """Approve (the record becomes ``repaired``) or reject (reasons required)."""
    now = now_of(request)
    return repair.decide(factory, actor, application_id, body.decision, body.reasons, now)


@router.get(
    "/evidence/{file_id}",
    response_class=Response,
    responses=EVIDENCE_FILE | problems(401, 403, 404),
)
def get_evidence(file_id: Id, actor: CurrentActor, factory: Sessions) -> Response:
    """An evidence file, as an attachment: reviewers and the representative who sent it."""
    return attachment(evidence.evidence_file(factory, actor, file_id))
