"""Models of watches: a checker's subscription to a subject's changes, and the log of
the webhook deliveries each change caused (issue 7, item 8).

Kept apart from ``models`` like ``models_access``; ``models`` imports this module, so
``Base.metadata`` always holds it. Rows of a subject go with it: when retention
deletes a person, the database deletes its watches, their deliveries and attempts
(``ON DELETE CASCADE``), payloads included, since they name the person.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from trustreg.store.models import Base, BigId

URL_LEN = 2000


class Watch(Base):
    """A checker watching one subject, with an optional webhook.

    ``secret`` signs each webhook body (HMAC-SHA256). It is kept as it is, not hashed:
    signing needs the key itself, and a hash of it could sign nothing. It is shown to
    the checker once, when the watch is made. ``purpose`` is the declared purpose,
    required when the subject is a person.
    """

    __tablename__ = "watches"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    # Every re-evaluation asks which of its subjects are watched: this index answers it.
    subject_id: Mapped[int] = mapped_column(
        ForeignKey("subjects.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str | None] = mapped_column(String(32))
    webhook_url: Mapped[str | None] = mapped_column(String(URL_LEN))
    secret: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookDelivery(Base):
    """One event to send to one watch's webhook, until it is delivered or given up.

    ``payload`` is the exact JSON body sent (and signed), the same on every attempt.
    ``next_attempt_at`` is set while the delivery is pending and cleared once it is
    delivered or failed, so the due ones are read from its index alone.
    """

    __tablename__ = "webhook_deliveries"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    watch_id: Mapped[int] = mapped_column(ForeignKey("watches.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # pending, delivered, failed
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    last_status: Mapped[int | None] = mapped_column(Integer)  # the HTTP status, if any
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookAttempt(Base):
    """One attempt at a delivery: when, the HTTP status or the error, how long it took."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery", "delivery_id", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE")
    )
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer)
