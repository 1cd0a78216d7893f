"""The registry's clock, passed in so that deadlines can be tested.

Services take ``now`` as an argument; the web app reads it from ``app.state.clock``
and the CLI from :class:`SystemClock`. Tests hand the app a :class:`FixedClock` and
move it forward to see a dispute's deadline pass or a notice period end, without
waiting and without patching ``datetime``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the current moment (timezone-aware, UTC)."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that stands still until it is set or advanced (for tests and demos)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime.now(UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        """Jump to ``moment`` (naive values are taken as UTC)."""
        self._now = moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    def advance(self, **delta: float) -> datetime:
        """Move forward by ``timedelta(**delta)``, e.g. ``advance(days=31)``."""
        self._now += timedelta(**delta)
        return self._now
