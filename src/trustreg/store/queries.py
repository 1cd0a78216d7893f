"""Read queries of the serving store."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from trustreg.core import rulebook as core_rulebook
from trustreg.core.identifiers import Identifier as IdentifierValue
from trustreg.core.identifiers import identifier_hash
from trustreg.errors import NotFound
from trustreg.store.models import (
    Assessment,
    AuditEntry,
    Authority,
    AuthorityRecordType,
    AuthorityToken,
    Identifier,
    ListEntry,
    Record,
    RecordStatusChange,
    RulebookVersion,
    Subject,
)


def rulebook_in_force(
    session: Session, on: date, known_at: datetime | None = None
) -> core_rulebook.Rulebook:
    """The rulebook version in force on a date (the newest whose effective date has come;
    before any has, the earliest loaded). With ``known_at``: among the versions loaded
    by then, so a version loaded later never changes what was answered before."""
    query = select(
        RulebookVersion.effective_from, RulebookVersion.loaded_at, RulebookVersion.source_sha256
    ).order_by(RulebookVersion.effective_from.desc(), RulebookVersion.id.desc())
    versions = session.execute(query).all()
    if not versions:
        raise NotFound("no rulebook is loaded; run `trustreg init`")
    if known_at is not None:
        loaded = [v for v in versions if _aware(v[1]) <= known_at]
        versions = loaded or versions[-1:]
    chosen = next((v for v in versions if v[0] <= on), versions[-1])
    return _rulebook_by_digest(session, chosen[2])


# Parsed rulebooks by the SHA-256 of their text: a loaded version never changes, so the
# text is read and parsed once per process, not on every look-up.
_PARSED: dict[str, core_rulebook.Rulebook] = {}


def _rulebook_by_digest(session: Session, digest: str) -> core_rulebook.Rulebook:
    found = _PARSED.get(digest)
    if found is None:
        text = session.scalar(
            select(RulebookVersion.source_text).where(RulebookVersion.source_sha256 == digest)
        )
        assert text is not None  # the digest was just read from the same table
        found = _PARSED.setdefault(digest, core_rulebook.parse_rulebook_cached(text))
    return found


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def rulebook_versions(session: Session) -> list[tuple[str, date, datetime]]:
    rows = session.execute(
        select(
            RulebookVersion.version, RulebookVersion.effective_from, RulebookVersion.loaded_at
        ).order_by(RulebookVersion.effective_from, RulebookVersion.id)
    ).all()
    return [(version, effective, loaded) for version, effective, loaded in rows]


def rulebook_version(session: Session, version: str) -> core_rulebook.Rulebook:
    text = session.scalar(
        select(RulebookVersion.source_text).where(RulebookVersion.version == version)
    )
    if text is None:
        raise NotFound(f"no rulebook version '{version}' is loaded")
    return core_rulebook.parse_rulebook_cached(text)


def record_types(session: Session, on: date | None = None) -> dict[str, core_rulebook.RecordType]:
    """The record types of the rulebook in force (today by default)."""
    on = on or datetime.now(UTC).date()
    return dict(rulebook_in_force(session, on).record_types)


def authorities(session: Session) -> list[tuple[Authority, list[str]]]:
    """Every authority with the record types it may submit."""
    grants: dict[int, list[str]] = {}
    for authority_id, code in session.execute(
        select(AuthorityRecordType.authority_id, AuthorityRecordType.record_type)
    ):
        grants.setdefault(authority_id, []).append(code)
    return [
        (a, sorted(grants.get(a.id, [])))
        for a in session.scalars(select(Authority).order_by(Authority.code))
    ]


def authority_by_code(session: Session, code: str) -> Authority | None:
    return session.scalar(select(Authority).where(Authority.code == code))


def authority_by_token_hash(session: Session, token_hash: str) -> AuthorityToken | None:
    return session.scalar(select(AuthorityToken).where(AuthorityToken.token_hash == token_hash))


def subject_by_identifier(
    session: Session, identifier: IdentifierValue, key: str
) -> Subject | None:
    """The subject holding this canonical identifier, found by its keyed hash under
    ``key`` (the store keeps no person's full number to compare with)."""
    digest = identifier_hash(key, identifier)
    return session.scalar(
        select(Subject)
        .join(Identifier, Identifier.subject_id == Subject.id)
        .where(Identifier.scheme == identifier.scheme, Identifier.value_hash == digest)
        .options(selectinload(Subject.identifiers), selectinload(Subject.names))
    )


def subject_by_id(session: Session, subject_id: int) -> Subject | None:
    return session.scalar(
        select(Subject)
        .where(Subject.id == subject_id)
        .options(selectinload(Subject.identifiers), selectinload(Subject.names))
    )


def subject_records(
    session: Session, subject_id: int
) -> list[tuple[Record, str, list[RecordStatusChange]]]:
    """A subject's records, newest first, each with its authority code and status history."""
    rows = list(
        session.execute(
            select(Record, Authority.code)
            .join(Authority, Authority.id == Record.authority_id)
            .where(Record.subject_id == subject_id)
            .order_by(Record.effective_from.desc(), Record.id.desc())
        )
    )
    history: dict[int, list[RecordStatusChange]] = {}
    if rows:
        for change in session.scalars(
            select(RecordStatusChange)
            .where(RecordStatusChange.record_id.in_([r.id for r, _ in rows]))
            .order_by(RecordStatusChange.id)
        ):
            history.setdefault(change.record_id, []).append(change)
    return [(record, code, history.get(record.id, [])) for record, code in rows]


def record_with_history(
    session: Session, record_id: int
) -> tuple[Record, str, list[RecordStatusChange]] | None:
    """A record with its authority code and status history; None if there is none."""
    row = session.execute(
        select(Record, Authority.code)
        .join(Authority, Authority.id == Record.authority_id)
        .where(Record.id == record_id)
    ).first()
    if row is None:
        return None
    history = session.scalars(
        select(RecordStatusChange)
        .where(RecordStatusChange.record_id == record_id)
        .order_by(RecordStatusChange.id)
    ).all()
    return row[0], row[1], list(history)


def recent_subjects(session: Session, limit: int) -> Sequence[Subject]:
    return session.scalars(select(Subject).order_by(Subject.id.desc()).limit(limit)).all()


def audit_entries(session: Session) -> Sequence[AuditEntry]:
    return session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()


def count_rows(session: Session, model: type[Subject] | type[Record]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def grades(session: Session, subject_ids: list[int]) -> dict[int, str]:
    """The stored grade of each of these subjects that has one."""
    rows = session.execute(
        select(Assessment.subject_id, Assessment.grade).where(
            Assessment.subject_id.in_(subject_ids)
        )
    )
    return {row[0]: row[1] for row in rows}


def record_summaries(session: Session, record_ids: Collection[int]) -> dict[int, dict[str, str]]:
    """What an answer cites of each record: authority, decision reference, type, date."""
    if not record_ids:
        return {}
    rows = session.execute(
        select(
            Record.id, Authority.code, Record.reference, Record.record_type, Record.effective_from
        )
        .join(Authority, Authority.id == Record.authority_id)
        .where(Record.id.in_(list(record_ids)))
    )
    return {
        row[0]: {
            "authority": row[1],
            "reference": row[2],
            "record_type": row[3],
            "effective_from": row[4].isoformat(),
        }
        for row in rows
    }


def recent_list_changes(
    session: Session, limit: int, kinds: Sequence[str]
) -> list[tuple[int, str, str, date, date | None, date]]:
    """The latest list entries and exits of subjects of these kinds, newest first:
    (subject id, name, list code, entered on, ended on, scheduled exit)."""
    day = func.coalesce(ListEntry.ended_on, ListEntry.entered_on)
    rows = session.execute(
        select(
            Subject.id,
            Subject.display_name,
            ListEntry.list_code,
            ListEntry.entered_on,
            ListEntry.ended_on,
            ListEntry.scheduled_exit,
        )
        .join(Subject, Subject.id == ListEntry.subject_id)
        .where(Subject.kind.in_(list(kinds)))
        .order_by(day.desc(), ListEntry.id.desc())
        .limit(limit)
    ).all()
    return [(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]
