"""Security controls every request passes: rate limits (429), body-size limits (413)
and the security headers of every response.

One pure ASGI middleware, not ``BaseHTTPMiddleware``: the API's hot path (500 requests
a second, p99 within 100 ms) should not pay for a task and a memory stream per
request. A request meets, in order:

1. **Body size.** A Content-Length over the limit gets 413 before anything reads the
   body; a body without one (chunked) is counted as it streams and stopped at the
   limit, before the app has parsed it. JSON and forms may have ``max_body_bytes``,
   files (multipart, CSV, JSON Lines) ``max_upload_bytes``.
2. **Rate limits** (``RULES``) on sign-in, checks and look-ups, screenings: a token
   bucket per account (signed in with a token or a session), else per client address;
   over the limit, 429 with ``Retry-After``. The sign-in page also limits attempts
   per username (``limit``), and the store locks an account after repeated failures
   (``services.lockout``). The buckets live in this process's memory: with
   ``--workers N`` each worker has its own, so a client may get up to N times the
   limit. Counters in the store would make every check a write, which the embedded
   SQLite store (one writer) cannot afford at the API's rate.
3. **Headers** on every response (pages, API, static files, errors): a
   Content-Security-Policy without ``'unsafe-inline'`` (the pages' style is
   ``/static/portal.css``, their only script ``/static/htmx.min.js``), nosniff, no
   framing, no referrer, no powerful features, HSTS over HTTPS, and ``no-store`` on
   everything personal (one's account, file, review queue, any signed-in answer).
"""

from __future__ import annotations

import inspect
import math
import re
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trustreg.config import Settings
from trustreg.errors import TrustRegError
from trustreg.services.accounts import ANONYMOUS
from trustreg.web import auth, problems

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    )
)
# Features no page of the registry uses: a page someone manages to inject into still
# cannot ask for them. Only names browsers know (others are logged as errors).
FEATURES_OFF = (
    "accelerometer",
    "camera",
    "geolocation",
    "gyroscope",
    "magnetometer",
    "microphone",
    "payment",
    "usb",
)
HEADERS = (
    ("content-security-policy", CSP),
    ("x-content-type-options", "nosniff"),
    # no-referrer, not strict-origin-when-cross-origin: an address of the portal carries
    # the name or identifier searched for, which another site must not learn, and the
    # registry itself needs no Referer (its forms carry CSRF tokens).
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    ("permissions-policy", ", ".join(f"{name}=()" for name in FEATURES_OFF)),
    ("cross-origin-opener-policy", "same-origin"),
)
HSTS = (b"strict-transport-security", b"max-age=31536000")
NO_STORE = (b"cache-control", b"no-store")
# Paths whose answers are personal whoever asks (and signed-in answers anywhere).
PRIVATE = (
    "/account",
    "/my-file",
    "/review",
    "/feed",
    "/watches",
    "/api/v1/disputes",
    "/api/v1/repairs",
    "/api/v1/evidence",
    "/api/v1/feed",
    "/api/v1/watches",
    "/api/v1/screenings",
    "/api/v1/subjects/",  # a person's profile, assessment and file
    "/api/v1/records/",
)
UPLOADS = frozenset(
    {"multipart/form-data", "text/csv", "application/x-ndjson", "application/jsonl"}
)

SIGN_IN, SIGN_IN_USER, CHECKS, SCREENINGS = "sign_in", "sign_in_user", "checks", "screenings"
RULES = {
    ("POST", "/account/sign-in"): SIGN_IN,
    ("GET", "/api/v1/check"): CHECKS,
    ("GET", "/api/v1/subjects/search"): CHECKS,
    ("GET", "/api/v1/subjects"): CHECKS,  # by identifier
    ("GET", "/api/v1/eligibility"): CHECKS,
    ("GET", "/search"): CHECKS,
    ("POST", "/search"): CHECKS,
    ("POST", "/api/v1/screenings"): SCREENINGS,
    ("POST", "/api/v1/eligibility/batch"): SCREENINGS,
}
# A person's profile or record shown for a declared purpose: a look-up like a check.
LOOKUP = re.compile(r"/(subjects|records)/\d+")
WHAT = {
    SIGN_IN: "sign-in attempts from this address",
    SIGN_IN_USER: "sign-in attempts for this username",
    CHECKS: "checks and look-ups",
    SCREENINGS: "screening submissions",
}
MAX_KEYS = 100_000  # buckets kept before idle ones are dropped


class TooManyRequests(TrustRegError):
    """Over a rate limit; ``retry_after`` seconds until the next request is allowed."""

    status = 429
    title = "Too many requests"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class BodyTooLarge(StarletteHTTPException):
    """Raised from ``receive`` when a streamed body passes the limit. An HTTPException,
    so FastAPI's body parsing passes it on instead of calling it a malformed body."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"at most {limit:,} bytes")


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """Token buckets: ``per_minute[name]`` requests a minute per key, any of them at
    once; 0 means no limit. In this process's memory (see the module's docstring)."""

    def __init__(self, per_minute: dict[str, int]) -> None:
        self.per_minute = per_minute
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._lock = threading.Lock()  # the sign-in route may run in a worker thread

    def take(self, name: str, key: str, now: float) -> int:
        """Count one request; 0 if allowed, else whole seconds until one will be."""
        capacity = self.per_minute.get(name, 0)
        if capacity <= 0:
            return 0
        rate = capacity / 60.0  # tokens a second
        with self._lock:
            bucket = self._buckets.get((name, key))
            if bucket is None:
                if len(self._buckets) >= MAX_KEYS:
                    self._forget_idle(now)
                bucket = self._buckets[(name, key)] = _Bucket(float(capacity), now)
            # A clock set back (tests, NTP) adds nothing rather than taking tokens away.
            elapsed = max(0.0, now - bucket.at)
            bucket.tokens = min(float(capacity), bucket.tokens + elapsed * rate)
            bucket.at = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0
            return max(1, math.ceil((1.0 - bucket.tokens) / rate))

    def _forget_idle(self, now: float) -> None:
        # A bucket untouched for a minute is full again: forgetting it changes nothing.
        idle = [k for k, b in self._buckets.items() if now - b.at >= 60.0]
        for k in idle:
            del self._buckets[k]
        if len(self._buckets) >= MAX_KEYS:  # a flood of new addresses within a minute
            self._buckets.clear()


def limit(request: Request, name: str, key: str) -> None:
    """Count one request of ``name`` by ``key`` (e.g. a username); TooManyRequests
    over the limit. For limits a route applies once it has read the request."""
    limiter: RateLimiter = request.app.state.rate_limiter
    wait = limiter.take(name, key, auth.now_of(request).timestamp())
    if wait:
        raise TooManyRequests(_too_many(name, limiter.per_minute[name], wait), wait)


def _too_many(name: str, per_minute: int, wait: int) -> str:
    return f"too many {WHAT[name]} (at most {per_minute} a minute); try again in {wait} s"


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def _no_body(scope: Scope) -> bool:
    """HTTP/1 without Content-Length and Transfer-Encoding: no body (RFC 9112, 6.3)."""
    return scope.get("http_version", "1.1") in ("1.0", "1.1") and (
        _header(scope, b"transfer-encoding") is None
    )


def _signed_in(scope: Scope) -> bool:
    """The request carries a bearer token or a session cookie (not yet checked)."""
    if _header(scope, b"authorization"):
        return True
    cookie = _header(scope, b"cookie")
    return cookie is not None and auth.SESSION_COOKIE.encode() + b"=" in cookie


def problem_response(scope: Scope, status: int, title: str, detail: str) -> Response:
    """The one error shape (problem+json, or the error page for a page)."""
    request = Request(scope)
    try:
        return problems.problem(status, title, detail, request)
    except TrustRegError:  # the page could not tell who asks (a revoked token)
        body = {"title": title, "status": status, "detail": detail}
        return JSONResponse(body, status_code=status, media_type="application/problem+json")


class SecurityMiddleware:
    """Body-size and rate limits on the way in, security headers on the way out."""

    def __init__(self, app: ASGIApp, settings: Settings, limiter: RateLimiter) -> None:
        self.app = app
        self.max_body = settings.max_body_bytes
        self.max_upload = settings.max_upload_bytes
        self.limiter = limiter
        self.headers = [(k.encode(), v.encode()) for k, v in HEADERS]
        # HSTS always in production (TLS may end at a proxy); elsewhere only over HTTPS
        # with secure cookies, so a developer's plain-HTTP localhost is never pinned.
        self.hsts_always = settings.environment == "production"
        self.hsts_on_https = settings.cookie_secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.response_headers(scope)

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _merged(message.get("headers") or [], extra)
            await send(message)

        body_limit = self._body_limit(scope)
        declared = _header(scope, b"content-length")
        refusal = self._declared_too_large(scope, declared, body_limit) or self._rate_limited(scope)
        if refusal is not None:
            await refusal(scope, receive, send_secured)
            return
        if declared is not None or _no_body(scope):
            # The server delivers no more than the declared length (h11 and httptools
            # both hold a body to it), so only a body without one needs counting.
            await self.app(scope, receive, send_secured)
            return
        await _LimitedBody(self.app, body_limit)(scope, receive, send_secured)

    def response_headers(self, scope: Scope) -> list[tuple[bytes, bytes]]:
        """The security headers this request's answer gets."""
        extra = list(self.headers)
        if self.hsts_always or (self.hsts_on_https and scope.get("scheme") == "https"):
            extra.append(HSTS)
        path: str = scope["path"]
        if path.startswith(PRIVATE) or (not path.startswith("/static/") and _signed_in(scope)):
            extra.append(NO_STORE)
        return extra

    def _body_limit(self, scope: Scope) -> int:
        media = (_header(scope, b"content-type") or b"").split(b";")[0].strip().lower()
        return self.max_upload if media.decode("latin-1") in UPLOADS else self.max_body

    def _declared_too_large(
        self, scope: Scope, declared: bytes | None, body_limit: int
    ) -> Response | None:
        if declared is None or not declared.isdigit() or int(declared) <= body_limit:
            return None
        detail = f"the request body has {int(declared):,} bytes; at most {body_limit:,}"
        return problem_response(scope, 413, "Payload too large", detail)

    def _rate_limited(self, scope: Scope) -> Response | None:
        method = "GET" if scope["method"] == "HEAD" else scope["method"]
        name = RULES.get((method, scope["path"]))
        if name is None and method == "POST" and LOOKUP.fullmatch(scope["path"]):
            name = CHECKS
        if name is None or self.limiter.per_minute.get(name, 0) <= 0:
            return None
        request = Request(scope)
        wait = self.limiter.take(name, _key(request, name), auth.now_of(request).timestamp())
        if not wait:
            return None
        detail = _too_many(name, self.limiter.per_minute[name], wait)
        response = problem_response(scope, 429, TooManyRequests.title, detail)
        response.headers["Retry-After"] = str(wait)
        return response


def _key(request: Request, name: str) -> str:
    """Whose bucket: the signed-in account's, else the client address's."""
    if name != SIGN_IN and _signed_in(request.scope):
        try:
            actor = auth.actor_of(request)  # kept on the request: the route reuses it
        except TrustRegError:  # a revoked token: the route answers 401
            actor = ANONYMOUS
        if actor.account_id is not None:
            return f"account:{actor.account_id}"
    client = request.scope.get("client")
    return f"address:{client[0] if client else 'unknown'}"


def _merged(
    headers: list[tuple[bytes, bytes]], extra: list[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    """The response's headers with ours instead of any of the same name (a route's own
    nosniff is not sent twice; with no-store, whatever caching the route allowed goes)."""
    ours = {name for name, _ in extra}
    return [h for h in headers if h[0].lower() not in ours] + extra


class _LimitedBody:
    """Runs the app with a ``receive`` that stops a body at ``limit`` bytes; the app's
    answer to that is replaced by the one 413 answer."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit
        self.total, self.over, self.started = 0, False, False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counted() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                self.total += len(message.get("body", b""))
                if self.total > self.limit:
                    self.over = True
                    raise BodyTooLarge(self.limit)
            return message

        async def checked(message: Message) -> None:
            if not self.over:
                self.started = self.started or message["type"] == "http.response.start"
                await send(message)
            elif message["type"] == "http.response.start" and not self.started:
                self.started = True
                await self._answer(scope, receive, send)
            # Otherwise the app's own answer to BodyTooLarge: replaced above.

        try:
            await self.app(scope, counted, checked)
        except BodyTooLarge:
            if self.started:
                raise
            self.started = True
            await self._answer(scope, receive, send)

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = f"the request body is larger than the limit of {self.limit:,} bytes"
        await problem_response(scope, 413, "Payload too large", detail)(scope, receive, send)


Handler = Callable[[Request, Exception], Response | Awaitable[Response]]


def _with_headers(middleware: SecurityMiddleware, handler: Handler) -> Handler:
    async def secured(request: Request, exc: Exception) -> Response:
        answer = handler(request, exc)
        response = await answer if inspect.isawaitable(answer) else answer
        response.raw_headers[:] = _merged(
            response.raw_headers, middleware.response_headers(request.scope)
        )
        return response

    return secured


async def _too_many_requests(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TooManyRequests)
    response = problems.problem(429, exc.title, exc.detail, request)
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


def install(app: FastAPI, settings: Settings) -> None:
    """Add the middleware and the 429 handler. Call after ``problems.install``: the
    500 answer is made outside every middleware, so its handler is wrapped to carry
    the headers too."""
    limiter = RateLimiter(
        {
            SIGN_IN: settings.limit_sign_ins_per_minute,
            SIGN_IN_USER: settings.limit_sign_ins_per_user_per_minute,
            CHECKS: settings.limit_checks_per_minute,
            SCREENINGS: settings.limit_screenings_per_minute,
        }
    )
    app.state.rate_limiter = limiter
    app.add_middleware(SecurityMiddleware, settings=settings, limiter=limiter)
    app.add_exception_handler(TooManyRequests, _too_many_requests)
    unexpected = app.exception_handlers.get(Exception)
    if unexpected is not None:
        headers_of = SecurityMiddleware(app.router, settings, limiter)
        app.add_exception_handler(Exception, _with_headers(headers_of, unexpected))
