"""Reads for screening: every subject with its names and identifiers, and standings."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from typing import NamedTuple

from sqlalchemy import ColumnElement, Row, and_, func, or_, select
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


SubjectRow = Row[int, str, str, str | None, date | None, str | None]
_SUBJECT_COLUMNS = (
    Subject.id,
    Subject.kind,
    Subject.display_name,
    Subject.country,
    Subject.birth_date,
    Subject.region,
)


def entries(session: Session, after: int = 0, batch: int = 20_000) -> Iterator[ScreeningEntry]:
    """Subjects with id above ``after``, in id order, read ``batch`` subjects at a time."""
    while True:
        subjects = session.execute(
            select(*_SUBJECT_COLUMNS).where(Subject.id > after).order_by(Subject.id).limit(batch)
        ).all()
        if not subjects:
            return
        low, high = subjects[0][0], subjects[-1][0]
        yield from _assembled(
            session,
            subjects,
            SubjectName.subject_id.between(low, high),
            Identifier.subject_id.between(low, high),
        )
        after = high


def entries_of(
    session: Session, subject_ids: Iterable[int], batch: int = 500
) -> Iterator[ScreeningEntry]:
    """These subjects (those still held), in id order."""
    ids = sorted(set(subject_ids))
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        subjects = session.execute(
            select(*_SUBJECT_COLUMNS).where(Subject.id.in_(chunk)).order_by(Subject.id)
        ).all()
        yield from _assembled(
            session, subjects, SubjectName.subject_id.in_(chunk), Identifier.subject_id.in_(chunk)
        )


def _assembled(
    session: Session,
    subjects: Sequence[SubjectRow],
    names_where: ColumnElement[bool],
    identifiers_where: ColumnElement[bool],
) -> Iterator[ScreeningEntry]:
    names = _by_subject(
        session.execute(select(SubjectName.subject_id, SubjectName.name).where(names_where)).all()
    )
    identifiers = _by_subject(
        session.execute(
            select(
                Identifier.subject_id, Identifier.scheme, Identifier.value, Identifier.value_hash
            ).where(identifiers_where)
        ).all()
    )
    for sid, kind, name, country, birth, region in subjects:
        others = tuple(n for (n,) in names.get(sid, ()) if n != name)
        ranked = sorted(identifiers.get(sid, ()), key=_scheme_rank)
        found = tuple((i[0], i[1], i[2]) for i in ranked)
        yield ScreeningEntry(sid, kind, name, others, found, country, birth, region)


Version = tuple[int, int, int, int, int, int]


def changed_since(session: Session, version: Version) -> set[int]:
    """Subjects created or changed since ``latest_change`` gave ``version``: ids above
    its newest subject, subjects with a name or identifier newer than its newest, and
    subjects an import batch and row after its last one created or changed (each an
    index range: milliseconds when little has changed). Subjects deleted since are not
    among them (see ``count_after``)."""
    top, name, identifier, batch, row, _count = version
    found = set(session.scalars(select(Subject.id).where(Subject.id > top)))
    found.update(session.scalars(select(SubjectName.subject_id).where(SubjectName.id > name)))
    found.update(session.scalars(select(Identifier.subject_id).where(Identifier.id > identifier)))
    found.update(
        session.scalars(
            select(Subject.id).where(
                or_(
                    Subject.batch_id > batch,
                    and_(Subject.batch_id == batch, Subject.source_row > row),
                )
            )
        )
    )
    return found


def count_after(session: Session, subject_id: int) -> tuple[int, int]:
    """Subjects with an id above ``subject_id``, and subjects in all: with the count
    when the index was built, tells whether any subject has been deleted since."""
    newer = session.scalar(select(func.count(Subject.id)).where(Subject.id > subject_id)) or 0
    return newer, session.scalar(select(func.count(Subject.id))) or 0


def subject_ids(session: Session) -> Iterator[int]:
    """Every subject's id, in order (read from the primary key)."""
    return iter(session.scalars(select(Subject.id).order_by(Subject.id)))


def latest_change(session: Session) -> Version:
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
