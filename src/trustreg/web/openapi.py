"""The API's OpenAPI document: every error declared as RFC 9457 problem+json.

Each route names the errors it answers with, next to the code that raises them::

    @router.get("/things/{thing_id}", responses=problems(401, 403, 404))

``install`` finishes the document in one place, with what holds for many operations:
the ``Problem`` schema; 422 on every operation (FastAPI's own validation-error shape
replaced: ``web.problems`` answers problem+json); 400 (a body that cannot be parsed)
and 413 (``web.security``'s size limit) on every operation with a body; 429 with
``Retry-After`` on those ``web.security`` rate-limits; 500 on every operation, since
any can fail unexpectedly; and every error's content made ``application/problem+json``.
The API fuzzing test (``tests/test_api_fuzz.py``) holds the app to what the document
says.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from trustreg.web.security import RULES

PROBLEM_MEDIA = "application/problem+json"
REF = "#/components/schemas/"
DESCRIPTIONS = {
    400: "A body that cannot be read (``detail`` says why)",
    401: "No valid account token: send ``Authorization: Bearer trk_…``",
    403: "This account may not do this (scope, role or purpose)",
    404: "Not found, or not visible to this account",
    409: "Conflict with the current state (e.g. already decided, not finished yet)",
    413: "The request is larger than this endpoint accepts",
    422: "Invalid input: ``errors`` names each field and the reason",
    429: "Too many requests: wait for ``Retry-After`` seconds",
    500: "Unexpected error: quote its ``request_id`` (also the ``X-Request-ID`` header)",
}
NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: ``If-None-Match`` named the current ``ETag``"}
}
# The answer of a route that sends CSV, not JSON (its ``response_class`` has no media type).
CSV: dict[int | str, dict[str, Any]] = {
    200: {"description": "CSV, UTF-8", "content": {"text/csv": {"schema": {"type": "string"}}}}
}


class FieldProblem(BaseModel):
    """One thing wrong with one field."""

    field: str = Field(description="Where: a parameter, a body field or a column")
    reason: str
    item: int | None = Field(None, description="The item's number in a submitted array")


class Problem(BaseModel):
    """An error, as RFC 9457 problem details; some carry more members (e.g. counts)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="A URI naming the kind of problem")
    title: str
    status: int = Field(description="The HTTP status of the answer")
    detail: str = Field(description="What went wrong, for a person to read")
    instance: str | None = Field(None, description="The path that was asked for")
    errors: list[FieldProblem] | None = Field(None, description="Each field that is wrong")
    request_id: str | None = Field(
        None, description="The request's id, also sent as ``X-Request-ID``: in every log line"
    )


RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds until the next request is allowed",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }
}


def _problem_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": DESCRIPTIONS[status],
        "content": {PROBLEM_MEDIA: {"schema": {"$ref": REF + "Problem"}}},
    }
    if status == 429:
        response["headers"] = RETRY_AFTER
    return response


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route that answers these errors (as problem+json)."""
    return {status: _problem_response(status) for status in statuses}


def _schemas() -> dict[str, Any]:
    schema = Problem.model_json_schema(ref_template=REF + "{model}")
    found: dict[str, Any] = schema.pop("$defs", {})
    return found | {"Problem": schema}


def finish(document: dict[str, Any]) -> dict[str, Any]:
    """Declare the errors every API operation may answer, all as problem+json."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for fastapi_shape in ("HTTPValidationError", "ValidationError"):
        schemas.pop(fastapi_shape, None)
    schemas.update(_schemas())
    for path, item in document.get("paths", {}).items():
        if not path.startswith("/api/"):
            continue
        for method, operation in item.items():
            responses: dict[str, Any] = operation.setdefault("responses", {})
            # 422 even without parameters: a NUL in any query is refused (``deps``).
            added = {"422", "500"}
            if operation.get("requestBody"):
                added |= {"400", "413"}
            if (method.upper(), path) in RULES:
                added.add("429")
            for status in sorted(added):
                responses.setdefault(status, {})
            for status in [s for s in responses if s.isdigit() and int(s) >= 400]:
                responses[status] = _problem_response(int(status))
            operation["responses"] = dict(sorted(responses.items()))
    return document


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` (and so ``/api/openapi.json``) the finished document."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        document = build()  # FastAPI's, made once and cached on the app
        if "Problem" not in document.get("components", {}).get("schemas", {}):
            finish(document)
        return document

    app.openapi = openapi  # type: ignore[method-assign]
