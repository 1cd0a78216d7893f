"""Is the registry ready to serve, and how much work is waiting: what ``/readyz`` and
the store-side metrics of ``/metrics`` report (``web.observability``).

Everything here is read from the store when asked, so every worker process (and the
CLI's imports, which run in processes of their own) agrees on the same numbers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from trustreg.services import disputes, repair
from trustreg.services.feeds import FEEDS
from trustreg.store import health
from trustreg.store.db import transaction
from trustreg.store.models import Dispute, ScreeningJob
from trustreg.store.models_access import RepairApplication
from trustreg.store.models_watch import WebhookDelivery
from trustreg.store.watches import FAILED, PENDING

log = logging.getLogger("trustreg.operations")
OK = "ok"
SCREENING_WAITING = ("queued", "running")


@dataclass
class Readiness:
    """One answer per check (``ok`` or what is wrong)."""

    checks: dict[str, str]

    @property
    def ready(self) -> bool:
        return all(answer == OK for answer in self.checks.values())

    def problems(self) -> str:
        return "; ".join(f"{k}: {v}" for k, v in self.checks.items() if v != OK)


def readiness(factory: sessionmaker[Session], code_heads: tuple[str, ...]) -> Readiness:
    """Does the store answer, is its schema at ``code_heads``, is a rulebook loaded?"""
    checks = {"store": OK, "migrations": "not checked", "rulebook": "not checked"}
    try:
        with transaction(factory) as session:
            health.ping(session)
            at = health.schema_heads(session)
            checks["migrations"] = (
                OK
                if set(at) == set(code_heads)
                else f"the store is at {', '.join(at) or 'no revision'}, the code at "
                f"{', '.join(code_heads)} (run `trustreg init`)"
            )
            loaded = checks["migrations"] == OK and health.has_rulebook(session)
            checks["rulebook"] = OK if loaded else "no rulebook loaded (run `trustreg init`)"
    except SQLAlchemyError as exc:
        # The answer is public: the driver's message (host, user) goes to the log only.
        log.warning("readiness: the store does not answer: %s", exc)
        checks["store"] = f"the store does not answer ({type(exc).__name__})"
    return Readiness(checks)


def code_heads(engine: Engine) -> tuple[str, ...]:
    """The migration revision(s) the running code expects (read once, at start)."""
    return health.code_heads(engine)


@dataclass
class Backlog:
    """Work waiting in the store, counted when a scrape asks."""

    disputes_open: int = 0
    disputes_overdue: int = 0
    repairs_open: int = 0
    repairs_overdue: int = 0
    screenings: dict[str, int] = field(default_factory=dict)
    deliveries: dict[str, int] = field(default_factory=dict)
    imports: dict[str, dict[str, int]] = field(default_factory=dict)


def backlog(factory: sessionmaker[Session], today: date) -> Backlog:
    """Open and overdue disputes and repair applications (as of ``today``), screenings
    waiting or running, webhook deliveries pending or failed, import row totals."""
    with transaction(factory) as session:
        disputes_open, disputes_overdue = health.open_and_overdue(
            session, Dispute.status, Dispute.answer_due, disputes.OPEN_STATUSES, today
        )
        repairs_open, repairs_overdue = health.open_and_overdue(
            session,
            RepairApplication.status,
            RepairApplication.answer_due,
            (repair.OPEN,),
            today,
        )
        return Backlog(
            disputes_open,
            disputes_overdue,
            repairs_open,
            repairs_overdue,
            health.count_by_status(session, ScreeningJob.status, SCREENING_WAITING),
            health.count_by_status(session, WebhookDelivery.status, (PENDING, FAILED)),
            _every_feed(health.import_totals(session)),
        )


def _every_feed(totals: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    # Every feed from the start, at 0: a counter that appears later breaks rate().
    zero = {"created": 0, "updated": 0, "unchanged": 0, "rejected": 0}
    return {feed: dict(zero) for feed in FEEDS} | totals
