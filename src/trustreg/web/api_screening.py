"""Counterparty checks and screenings under ``/api/v1``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from trustreg.core.vocabulary import PURPOSES
from trustreg.errors import InputFileError
from trustreg.services import screening, screening_jobs
from trustreg.services.screening_file import ScreenOptions
from trustreg.web.api import PayloadTooLarge
from trustreg.web.auth import CurrentActor
from trustreg.web.deps import CurrentSettings
from trustreg.web.openapi import CSV, problems

router = APIRouter(prefix="/api/v1", tags=["checks"])
MAX_SCREENING_BYTES = 64 * 1024 * 1024
FORMATS = {"text/csv": "csv", "application/x-ndjson": "jsonl", "application/jsonl": "jsonl"}
Purpose = Annotated[
    str | None,
    Query(
        max_length=32,
        description=f"Why persons are checked: one of {', '.join(PURPOSES)}. Without it, "
        "person entries are never shown; with it (and a verified checker's token, scope "
        "check), every person shown is logged and shown to that person.",
    ),
]


def registry_of(request: Request) -> screening.RegistryIndex:
    found: screening.RegistryIndex = request.app.state.screening
    return found


@router.get("/check", response_model=None, responses=problems(401, 403))
async def check(
    request: Request,
    actor: CurrentActor,
    name: Annotated[str, Query(max_length=10_000, description="The counterparty's name")],
    kind: Annotated[str | None, Query(max_length=24)] = None,
    identifier: Annotated[
        str | None,
        Query(alias="id", max_length=100, description="SCHEME:VALUE, looked up exactly"),
    ] = None,
    country: Annotated[str | None, Query(max_length=2)] = None,
    birth_date: Annotated[str | None, Query(max_length=10)] = None,
    address: Annotated[str | None, Query(max_length=300)] = None,
    top: Annotated[int, Query(ge=1, le=screening.MAX_TOP)] = 5,
    purpose: Purpose = None,
) -> JSONResponse:
    """Candidates for one counterparty: score, decision (match, review, no_match), what
    agreed and disagreed, and each subject's current grade and lists."""
    query = screening.CheckQuery(name, kind, identifier, country, birth_date, address)
    registry = registry_of(request)
    if registry.ready():
        # A check takes about a millisecond once the index is built: on the event loop.
        answer = screening.check(registry, query, top, purpose, actor=actor)
    else:  # the index is (re)built first: seconds to minutes, in a worker thread
        answer = await run_in_threadpool(
            screening.check, registry, query, top, purpose, actor=actor
        )
    return JSONResponse(answer)


# The body is read raw (CSV or JSON Lines), so it is described here for the document.
FILE_BODY = {
    "requestBody": {
        "required": True,
        "content": {media: {"schema": {"type": "string"}} for media in FORMATS},
    }
}


@router.post(
    "/screenings",
    status_code=202,
    responses=problems(400, 401, 403, 413),
    openapi_extra=FILE_BODY,
)
async def post_screening(
    request: Request,
    settings: CurrentSettings,
    actor: CurrentActor,
    top: Annotated[int, Query(ge=1, le=screening.MAX_TOP)] = 3,
    purpose: Purpose = None,
) -> JSONResponse:
    """Screen a file (CSV or JSON Lines with ``ref,name,kind,id_scheme,id_value,
    country,birth_date,address``) as a job; poll its status, then download the result."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    file_format = FORMATS.get(media)
    if file_format is None:
        raise InputFileError(f"send text/csv or application/x-ndjson, not '{media or 'none'}'")
    data = await request.body()
    if len(data) > MAX_SCREENING_BYTES:
        raise PayloadTooLarge(f"at most {MAX_SCREENING_BYTES // 1024 // 1024} MiB per screening")
    label = actor.label if actor.signed_in else "api"
    options = ScreenOptions(top=top, purpose=purpose, actor=label, workers=1)
    job = await run_in_threadpool(
        screening_jobs.submit,
        registry_of(request),
        settings.data_dir,
        data,
        file_format,
        options,
        actor,
    )
    location = f"/api/v1/screenings/{job['id']}"
    return JSONResponse(job, status_code=202, headers={"Location": location})


@router.get("/screenings/{job_id}", responses=problems(404))
def get_screening(request: Request, actor: CurrentActor, job_id: str) -> dict[str, Any]:
    """A screening's status and counts; ``result`` links the CSV once it is done. A
    screening of persons is known only to the checker who submitted it."""
    return screening_jobs.status(registry_of(request), job_id, actor)


@router.get(
    "/screenings/{job_id}/result", response_class=FileResponse, responses=CSV | problems(404)
)
def get_screening_result(
    request: Request, settings: CurrentSettings, actor: CurrentActor, job_id: str
) -> FileResponse:
    """The result CSV (``ref,rank,subject_id,matched_id,matched_name,score,decision,
    lists,grade,explanation``); of a screening with persons, only for its submitter."""
    path = screening_jobs.result_path(registry_of(request), settings.data_dir, job_id, actor)
    return FileResponse(path, media_type="text/csv; charset=utf-8", filename=f"{job_id}.csv")
