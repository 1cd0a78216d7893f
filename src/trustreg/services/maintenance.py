"""The daily run (``trustreg maintain``): every workflow with a deadline, in order.

1. Disputes whose answer is overdue suspend their records from publication
   (``disputes.enforce_deadlines``), re-evaluating those subjects at once.
2. Records past their publicity expire, listings end, records whose notice period
   ended are published, and personal data past its retention is deleted
   (``assessments.maintain``, which calls ``retention.purge``).

Each step is idempotent, so running it twice a day, or again after a crash, is safe.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from trustreg.services import assessments, disputes


@dataclass(frozen=True, slots=True)
class DailyReport:
    suspended: int  # records suspended because their dispute's deadline passed
    maintained: assessments.MaintainReport


def run_daily(factory: sessionmaker[Session], now: datetime | None = None) -> DailyReport:
    """Enforce dispute deadlines, then maintain assessments and retention, as of ``now``."""
    now = now or datetime.now(UTC)
    suspended = disputes.enforce_deadlines(factory, now)
    return DailyReport(suspended, assessments.maintain(factory, now))
