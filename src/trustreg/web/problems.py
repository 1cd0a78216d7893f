"""One error shape for every error: RFC 9457 ``application/problem+json``.

HTML pages get the same information rendered as a page; JSON clients (anything
under ``/api/``, and the operations endpoints) get the problem document. Every
problem carries the ``request_id`` of its request (``web.observability``), also sent
as the ``X-Request-ID`` header: a user quotes it, the operator finds the log lines.
Unexpected errors are logged with that id and answered 500 with it, never with the
exception text.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from trustreg.errors import TrustRegError, ValidationError
from trustreg.logs import LOGGED_ERROR, REQUEST_ID, new_id
from trustreg.web.deps import render

log = logging.getLogger("trustreg.web")
PROBLEM_TYPE = "https://trustreg.example/problems/"
# Paths outside /api/ that machines read: their errors are problem documents too.
MACHINE_PATHS = ("/healthz", "/readyz", "/metrics")
MAX_ERRORS = 100  # field problems listed in one answer


def problem(status: int, title: str, detail: str, request: Request, **extra: Any) -> Response:
    request_id = REQUEST_ID.get() or new_id()
    body = {
        "type": PROBLEM_TYPE + title.lower().replace(" ", "-"),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "request_id": request_id,
        **extra,
    }
    # The header too: a 500 is sent from outside the middleware that adds it.
    headers = {"X-Request-ID": request_id}
    path = request.url.path
    if path.startswith("/api/") or path in MACHINE_PATHS:
        return JSONResponse(
            body, status_code=status, media_type="application/problem+json", headers=headers
        )
    response = render(request, "error.html", {"problem": body}, status_code=status)
    response.headers.update(headers)
    return response


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
    titles = {400: "Bad request", 404: "Not found", 405: "Method not allowed"}
    response = problem(
        exc.status_code, titles.get(exc.status_code, "HTTP error"), str(exc.detail), request
    )
    response.headers.update(exc.headers or {})  # a 405's Allow (RFC 9110 15.5.6)
    return response


async def _request_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    found = exc.errors()
    # The first ones only: a body of a million bad items would otherwise be answered
    # with a million errors (megabytes, seconds of work).
    errors = [
        {"field": ".".join(str(p) for p in e.get("loc", ())), "reason": e.get("msg", "")}
        for e in found[:MAX_ERRORS]
    ]
    detail = "the request does not match the API"
    if len(found) > MAX_ERRORS:
        detail += f" ({len(found):,} problems; the first {MAX_ERRORS} are listed)"
    return problem(422, "Invalid input", detail, request, errors=errors)


async def _unexpected(request: Request, exc: Exception) -> Response:
    request_id = REQUEST_ID.get() or new_id()
    REQUEST_ID.set(request_id)
    log.exception("unexpected error", exc_info=exc)
    LOGGED_ERROR.set(id(exc))  # the server need not log the same traceback again
    return problem(500, "Internal error", f"something went wrong; request id {request_id}", request)


def install(app: FastAPI) -> None:
    app.add_exception_handler(TrustRegError, _domain_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _request_error)
    app.add_exception_handler(Exception, _unexpected)


__all__ = ["HTMLResponse", "install", "problem"]
