"""Helpers of the watch tests: a real webhook receiver, checkers, watched subjects.

The receiver is an ``http.server`` on 127.0.0.1 in a thread: the registry really
POSTs to it over TCP. It checks each body's signature with the watch's secret the
way a checker's own server would (``docs/watches.md``), independently of the
registry's code, and answers with the statuses it was told to.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.accounts import make_account
from tests.feeds import (
    KEY,
    add_authorities,
    run_import,
    subject_name,
    subject_row,
    uscc,
    write_subjects,
)
from trustreg.services import accounts, watch
from trustreg.services.accounts import Actor
from trustreg.store.db import transaction
from trustreg.store.models import Subject


@dataclass(frozen=True)
class Received:
    """One POST as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    signed: bool  # the signature header matched the HMAC of the raw body


class Receiver:
    """A webhook endpoint on this machine; answers ``answers`` in turn, then ``otherwise``."""

    def __init__(self, answers: Sequence[int] = (), otherwise: int = 200) -> None:
        self.secret = ""
        self.received: list[Received] = []
        self._answers = list(answers)
        self._otherwise = otherwise
        self._lock = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/hooks/trustreg"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def wait_for(self, count: int, timeout: float = 60) -> bool:
        """Wait until ``count`` POSTs have come (for a sender in another thread)."""
        with self._lock:
            return self._lock.wait_for(lambda: len(self.received) >= count, timeout)

    def events(self) -> list[str]:
        return [r.body["event"] for r in self.received]

    def _take(self, request: BaseHTTPRequestHandler) -> int:
        body = request.rfile.read(int(request.headers["Content-Length"]))
        expected = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        sent = request.headers.get("X-Trustreg-Signature", "")
        with self._lock:
            self.received.append(
                Received(
                    request.path,
                    dict(request.headers.items()),
                    json.loads(body),
                    hmac.compare_digest(expected, sent),
                )
            )
            self._lock.notify_all()
            return self._answers.pop(0) if self._answers else self._otherwise

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                status = receiver._take(self)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass  # quiet

        return Handler


def checker(
    factory: sessionmaker[Session],
    username: str = "bank",
    scopes: Sequence[str] = ("read", "check", "watch"),
    verified: bool = True,
) -> Actor:
    """A checker account and the actor of a token of it with ``scopes``."""
    make_account(factory, username, "checker", verified=verified)
    now = datetime.now(UTC)
    _, token = accounts.issue_api_token(factory, username, scopes, now)
    with transaction(factory) as session:
        actor = accounts.actor_for_token(session, token, now)
    assert actor is not None
    return actor


def companies(factory: sessionmaker[Session], tmp_path: Path, *numbers: int) -> list[int]:
    """Import companies ``numbers`` (no records: grade A, on no list); their ids."""
    add_authorities(factory)
    path = write_subjects(tmp_path / "subjects.csv", [subject_row(n) for n in numbers])
    run_import(factory, "subjects", path)
    with transaction(factory) as session:
        ids = dict(session.execute(select(Subject.display_name, Subject.id)).all())
    return [ids[subject_name(n)] for n in numbers]


def watch_company(
    factory: sessionmaker[Session], actor: Actor, n: int, receiver: Receiver | None
) -> dict[str, Any]:
    """``actor`` watches company ``n`` (posting to ``receiver``, whose secret it sets)."""
    asked = watch.WatchRequest(f"uscc:{uscc(n)}", receiver.url if receiver else None)
    made = watch.create_watch(
        factory, actor, asked, datetime.now(UTC), identifier_key=KEY, production=False
    )
    if receiver is not None:
        receiver.secret = made["secret"]
    return made
