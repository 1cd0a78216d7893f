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

import multiprocessing
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from trustreg.core.blocking import Candidate, ScreeningIndex, filed
from trustreg.core.identifiers import (
    PERSON_SCHEMES,
    Identifier,
    mask_identifier,
    parse_identifier,
)
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
    """The screening index of one store, rebuilt when the store has new subjects.

    ``identifier_key`` is the store's identifier key (setting ``identifier_key``): a
    query's person number is hashed with it to meet the entries' hashes.
    """

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
        self._lock = threading.Lock()
        self._index: ScreeningIndex | None = None
        self._shown: dict[int, Shown] = {}
        self._version: tuple[int, ...] | None = None
        self._checked = 0.0

    def current(self) -> tuple[ScreeningIndex, dict[int, Shown]]:
        """The index, fresh to within a second."""
        with self._lock:
            now = time.monotonic()
            if self._index is None or now - self._checked >= 1.0:
                self._checked = now
                with transaction(self.factory) as session:
                    version = store.latest_change(session)
                if version != self._version or self._index is None:
                    self._index, self._shown = self._build()
                    self._version = version
            return self._index, self._shown

    def expire(self) -> None:
        """Look at the store again on the next check, not within the second (after a
        write in this process whose effect must show at once)."""
        self._checked = 0.0

    def ready(self) -> bool:
        """Whether a check can be answered now without building the index first (no
        build under way, and the store unchanged since the last one)."""
        if not self._lock.acquire(blocking=False):
            return False  # a build is under way
        try:
            if self._index is None:
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

    def _build(self) -> tuple[ScreeningIndex, dict[int, Shown]]:
        shown: dict[int, Shown] = {}
        parties: list[tuple[int, Party]] = []
        with transaction(self.factory) as session:
            for entry in store.entries(session):
                parties.append((entry.subject_id, entry_party(entry)))
                shown[entry.subject_id] = _shown(entry)
        return ScreeningIndex.from_filed(prepare(parties, self.workers), self.thresholds), shown


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
