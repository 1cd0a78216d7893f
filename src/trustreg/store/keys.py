"""The check values of the registry's keys: which key a store was built with.

The keys themselves are configuration, never stored. What is stored per purpose is a
check value (an HMAC of a fixed text under the key, ``core.identifiers.key_check_value``): a
process started with another key sees the mismatch and refuses to run, instead of
finding no person by number and registering each one again on the next import.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from trustreg.store.models import Base

IDENTIFIER = "identifier"  # the purpose of TRUSTREG_IDENTIFIER_KEY


class RegistryKey(Base):
    """The check value of the key used for ``purpose`` (e.g. ``identifier``)."""

    __tablename__ = "registry_keys"
    purpose: Mapped[str] = mapped_column(String(32), primary_key=True)
    check_value: Mapped[str] = mapped_column(String(64))
    set_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def key_check_of(session: Session, purpose: str) -> str | None:
    """The stored check value for ``purpose``, or None before the first one is set."""
    return session.scalar(select(RegistryKey.check_value).where(RegistryKey.purpose == purpose))


def store_key_check(session: Session, purpose: str, check_value: str, now: datetime) -> None:
    """Record ``check_value`` as the key for ``purpose`` (replacing an earlier one)."""
    row = session.get(RegistryKey, purpose)
    if row is None:
        session.add(RegistryKey(purpose=purpose, check_value=check_value, set_at=now))
    else:
        row.check_value = check_value
        row.set_at = now
    session.flush()
