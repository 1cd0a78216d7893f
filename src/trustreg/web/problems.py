"""One error shape for every error: RFC 9457 ``application/problem+json``.

HTML pages get the same information rendered as a page; JSON clients (anything
under ``/api/``) get the problem document. Unexpected errors are logged with a
trace id and answered 500 with that id, never with the exception text.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from trustreg.errors import TrustRegError, ValidationError
from trustreg.web.deps import render

log = logging.getLogger("trustreg.web")
PROBLEM_TYPE = "https://trustreg.example/problems/"


def problem(status: int, title: str, detail: str, request: Request, **extra: Any) -> Response:
    body = {
        "type": PROBLEM_TYPE + title.lower().replace(" ", "-"),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **extra,
    }
    if request.url.path.startswith("/api/"):
        return JSONResponse(body, status_code=status, media_type="application/problem+json")
    return render(request, "error.html", {"problem": body}, status_code=status)


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TrustRegError)
    extra: dict[str, Any] = {}
    if isinstance(exc, ValidationError):
        extra["errors"] = [{"field": p.field, "reason": p.reason} for p in exc.problems]
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    response = problem(exc.status, exc.title, exc.detail, request, **extra)
    if headers:
        response.headers.update(headers)
    return response


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    titles = {404: "Not found", 405: "Method not allowed"}
    return problem(
        exc.status_code, titles.get(exc.status_code, "HTTP error"), str(exc.detail), request
    )


async def _request_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": ".".join(str(p) for p in e.get("loc", ())), "reason": e.get("msg", "")}
        for e in exc.errors()
    ]
    return problem(
        422, "Invalid input", "the request does not match the API", request, errors=errors
    )


async def _unexpected(request: Request, exc: Exception) -> Response:
    trace = uuid.uuid4().hex
    log.exception("unexpected error, trace %s", trace, exc_info=exc)
    return problem(
        500, "Internal error", f"something went wrong; trace id {trace}", request, trace_id=trace
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(TrustRegError, _domain_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _request_error)
    app.add_exception_handler(Exception, _unexpected)


__all__ = ["HTMLResponse", "install", "problem"]
