"""The registry's exception tree.

Every error a user can cause is one of these; each carries the HTTP status the web
adapter answers with and the exit code the CLI ends with, so no adapter has to guess::

    TrustRegError (500, exit 1)
     ├── ValidationError (422, exit 1)      bad input; names the field and the reason
     │    └── RulebookError (422, exit 1)   a rule the loader refuses
     ├── InputFileError (400, exit 2)       a file that cannot be read at all
     ├── NotFound (404, exit 3)
     ├── Conflict (409, exit 4)
     ├── Unauthorized (401, exit 5)
     └── Forbidden (403, exit 5)

Third-party errors (stdnum, SQLAlchemy, csv) are translated at the boundary with
``raise ... from exc``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldProblem:
    """One thing wrong with one field of an input."""

    field: str
    reason: str


class TrustRegError(Exception):
    """Base of every error the registry raises on purpose."""

    status: int = 500
    exit_code: int = 1
    title: str = "Internal error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class ValidationError(TrustRegError):
    """Input that breaks a rule; ``field`` names where, ``detail`` says what."""

    status = 422
    title = "Invalid input"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason

    @property
    def problems(self) -> list[FieldProblem]:
        return [FieldProblem(self.field, self.reason)]


class RulebookError(ValidationError):
    """A rulebook the loader refuses; ``field`` names the rule (e.g. ``record_type[3]``)."""

    title = "Rulebook refused"


class InputFileError(TrustRegError):
    """A whole file that cannot be read: missing, binary, wrong columns, bad encoding."""

    status = 400
    exit_code = 2
    title = "Unreadable input file"


class NotFound(TrustRegError):
    status = 404
    exit_code = 3
    title = "Not found"


class Conflict(TrustRegError):
    status = 409
    exit_code = 4
    title = "Conflict"


class Unauthorized(TrustRegError):
    status = 401
    exit_code = 5
    title = "Authentication required"


class Forbidden(TrustRegError):
    status = 403
    exit_code = 5
    title = "Forbidden"


class ConfigurationError(TrustRegError):
    """A setting the registry cannot run with (e.g. the wrong identifier key)."""

    status = 500
    exit_code = 6
    title = "Configuration refused"
