"""Persistence of issued certificates: written once, read by their verification code."""

from __future__ import annotations

from sqlalchemy.orm import Session

from trustreg.store.models import Certificate


def add_certificate(session: Session, certificate: Certificate) -> None:
    """Store a newly issued certificate (its code is the primary key)."""
    session.add(certificate)
    session.flush()


def certificate_by_code(session: Session, code: str) -> Certificate | None:
    """The certificate with this verification code, or None."""
    return session.get(Certificate, code)
