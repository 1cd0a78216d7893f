"""The daily run (``trustreg maintain``): every workflow with a deadline, in order.

1. Disputes whose answer is overdue suspend their records from publication
   (``disputes.enforce_deadlines``), re-evaluating those subjects at once.
2. Records past their publicity expire, listings end, records whose notice period
   ended are published, and personal data past its retention is deleted
   (``assessments.maintain``, which calls ``retention.purge``).
3. On PostgreSQL, this year's and next year's partitions of records are made where
   missing (``store.partitions``).

Each step is idempotent, so running it twice a day, or again after a crash, is safe.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from trustreg.services import assessments, disputes
from trustreg.store.db import transaction
from trustreg.store.partitions import PartitionReport, ensure_record_partitions


@dataclass(frozen=True, slots=True)
class DailyReport:
    suspended: int  # records suspended because their dispute's deadline passed
    maintained: assessments.MaintainReport
    partitions: PartitionReport


def run_daily(factory: sessionmaker[Session], now: datetime | None = None) -> DailyReport:
    """Enforce dispute deadlines, then maintain assessments and retention, as of ``now``."""
    now = now or datetime.now(UTC)
    suspended = disputes.enforce_deadlines(factory, now)
    maintained = assessments.maintain(factory, now)
    with transaction(factory) as session:
        partitions = ensure_record_partitions(session, now.date())
    return DailyReport(suspended, maintained, partitions)
