"""Logging of the server and the CLI, configured in one place.

One line per event on stderr: a JSON object (``TRUSTREG_LOG_FORMAT=json``, the default
in production) or a readable line (``text``, the default elsewhere). Every line
carries the id of the request (or CLI run) it belongs to, kept in a context variable
that the web middleware (``web.observability``) sets for each request::

    {"timestamp": "2026-05-04T08:15:02.113+00:00", "level": "INFO",
     "logger": "trustreg.access", "message": "GET /api/v1/subjects/{subject_id} 200",
     "request_id": "5f0c…", "method": "GET", "route": "/api/v1/subjects/{subject_id}",
     "status": 200, "duration_ms": 3.1}

What may go into a line is fixed here (``FIELDS``): route templates, never raw paths
or query strings (which can carry names), and no request bodies.
"""

from __future__ import annotations

import json
import logging
import secrets
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

from trustreg.config import Settings

# The id of the request (or CLI run) being served; None outside of one.
REQUEST_ID: ContextVar[str | None] = ContextVar("trustreg_request_id", default=None)
# The exception the registry's 500 handler has logged already (see ``_NotTwice``).
LOGGED_ERROR: ContextVar[int | None] = ContextVar("trustreg_logged_error", default=None)
# The extra attributes a log call may add to its JSON object (``extra={...}``).
FIELDS = ("method", "route", "status", "duration_ms")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def new_id() -> str:
    """A fresh request id: 32 hex digits."""
    return secrets.token_hex(16)


def format_of(settings: Settings) -> str:
    """``json`` or ``text``: ``auto`` means JSON in production, text elsewhere."""
    if settings.log_format == "auto":
        return "json" if settings.environment == "production" else "text"
    return settings.log_format


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines in messages are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id and request_id != "-":
            entry["request_id"] = request_id
        for name in FIELDS:
            if name in record.__dict__:
                entry[name] = record.__dict__[name]
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class _RequestId(logging.Filter):
    """Stamps each record with the current request id (as it is emitted)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get() or "-"
        return True


class _NotTwice(logging.Filter):
    """Drops uvicorn's "Exception in ASGI application" for an error the registry's 500
    handler has already logged with its request id (the same traceback twice)."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return error is None or id(error) != LOGGED_ERROR.get()


def handler(log_format: str, stream: TextIO | None = None) -> logging.Handler:
    """A stream handler writing ``log_format`` lines with the request id."""
    made = logging.StreamHandler(stream or sys.stderr)
    if log_format == "json":
        made.setFormatter(JsonFormatter())
    else:
        made.setFormatter(logging.Formatter(TEXT_FORMAT))
    made.addFilter(_RequestId())
    made.set_name("trustreg")
    return made


def configure(settings: Settings, stream: TextIO | None = None) -> None:
    """Send every logger's records (uvicorn's included) through one handler on stderr.

    Safe to call again: the handler it added before is replaced. uvicorn's own access
    log is left off (``trustreg.access`` lines replace it, with the route template).
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "trustreg"]:
        root.removeHandler(old)
    root.addHandler(handler(format_of(settings), stream))
    level = logging.getLevelName(settings.log_level.upper())
    # Other libraries from warning up, unless debugging: at info alembic says "Context
    # impl SQLiteImpl." on every command, weasyprint each step of a PDF, and HTTP
    # clients whole URLs (query strings, tokens).
    root.setLevel(level if level == logging.DEBUG else max(level, logging.WARNING))
    for name in ("trustreg", "uvicorn"):
        logging.getLogger(name).setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = name != "uvicorn.access"
    uvicorn_errors = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _NotTwice) for f in uvicorn_errors.filters):
        uvicorn_errors.addFilter(_NotTwice())


def start_run(settings: Settings, stream: TextIO | None = None) -> None:
    """Configure logging for one CLI command; its lines share one id (``cli-…``)."""
    configure(settings, stream)
    REQUEST_ID.set("cli-" + new_id()[:16])
