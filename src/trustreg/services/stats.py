"""Figures about the registry as a whole."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from trustreg.store import queries
from trustreg.store.db import transaction
from trustreg.store.models import Record, Subject


def registry_counts(
    factory: sessionmaker[Session], recent: int = 15
) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """Subject and record counts, and the newest subjects."""
    with transaction(factory) as session:
        counts = {
            "subjects": queries.count_rows(session, Subject),
            "records": queries.count_rows(session, Record),
        }
        subjects = queries.recent_subjects(session, recent)
        grades = queries.grades(session, [s.id for s in subjects])
        newest = [
            {
                "id": s.id,
                "name": s.display_name,
                "kind": s.kind,
                "region": s.region or "",
                "grade": grades.get(s.id, ""),
            }
            for s in subjects
        ]
    return counts, newest
