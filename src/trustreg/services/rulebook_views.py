"""The rulebook as the public API shows it: the version in force, all versions, a diff."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from dataclasses import fields as dataclass_fields
from datetime import UTC, date, datetime
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


# ----------------------------------------------------------------- history, field by field


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field a version changed. ``key`` names the list of a listing or the grade of
    a band; ``None`` on one side: the listing or band is absent there."""

    field: str
    old: Any
    new: Any
    key: str = ""


@dataclass(frozen=True, slots=True)
class ItemChange:
    """A record type, list or consequence that a version added, removed or changed."""

    code: str
    title_zh: str
    title_en: str
    fields: tuple[FieldChange, ...] = ()


@dataclass(frozen=True, slots=True)
class Changes:
    added: tuple[ItemChange, ...] = ()
    removed: tuple[ItemChange, ...] = ()
    changed: tuple[ItemChange, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


@dataclass(frozen=True, slots=True)
class VersionChanges:
    """What one version changed against the version before it."""

    record_types: Changes
    lists: Changes
    consequences: Changes
    rating: tuple[FieldChange, ...]

    def __bool__(self) -> bool:
        return bool(self.record_types or self.lists or self.consequences or self.rating)


@dataclass(frozen=True, slots=True)
class VersionHistory:
    """One loaded version as the portal shows it; ``status`` is ``in_force``,
    ``upcoming`` (takes effect later) or ``superseded``."""

    version: str
    effective_from: date
    loaded_at: datetime
    status: str
    previous: str | None
    changes: VersionChanges | None  # None: the first version loaded


def history(factory: sessionmaker[Session]) -> list[VersionHistory]:
    """Every loaded version, newest first, each with what changed from the one before."""
    today = datetime.now(UTC).date()
    with transaction(factory) as session:
        current = queries.rulebook_in_force(session, today).version
        rows = queries.rulebook_versions(session)
        books = [queries.rulebook_version(session, version) for version, _e, _l in rows]
    entries = []
    for index, (version, effective, loaded) in enumerate(rows):
        previous = books[index - 1] if index else None
        if version == current:
            status = "in_force"
        else:
            status = "upcoming" if effective > today else "superseded"
        entries.append(
            VersionHistory(
                version=version,
                effective_from=effective,
                loaded_at=loaded if loaded.tzinfo else loaded.replace(tzinfo=UTC),
                status=status,
                previous=previous.version if previous else None,
                changes=version_changes(previous, books[index]) if previous else None,
            )
        )
    return entries[::-1]


def version_changes(old: Rulebook, new: Rulebook) -> VersionChanges:
    """Record types, lists and consequences added, removed and changed, field by field,
    and the rating's changes; record types and consequences as ``compare_rules`` finds."""
    codes = RulebookDiff(old.version, new.version, new.effective_from)
    compare_rules(old, new, codes)
    before = {c.code: c for listed in old.lists.values() for c in listed.consequences}
    after = {c.code: c for listed in new.lists.values() for c in listed.consequences}
    list_fields = {"code", "consequences"}
    lists_changed = [
        code
        for code in old.lists.keys() & new.lists.keys()
        if _fields(old.lists[code], new.lists[code], list_fields)
    ]
    return VersionChanges(
        record_types=_changes(
            old.record_types,
            new.record_types,
            (codes.rules_added, codes.rules_removed, codes.rules_changed),
            _record_type_fields,
        ),
        lists=_changes(
            old.lists,
            new.lists,
            (
                sorted(new.lists.keys() - old.lists.keys()),
                sorted(old.lists.keys() - new.lists.keys()),
                sorted(lists_changed),
            ),
            lambda a, b: _fields(a, b, list_fields),
        ),
        consequences=_changes(
            before,
            after,
            (codes.consequences_added, codes.consequences_removed, codes.consequences_changed),
            lambda a, b: _fields(a, b, {"code"}),
        ),
        rating=_rating_fields(old, new),
    )


def _changes(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    codes: tuple[list[str], list[str], list[str]],
    fields: Callable[[Any, Any], list[FieldChange]],
) -> Changes:
    added, removed, changed = codes
    return Changes(
        added=tuple(_item(new[code]) for code in added),
        removed=tuple(_item(old[code]) for code in removed),
        changed=tuple(_item(new[code], fields(old[code], new[code])) for code in changed),
    )


def _item(rule: Any, fields: list[FieldChange] | None = None) -> ItemChange:
    return ItemChange(rule.code, rule.title_zh, rule.title_en, tuple(fields or ()))


def _fields(old: Any, new: Any, skip: set[str]) -> list[FieldChange]:
    names = [f.name for f in dataclass_fields(new) if f.name not in skip]
    return [
        FieldChange(name, getattr(old, name), getattr(new, name))
        for name in names
        if getattr(old, name) != getattr(new, name)
    ]


def _record_type_fields(old: RecordType, new: RecordType) -> list[FieldChange]:
    changes = _fields(old, new, {"code", "list_effects"})
    before = {e.list_code: e for e in old.list_effects}
    after = {e.list_code: e for e in new.list_effects}
    for code in [*after, *(c for c in before if c not in after)]:
        was, now = before.get(code), after.get(code)
        if was is None or now is None:
            days_was = was.listing_days if was else None
            days_now = now.listing_days if now else None
            changes.append(FieldChange("listing_days", days_was, days_now, code))
            continue
        for change in _fields(was, now, {"list_code"}):
            changes.append(FieldChange(change.field, change.old, change.new, code))
    return changes


def _rating_fields(old: Rulebook, new: Rulebook) -> tuple[FieldChange, ...]:
    changes = []
    if old.rating.starting_points != new.rating.starting_points:
        changes.append(
            FieldChange("starting_points", old.rating.starting_points, new.rating.starting_points)
        )
    # A band's floor; "lowest" for the band below the others, None where it is absent.
    before = {b.grade: "lowest" if b.min_points is None else b.min_points for b in old.rating.bands}
    after = {b.grade: "lowest" if b.min_points is None else b.min_points for b in new.rating.bands}
    for grade in [*after, *(g for g in before if g not in after)]:
        if before.get(grade) != after.get(grade):
            changes.append(FieldChange("grade", before.get(grade), after.get(grade), grade))
    return tuple(changes)
