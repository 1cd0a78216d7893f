"""Checks under ``/api/v1``: eligibility for a decision, one subject or a tender's bidders."""

from __future__ import annotations

import io
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from trustreg.core.vocabulary import PURPOSES
from trustreg.services import eligibility, tender_check
from trustreg.web.api import PayloadTooLarge
from trustreg.web.auth import CurrentActor
from trustreg.web.deps import CurrentSettings, Day, Moment, Sessions
from trustreg.web.openapi import CSV, problems

router = APIRouter(prefix="/api/v1", tags=["checks"])
MAX_BIDDERS = 10_000
MAX_BODY_BYTES = 4 * 1024 * 1024

Decision = Annotated[
    str,
    Query(
        max_length=64,
        description="The decision: public_procurement, public_subsidy, licence, "
        "simplified_procedure, ... (GET /api/v1/eligibility/decisions lists them)",
    ),
]
On = Annotated[Day | None, Query(description="The day of the decision (default: today)")]
KnownAt = Annotated[
    Moment | None,
    Query(description="As the registry knew it at this moment (default: now)"),
]
Purpose = Annotated[
    str | None,
    Query(
        max_length=32,
        description=f"Why a person is checked: one of {', '.join(PURPOSES)}. Required for "
        "persons, with a verified checker's token (scope check); every check of a person "
        "is logged and shown to that person.",
    ),
]


@router.get("/eligibility/decisions")
def list_decisions(factory: Sessions, on: On = None) -> dict[str, Any]:
    """The decisions the rulebook in force attaches consequences to."""
    return {"decisions": eligibility.decisions(factory, on)}


@router.get("/eligibility", response_model=None, responses=problems(401, 403, 404))
async def get_eligibility(
    factory: Sessions,
    settings: CurrentSettings,
    actor: CurrentActor,
    subject: Annotated[
        str, Query(max_length=100, description="SCHEME:VALUE, e.g. uscc:91110000802100433B")
    ],
    decision: Decision,
    on: On = None,
    known_at: KnownAt = None,
    purpose: Purpose = None,
) -> JSONResponse:
    """``eligible``, ``restricted`` or ``excluded``, with every consequence that
    applies: its list entry, causing records, legal basis and end date, and the day
    from which the subject is eligible again."""
    # One subject's records: short enough for the event loop (see ``api.get_subject``).
    query = eligibility.EligibilityQuery(decision, on, known_at, purpose, actor=actor)
    answer = eligibility.check(factory, subject, query, identifier_key=settings.identifier_key)
    return JSONResponse(answer)


@router.post(
    "/eligibility/batch",
    response_class=Response,
    responses=CSV | problems(400, 401, 403, 413),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
)
async def post_eligibility_batch(
    request: Request,
    factory: Sessions,
    settings: CurrentSettings,
    actor: CurrentActor,
    decision: Decision,
    on: On = None,
    known_at: KnownAt = None,
    purpose: Purpose = None,
) -> Response:
    """A tender check: a CSV of bidders (an ``identifier`` column and any of your own)
    in, the same CSV with the answer columns appended out (``docs/formats.md``)."""
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"at most {MAX_BODY_BYTES // 1024 // 1024} MiB per request")
    query = eligibility.EligibilityQuery(decision, on, known_at, purpose, actor=actor)
    # The checks read the store: off the event loop, like the synchronous endpoints.
    text = await run_in_threadpool(_answer_csv, factory, body, query, settings.identifier_key)
    return Response(text, media_type="text/csv; charset=utf-8")


def _answer_csv(
    factory: sessionmaker[Session], body: bytes, query: eligibility.EligibilityQuery, key: str
) -> str:
    bidders = tender_check.read_bidders(body, "request body", MAX_BIDDERS)
    answers = tender_check.answer_bidders(factory, bidders, query, identifier_key=key)
    out = io.StringIO()
    tender_check.write_answers(out, bidders, answers)
    return out.getvalue()
