"""Reads for screening: every subject with its names and identifiers, and standings."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trustreg.store.models import Assessment, Identifier, Subject, SubjectName

# The identifier shown for a subject: the first scheme it has in this order.
MAIN_SCHEMES = ("uscc", "lei", "registry", "ric", "passport")


class ScreeningEntry(NamedTuple):
    subject_id: int
    kind: str
    name: str
    other_names: tuple[str, ...]
    # (scheme, value as stored, keyed hash): a person's value is masked, so the
    # matcher compares persons' numbers by their hash.
    identifiers: tuple[tuple[str, str, str], ...]
    country: str | None
    birth_date: date | None
    region: str | None


def entries(session: Session, after: int = 0, batch: int = 20_000) -> Iterator[ScreeningEntry]:
    """Subjects with id above ``after``, in id order, read ``batch`` subjects at a time."""
    while True:
        subjects = session.execute(
            select(
                Subject.id,
                Subject.kind,
                Subject.display_name,
                Subject.country,
                Subject.birth_date,
                Subject.region,
            )
            .where(Subject.id > after)
            .order_by(Subject.id)
            .limit(batch)
        ).all()
        if not subjects:
            return
        low, high = subjects[0][0], subjects[-1][0]
        names = _by_subject(
            session.execute(
                select(SubjectName.subject_id, SubjectName.name).where(
                    SubjectName.subject_id.between(low, high)
                )
            ).all()
        )
        identifiers = _by_subject(
            session.execute(
                select(
                    Identifier.subject_id,
                    Identifier.scheme,
                    Identifier.value,
                    Identifier.value_hash,
                ).where(Identifier.subject_id.between(low, high))
            ).all()
        )
        for sid, kind, name, country, birth, region in subjects:
            others = tuple(n for (n,) in names.get(sid, ()) if n != name)
            ranked = sorted(identifiers.get(sid, ()), key=_scheme_rank)
            found = tuple((i[0], i[1], i[2]) for i in ranked)
            yield ScreeningEntry(sid, kind, name, others, found, country, birth, region)
        after = high


def latest_change(session: Session) -> tuple[int, int, int, int, int, int]:
    """The newest subject, name and identifier ids, the last import batch and row
    that created or changed a subject, and the number of subjects: the index is stale
    when they move (an update may change only a region, country or birth date; the
    retention purge deletes persons, which only the count shows). Each is read from an
    index (the count in about 10 ms at a million subjects, at most once a second)."""
    batch = session.scalar(select(func.max(Subject.batch_id))) or 0
    row = session.scalar(select(func.max(Subject.source_row)).where(Subject.batch_id == batch))
    return (
        session.scalar(select(func.max(Subject.id))) or 0,
        session.scalar(select(func.max(SubjectName.id))) or 0,
        session.scalar(select(func.max(Identifier.id))) or 0,
        batch,
        row or 0,
        session.scalar(select(func.count(Subject.id))) or 0,
    )


def standings(session: Session, subject_ids: Sequence[int]) -> dict[int, tuple[str, list[str]]]:
    """The stored grade and lists of each of these subjects that has an assessment."""
    if not subject_ids:
        return {}
    rows = session.execute(
        select(Assessment.subject_id, Assessment.grade, Assessment.lists).where(
            Assessment.subject_id.in_(list(subject_ids))
        )
    )
    return {row[0]: (row[1], list(row[2] or [])) for row in rows}


def _by_subject(rows: Sequence[Sequence[object]]) -> dict[int, list[tuple[str, ...]]]:
    found: dict[int, list[tuple[str, ...]]] = {}
    for row in rows:
        found.setdefault(int(str(row[0])), []).append(tuple(str(v) for v in row[1:]))
    return found


def _scheme_rank(identifier: tuple[str, ...]) -> int:
    scheme = identifier[0]
    return MAIN_SCHEMES.index(scheme) if scheme in MAIN_SCHEMES else len(MAIN_SCHEMES)
