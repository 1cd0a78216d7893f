"""Counterparty checks: the registry's screening index, and one check at a time.

The index (``core.blocking``) is built from the store on first use and rebuilt when
subjects, names or identifiers have been added since (looked at no more than once a
second). Preparing a million profiles is the costly part, so it is spread over worker
processes. A check answers with candidates, their scores, decisions, the evidence for
and against, and each subject's current grade and lists.

Persons: person entries are only shown to a caller with leave from the gate of every
person look-up (``services.access``: a verified checker, or the CLI, with a declared
purpose), and every person a check showed is logged. A
person's number is compared by its keyed hash (the registry keeps no other full form),
so the index holds the identifier key; the answer shows such numbers masked.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from trustreg.core.blocking import Candidate, ScreeningIndex, filed
from trustreg.core.identifiers import (
    PERSON_SCHEMES,
    Identifier,
    mask_identifier,
    parse_identifier,
)
from trustreg.core.layered import LayeredIndex
from trustreg.core.matching import Party, Thresholds, profile, with_hashed_numbers
from trustreg.core.vocabulary import PERSON_KINDS, SUBJECT_KINDS
from trustreg.errors import ValidationError
from trustreg.services import access
from trustreg.services.accounts import ANONYMOUS
from trustreg.store import screening as store
from trustreg.store.db import transaction

PREPARE_CHUNK = 5_000
PARALLEL_FROM = 50_000  # below this many subjects, one process prepares them faster
MAX_TOP = 50


@dataclass(frozen=True, slots=True)
class Shown:
    """What a candidate shows of its subject (person identifiers masked)."""

    subject_id: int
    name: str
    kind: str
    matched_id: str  # scheme:value of the main identifier


class RegistryIndex:
    """The screening index of one store, kept fresh as the store changes.

    Built in full once (``_build``: a minute or more at a million subjects); after
    that, each look at the store (at most once a second) reads only the subjects new
    or changed since the last look, prepares them, and serves a ``LayeredIndex``: the
    base less the entries they supersede, plus a delta of every subject changed since
    the base (milliseconds to a few hundred). A deleted subject (the retention purge)
    leaves the answers at the next look: its id is read as gone and skipped. A full
    rebuild is due when the delta and the deleted subjects outgrow ``rebuild_share`` of
    the base (or ``rebuild_max`` entries); it runs in a background thread while the
    layered index goes on serving.

    ``identifier_key`` is the store's identifier key (setting ``identifier_key``): a
    query's person number is hashed with it to meet the entries' hashes.
    ``builds`` counts full builds, ``refreshes`` delta reads.
    """

    rebuild_share = 0.1  # of the base: a bigger delta is folded in by a full rebuild
    rebuild_min = 1_000  # a delta this small never asks for one
    rebuild_max = 50_000  # a delta this big always does

    def __init__(
        self,
        factory: sessionmaker[Session],
        thresholds: Thresholds,
        workers: int = 1,
        *,
        identifier_key: str,
    ) -> None:
        self.factory = factory
        self.thresholds = thresholds
        self.workers = workers
        self.identifier_key = identifier_key
        self.builds = 0
        self.refreshes = 0
        self._lock = threading.Lock()
        self._index: LayeredIndex | None = None
        self._base: Built | None = None
        self._delta: dict[int, Filed] = {}  # subject id -> entry, since the base
        self._superseded: set[int] = set()  # base subjects changed or gone since
        self._deleted: set[int] = set()  # subjects deleted since the base
        self._shown: dict[int, Shown] = {}
        self._version: store.Version | None = None
        self._checked = 0.0
        self._rebuilding: threading.Thread | None = None
        self._closing = threading.Event()
        self._rebuilt: Built | None = None

    def current(self) -> tuple[LayeredIndex, dict[int, Shown]]:
        """The index, fresh to within a second (or a background rebuild's time, when
        the delta has outgrown its bounds)."""
        with self._lock:
            if self._rebuilt is not None:
                # Built from an older read of the store: look again at once.
                self._adopt(self._rebuilt, checked=0.0)
            if self._index is None:
                self._adopt(self._build(self.workers), checked=time.monotonic())
            elif time.monotonic() - self._checked >= 1.0:
                self._refresh()
                # Fresh as of the read's end: the checks that waited for it use it.
                self._checked = time.monotonic()
            assert self._index is not None
            return self._index, self._shown

    def expire(self) -> None:
        """Look at the store again on the next check, not within the second (after a
        write in this process whose effect must show at once)."""
        self._checked = 0.0

    def ready(self) -> bool:
        """Whether a check can be answered now without touching the index: it exists,
        nobody holds it, no rebuild waits to be adopted, and it is fresh (looked at
        within the second, or the store unchanged since).

        The server answers a ready check on its event loop; any other goes to a
        thread. A delta read takes from milliseconds to a second or two under load
        (it prepares the changed subjects and refiles the delta), and on the event
        loop it would hold up every other request of the worker.
        """
        if not self._lock.acquire(blocking=False):
            return False  # the first build, or a delta read, is under way
        try:
            if self._index is None or self._rebuilt is not None:
                return False
            now = time.monotonic()
            if now - self._checked < 1.0:
                return True
            with transaction(self.factory) as session:
                fresh = store.latest_change(session) == self._version
            if fresh:
                self._checked = now
            return fresh
        finally:
            self._lock.release()

    def close(self, timeout: float = 30) -> None:
        """Stop a background rebuild's reading of the store (the app is shutting down
        and will close the store); a rebuild past its reading holds no connection and
        ends with the process."""
        self._closing.set()
        self.settle(timeout)

    def settle(self, timeout: float | None = None) -> bool:
        """Wait for a background rebuild to end; whether none is left running."""
        thread = self._rebuilding
        if thread is not None:
            thread.join(timeout)
        return self._rebuilding is None or not self._rebuilding.is_alive()

    def _adopt(self, built: Built, checked: float) -> None:
        """Serve a full build: no delta until the next look at the store."""
        self._base, self._rebuilt = built, None
        self._delta, self._superseded, self._deleted = {}, set(), set()
        self._index = LayeredIndex(built.index)
        self._shown = built.shown
        self._version = built.version
        self._checked = checked

    def _refresh(self) -> None:
        """Read what changed since the last look into the delta; start a background
        rebuild when the delta and the deleted subjects outgrow their bound."""
        base = self._base
        assert base is not None
        assert self._version is not None
        running = self._rebuilding is not None and self._rebuilding.is_alive()
        if running and len(self._delta) > self._bound(base):
            return  # the rebuild will bring it all: keep serving what there is
        with transaction(self.factory) as session:
            version = store.latest_change(session)
            if version == self._version:
                return
            changed = store.changed_since(session, self._version)
            fresh = list(store.entries_of(session, changed))
            newer, held = store.count_after(session, base.version[0])
            # Deleted subjects (the retention purge) leave the answers at once: their
            # ids are skipped like superseded ones, with no rebuild (a rebuild in a
            # serving process competes with its requests for the interpreter).
            deleted = held < base.version[5] + newer - len(self._deleted)
            if deleted:
                self._deleted |= self._gone(session, base)
        self.refreshes += 1
        self._fold(base, changed | self._deleted, fresh)
        self._version = version
        if len(self._delta) + len(self._deleted) > self._bound(base) and not running:
            self._rebuild_in_background()

    def _fold(self, base: Built, changed: set[int], fresh: list[store.ScreeningEntry]) -> None:
        """Fold changed subjects into the delta and serve base + delta."""
        prepared = _file_chunk([(e.subject_id, entry_party(e)) for e in fresh])
        for entry, filed_entry in zip(fresh, prepared, strict=True):
            self._delta[entry.subject_id] = filed_entry
            self._shown[entry.subject_id] = _shown(entry)
        for gone in changed - {e.subject_id for e in fresh}:
            self._delta.pop(gone, None)
        # Every changed id, new ones too: a subject added while the base was read may
        # be in it (PostgreSQL reads no snapshot), and one id must not be found twice.
        self._superseded.update(changed)
        delta = ScreeningIndex.from_filed(
            (self._delta[i] for i in sorted(self._delta)), self.thresholds
        )
        self._index = LayeredIndex(base.index, delta, self._superseded)

    def _gone(self, session: Session, base: Built) -> set[int]:
        """The subjects of the base or the delta that the store no longer holds."""
        indexed = np.union1d(
            base.index.subject_ids, np.fromiter(self._delta, dtype=np.int64, count=-1)
        )
        held = np.fromiter(store.subject_ids(session), dtype=np.int64, count=-1)
        return {int(i) for i in np.setdiff1d(indexed, held, assume_unique=True)}

    def _bound(self, base: Built) -> int:
        share = max(self.rebuild_min, int(len(base.index) * self.rebuild_share))
        return min(share, self.rebuild_max)

    def _rebuild_in_background(self) -> None:
        def rebuild() -> None:
            try:
                # One process: forking preparers from a serving process with threads
                # running is unsafe.
                self._rebuilt = self._build(1)
            except _Closing:
                pass
            except Exception:
                logging.getLogger(__name__).exception("screening index rebuild failed")

        self._rebuilding = threading.Thread(target=rebuild, name="index-rebuild", daemon=True)
        self._rebuilding.start()

    def _build(self, workers: int) -> Built:
        shown: dict[int, Shown] = {}
        parties: list[tuple[int, Party]] = []
        with transaction(self.factory) as session:
            # Read first: a subject added during the read is in the index and comes
            # again in the next delta, which supersedes it; none is missed.
            version = store.latest_change(session)
            for entry in store.entries(session):
                parties.append((entry.subject_id, entry_party(entry)))
                shown[entry.subject_id] = _shown(entry)
                if self._closing.is_set():
                    raise _Closing
        index = ScreeningIndex.from_filed(prepare(parties, workers), self.thresholds)
        self.builds += 1
        return Built(index, shown, version)


class _Closing(Exception):
    """The index is closing: a background rebuild stops reading the store."""


@dataclass(frozen=True, slots=True)
class Built:
    """A full build: the index, what its entries show, the store's version it read."""

    index: ScreeningIndex
    shown: dict[int, Shown]
    version: store.Version


def entry_party(entry: store.ScreeningEntry) -> Party:
    """A registry subject as the matcher sees it (a person's number as its hash)."""
    return Party(
        name=entry.name,
        kind=entry.kind,
        identifiers=tuple(
            (scheme, value_hash if scheme in PERSON_SCHEMES else value)
            for scheme, value, value_hash in entry.identifiers
        ),
        country=entry.country,
        birth_date=entry.birth_date.isoformat() if entry.birth_date else None,
        # No address: the register holds a region, which the names already compare;
        # a province is not a person's address.
        other_names=entry.other_names,
    )


def _shown(entry: store.ScreeningEntry) -> Shown:
    main = ""
    if entry.identifiers:
        # As stored: a person's number is kept masked only.
        scheme, value, _hash = entry.identifiers[0]
        main = f"{scheme}:{value}"
    return Shown(entry.subject_id, entry.name, entry.kind, main)


Filed = tuple[int, bytes, bool, str]


def _file_chunk(chunk: Sequence[tuple[int, Party]]) -> list[Filed]:
    return [(sid, *filed(profile(party))) for sid, party in chunk]


def prepare(parties: Sequence[tuple[int, Party]], workers: int) -> Iterator[Filed]:
    """Every party prepared and keyed for the index, in order; spread over ``workers``
    processes for large registries (each sends back pickled slim profiles and keys)."""
    if workers <= 1 or len(parties) < PARALLEL_FROM:
        yield from _file_chunk(parties)
        return
    chunks = [parties[i : i + PREPARE_CHUNK] for i in range(0, len(parties), PREPARE_CHUNK)]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        for chunk in pool.imap(_file_chunk, chunks):
            yield from chunk


@dataclass(frozen=True, slots=True)
class CheckQuery:
    """One counterparty to check: a name and whatever else is known of it."""

    name: str
    kind: str | None = None
    identifier: str | None = None  # SCHEME:VALUE
    country: str | None = None
    birth_date: str | None = None
    address: str | None = None


def query_party(query: CheckQuery, where: str = "", id_field: str = "id") -> Party:
    """Validate a query; ValidationError naming the field (prefixed by ``where``)."""
    name = " ".join(query.name.split())
    if not name:
        raise ValidationError(f"{where}name", "is empty")
    if len(name) > 300:
        raise ValidationError(f"{where}name", f"has {len(name)} characters; at most 300")
    if query.kind and query.kind not in SUBJECT_KINDS:
        raise ValidationError(f"{where}kind", f"'{query.kind}' is not one of {SUBJECT_KINDS}")
    country = (query.country or "").strip().upper()
    if country and not (len(country) == 2 and country.isascii() and country.isalpha()):
        # Checked, not cut to two letters: "China" is not CH (Switzerland).
        raise ValidationError(f"{where}country", f"'{query.country}' is not an ISO 3166 code")
    identifiers: tuple[tuple[str, str], ...] = ()
    if query.identifier:
        try:
            parsed = parse_identifier(query.identifier)
        except ValidationError as exc:
            raise ValidationError(f"{where}{id_field}", exc.reason) from exc
        identifiers = ((parsed.scheme, parsed.value),)
    # Letters or characters to compare (the full normalisation is the matcher's work,
    # done once, in the worker that matches the query).
    if not identifiers and not any(c.isalnum() for c in name):
        raise ValidationError(
            f"{where}name", "has no letters or characters to compare (only punctuation?)"
        )
    return Party(
        name,
        query.kind or None,
        identifiers,
        country or None,
        query.birth_date or None,
        query.address or None,
    )


def check(
    registry: RegistryIndex,
    query: CheckQuery,
    top: int = 5,
    purpose: str | None = None,
    actor: access.Asker = ANONYMOUS,
    channel: str = "check",
) -> dict[str, Any]:
    """Check one counterparty: candidates with score, decision, explanation, standing.

    Organisations only, for anyone; persons too only with leave from the gate
    (``services.access``: a verified checker, or the CLI, with a declared purpose),
    and each person shown is logged (``channel``: check, or page for the portal)."""
    access.check_purpose(purpose)
    if not 1 <= top <= MAX_TOP:
        raise ValidationError("top", f"must be between 1 and {MAX_TOP}")
    wants_persons = purpose is not None or query.kind in PERSON_KINDS
    grant = access.authorise(actor, purpose) if wants_persons else None
    party = query_party(query)
    index, shown = registry.current()
    compared = with_hashed_numbers(party, registry.identifier_key)
    found = index.search(compared, top, persons=grant is not None)
    with transaction(registry.factory) as session:
        standing = store.standings(session, [c.subject_id for c in found])
        views = [candidate_view(c, shown[c.subject_id], standing) for c in found]
        people = [v for v in views if v["kind"] in PERSON_KINDS]
        if people and grant is not None:
            log_person_checks(session, grant.actor, grant.purpose, channel, people)
    return {"query": party_view(party), "candidates": views}


def candidate_view(
    candidate: Candidate, shown: Shown, standing: dict[int, tuple[str, list[str]]]
) -> dict[str, Any]:
    grade, lists = standing.get(candidate.subject_id, (None, []))
    return {
        "subject": candidate.subject_id,
        "name": shown.name,
        "kind": shown.kind,
        "matched_id": shown.matched_id,
        "score": candidate.score,
        "decision": candidate.decision,
        "agreed": list(candidate.agreed),
        "disagreed": list(candidate.disagreed),
        "explanation": candidate.comparison.explanation,
        "grade": grade,
        "lists": lists,
    }


def party_view(party: Party) -> dict[str, Any]:
    """The query as the answer repeats it (a person's number masked: answers get logged,
    cached and forwarded, and the number is not the registry's to publish)."""
    return {
        "name": party.name,
        "kind": party.kind,
        "identifiers": [f"{s}:{mask_identifier(Identifier(s, v))}" for s, v in party.identifiers],
        "country": party.country,
        "birth_date": party.birth_date,
        "address": party.address,
    }


def log_person_checks(
    session: Session,
    actor: str,
    purpose: str | None,
    how: str,
    people: Sequence[dict[str, Any]],
) -> None:
    """One audit entry for each person a check or screening showed, with target
    ``subject:ID`` (the index the person's access log reads): ``services.access``."""
    shown = ("score", "decision", "grade", "lists")
    access.log_lookups(
        session,
        access.Grant(actor, purpose or ""),
        [(p["subject"], {k: p[k] for k in shown if k in p}) for p in people],
        how,
        datetime.now(UTC),
    )
