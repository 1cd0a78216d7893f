"""Figures about the registry as a whole."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from trustreg.core.vocabulary import PERSON_KINDS, SUBJECT_KINDS
from trustreg.store import queries
from trustreg.store.db import transaction
from trustreg.store.models import Record, Subject


def registry_counts(factory: sessionmaker[Session]) -> dict[str, int]:
    """How many subjects and records the registry holds."""
    with transaction(factory) as session:
        return {
            "subjects": queries.count_rows(session, Subject),
            "records": queries.count_rows(session, Record),
        }


def recent_list_changes(factory: sessionmaker[Session], limit: int = 15) -> list[dict[str, Any]]:
    """The latest entries onto and exits from the published lists, of organisations
    (a person's listing is looked up by purpose, not shown on the front page)."""
    kinds = [k for k in SUBJECT_KINDS if k not in PERSON_KINDS]
    with transaction(factory) as session:
        rulebook = queries.rulebook_in_force(session, datetime.now(UTC).date())
        rows = queries.recent_list_changes(session, limit, kinds)
    changes = []
    for subject_id, name, code, entered, ended, scheduled in rows:
        listed = rulebook.lists.get(code)
        changes.append(
            {
                "subject": subject_id,
                "name": name,
                "list": code,
                "title_zh": listed.title_zh if listed else code,
                "title_en": listed.title_en if listed else code,
                "change": "exit" if ended else "entry",
                "on": (ended or entered).isoformat(),
                "scheduled_exit": scheduled.isoformat(),
            }
        )
    return changes
