"""Published lists and their open entries, page by page or as one CSV."""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from trustreg.core.identifiers import SCHEMES, Identifier, MaskedIdentifier, mask_identifier
from trustreg.core.rulebook import RegistryList
from trustreg.core.spreadsheet import defuse_row
from trustreg.core.vocabulary import PERSON_KINDS
from trustreg.errors import NotFound, ValidationError
from trustreg.store import lists as store
from trustreg.store import queries
from trustreg.store.db import transaction
from trustreg.store.lists import EntryFilter, EntryKey, EntryRow

CSV_COLUMNS = (
    "entry_id",
    "subject_id",
    "name",
    "identifier",
    "entered_on",
    "scheduled_exit",
    "record_ids",
)
CSV_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class EntriesPage:
    entries: list[dict[str, Any]]
    next_cursor: str | None


def list_view(listed: RegistryList, open_entries: int) -> dict[str, Any]:
    """A published list as the API shows it."""
    return {
        "code": listed.code,
        "title_zh": listed.title_zh,
        "title_en": listed.title_en,
        "kind": listed.kind,
        "dishonesty": listed.dishonesty,
        "legal_basis": listed.legal_basis,
        "consequences": [asdict(c) for c in listed.consequences],
        "open_entries": open_entries,
    }


def published_lists(factory: sessionmaker[Session]) -> list[dict[str, Any]]:
    """Each list of the rulebook in force with the number of its open entries."""
    with transaction(factory) as session:
        rulebook = queries.rulebook_in_force(session, datetime.now(UTC).date())
        counts = store.open_counts(session)
    return [list_view(listed, counts.get(code, 0)) for code, listed in rulebook.lists.items()]


MASKED_SEARCH_LIMIT = 200  # entries read for one masked number (the persons who share it)


def published_persons(
    factory: sessionmaker[Session], masked: MaskedIdentifier
) -> list[dict[str, Any]]:
    """The open list entries of persons whose number, masked as published, is
    ``masked``: name, masked number, list, entry date and scheduled exit.

    Only what the lists already publish is found, so a masked number reveals nothing
    new; several persons can share one (the same area, the same last four).
    """
    with transaction(factory) as session:
        rulebook = queries.rulebook_in_force(session, datetime.now(UTC).date())
        rows = store.open_person_entries(session, masked.scheme, masked.value, MASKED_SEARCH_LIMIT)
    found = []
    for row, list_code, value in rows:
        listed = rulebook.lists.get(list_code)
        found.append(
            {
                "subject_id": row.subject_id,
                "name": row.name,
                "identifier": shown_masked(masked, value),
                "list": list_code,
                "title_zh": listed.title_zh if listed else list_code,
                "title_en": listed.title_en if listed else list_code,
                "entered_on": row.entered_on.isoformat(),
                "scheduled_exit": row.scheduled_exit.isoformat(),
            }
        )
    return found


def shown_masked(masked: MaskedIdentifier, value: str) -> str:
    return f"{masked.scheme}:{mask_identifier(Identifier(masked.scheme, value))}"


def _check_list(session: Session, code: str) -> None:
    rulebook = queries.rulebook_in_force(session, datetime.now(UTC).date())
    if code not in rulebook.lists:
        raise NotFound(f"no list '{code}' in rulebook {rulebook.version}")


def encode_cursor(key: EntryKey) -> str:
    """An opaque cursor: the last key of a page, base64 of its JSON."""
    raw = json.dumps([key[0].isoformat(), key[1]]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> EntryKey:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        day, entry_id = json.loads(raw)
        if not isinstance(entry_id, int) or isinstance(entry_id, bool):
            raise TypeError("entry id is not a whole number")
        return date.fromisoformat(day), entry_id
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise ValidationError("cursor", "not a cursor this API handed out") from exc


def entries_page(
    factory: sessionmaker[Session], where: EntryFilter, cursor: str | None, limit: int
) -> EntriesPage:
    """One page of a list's open entries; ``next_cursor`` is None on the last page."""
    after = decode_cursor(cursor) if cursor else None
    with transaction(factory) as session:
        _check_list(session, where.list_code)
        # One more than asked tells whether another page follows.
        rows = store.open_entries(session, where, after, limit + 1)
        shown = rows[:limit]
        views = _entry_views(session, shown)
    following = encode_cursor(shown[-1].key) if len(rows) > limit else None
    return EntriesPage(views, following)


def entry_count(factory: sessionmaker[Session], where: EntryFilter) -> int:
    """How many open entries of a list pass the filter (every page together)."""
    with transaction(factory) as session:
        _check_list(session, where.list_code)
        return store.count_open_entries(session, where)


def _entry_views(session: Session, rows: list[EntryRow]) -> list[dict[str, Any]]:
    identifiers = store.identifiers_of(session, sorted({r.subject_id for r in rows}))
    return [
        {
            "id": row.id,
            "subject_id": row.subject_id,
            "name": row.name,
            "identifier": main_identifier(identifiers.get(row.subject_id, []), row.kind),
            "entered_on": row.entered_on.isoformat(),
            "scheduled_exit": row.scheduled_exit.isoformat(),
            "record_ids": list(row.record_ids),
        }
        for row in rows
    ]


def main_identifier(identifiers: list[tuple[str, str]], kind: str) -> str | None:
    """The subject's first identifier in the order of ``SCHEMES``; masked for persons."""
    if not identifiers:
        return None
    order = {scheme: n for n, scheme in enumerate(SCHEMES)}
    scheme, value = min(identifiers, key=lambda i: (order.get(i[0], len(order)), i))
    if kind in PERSON_KINDS:
        value = mask_identifier(Identifier(scheme, value))
    return f"{scheme}:{value}"


def entries_csv(factory: sessionmaker[Session], where: EntryFilter) -> Iterator[str]:
    """The whole filtered list as CSV text, read and written a chunk at a time."""
    with transaction(factory) as session:
        _check_list(session, where.list_code)
    return _csv_chunks(factory, where)


def _csv_chunks(factory: sessionmaker[Session], where: EntryFilter) -> Iterator[str]:
    yield _csv_lines([CSV_COLUMNS])
    after: EntryKey | None = None
    while True:
        # A short transaction per chunk: a long download never holds the store.
        with transaction(factory) as session:
            rows = store.open_entries(session, where, after, CSV_CHUNK)
            views = _entry_views(session, rows)
        if not rows:
            return
        yield _csv_lines([_csv_row(v) for v in views])
        after = rows[-1].key


def _csv_row(view: dict[str, Any]) -> list[object]:
    # A name is an authority's text: defused, so a spreadsheet does not run it.
    return defuse_row(
        [
            str(view["id"]),
            str(view["subject_id"]),
            view["name"],
            view["identifier"] or "",
            view["entered_on"],
            view["scheduled_exit"],
            " ".join(str(i) for i in view["record_ids"]),
        ]
    )


def _csv_lines(rows: Sequence[Sequence[object]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()
