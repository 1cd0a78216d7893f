"""The rulebook as the public API shows it: the version in force, all versions, a diff."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from trustreg.core.rulebook import RecordType, Rulebook
from trustreg.services.lists import list_view
from trustreg.services.rulebook_diff import RulebookDiff, compare_rules
from trustreg.store import queries
from trustreg.store.db import transaction


def rulebook_view(rulebook: Rulebook) -> dict[str, Any]:
    """Version, lists with their consequences, record types with legal basis and periods."""
    return {
        "name": rulebook.name,
        "version": rulebook.version,
        "effective_from": rulebook.effective_from.isoformat(),
        "lists": [
            {k: v for k, v in list_view(listed, 0).items() if k != "open_entries"}
            for listed in rulebook.lists.values()
        ],
        "record_types": [_record_type_view(t) for t in rulebook.record_types.values()],
        "rating": {
            "starting_points": rulebook.rating.starting_points,
            "grades": [asdict(band) for band in rulebook.rating.bands],
        },
    }


def _record_type_view(rule: RecordType) -> dict[str, Any]:
    view = asdict(rule)
    view["list_effects"] = [asdict(effect) for effect in rule.list_effects]
    return view


def in_force(factory: sessionmaker[Session]) -> dict[str, Any]:
    with transaction(factory) as session:
        rulebook = queries.rulebook_in_force(session, datetime.now(UTC).date())
    return rulebook_view(rulebook)


def versions(factory: sessionmaker[Session]) -> list[dict[str, Any]]:
    """Every loaded version, oldest first, marking the one in force today."""
    with transaction(factory) as session:
        current = queries.rulebook_in_force(session, datetime.now(UTC).date()).version
        rows = queries.rulebook_versions(session)
    return [
        {
            "version": version,
            "effective_from": effective.isoformat(),
            "loaded_at": loaded.isoformat(),
            "in_force": version == current,
        }
        for version, effective, loaded in rows
    ]


def diff(factory: sessionmaker[Session], old_version: str, new_version: str) -> dict[str, Any]:
    """The rules and consequences one version adds, removes and changes against another."""
    with transaction(factory) as session:
        old = queries.rulebook_version(session, old_version)
        new = queries.rulebook_version(session, new_version)
    result = RulebookDiff(old.version, new.version, new.effective_from)
    compare_rules(old, new, result)
    return {
        "from": old.version,
        "to": new.version,
        "rules": {
            "added": result.rules_added,
            "removed": result.rules_removed,
            "changed": result.rules_changed,
        },
        "consequences": {
            "added": result.consequences_added,
            "removed": result.consequences_removed,
            "changed": result.consequences_changed,
        },
    }
