"""Hostile input for the tests of issue 8 item 2: payloads, and the checks that an
answer did not let one through.

``inert_problems(response)`` parses an HTML answer (``html.parser``) and names every
element or attribute that came from a payload: an inline script, an ``<img src=x>``,
an ``onerror`` handler, a template expression that was evaluated. Escaped payloads
are text and pass. A CSV answer fails where a cell a spreadsheet would run as a
formula was not defused. ``hostile_world`` is the authorization matrix's registry
(``tests.authz_world``) with the rate limits and the lock-out off, so that hundreds of
requests of one account are answered rather than throttled.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.authz_world import World, serving
from tests.conftest import RULEBOOK
from trustreg.config import Settings
from trustreg.services import audit
from trustreg.store.db import transaction
from trustreg.store.models import Dispute, ListEntry, Record, Subject
from trustreg.web.app import create_app

SSTI_RESULT = "54439"  # 7 * 7777, what an evaluated template expression would show
# One of each class; short enough for the 32-character parameters (purpose).
PAYLOADS = {
    "sql": "' OR 1=1 --",
    "sql-drop": '"; DROP TABLE records; --',
    "script": "<script>alert(7001)</script>",
    "attribute": '"><img src=x onerror=alert(7002)>',
    "template": "{{7*7777}}",
    "nul": "a\x00b",
    "long": "A" * 9000,
    "bidi": "\u202eab\u200bc\u2066",  # right-to-left override, zero-width space, isolate
    "surrogate": "x\ud800y",  # a lone surrogate: percent-encoded as its (invalid) UTF-8
}
# For each stored text field: every markup class at once, after a formula trigger.
MARKUP = "<script>alert(7001)</script>\"><img src=x onerror=alert(7002)>{{7*7777}}' OR 1=1; --"
FORMULA_STARTS = ("=", "+", "-", "@")


def hostile(start: str = "=", extra: str = "") -> str:
    """A stored value: a spreadsheet formula, markup, a template and SQL in one."""
    return f'{start}HYPERLINK("http://evil.example"){extra}{MARKUP}'


def encoded(value: str) -> str:
    """``value`` percent-encoded for a URL; a lone surrogate as the bytes it would be
    in UTF-8 (``%ED%A0%80``), which no decoder accepts."""
    data = value.encode("utf-8", "surrogatepass")
    return "".join(chr(b) if chr(b).isalnum() or chr(b) in "-._~" else f"%{b:02X}" for b in data)


class _Markup(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if any(name.startswith("on") for name in names):
            self.found.append(f"<{tag}> with an event handler {sorted(names)}")
        if tag == "img" and ("src", "x") in attrs:
            self.found.append("<img src=x>")
        if tag == "script" and "src" not in names:
            self.found.append("an inline <script>")
        if any(SSTI_RESULT in (value or "") for _, value in attrs):
            self.found.append(f"an evaluated template in an attribute of <{tag}>")
        self._script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._script = False

    def handle_data(self, data: str) -> None:
        if self._script and "alert(" in data:
            self.found.append("script text from a payload")
        if SSTI_RESULT in data:
            self.found.append("an evaluated template expression")


def inert_problems(response: Response) -> list[str]:
    """What in this answer came from a payload (empty: nothing); 5xx answers count."""
    problems = [f"answered {response.status_code}"] if response.status_code >= 500 else []
    kind = response.headers.get("content-type", "")
    if kind.startswith("text/html"):
        parser = _Markup()
        parser.feed(response.text)
        parser.close()
        problems += parser.found
    elif "json" in kind:
        response.json()  # the value is data: it only has to be JSON
    elif kind.startswith("text/csv"):
        problems += formula_cells(response.text)
    return problems


def formula_cells(text: str) -> list[str]:
    """Cells a spreadsheet would run as a formula: starting with = + - @ (a tab or a
    carriage return too) and not a plain number."""
    found = []
    for row in csv.reader(io.StringIO(text)):
        for cell in row:
            if cell[:1] in ("=", "+", "-", "@", "\t", "\r") and not _number(cell):
                found.append(f"formula cell {cell[:40]!r}")
    return found


def _number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def settings_of(tmp_path: Path) -> Settings:
    """Test settings without rate limits or lock-out (unknown names are ignored)."""
    limits_off: dict[str, Any] = {
        "limit_sign_ins_per_minute": 0,
        "limit_sign_ins_per_user_per_minute": 0,
        "limit_checks_per_minute": 0,
        "limit_screenings_per_minute": 0,
        "lockout_failures": 0,
    }
    return Settings(
        environment="test",
        data_dir=tmp_path / "var",
        database_url=f"sqlite:///{tmp_path / 'registry.db'}",
        rulebook=RULEBOOK,
        **limits_off,
    )


def hostile_world(tmp_path: Path) -> Iterator[World]:
    """The authorization matrix's registry, for hostile requests."""
    app = create_app(settings_of(tmp_path))
    yield from serving(app, tmp_path)


def api(world: World, role: str | None = None) -> TestClient:
    """An API client (no cookies) with ``role``'s bearer token; 5xx are answers."""
    headers = {"Authorization": f"Bearer {world.tokens[role]}"} if role else {}
    return TestClient(
        world.app, base_url="https://testserver", headers=headers, raise_server_exceptions=False
    )


def counts(factory: sessionmaker[Session]) -> dict[str, int]:
    """Rows of the tables an injection would hit first."""
    with transaction(factory) as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Record, Subject, Dispute, ListEntry)
        }


def audit_intact(factory: sessionmaker[Session]) -> bool:
    return audit.verify(factory).intact


def form_body(fields: dict[str, str]) -> bytes:
    """A urlencoded form, by hand: a lone surrogate goes as its (invalid) UTF-8."""
    return "&".join(f"{encoded(k)}={encoded(v)}" for k, v in fields.items()).encode()


BOUNDARY = "hostileboundary7001"


def multipart_body(
    fields: dict[str, str], files: list[tuple[str, str, bytes]], boundary: str = BOUNDARY
) -> bytes:
    """A multipart form, by hand: text fields, then files (field name, file name,
    content); text as UTF-8, a lone surrogate included (as the bytes it would be)."""
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        + value.encode("utf-8", "surrogatepass")
        + b"\r\n"
        for name, value in fields.items()
    ]
    parts += [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '.encode()
        + b'filename="'
        + filename.encode("utf-8", "surrogatepass")
        + b'"\r\nContent-Type: text/plain\r\n\r\n'
        + content
        + b"\r\n"
        for name, filename, content in files
    ]
    return b"".join(parts) + f"--{boundary}--\r\n".encode()


FORM = {"Content-Type": "application/x-www-form-urlencoded"}
MULTIPART = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
