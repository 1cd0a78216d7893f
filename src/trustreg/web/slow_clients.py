"""Time and size limits on reading a request: slow and oversized clients are dropped.

uvicorn bounds only the idle time between requests (``timeout_keep_alive``). A client
that sends its headers a byte a second ("slowloris"), or its body a byte at a time,
keeps its connection as long as it likes, and the httptools parser takes headers of
any size. :func:`protocol` gives ``trustreg serve`` uvicorn's httptools protocol with
three limits:

- the request head (request line and headers) must arrive within
  ``request_header_seconds`` of the connection, or of the first byte of the next
  request on a kept-alive connection, else 408 and the connection is closed;
- the head may have at most ``MAX_HEAD_BYTES``, else 431 and the connection is closed;
- the body must arrive within ``request_body_seconds``, one second more for every
  ``BODY_BYTES_PER_SECOND`` received (a large upload over a slow line still arrives,
  a trickle does not), else 408 (if the answer has not started) and the connection is
  closed. The app then sees the client gone; :func:`install` answers that quietly.

A slow client never blocks others (each connection is a coroutine on the event loop);
what these limits bound is how long it holds a connection. Many slow connections from
many addresses still cost a file descriptor and a little memory each until their time
runs out: in production a reverse proxy in front (nginx ``client_header_timeout``,
``client_body_timeout``, ``limit_conn``) is the first line (docs/deployment.md).
"""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.requests import ClientDisconnect
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol  # uvicorn[standard]

from trustreg.config import Settings

log = logging.getLogger("trustreg.web")
MAX_HEAD_BYTES = 64 * 1024
BODY_BYTES_PER_SECOND = 16 * 1024


def _answer(status: bytes, text: bytes) -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: text/plain; charset=utf-8\r\n"
        b"content-length: " + str(len(text)).encode() + b"\r\nconnection: close\r\n\r\n" + text
    )


TIMEOUT = _answer(b"408 Request Timeout", b"The request was not received in time.\n")
HEAD_TOO_LARGE = _answer(
    b"431 Request Header Fields Too Large", b"The request's headers are too large.\n"
)


def protocol(settings: Settings) -> type[asyncio.Protocol]:
    """The HTTP protocol class for uvicorn's ``http`` option, with the limits of
    ``settings``."""
    limits = {
        "header_seconds": settings.request_header_seconds,
        "body_seconds": settings.request_body_seconds,
    }
    return type("LimitedHttpToolsProtocol", (_Limited,), limits)


class _Limited(HttpToolsProtocol):
    """httptools' protocol with a deadline on each phase of reading a request.

    One timer per connection, armed for the current phase's deadline; a body's
    deadline moves later as bytes arrive, so the timer re-arms itself rather than
    being replaced on every chunk."""

    header_seconds = 10.0
    body_seconds = 30.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._timer: asyncio.TimerHandle | None = None
        self._phase = "head"  # "head", "body" or "" (nothing being read)
        self._head_bytes = 0
        self._start(self.header_seconds)

    def connection_lost(self, exc: Exception | None) -> None:
        self._phase = ""
        self._cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        in_head = self._phase == "head"
        super().data_received(data)
        # Counted after parsing: a chunk that ends the head is no longer in it.
        if in_head and self._phase == "head":
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._drop(HEAD_TOO_LARGE)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._phase != "head":  # the next request on a kept-alive connection
            self._phase, self._head_bytes = "head", 0
            self._start(self.header_seconds)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._phase = "body"
        self._start(self.body_seconds)

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        self._deadline += len(body) / BODY_BYTES_PER_SECOND

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._phase = ""
        self._cancel()

    def _start(self, seconds: float) -> None:
        self._cancel()
        self._deadline = self.loop.time() + seconds
        self._timer = self.loop.call_later(seconds, self._check)

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check(self) -> None:
        self._timer = None
        if not self._phase:
            return
        left = self._deadline - self.loop.time()
        if left > 0:
            self._timer = self.loop.call_later(left, self._check)
            return
        log.info("%s of a request not received in time: disconnected", self._phase)
        self._drop(TIMEOUT)

    def _drop(self, answer: bytes) -> None:
        """Answer (unless an answer is under way) and close; the app, if it is waiting
        for the body, is told the client is gone."""
        self._phase = ""
        self._cancel()
        cycle = self.cycle
        answering = cycle is not None and cycle.response_started and not cycle.response_complete
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # the app's answer, if any, goes nowhere
            cycle.message_event.set()
        if not answering and not self.transport.is_closing():
            self.transport.write(answer)
        self.transport.close()


async def _client_gone(request: Request, exc: Exception) -> Response:
    # Nobody is listening for this answer; a gone client is not a server error.
    log.info("client disconnected before its request was read: %s", request.url.path)
    return Response(status_code=400)


def install(app: FastAPI) -> None:
    """A client gone mid-request (dropped as too slow, or given up) is not a 500."""
    app.add_exception_handler(ClientDisconnect, _client_gone)
