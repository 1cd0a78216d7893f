"""Everything that writes to the serving store, in bulk where imports need speed.

Functions take an open :class:`~sqlalchemy.orm.Session` inside a transaction; the
caller (a service) decides where the transaction ends.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, Protocol, cast

from sqlalchemy import DateTime, Table, bindparam, delete, func, insert, literal, select, update
from sqlalchemy.orm import Session

from trustreg.core import rulebook as core_rulebook
from trustreg.core.identifiers import Identifier as IdentifierValue
from trustreg.core.identifiers import identifier_hash, stored_identifier
from trustreg.errors import Conflict
from trustreg.store.bulk import bulk_insert
from trustreg.store.db import write_lock
from trustreg.store.models import (
    AuditEntry,
    Authority,
    AuthorityRecordType,
    Base,
    Identifier,
    ImportBatch,
    Record,
    RecordStatusChange,
    RecordType,
    RulebookVersion,
    Subject,
    SubjectName,
)

GENESIS_HASH = "0" * 64


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


# Any constants: the PostgreSQL advisory locks that serialise the audit chain's writers
# and the import chunks (a file's and the records API's).
AUDIT_LOCK_KEY, IMPORT_LOCK_KEY = 7311, 7312


def load_rulebook(session: Session, rulebook: core_rulebook.Rulebook, now: datetime) -> bool:
    """Store a new rulebook version; False if this exact version is already loaded.

    A loaded version is never changed: the same version number with other content is
    refused, so every past assessment can be reproduced under the rules it used.
    """
    digest = hashlib.sha256(rulebook.source_text.encode()).hexdigest()
    existing = session.scalar(
        select(RulebookVersion).where(RulebookVersion.version == rulebook.version)
    )
    if existing is not None:
        if existing.source_sha256 == digest:
            return False
        raise Conflict(
            f"rulebook version {rulebook.version} is already loaded with other content; "
            "give the changed rulebook a new version and effective date"
        )
    session.add(
        RulebookVersion(
            version=rulebook.version,
            name=rulebook.name,
            effective_from=rulebook.effective_from,
            source_sha256=digest,
            source_text=rulebook.source_text,
            loaded_at=now,
        )
    )
    for rule in rulebook.record_types.values():
        columns = [c.name for c in _table(RecordType).columns if c.name != "rulebook_version"]
        values = {name: getattr(rule, name) for name in columns}
        values["subject_kinds"] = list(rule.subject_kinds)
        values["authority_kinds"] = list(rule.authority_kinds)
        session.merge(RecordType(rulebook_version=rulebook.version, **values))
    return True


def add_authority(
    session: Session, code: str, kind: str, name: str, record_types: Sequence[str], now: datetime
) -> Authority:
    authority = Authority(code=code, kind=kind, name=name, created_at=now)
    session.add(authority)
    session.flush()
    session.execute(
        insert(AuthorityRecordType),
        [{"authority_id": authority.id, "record_type": code} for code in record_types],
    )
    return authority


def start_batch(session: Session, **fields: Any) -> int:
    batch = ImportBatch(status="running", **fields)
    session.add(batch)
    session.flush()
    return batch.id


def add_batch_counts(session: Session, batch_id: int, counts: Mapping[str, int]) -> None:
    values = {
        getattr(ImportBatch, f"rows_{k}"): getattr(ImportBatch, f"rows_{k}") + v
        for k, v in counts.items()
        if v
    }
    if values:
        session.execute(update(ImportBatch).where(ImportBatch.id == batch_id).values(values))


def finish_batch(session: Session, batch_id: int, status: str, now: datetime) -> None:
    session.execute(
        update(ImportBatch).where(ImportBatch.id == batch_id).values(status=status, finished_at=now)
    )


@dataclass(frozen=True, slots=True)
class KnownSubject:
    id: int
    kind: str
    seen_batch_id: int | None
    seen_row: int | None


def find_subjects(
    session: Session, identifiers: Iterable[tuple[str, str]], key: str
) -> dict[tuple[str, str], KnownSubject]:
    """The subjects that hold any of these (canonical) identifiers, found by their
    keyed hash under ``key``: one indexed query per scheme."""
    by_scheme: dict[str, dict[str, tuple[str, str]]] = {}
    for scheme, value in set(identifiers):  # a chunk names a subject once per record
        digest = identifier_hash(key, IdentifierValue(scheme, value))
        by_scheme.setdefault(scheme, {})[digest] = (scheme, value)
    found: dict[tuple[str, str], KnownSubject] = {}
    for scheme, wanted in by_scheme.items():
        rows = session.connection().execute(
            select(
                Identifier.value_hash,
                Subject.id,
                Subject.kind,
                Subject.seen_batch_id,
                Subject.seen_row,
            )
            .join(Subject, Subject.id == Identifier.subject_id)
            .where(Identifier.scheme == scheme, Identifier.value_hash.in_(list(wanted)))
        )
        for digest, subject_id, kind, batch_id, source_row in rows:
            found[wanted[digest]] = KnownSubject(subject_id, kind, batch_id, source_row)
    return found


@dataclass(frozen=True, slots=True)
class NewSubject:
    identifier: tuple[str, str]  # (scheme, value)
    fields: dict[str, Any]
    names: Sequence[tuple[str, str]]


def create_subjects(
    session: Session, batch_id: int, subjects: Sequence[NewSubject], key: str
) -> list[int]:
    """Insert subjects with their identifiers and names; returns their ids in order.

    An identifier is stored as ``core.identifiers.stored_identifier`` gives it: with its
    keyed hash under ``key``, and a person's number masked (the full number is not kept).

    Each new subject carries its batch and source row, unique within a batch, which
    finds the new ids again: a plain multi-row insert is many times faster than
    RETURNING with guaranteed order, which SQLite can only do one row at a time.
    """
    if not subjects:
        return []
    bulk_insert(session, _table(Subject), [s.fields for s in subjects])
    rows = {s.fields["source_row"] for s in subjects}
    found = dict(
        session.connection()
        .execute(
            select(Subject.source_row, Subject.id).where(
                Subject.batch_id == batch_id, Subject.source_row.in_(rows)
            )
        )
        .all()
    )
    ids = [found[s.fields["source_row"]] for s in subjects]
    stored = [stored_identifier(key, IdentifierValue(*s.identifier)) for s in subjects]
    bulk_insert(
        session,
        _table(Identifier),
        [
            {"subject_id": sid, "scheme": i.scheme, "value": i.value, "value_hash": i.value_hash}
            for sid, i in zip(ids, stored, strict=True)
        ],
    )
    add_names(
        session,
        [(sid, n, k) for sid, s in zip(ids, subjects, strict=True) for n, k in s.names],
    )
    return ids


def add_names(session: Session, names: Sequence[tuple[int, str, str]]) -> None:
    unique = {(sid, name, kind) for sid, name, kind in names}
    if unique:
        bulk_insert(
            session,
            _table(SubjectName),
            [{"subject_id": sid, "name": name, "kind": kind} for sid, name, kind in unique],
        )


def update_subjects(session: Session, changes: Sequence[dict[str, Any]]) -> None:
    """Bulk update by primary key: each dict holds ``id`` and the new values."""
    if changes:
        session.execute(update(Subject), list(changes))


def subject_names(session: Session, subject_ids: Iterable[int]) -> dict[int, set[tuple[str, str]]]:
    ids = set(subject_ids)
    names: dict[int, set[tuple[str, str]]] = {i: set() for i in ids}
    if ids:
        rows = session.execute(
            select(SubjectName.subject_id, SubjectName.name, SubjectName.kind).where(
                SubjectName.subject_id.in_(ids)
            )
        )
        for sid, name, kind in rows:
            names[sid].add((name, kind))
    return names


def find_records(
    session: Session, keys: Iterable[tuple[int, str]]
) -> dict[tuple[int, str], dict[str, Any]]:
    """The stored records with these (authority id, reference) keys, as dicts.

    One query per authority, so the unique (authority_id, reference) index serves it.
    """
    by_authority: dict[int, set[str]] = {}
    for authority_id, reference in keys:
        by_authority.setdefault(authority_id, set()).add(reference)
    columns = list(Record.__table__.columns)
    found: dict[tuple[int, str], dict[str, Any]] = {}
    for authority_id, references in by_authority.items():
        rows = (
            session.connection()
            .execute(
                select(*columns).where(
                    Record.authority_id == authority_id, Record.reference.in_(references)
                )
            )
            .mappings()
        )
        found.update({(authority_id, row["reference"]): dict(row) for row in rows})
    return found


def insert_records(
    session: Session, rows: Sequence[dict[str, Any]], batch_id: int, now: datetime
) -> int:
    """Insert the records of one import chunk whose (authority, reference) is new.

    Rows whose key is already stored are skipped, not failed: the caller finds them
    and decides. Each new record gets its first status-history entry from one
    INSERT ... SELECT over the rows just stored (found by batch, source rows and
    creation time), so no id travels back to Python. Returns how many were new.
    """
    if not rows:
        return 0
    inserted = bulk_insert(session, _table(Record), rows, skip_conflicts=True)
    source_rows = [r["source_row"] for r in rows]
    created = (
        select(
            Record.id,
            Record.status,
            literal(now, DateTime(timezone=True)),
            literal("authority:") + Authority.code,
            literal("submitted"),
            Record.batch_id,
            Record.record_type,
            Record.effective_from,
            Record.status_since,
        )
        .join(Authority, Authority.id == Record.authority_id)
        .where(
            Record.batch_id == batch_id,
            Record.source_row.between(min(source_rows), max(source_rows)),
            Record.created_at == now,
        )
    )
    history = _table(RecordStatusChange)
    session.connection().execute(
        insert(history).from_select(
            [
                "record_id",
                "status",
                "changed_at",
                "actor",
                "reason",
                "batch_id",
                "record_type",
                "effective_from",
                "status_since",
            ],
            created,
        )
    )
    return inserted


def update_records(session: Session, changes: Sequence[dict[str, Any]]) -> None:
    if changes:
        session.execute(update(Record), list(changes))


def add_status_changes(session: Session, changes: Sequence[dict[str, Any]]) -> None:
    if changes:
        bulk_insert(session, _table(RecordStatusChange), changes)


def lock_imports(session: Session) -> None:
    """Make this transaction the only one writing an import chunk until it ends, so that
    two imports (a file, the records API) never both create the same new subject."""
    _serialise(session, IMPORT_LOCK_KEY)


def _serialise(session: Session, key: int) -> None:
    # PostgreSQL: an advisory lock held to the end of the transaction. SQLite has one
    # writer anyway: begin now, so that what is read next is current until the commit.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(key)))
    write_lock(session)


def append_audit(
    session: Session,
    actor: str,
    action: str,
    target: str,
    detail: Mapping[str, Any],
    now: datetime,
) -> str:
    """Append one hash-chained audit entry; returns its hash."""
    return append_audit_many(session, actor, action, [(target, detail)], now)


def append_audit_many(
    session: Session,
    actor: str,
    action: str,
    entries: Sequence[tuple[str, Mapping[str, Any]]],
    now: datetime,
) -> str:
    """Append entries (target, detail) of one actor and action, chained in this order,
    in one flush; returns the hash of the last (the chain's new head)."""
    _serialise(session, AUDIT_LOCK_KEY)  # one chain: writers wait for each other, no fork
    prev = session.scalar(select(AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1))
    prev_hash = prev or GENESIS_HASH
    rows = []
    for target, detail in entries:
        text = json.dumps(detail, sort_keys=True, ensure_ascii=False, default=str)
        fields = _AuditRow(now, actor, action, target, text)
        entry_hash = audit_hash(prev_hash, fields)
        rows.append({**fields._asdict(), "prev_hash": prev_hash, "entry_hash": entry_hash})
        prev_hash = entry_hash
    if rows:
        # Ids must follow the chain: sorting by parameter order makes the insert take
        # the rows, and so their ids, in list order on every engine.
        table = _table(AuditEntry)
        session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows)
    return prev_hash


class _AuditRow(NamedTuple):
    at: datetime
    actor: str
    action: str
    target: str
    detail: str


class AuditFields(Protocol):
    """What an audit entry's hash covers: an ``AuditEntry`` or a row read back."""

    @property
    def at(self) -> datetime: ...
    @property
    def actor(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def detail(self) -> str: ...


def audit_hash(prev_hash: str, entry: AuditFields) -> str:
    """The hash that chains an audit entry to the one before it."""
    at = entry.at.replace(tzinfo=None).isoformat(timespec="microseconds")
    body = "\x1f".join((prev_hash, at, entry.actor, entry.action, entry.target, entry.detail))
    return hashlib.sha256(body.encode()).hexdigest()


def subject_rows(session: Session, subject_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    ids = set(subject_ids)
    if not ids:
        return {}
    rows = session.execute(select(*Subject.__table__.columns).where(Subject.id.in_(ids)))
    return {row["id"]: dict(row) for row in rows.mappings()}


def retire_original_name(session: Session, subject_id: int) -> None:
    """A renamed subject's original name becomes a former name."""
    session.execute(
        delete(SubjectName).where(
            SubjectName.subject_id == subject_id, SubjectName.kind == "original"
        )
    )


def mark_seen(
    session: Session, model: type[Subject] | type[Record], seen: Sequence[tuple[int, int, int]]
) -> None:
    """Note (id, batch, row) for rows an import presented unchanged."""
    if seen:
        table = _table(model)
        session.execute(
            update(table)
            .where(table.c.id == bindparam("seen_id"))
            .values(seen_batch_id=bindparam("batch"), seen_row=bindparam("row")),
            [{"seen_id": i, "batch": b, "row": r} for i, b, r in seen],
        )
