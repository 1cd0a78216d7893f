"""JSON API under ``/api/v1``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Request
from fastapi.responses import JSONResponse, Response

from trustreg.core.validation import RECORD_COLUMNS
from trustreg.core.vocabulary import PURPOSES
from trustreg.errors import Forbidden, TrustRegError, Unauthorized
from trustreg.services import access, accounts, ingest, registry, screening
from trustreg.services.feed_reader import (
    SURROGATE_REASON,
    FeedFormat,
    FeedRow,
    RowProblem,
    surrogate_field,
)
from trustreg.services.ingest_chunk import Rejection
from trustreg.store.db import transaction
from trustreg.web.api_public import etag_response
from trustreg.web.auth import CurrentActor, now_of
from trustreg.web.deps import CurrentSettings, Day, Id, Moment, Sessions
from trustreg.web.openapi import NOT_MODIFIED, problems

router = APIRouter(prefix="/api/v1", tags=["registry"])
MAX_RECORDS_PER_REQUEST = 10_000


class PayloadTooLarge(TrustRegError):
    status = 413
    title = "Payload too large"


# A person's records are shown only to a verified checker's token with the scope
# ``check`` and a declared purpose (``services.access``); organisations to anyone.
PurposeParam = Annotated[
    str | None,
    Query(
        max_length=32,
        description=f"Why a person is looked up: one of {', '.join(PURPOSES)}. Required "
        "for a person (with a verified checker's token, scope check); the look-up is "
        "logged and shown to the person. Not needed for organisations.",
    ),
]


@router.get("/subjects/search")
def search_subjects(
    request: Request,
    q: Annotated[str, Query(min_length=1, max_length=300, description="A name, in any script")],
    top: Annotated[int, Query(ge=1, le=50)] = 10,
) -> dict[str, Any]:
    """Subjects by name: the candidates of a counterparty check (organisations only;
    persons are looked up with a declared purpose through ``/api/v1/check``)."""
    registry: screening.RegistryIndex = request.app.state.screening
    return screening.check(registry, screening.CheckQuery(q), top)


@router.get("/records/{record_id}", responses=problems(401, 403, 404))
def get_record(
    record_id: Id,
    factory: Sessions,
    request: Request,
    actor: CurrentActor,
    purpose: PurposeParam = None,
) -> dict[str, Any]:
    """One record: authority, decision reference, type with its legal basis, dates,
    status history and provenance, and the subject it concerns.

    A person's record needs a checker's token and ``purpose`` (401/403 otherwise),
    unless the rulebook publishes its type for persons and it is published today."""
    return access.record_for(factory, actor, record_id, purpose, "api", now_of(request))


# The look-ups of one subject below are ``async def`` on purpose: they take a
# millisecond or two of SQLite reads, less than the hop to a worker thread (and back)
# would cost, so they run on the event loop. Anything that can take longer stays sync.
@router.get(
    "/subjects/{subject_id}", response_model=None, responses=NOT_MODIFIED | problems(401, 403, 404)
)
async def get_subject(
    subject_id: Id,
    factory: Sessions,
    request: Request,
    actor: CurrentActor,
    purpose: PurposeParam = None,
) -> Response:
    """A subject with its identifiers, names and records (person numbers masked).

    A person needs a verified checker's token and ``purpose`` (401 without a token,
    403 without leave or purpose); the look-up is logged. Answers carry a strong
    ``ETag``; ``If-None-Match`` with it answers 304."""
    view = access.subject_for(factory, actor, subject_id, purpose, "api", now_of(request))
    return etag_response(request, view)


@router.get("/subjects/{subject_id}/assessment", responses=problems(401, 403, 404))
def get_assessment(
    subject_id: Id,
    factory: Sessions,
    request: Request,
    actor: CurrentActor,
    purpose: PurposeParam = None,
    as_of: Annotated[Day | None, Query(description="Standing on this day (default: today)")] = None,
    known_at: Annotated[
        Moment | None,
        Query(
            description="As the registry knew it at this moment (default: now): what it "
            "published then, before any later correction"
        ),
    ] = None,
    rulebook: Annotated[
        str | None, Query(description="Rulebook version (default: in force)")
    ] = None,
) -> dict[str, Any]:
    """Points, grade, list memberships and the explanation of every point.

    ``as_of`` asks for the standing on a day; ``known_at`` asks what the registry
    published at a moment: records and corrections recorded later are left out.
    A person's needs a checker's token and ``purpose``, and is logged.
    """
    question = access.AssessmentQuestion(as_of, known_at, rulebook)
    return access.assessment_for(factory, actor, subject_id, purpose, now_of(request), question)


@router.get("/subjects", response_model=None, responses=NOT_MODIFIED | problems(401, 403, 404))
async def find_subject(
    factory: Sessions,
    settings: CurrentSettings,
    request: Request,
    actor: CurrentActor,
    identifier: Annotated[str, Query(description="SCHEME:VALUE, e.g. uscc:91110000802100433B")],
    purpose: PurposeParam = None,
) -> Response:
    """Look a subject up by one of its identifiers (with an ``ETag``, as above).

    A person's full number finds that person, though the registry keeps it only as a
    keyed hash; the answer shows it masked. A person's number needs a checker's token
    and ``purpose`` before it is even looked up."""
    view = access.subject_by_identifier_for(
        factory, actor, identifier, purpose, "api", now_of(request), settings.identifier_key
    )
    return etag_response(request, view)


@router.post("/records", response_model=None, responses=problems(401, 403, 413))
def submit_records(
    factory: Sessions,
    settings: CurrentSettings,
    # The length is checked before the items: a long array of bad items, from anyone,
    # would otherwise cost seconds and an answer listing every one of them.
    records: Annotated[
        list[dict[str, str | int | float | None]], Body(max_length=MAX_RECORDS_PER_REQUEST)
    ],
    authorization: Annotated[str | None, Header()] = None,
) -> dict[str, Any] | JSONResponse:
    """Submit records as an authority (bearer token), as a JSON array of record objects.

    Each object has the columns of the records feed (``docs/formats.md``); ``authority``
    may be left out and defaults to the token's authority. Good records are stored even
    when others are rejected: the answer is 200 with the counts when all were accepted,
    otherwise 422 problem+json whose ``errors`` name each rejected item and field.
    """
    code = _authority(factory, settings.secret_key, authorization)
    rejected: list[Rejection] = []
    report = ingest.import_rows(
        factory,
        "records",
        _rows(records, code),
        Path("api"),
        FeedFormat("json", "utf-8"),
        ingest.ImportOptions(
            identifier_key=settings.identifier_key,
            actor=f"authority:{code}",
            max_name_chars=settings.max_name_chars,
        ),
        rejected.extend,
    )
    counts = {
        "batch": report.batch_id,
        "received": report.rows_read,
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "rejected": report.rejected,
    }
    if not rejected:
        return counts
    return JSONResponse(
        {
            "type": "https://trustreg.example/problems/invalid-input",
            "title": "Invalid input",
            "status": 422,
            "detail": f"{report.rejected} of {report.rows_read} records rejected; "
            "the others were stored",
            "errors": [{"item": r.row, "field": r.field, "reason": r.reason} for r in rejected],
            **counts,
        },
        status_code=422,
        media_type="application/problem+json",
    )


def _authority(factory: Sessions, secret_key: str, authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("an authority's bearer token is required")
    with transaction(factory) as session:
        # An authority account's token (scope records:write) or an authority's own
        # ingest token; either way the records must be of the authority's types.
        actor = accounts.actor_for_token(session, token.strip(), datetime.now(UTC))
        if actor is None:
            return registry.authority_for_token(session, secret_key, token.strip())
    accounts.require(actor, "records:write", "submit records")
    if actor.authority is None:
        raise Forbidden("only an authority's account submits records")
    return actor.authority


def _rows(
    records: list[dict[str, str | int | float | None]], code: str
) -> list[FeedRow | RowProblem]:
    rows: list[FeedRow | RowProblem] = []
    for number, item in enumerate(records, start=1):
        raw = json.dumps(item, ensure_ascii=False)
        fields = {k: "" if v is None else str(v) for k, v in item.items()}
        unknown = [k for k in fields if k not in RECORD_COLUMNS]
        fields.setdefault("authority", code)
        surrogate = surrogate_field(item)
        if surrogate is not None:  # not storable, nor even sayable in the answer
            rows.append(RowProblem(number, surrogate, SURROGATE_REASON, raw))
        elif unknown:
            rows.append(RowProblem(number, unknown[0], "unknown field", raw))
        elif fields["authority"] != code:
            rows.append(RowProblem(number, "authority", f"the token belongs to '{code}'", raw))
        else:
            rows.append(FeedRow(number, fields, raw))
    return rows
