"""The audit log: checking that nobody rewrote it, and reading it back.

Every write and every look-up of a person appends an entry (``store.writes.append_audit``)
whose hash covers its content and the hash of the entry before it. :func:`verify`
walks the chain in id order, a chunk at a time, and names the first entry that was
altered, removed or reordered. A chain rewritten from some entry to its end is
consistent again; only a head hash kept elsewhere (``expect_head``, e.g. yesterday's
cron output) shows that.

A look-up of a person is an entry ``person_check`` whose target is ``subject:ID``: the
target index finds a subject's look-ups (:func:`access_log`) and who made them
(:func:`checkers_of`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from trustreg.store import audit as store
from trustreg.store.db import transaction
from trustreg.store.writes import GENESIS_HASH, audit_hash

VERIFY_CHUNK = 10_000

# What can be wrong with an entry.
ALTERED, REMOVED, REORDERED = "altered", "removed", "reordered"


@dataclass(frozen=True, slots=True)
class AuditReport:
    """The outcome of :func:`verify`."""

    checked: int  # entries found intact, from the first on
    head_id: int | None  # the newest stored entry (None: the log is empty)
    head_hash: str
    bad_id: int | None = None  # the first entry that is wrong; None: intact
    problem: str | None = None  # altered, removed or reordered
    reason: str = ""

    @property
    def intact(self) -> bool:
        return self.problem is None

    def summary(self) -> str:
        """One line for a log or a terminal."""
        if self.intact:
            return (
                f"audit log intact: {self.checked:,} entries checked, "
                f"head {self.head_id or 0} {self.head_hash}"
            )
        where = f"entry {self.bad_id}" if self.bad_id is not None else "the log"
        return (
            f"audit log broken at {where} ({self.problem}): {self.reason}; "
            f"{self.checked:,} entries before it intact"
        )


@dataclass(slots=True)
class _Walk:
    checked: int = 0
    prev_id: int | None = None
    prev_hash: str = GENESIS_HASH
    seen_head: bool = False


def verify(
    factory: sessionmaker[Session], expect_head: str | None = None, chunk: int = VERIFY_CHUNK
) -> AuditReport:
    """Recompute every entry's hash in id order and report the first bad entry.

    Reads ``chunk`` entries per transaction, so the log may be of any length.
    ``expect_head``: a head hash recorded earlier, which must still be in the chain
    (otherwise entries were removed from the end, or the chain was rewritten).
    """
    walk = _Walk()
    while True:
        with transaction(factory) as session:
            rows = store.entries_after(session, walk.prev_id or 0, chunk)
        for row in rows:
            found = _check(row, walk)
            if found is not None:
                with transaction(factory) as session:
                    bad_id, problem, reason = _explain(session, row, walk, found)
                return _report(factory, walk, bad_id, problem, reason)
            walk.seen_head = walk.seen_head or row.entry_hash == expect_head
            walk.checked += 1
            walk.prev_id, walk.prev_hash = row.id, row.entry_hash
        if len(rows) < chunk:
            break
    if expect_head is not None and not walk.seen_head:
        reason = (
            f"the expected head {expect_head} is not in the chain (entries removed or rewritten)"
        )
        return _report(factory, walk, None, REMOVED, reason)
    return _report(factory, walk, None, None, "")


def _check(row: store.StoredEntry, walk: _Walk) -> str | None:
    """``altered`` if the entry's hash does not cover its content, ``chain`` if it does
    not follow the entry before it, else None."""
    if audit_hash(row.prev_hash, row) != row.entry_hash:
        return ALTERED
    if row.prev_hash != walk.prev_hash:
        return "chain"
    return None


def _explain(
    session: Session, row: store.StoredEntry, walk: _Walk, found: str
) -> tuple[int, str, str]:
    """The first bad entry's id, what is wrong and why we think so."""
    if found == ALTERED:
        return row.id, ALTERED, "its hash does not match its content"
    before = f"entry {walk.prev_id}" if walk.prev_id is not None else "the start of the log"
    linked = store.entry_with_hash(session, row.prev_hash)
    if linked is not None:
        reason = f"it follows entry {linked} in the chain but is stored after {before}"
        return row.id, REORDERED, reason
    if walk.prev_id is None:
        return row.id, REMOVED, "the entries before it are missing"
    if row.id > walk.prev_id + 1:
        return row.id, REMOVED, f"entries between {walk.prev_id} and {row.id} are missing"
    # Ids are consecutive, yet the next entry chained to another hash: the entry before
    # it was changed and given a new hash that matches its new content.
    reason = f"its content and hash were replaced (entry {row.id} chained to its old hash)"
    return walk.prev_id, ALTERED, reason


def _report(
    factory: sessionmaker[Session],
    walk: _Walk,
    bad_id: int | None,
    problem: str | None,
    reason: str,
) -> AuditReport:
    with transaction(factory) as session:
        head = store.head(session)
    head_id, head_hash = head if head else (None, GENESIS_HASH)
    return AuditReport(walk.checked, head_id, head_hash, bad_id, problem, reason)


# ------------------------------------------------------------------------ reads


def subject_target(subject_id: int) -> str:
    """The target of every audit entry about one subject."""
    return f"subject:{subject_id}"


@dataclass(frozen=True, slots=True)
class Access:
    """One look-up of a person: who, when, why, how, and what they were shown."""

    at: datetime
    actor: str
    purpose: str | None
    check: str  # eligibility, check or screen
    shown: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "actor": self.actor,
            "purpose": self.purpose,
            "check": self.check,
            "shown": self.shown,
        }


def access_log(session: Session, subject_id: int, since: datetime | None = None) -> list[Access]:
    """The look-ups of one subject (newest first), what the subject may see of them."""
    entries = store.by_target(session, subject_target(subject_id), store.PERSON_CHECK, since)
    found = []
    for entry in entries:
        detail = _detail(entry.detail)
        shown = detail.get("shown") if isinstance(detail, dict) else None
        found.append(
            Access(
                at=entry.at.replace(tzinfo=UTC),
                actor=entry.actor,
                purpose=detail.get("purpose") if isinstance(detail, dict) else None,
                check=str(detail.get("check", "")) if isinstance(detail, dict) else "",
                shown=shown if isinstance(shown, dict) else {},
            )
        )
    return found


def checkers_of(session: Session, subject_id: int, since: datetime) -> list[str]:
    """Everyone who looked the subject up since a moment (e.g. to tell them of a
    dispute's outcome), each once, sorted."""
    return list(store.actors_of(session, subject_target(subject_id), store.PERSON_CHECK, since))


def recent_entries(
    factory: sessionmaker[Session],
    limit: int = 20,
    target: str | None = None,
    action: str | None = None,
) -> list[dict[str, Any]]:
    """The newest entries first, as JSON-ready data (``trustreg audit show``)."""
    with transaction(factory) as session:
        entries = store.recent(session, limit, target, action)
    return [
        {
            "id": e.id,
            "at": e.at.isoformat(timespec="seconds") + "Z",
            "actor": e.actor,
            "action": e.action,
            "target": e.target,
            "detail": _detail(e.detail),
            "entry_hash": e.entry_hash,
        }
        for e in entries
    ]


def _detail(text: str) -> Any:
    # Entries are written as JSON; a hand-edited one may not be, and is shown as text.
    try:
        return json.loads(text)
    except ValueError:
        return text
