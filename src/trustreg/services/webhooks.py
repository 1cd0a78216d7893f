"""Webhooks: which URLs are accepted, how a body is signed, and one POST.

A body is signed with HMAC-SHA256 under the watch's secret; the signature goes in
``X-Trustreg-Signature: sha256=<hex>``, so the receiver recomputes it over the raw
body and compares (``docs/watches.md``). The POST uses the standard library with a
short timeout and follows no redirect: a redirect is an answer other than 2xx.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from trustreg.errors import ValidationError

TIMEOUT_SECONDS = 10
MAX_URL = 2000
SECRET_PREFIX = "whsec_"
USER_AGENT = "trustreg-webhooks/1"


def new_secret() -> str:
    """A fresh signing secret (256 random bits)."""
    return SECRET_PREFIX + secrets.token_hex(32)


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for this body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def check_url(url: str, production: bool) -> str:
    """The URL if a webhook may be sent there; ValidationError saying why not.

    http or https with a host; in production https only, and not a loopback,
    private or link-local address (the registry must not be a way into its own
    network).
    """
    url = url.strip()
    if len(url) > MAX_URL:
        raise ValidationError("webhook_url", f"is longer than {MAX_URL} characters")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise ValidationError("webhook_url", "must not contain control characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a port out of range raises here, not when sending)
    except ValueError as exc:  # e.g. an unclosed IPv6 bracket, port 99999
        raise ValidationError("webhook_url", f"is not a URL ({exc})") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("webhook_url", "must be an http or https URL with a host")
    if parts.username or parts.password:
        raise ValidationError("webhook_url", "must not carry a user name or password")
    if production and parts.scheme != "https":
        raise ValidationError("webhook_url", "must be an https URL")
    if production and _internal(parts.hostname):
        raise ValidationError("webhook_url", f"{parts.hostname} is not a public address")
    return url


def _internal(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # a name: resolved when sent
    return not address.is_global


@dataclass(frozen=True, slots=True)
class Answer:
    """What one POST came to: the HTTP status, or the error that prevented one."""

    status: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


Sender = Callable[[str, bytes, Mapping[str, str]], Answer]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args: object, **_kwargs: object) -> None:
        return None  # the 3xx then comes back as an HTTPError


_OPENER = urllib.request.build_opener(_NoRedirect)


def post(url: str, body: bytes, headers: Mapping[str, str]) -> Answer:
    """POST ``body`` to ``url`` once; never raises for what the network does."""
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
    )
    started = time.monotonic()
    try:
        with _OPENER.open(request, timeout=TIMEOUT_SECONDS) as response:
            status: int | None = response.status
            error = None
    except urllib.error.HTTPError as exc:
        status, error = exc.code, f"HTTP {exc.code} {exc.reason}"
        exc.close()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        # URLError carries the cause (refused, unknown host); OSError a timeout.
        reason = getattr(exc, "reason", None) or exc
        status, error = None, f"{type(exc).__name__}: {reason}"
    return Answer(status, error, int((time.monotonic() - started) * 1000))
