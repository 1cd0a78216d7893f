"""Eligibility checks: one subject, or every bidder of a tender, for one decision.

The core decides (``core.eligibility``) from the same record versions and rulebook as
every assessment; this module finds the subjects, applies the rules on looking persons
up (a declared purpose, and an audit entry for every person checked), and adds what
an answer cites of each record. A single check and a file of checks go through
:func:`check_many`, so they give the same answers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from trustreg.core.eligibility import Eligibility, decide
from trustreg.core.identifiers import Identifier, mask_identifier, parse_identifier
from trustreg.core.rulebook import Rulebook
from trustreg.core.validation import SCHEME_KINDS
from trustreg.core.vocabulary import PERSON_KINDS
from trustreg.errors import Forbidden, NotFound, TrustRegError, Unauthorized, ValidationError
from trustreg.services import access
from trustreg.services.accounts import ANONYMOUS
from trustreg.services.assessments import moment
from trustreg.store import assessments as store
from trustreg.store import queries
from trustreg.store.db import transaction
from trustreg.store.models import Subject

CHUNK = 1000  # subjects whose records are read in one query


@dataclass(frozen=True, slots=True)
class EligibilityQuery:
    """What is asked: the decision, the day, as known when, and who asks why."""

    decision: str
    on: date | None = None
    known_at: datetime | None = None
    purpose: str | None = None  # required to check a person
    # An account, or an in-process tool named by a string ("cli"): see services.access.
    actor: access.Asker = ANONYMOUS


def decisions(factory: sessionmaker[Session], on: date | None = None) -> list[str]:
    """The decisions the rulebook in force attaches consequences to."""
    with transaction(factory) as session:
        return sorted(_decisions(queries.rulebook_in_force(session, on or _today())))


def check(
    factory: sessionmaker[Session], identifier: str, query: EligibilityQuery, *, identifier_key: str
) -> dict[str, Any]:
    """The answer for one subject; NotFound, ValidationError or Forbidden if none."""
    (result,) = check_many(factory, [identifier], query, identifier_key=identifier_key)
    if isinstance(result, TrustRegError):
        raise result
    return result


def check_many(
    factory: sessionmaker[Session],
    identifiers: Sequence[str],
    query: EligibilityQuery,
    *,
    identifier_key: str,
) -> list[dict[str, Any] | TrustRegError]:
    """One answer per identifier, in order; a row that cannot be answered gets the
    error saying why (bad identifier, not in the registry, a person without purpose).

    Subjects are found by the keyed hash of the identifier under ``identifier_key``
    (the store's key, setting ``identifier_key``). The query itself is checked first:
    an unknown decision or purpose refuses all.
    """
    now = datetime.now(UTC)
    known_at = moment(query.known_at, now)
    on = query.on or now.date()
    access.check_purpose(query.purpose)
    results: list[dict[str, Any] | TrustRegError] = []
    with transaction(factory) as session:

        @lru_cache(maxsize=64)
        def rulebook_for(day: date) -> Rulebook:
            return queries.rulebook_in_force(session, day, known_at)

        known = _decisions(rulebook_for(on))
        if query.decision not in known:
            raise ValidationError(
                "decision",
                f"'{query.decision}' is not a decision the rulebook in force on {on} attaches "
                f"consequences to; it knows {', '.join(sorted(known)) or 'none'}",
            )
        for start in range(0, len(identifiers), CHUNK):
            chunk = identifiers[start : start + CHUNK]
            found = [_find(session, text, query, identifier_key) for text in chunk]
            results += _check_chunk(session, found, query, on, known_at, rulebook_for, now)
    return results


def _check_chunk(
    session: Session,
    found: Sequence[tuple[Identifier, Subject] | TrustRegError],
    query: EligibilityQuery,
    on: date,
    known_at: datetime | None,
    rulebook_for: Callable[[date], Rulebook],
    now: datetime,
) -> list[dict[str, Any] | TrustRegError]:
    subject_ids = {item[1].id for item in found if isinstance(item, tuple)}
    versions = store.record_versions(session, subject_ids)
    answers: dict[int, Eligibility] = {}
    for subject_id in subject_ids:
        subject = session.get(Subject, subject_id)
        assert subject is not None  # found above, in this transaction
        answers[subject_id] = decide(
            subject_id,
            subject.kind,
            versions[subject_id],
            rulebook_for,
            query.decision,
            on,
            known_at,
        )
    cited = queries.record_summaries(
        session,
        {r for a in answers.values() for c in a.consequences for r in c.record_ids},
    )
    results: list[dict[str, Any] | TrustRegError] = []
    for item in found:
        if isinstance(item, TrustRegError):
            results.append(item)
            continue
        identifier, subject = item
        view = _answer_view(identifier, subject, answers[subject.id], cited, known_at or now)
        if subject.kind in PERSON_KINDS:
            _log_person_check(session, subject, query, view, now)
        results.append(view)
    return results


def _find(
    session: Session, text: str, query: EligibilityQuery, key: str
) -> tuple[Identifier, Subject] | TrustRegError:
    try:
        identifier = parse_identifier(text)
    except ValidationError as exc:
        return exc
    shown = f"{identifier.scheme}:{mask_identifier(identifier)}"
    # A person's number is refused before it is looked up: without leave (a verified
    # checker's, with a declared purpose), nobody may learn even whether the registry
    # holds anything on that person.
    if set(SCHEME_KINDS[identifier.scheme]) <= set(PERSON_KINDS):
        refused = _refused(shown, query)
        if refused is not None:
            return refused
    subject = queries.subject_by_identifier(session, identifier, key)
    if subject is None:
        return NotFound(f"no subject with identifier {shown} in the registry")
    if subject.kind in PERSON_KINDS:
        return _refused(shown, query) or (identifier, subject)
    return identifier, subject


def _refused(shown: str, query: EligibilityQuery) -> TrustRegError | None:
    """Why the asker may not check a person (``services.access``), or None."""
    try:
        access.authorise(query.actor, query.purpose)
    except (Unauthorized, Forbidden) as exc:
        return type(exc)(f"{shown} identifies a person: {exc.detail}")
    return None


def _answer_view(
    identifier: Identifier,
    subject: Subject,
    answer: Eligibility,
    cited: dict[int, dict[str, str]],
    known_at: datetime,
) -> dict[str, Any]:
    person = subject.kind in PERSON_KINDS
    view = answer.to_dict()
    for item in view["consequences"]:
        item["records"] = [{"id": r, **cited.get(r, {})} for r in item["records"]]
    shown = mask_identifier(identifier) if person else identifier.value
    return {
        "identifier": f"{identifier.scheme}:{shown}",
        "name": subject.display_name,
        "kind": subject.kind,
        **view,
        "known_at": known_at.isoformat(),
    }


def _log_person_check(
    session: Session, subject: Subject, query: EligibilityQuery, view: dict[str, Any], now: datetime
) -> None:
    """Every check of a person is an audit entry: who, when, why, and what was shown."""
    shown = {
        "decision": query.decision,
        "on": view["on"],
        "known_at": view["known_at"],
        "answer": view["answer"],
        "eligible_from": view["eligible_from"],
        "consequences": [c["code"] for c in view["consequences"]],
    }
    # Leave was granted when the subject was found (``_find``); asked again for the grant.
    grant = access.authorise(query.actor, query.purpose)
    access.log_lookups(session, grant, [(subject.id, shown)], "eligibility", now)


def _decisions(rulebook: Rulebook) -> set[str]:
    return {c.decision for listed in rulebook.lists.values() for c in listed.consequences}


def _today() -> date:
    return datetime.now(UTC).date()
