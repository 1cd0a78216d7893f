"""Purpose limitation: who may look at a person's records, and the log of every look.

One gate (:func:`authorise`, :func:`person_lookup`) for every look-up of a person, by
page, API, counterparty check, eligibility check or screening:

- a **verified checker** (role ``checker``, verified by the operator, scope
  ``check``) that declares a purpose from ``PURPOSES``;
- the subject's own **representative** (scope ``myfile``), without a purpose: its own
  file, logged as ``own_file`` (not in the subject's access log: it is the subject);
- a **reviewer** (scope ``review``) while the person has a dispute or repair
  application awaiting a decision: purpose ``review``, logged and shown to the person
  like any look-up (a reviewer must see the records to decide);
- an in-process tool, named by a string (``cli``: the operator's command line; the
  demo builder): it has the database in hand anyway, yet it too must declare a
  purpose, and is logged under its name.

Everyone else is refused: anonymous 401, any other account 403. Operators have no
purpose of their own on the web: they look persons up with the CLI, which asks for a
purpose and logs it. Legal entities and other organisations are public: no gate, no
log.

Every look-up granted appends an audit entry ``person_check`` with target
``subject:ID`` (one per person, so the target index finds a subject's look-ups:
``services.audit.access_log``), carrying who (the actor's label), when, the purpose,
the channel (``check``: page, api, check, screen or eligibility) and what was shown
(record ids, grade, lists, scores), never an identifier.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from trustreg.core.identifiers import parse_identifier
from trustreg.core.rating import VOID_STATUSES, RecordFact, publicity_end
from trustreg.core.rulebook import RecordType
from trustreg.core.validation import SCHEME_KINDS
from trustreg.core.vocabulary import PERSON_KINDS, PURPOSES
from trustreg.errors import Forbidden, NotFound, Unauthorized, ValidationError
from trustreg.services import assessments, subjects
from trustreg.services.accounts import Actor
from trustreg.store import queries
from trustreg.store.audit import PERSON_CHECK
from trustreg.store.db import transaction
from trustreg.store.models import Dispute, Record, Subject
from trustreg.store.models_access import RepairApplication
from trustreg.store.writes import append_audit_many

# The one action of every look-up of a person (``services.audit`` reads it back).
PERSON_LOOKUP = PERSON_CHECK
OWN_FILE = "own_file"
REVIEW = "review"
CLI = "cli"
CHANNELS = ("page", "api", "check", "screen", "eligibility", "watch")

# An account (``Actor``) or an in-process tool named by a string (``CLI``).
Asker = Actor | str

SIGN_IN = (
    "looking up a person's records needs a signed-in checker account, verified by the "
    "registry, and a declared purpose; every look-up is logged and shown to the person"
)
PURPOSE_NEEDED = (
    "looking up a person needs a declared purpose "
    f"({', '.join(PURPOSES)}); every look-up is logged and shown to the person"
)


@dataclass(frozen=True, slots=True)
class Grant:
    """Leave to look: who, as the audit log names them, and why."""

    actor: str
    purpose: str
    own: bool = False  # the subject's own representative: its own file
    review: bool = False  # a reviewer, for a decision pending on the person


def label(actor: Asker) -> str:
    """How the audit log names the one asking."""
    return actor if isinstance(actor, str) else actor.label


def is_person(kind: str) -> bool:
    return kind in PERSON_KINDS


def declared(purpose: str | None) -> str:
    """The declared purpose; Forbidden without one, ValidationError if unknown."""
    if not purpose:
        raise Forbidden(PURPOSE_NEEDED)
    if purpose not in PURPOSES:
        raise ValidationError("purpose", f"'{purpose}' is not one of {', '.join(PURPOSES)}")
    return purpose


def check_purpose(purpose: str | None) -> None:
    """ValidationError if a purpose is given and is not one of ``PURPOSES``."""
    if purpose and purpose not in PURPOSES:
        raise ValidationError("purpose", f"'{purpose}' is not one of {', '.join(PURPOSES)}")


def authorise(actor: Asker, purpose: str | None, subject_id: int | None = None) -> Grant:
    """Leave for ``actor`` to look at a person (``subject_id``; None: whoever a search
    finds), or Unauthorized (anonymous), Forbidden (not a verified checker, or no
    purpose) or ValidationError (an unknown purpose).

    A reviewer's leave still depends on the person's pending cases: see
    :func:`person_lookup`, which checks them.
    """
    if isinstance(actor, str):
        return Grant(actor, declared(purpose))
    if subject_id is not None and actor.represents(subject_id) and actor.may("myfile"):
        return Grant(actor.label, OWN_FILE, own=True)
    if subject_id is not None and actor.role == "reviewer" and actor.may("review"):
        return Grant(actor.label, REVIEW, review=True)
    if not actor.signed_in:
        raise Unauthorized(SIGN_IN)
    if not actor.may_look_up_persons:
        raise Forbidden(refusal(actor))
    return Grant(actor.label, declared(purpose))


def refusal(actor: Actor) -> str:
    """Why a signed-in account may not look persons up."""
    if actor.role == "checker" and not actor.verified:
        return "this checker account is not verified by the registry yet: " + SIGN_IN
    if actor.role == "checker":
        return "this API token lacks the scope 'check': " + SIGN_IN
    if actor.role == "operator":
        return (
            "an operator looks persons up with the command line (trustreg check, "
            "trustreg eligibility), which asks for a purpose and logs the look-up"
        )
    if actor.role == "representative":
        return "a representative sees only the subjects it represents (its own file)"
    if actor.role == "reviewer":
        return "a reviewer looks at one person at a time, for a pending decision"
    return f"a {actor.role} account cannot look persons up"


def person_lookup(
    session: Session,
    actor: Asker,
    subject_id: int,
    purpose: str | None,
    shown: Mapping[str, Any],
    now: datetime,
    channel: str,
) -> Grant:
    """Let ``actor`` see one person, in the caller's transaction, and log it; raises
    (and logs nothing) if it may not. ``shown`` says what the answer holds (record ids,
    grade, lists), never an identifier."""
    grant = authorise(actor, purpose, subject_id)
    if grant.review and not under_review(session, subject_id):
        raise Forbidden(
            "a reviewer sees a person's records only while a dispute or repair "
            "application of that person awaits a decision"
        )
    log_lookups(session, grant, [(subject_id, shown)], channel, now)
    return grant


def log_lookups(
    session: Session,
    grant: Grant,
    shown: Sequence[tuple[int, Mapping[str, Any]]],
    channel: str,
    now: datetime,
) -> None:
    """One audit entry per person shown (subject id, what was shown), chained in order."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")  # a programming error
    if not shown:
        return
    entries: list[tuple[str, Mapping[str, Any]]]
    if grant.own:
        entries = [(f"subject:{sid}", {"check": channel}) for sid, _ in shown]
        append_audit_many(session, grant.actor, OWN_FILE, entries, now)
        return
    entries = [
        (f"subject:{sid}", {"purpose": grant.purpose, "check": channel, "shown": dict(what)})
        for sid, what in shown
    ]
    append_audit_many(session, grant.actor, PERSON_LOOKUP, entries, now)


def under_review(session: Session, subject_id: int) -> bool:
    """Whether a dispute or repair application of the subject awaits a decision."""
    dispute = session.scalar(
        select(Dispute.id)
        .where(Dispute.subject_id == subject_id, Dispute.decided_at.is_(None))
        .limit(1)
    )
    if dispute is not None:
        return True
    repair = session.scalar(
        select(RepairApplication.id)
        .where(RepairApplication.subject_id == subject_id, RepairApplication.decided_at.is_(None))
        .limit(1)
    )
    return repair is not None


# ------------------------------------------------------------ gated look-ups


def subject_shown(view: Mapping[str, Any]) -> dict[str, Any]:
    """What a subject view shows, as the audit log notes it."""
    assessment = view.get("assessment") or {}
    return {
        "records": [r["id"] for r in view.get("records", [])],
        "grade": assessment.get("grade"),
        "lists": [m["list"] for m in assessment.get("lists", [])],
    }


def subject_for(
    factory: sessionmaker[Session],
    actor: Asker,
    subject_id: int,
    purpose: str | None,
    channel: str,
    now: datetime,
) -> dict[str, Any]:
    """A subject's view (``services.subjects``) for ``actor``: a person's only through
    the gate, logged, with ``purpose`` added; an organisation's for anyone, unlogged."""
    view = subjects.find_by_id(factory, subject_id, masked=True)
    return through_gate(factory, actor, view, purpose, channel, now)


def subject_by_identifier_for(
    factory: sessionmaker[Session],
    actor: Asker,
    text: str,
    purpose: str | None,
    channel: str,
    now: datetime,
    identifier_key: str,
) -> dict[str, Any]:
    """The subject holding ``scheme:value`` for ``actor``. A person's number is refused
    before it is looked up: without leave, nobody may learn even whether the registry
    holds anything on that person (a representative learns it only of its own)."""
    identifier = parse_identifier(text)
    person_number = set(SCHEME_KINDS[identifier.scheme]) <= set(PERSON_KINDS)
    own_only = isinstance(actor, Actor) and actor.role == "representative"
    if person_number and not own_only:
        authorise(actor, purpose)
    try:
        view = subjects.find_by_identifier(
            factory, text, masked=True, identifier_key=identifier_key
        )
    except NotFound:
        if person_number and own_only:
            assert isinstance(actor, Actor)
            raise Forbidden(refusal(actor)) from None
        raise
    return through_gate(factory, actor, view, purpose, channel, now)


def through_gate(
    factory: sessionmaker[Session],
    actor: Asker,
    view: dict[str, Any],
    purpose: str | None,
    channel: str,
    now: datetime,
) -> dict[str, Any]:
    """``view`` (a subject's) as it may be shown: an organisation's as is, a person's
    only with leave, logged, and with the purpose granted added."""
    if not is_person(view["kind"]):
        return view
    with transaction(factory) as session:
        grant = person_lookup(
            session, actor, view["id"], purpose, subject_shown(view), now, channel
        )
    return view | {"purpose": grant.purpose}


def assessment_for(
    factory: sessionmaker[Session],
    actor: Asker,
    subject_id: int,
    purpose: str | None,
    now: datetime,
    question: AssessmentQuestion,
) -> dict[str, Any]:
    """A subject's assessment (``services.assessments``) for ``actor``, a person's
    through the gate."""
    with transaction(factory) as session:
        subject = session.get(Subject, subject_id)
        if subject is None:
            raise NotFound(f"no subject with id {subject_id}")
        person = is_person(subject.kind)
        if person:
            authorise(actor, purpose, subject_id)  # refused before anything is computed
    result = assessments.subject_assessment(
        factory, subject_id, question.as_of, question.known_at, question.rulebook
    )
    if person:
        shown = {
            "grade": result["grade"],
            "points": result["points"],
            "lists": [m["list"] for m in result["lists"]],
            "as_of": result["as_of"],
        }
        with transaction(factory) as session:
            grant = person_lookup(session, actor, subject_id, purpose, shown, now, "api")
        result["purpose"] = grant.purpose
    return result


@dataclass(frozen=True, slots=True)
class AssessmentQuestion:
    """Which assessment: on a day, as known at a moment, under a rulebook version."""

    as_of: date | None = None
    known_at: datetime | None = None
    rulebook: str | None = None


def record_for(
    factory: sessionmaker[Session],
    actor: Asker,
    record_id: int,
    purpose: str | None,
    channel: str,
    now: datetime,
) -> dict[str, Any]:
    """One record (``services.subjects.find_record``) for ``actor``. A person's record
    goes through the gate unless its type is public for persons and it is published
    today (then anyone sees it, masked, as the lists and open data show it)."""
    view = subjects.find_record(factory, record_id, actor, now.date())
    if not is_person(view["subject"]["kind"]):
        return view
    with transaction(factory) as session:
        if record_is_public(session, record_id, now.date()):
            return view | {"public": True}
        shown = {"records": [record_id]}
        grant = person_lookup(session, actor, view["subject"]["id"], purpose, shown, now, channel)
    return view | {"public": False, "purpose": grant.purpose}


def record_is_public(session: Session, record_id: int, today: date) -> bool:
    """Whether a person's record is published today: its type is public for persons,
    it is in effect and past its notice period, not revoked, and within its publicity."""
    record = session.get(Record, record_id)
    if record is None:
        return False
    rule = queries.record_types(session, today).get(record.record_type)
    return rule is not None and _published(record, rule, today)


def _published(record: Record, rule: RecordType, today: date) -> bool:
    # Revoked, or suspended or removed after a dispute: no longer published.
    if record.status in VOID_STATUSES or record.status in subjects.WITHHELD_STATUSES:
        return False
    if not rule.persons_public:
        return False
    if record.effective_from > today:
        return False
    if record.published_from is not None and record.published_from > today:
        return False
    fact = RecordFact(
        record.id, record.record_type, record.effective_from, record.status, record.status_since
    )
    return today < publicity_end(fact, rule)


def public_person(factory: sessionmaker[Session], subject_id: int, today: date) -> dict[str, Any]:
    """What anyone may see of a person: the records the rulebook publishes for persons
    (``persons_public``) and the list entries they cause, with the name and masked
    identifiers the lists print beside them. Nothing else: no grade, no other record,
    no birth date; and for a person with nothing published, not even the name."""
    view = subjects.find_by_id(factory, subject_id, masked=True)
    with transaction(factory) as session:
        types = queries.record_types(session, today)
        rows = session.scalars(select(Record).where(Record.subject_id == subject_id))
        public = {
            record.id
            for record in rows
            if (rule := types.get(record.record_type)) is not None
            and _published(record, rule, today)
        }
    lists = [m for m in view["assessment"]["lists"] if public.intersection(m.get("records", []))]
    return {
        "id": view["id"],
        "kind": view["kind"],
        "name": view["name"] if public else None,
        "identifiers": view["identifiers"] if public else [],
        "records": [r for r in view["records"] if r["id"] in public],
        "lists": lists,
    }
