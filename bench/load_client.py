"""A lean HTTP/1.1 keep-alive client for the API load benchmark.

Why not httpx or aiohttp: the generator shares the benchmark's two cores with the
server it measures. httpx spends about 3 ms of CPU on a request, which at 500
requests/s would take one and a half cores from the server. This client writes
prepared GET requests on persistent connections and reads answers by their
``Content-Length`` (our server always sends one); it spends a few tens of
microseconds per request, so nearly all the CPU stays with the server.

It understands only what the benchmark needs: GET, HTTP/1.1, ``Content-Length``
bodies, one request at a time per connection.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit


class HttpError(Exception):
    """A request that got no complete answer (connection closed, bad framing)."""


class _Answer(asyncio.Protocol):
    """One connection; the protocol resolves a future per answer."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.waiting: asyncio.Future[int] | None = None
        self.buffer = bytearray()
        self.needed = -1  # bytes of the whole answer once its head is read
        self.status = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.needed < 0:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).lower()
            self.status = int(head[9:12])
            at = head.find(b"\r\ncontent-length:")
            if at < 0:
                self._fail(HttpError("an answer without Content-Length"))
                return
            line_end = head.find(b"\r\n", at + 2)
            length = int(head[at + 17 : line_end if line_end >= 0 else len(head)])
            self.needed = end + 4 + length
        if len(self.buffer) >= self.needed:
            del self.buffer[: self.needed]
            self.needed = -1
            if self.waiting is not None and not self.waiting.done():
                self.waiting.set_result(self.status)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(HttpError(f"connection closed: {exc}"))

    def _fail(self, error: Exception) -> None:
        if self.waiting is not None and not self.waiting.done():
            self.waiting.set_exception(error)
        if self.transport is not None:
            self.transport.close()


class Connection:
    """A persistent connection to one server; reconnects after a failure."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.head = f"Host: {parts.netloc}\r\nAccept: application/json\r\n\r\n".encode()
        self.protocol: _Answer | None = None

    async def get(self, path: str, timeout: float = 30.0) -> int:
        """The status code of ``GET path``; HttpError or TimeoutError without one."""
        transport = self.protocol.transport if self.protocol else None
        if transport is None or transport.is_closing():
            loop = asyncio.get_running_loop()
            _, self.protocol = await loop.create_connection(_Answer, self.host, self.port)
        protocol = self.protocol
        assert protocol.transport is not None
        protocol.waiting = asyncio.get_running_loop().create_future()
        protocol.transport.write(b"GET " + path.encode() + b" HTTP/1.1\r\n" + self.head)
        try:
            return await asyncio.wait_for(protocol.waiting, timeout)
        except BaseException:
            protocol.transport.close()
            self.protocol = None
            raise
