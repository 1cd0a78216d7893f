"""Changing the identifier key (``TRUSTREG_IDENTIFIER_KEY``) without losing anyone.

Every identifier is found through its keyed hash (``core.identifiers.identifier_hash``).
Re-keying computes each stored hash again under the new key, in one transaction:

- an organisation's identifier is stored in clear, so its new hash is computed from
  the stored value;
- a person's number is stored only as its hash and masked form, so its new hash needs
  the full number again: it comes from the authorities' feed files (subjects or
  records feeds, the ``id_scheme`` and ``id_value`` columns), which the operator keeps.

A person whose number is in none of the given feeds could never be found by number
again, so re-keying refuses (and changes nothing) until every person is covered.
Records, disputes, accounts and the audit chain keep their ids: only the hashes move.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from trustreg.core.identifiers import (
    PERSON_SCHEMES,
    identifier_hash,
    key_check_value,
    validate_identifier,
)
from trustreg.core.identifiers import Identifier as IdentifierValue
from trustreg.core.validation import RECORD_COLUMNS, SUBJECT_COLUMNS
from trustreg.errors import Conflict, InputFileError, ValidationError
from trustreg.services.feed_reader import FeedRow, LineSource, detect_format, read_rows
from trustreg.store import keys, writes
from trustreg.store.db import transaction
from trustreg.store.models import Identifier

# A feed of either kind will do: both name the subject by these two columns.
FEED_COLUMNS = tuple(dict.fromkeys((*SUBJECT_COLUMNS, *RECORD_COLUMNS)))
REQUIRED = ("id_scheme", "id_value")
UPDATE_BATCH = 10_000
SHOWN_UNMATCHED = 20


@dataclass(frozen=True, slots=True)
class RekeyReport:
    """What a re-keying did (or, with ``dry_run``, would do)."""

    organisation_identifiers: int
    person_identifiers: int
    feed_rows: int
    feed_rows_unreadable: int
    dry_run: bool


def rekey_identifiers(
    factory: sessionmaker[Session],
    old_key: str,
    new_key: str,
    feeds: Sequence[Path],
    now: datetime,
    actor: str,
    *,
    max_line_bytes: int = 1 << 20,
    dry_run: bool = False,
) -> RekeyReport:
    """Hash every stored identifier again under ``new_key``, persons' from ``feeds``.

    Raises :class:`Conflict` naming the persons whose numbers no feed holds (nothing is
    changed then), and :class:`InputFileError` for an unreadable feed or a bad key.
    """
    _check_keys(old_key, new_key)
    person_hashes, rows, unreadable = _person_hashes(feeds, old_key, new_key, max_line_bytes)
    try:
        with transaction(factory) as session:
            organisations, persons, missing = _move_hashes(session, new_key, person_hashes)
            if missing:
                raise Conflict(_unmatched_message(missing))
            writes.append_audit(
                session,
                actor,
                "identifiers.rekey",
                "identifiers",
                {
                    "organisation_identifiers": organisations,
                    "person_identifiers": persons,
                    "feeds": [path.name for path in feeds],
                },
                now,
            )
            keys.store_key_check(session, keys.IDENTIFIER, key_check_value(new_key), now)
            if dry_run:
                raise _DryRun(organisations, persons)  # rolls the transaction back
    except _DryRun as done:
        organisations, persons = done.args
    return RekeyReport(organisations, persons, rows, unreadable, dry_run)


class _DryRun(Exception):
    """Raised inside the transaction of a dry run, so that it rolls back."""


def _check_keys(old_key: str, new_key: str) -> None:
    if not new_key:
        raise InputFileError("the new identifier key is empty")
    if len(new_key) < 32:
        raise InputFileError("the new identifier key is too short: use 32 characters or more")
    if hmac.compare_digest(old_key, new_key):
        raise InputFileError("the new identifier key is the same as the current one")


def _person_hashes(
    feeds: Sequence[Path], old_key: str, new_key: str, max_line_bytes: int
) -> tuple[dict[str, str], int, int]:
    """Old hash → new hash of every person's number in the feeds; rows read; rows
    whose identifier could not be read (they cannot be in the store either)."""
    if not feeds:
        raise InputFileError("give at least one feed file that holds the persons' numbers")
    moved: dict[str, str] = {}
    rows = unreadable = 0
    for path in feeds:
        for row in _feed_rows(path, max_line_bytes):
            rows += 1
            if row is None:
                unreadable += 1
                continue
            scheme, value = row
            try:
                ident = validate_identifier(scheme, value)
            except ValidationError:
                unreadable += 1
                continue
            if ident.scheme in PERSON_SCHEMES:
                moved[identifier_hash(old_key, ident)] = identifier_hash(new_key, ident)
    return moved, rows, unreadable


def _feed_rows(path: Path, max_line_bytes: int) -> Iterator[tuple[str, str] | None]:
    fmt = detect_format(path, None, None)
    with path.open("rb") as handle:
        source = LineSource(handle, fmt.encoding, max_line_bytes)
        try:
            for row in read_rows(source, fmt.file_format, FEED_COLUMNS, REQUIRED):
                if isinstance(row, FeedRow):
                    yield row.fields["id_scheme"], row.fields["id_value"]
                else:
                    yield None
        except InputFileError as exc:
            raise InputFileError(f"{path}: {exc}") from exc


def _move_hashes(
    session: Session, new_key: str, person_hashes: dict[str, str]
) -> tuple[int, int, list[int]]:
    """Rewrite every identifier's hash; (organisations, persons, subjects not covered)."""
    organisations = persons = 0
    missing: list[int] = []
    last_id = 0
    while rows := _identifiers_after(session, last_id):
        batch: list[dict[str, object]] = []
        for ident_id, subject_id, scheme, value, old_hash in rows:
            if scheme in PERSON_SCHEMES:
                new_hash = person_hashes.get(old_hash)
                if new_hash is None:
                    missing.append(subject_id)
                    continue
                persons += 1
            else:
                # An organisation's stored value is its canonical identifier, in clear.
                new_hash = identifier_hash(new_key, IdentifierValue(scheme, value))
                organisations += 1
            batch.append({"id": ident_id, "value_hash": new_hash})
        last_id = rows[-1][0]
        if batch and not missing:
            session.execute(update(Identifier), batch)
    return organisations, persons, missing


def _identifiers_after(session: Session, last_id: int) -> list[tuple[int, int, str, str, str]]:
    # Pages by id: the table is rewritten while it is read, so no open cursor spans it.
    rows = session.execute(
        select(
            Identifier.id,
            Identifier.subject_id,
            Identifier.scheme,
            Identifier.value,
            Identifier.value_hash,
        )
        .where(Identifier.id > last_id)
        .order_by(Identifier.id)
        .limit(UPDATE_BATCH)
    ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def _unmatched_message(subjects: list[int]) -> str:
    shown = ", ".join(str(s) for s in sorted(set(subjects))[:SHOWN_UNMATCHED])
    more = len(set(subjects)) - SHOWN_UNMATCHED
    tail = f" and {more} more" if more > 0 else ""
    return (
        f"{len(subjects)} person identifier(s) are in none of the feeds given (subjects "
        f"{shown}{tail}); without their full numbers they could not be found again under "
        "the new key. Add the feeds that hold them; nothing was changed."
    )
