"""Credit report certificates: what the registry states about one organisation, now.

A certificate is issued only for legal entities, other organisations and foreign
entities. Look-ups at a person are for signed-in checkers with a declared purpose
(DESIGN.md, accountable access), so a person's file is never handed out as a certificate.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from trustreg.core.vocabulary import PERSON_KINDS, SUBJECT_KINDS
from trustreg.errors import NotFound
from trustreg.services.subjects import subject_view
from trustreg.store import queries
from trustreg.store.db import transaction

CERTIFICATE_KINDS = tuple(kind for kind in SUBJECT_KINDS if kind not in PERSON_KINDS)


def certificate(factory: sessionmaker[Session], subject_id: int) -> dict[str, Any]:
    """The certificate of one non-person subject, issued now.

    Returns ``issued_at`` (UTC), the subject's view (``subject``, as on its profile:
    assessment, list memberships, consequences in force) and ``published_records``:
    how many of its records count in today's assessment. NotFound for an unknown
    subject and for a person.
    """
    issued_at = datetime.now(UTC).replace(microsecond=0)
    with transaction(factory) as session:
        subject = queries.subject_by_id(session, subject_id)
        if subject is None:
            raise NotFound(f"no subject with id {subject_id}")
        if subject.kind not in CERTIFICATE_KINDS:
            raise NotFound(
                "certificates are issued for legal entities and organisations; "
                f"subject {subject_id} is a person, and no certificate is issued for a person"
            )
        view = subject_view(session, subject, masked=True)
    return {
        "issued_at": issued_at,
        "subject": view,
        "published_records": published_records(view),
    }


def published_records(view: dict[str, Any]) -> int:
    """Records that count in the view's assessment: effective, not revoked, and still
    within their publicity period (each has one line in the explanation)."""
    lines = view["assessment"]["explanation"]
    return len({line["record"] for line in lines if line["record"] is not None})
