"""SQLAlchemy models of the serving store.

The migrations in ``store/migrations`` create exactly these tables (a test compares
them). Amounts are kept as whole hundredths of the currency unit (``amount_cents``)
so SQLite and PostgreSQL add them up the same way.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Named constraints keep migrations identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SUBJECT_KIND_LEN = 24
STATUS_LEN = 16
# SQLite only turns INTEGER PRIMARY KEY into an auto-incrementing rowid; PostgreSQL gets BIGINT.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Subject(Base):
    """A legal entity, other organisation, individual or foreign entity or individual."""

    __tablename__ = "subjects"
    __table_args__ = (Index("ix_subjects_batch_row", "batch_id", "source_row"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(SUBJECT_KIND_LEN))
    display_name: Mapped[str] = mapped_column(String(300))
    country: Mapped[str | None] = mapped_column(String(2))
    region: Mapped[str | None] = mapped_column(String(64))
    birth_date: Mapped[date | None] = mapped_column(Date)
    registered_on: Mapped[date | None] = mapped_column(Date)
    # Provenance: the import batch and row that last created or changed the subject.
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))
    source_row: Mapped[int | None] = mapped_column(Integer)
    # The last import batch and row that presented it, changed or not: finds a row
    # repeated within one import without holding the file's keys in memory.
    seen_batch_id: Mapped[int | None] = mapped_column(BigId)
    seen_row: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    identifiers: Mapped[list[Identifier]] = relationship(back_populates="subject")
    names: Mapped[list[SubjectName]] = relationship(back_populates="subject")


class Identifier(Base):
    """One identifier of a subject, unique per scheme across the registry.

    ``value_hash`` is the keyed hash of the full identifier (``core.identifiers``;
    the key is configuration, never stored here): every look-up by identifier goes
    through it. A person's number is held only as that hash and its masked form in
    ``value`` (two persons may share a masked form); an organisation's is in clear.
    """

    __tablename__ = "identifiers"
    __table_args__ = (
        UniqueConstraint("scheme", "value_hash"),
        # The published (masked) number finds its list entries (``store.lists``).
        Index("ix_identifiers_scheme_value", "scheme", "value"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), index=True)
    scheme: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(64))
    value_hash: Mapped[str] = mapped_column(String(64))

    subject: Mapped[Subject] = relationship(back_populates="identifiers")


class SubjectName(Base):
    """A name of a subject: ``original``, ``transliteration``, ``former`` or ``alias``."""

    __tablename__ = "subject_names"
    # The unique constraint's leading column serves look-ups by subject too.
    __table_args__ = (UniqueConstraint("subject_id", "kind", "name"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"))
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(16))

    subject: Mapped[Subject] = relationship(back_populates="names")


class Authority(Base):
    """A body allowed to submit records of certain types."""

    __tablename__ = "authorities"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(24))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuthorityRecordType(Base):
    """A record type an authority may submit."""

    __tablename__ = "authority_record_types"
    authority_id: Mapped[int] = mapped_column(ForeignKey("authorities.id"), primary_key=True)
    record_type: Mapped[str] = mapped_column(ForeignKey("record_types.code"), primary_key=True)


class AuthorityToken(Base):
    """An API bearer token of an authority, kept only as a keyed hash."""

    __tablename__ = "authority_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    authority_id: Mapped[int] = mapped_column(ForeignKey("authorities.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RulebookVersion(Base):
    """A loaded rulebook version, kept whole so any past rule can be read again."""

    __tablename__ = "rulebook_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    effective_from: Mapped[date] = mapped_column(Date)
    source_sha256: Mapped[str] = mapped_column(String(64))
    source_text: Mapped[str] = mapped_column(Text)
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RecordType(Base):
    """A record type of the rulebook in force."""

    __tablename__ = "record_types"
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    rulebook_version: Mapped[str] = mapped_column(String(32))
    title_zh: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200))
    legal_basis: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(64))
    polarity: Mapped[str] = mapped_column(String(16))
    subject_kinds: Mapped[list[str]] = mapped_column(JSON)
    authority_kinds: Mapped[list[str]] = mapped_column(JSON)
    publicity_days: Mapped[int] = mapped_column(Integer)
    notice_days: Mapped[int] = mapped_column(Integer)
    indicates_dishonesty: Mapped[bool] = mapped_column(Boolean)


class ImportBatch(Base):
    """One run of an import: where the rows came from and what became of them."""

    __tablename__ = "import_batches"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    source_file: Mapped[str] = mapped_column(String(500))
    file_format: Mapped[str] = mapped_column(String(8))
    encoding: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_created: Mapped[int] = mapped_column(Integer, default=0)
    rows_updated: Mapped[int] = mapped_column(Integer, default=0)
    rows_unchanged: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)


class Record(Base):
    """One decided fact about one subject, with its provenance."""

    __tablename__ = "records"
    __table_args__ = (
        UniqueConstraint("authority_id", "reference"),
        Index("ix_records_subject_type", "subject_id", "record_type"),
        Index("ix_records_batch_row", "batch_id", "source_row"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    authority_id: Mapped[int] = mapped_column(ForeignKey("authorities.id"))
    reference: Mapped[str] = mapped_column(String(128))
    record_type: Mapped[str] = mapped_column(ForeignKey("record_types.code"))
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"))
    decided_on: Mapped[date] = mapped_column(Date)
    effective_from: Mapped[date] = mapped_column(Date)
    amount_cents: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(STATUS_LEN))
    # The day the current status took effect (valid time); effective_from at first.
    status_since: Mapped[date | None] = mapped_column(Date)
    # The first day the record may be published: arrival + the type's notice period
    # (None: published from effective_from).
    published_from: Mapped[date | None] = mapped_column(Date)
    summary: Mapped[str] = mapped_column(Text)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))
    source_file: Mapped[str] = mapped_column(String(500))
    source_row: Mapped[int | None] = mapped_column(Integer)
    # The last import batch and row that presented it, changed or not: finds a row
    # repeated within one import without holding the file's keys in memory.
    seen_batch_id: Mapped[int | None] = mapped_column(BigId)
    seen_row: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RecordStatusChange(Base):
    """One entry of a record's history: when, who, why, and the record as it then stood.

    ``changed_at`` is when the registry learned it (transaction time); ``status_since``
    is the day the status took effect (valid time). With ``record_type`` and
    ``effective_from`` each entry is a version of the record, so "what did the registry
    publish on date D" is answered from the entries known on D, whatever came later.
    """

    __tablename__ = "record_status_history"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id"), index=True)
    status: Mapped[str] = mapped_column(String(STATUS_LEN))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))
    record_type: Mapped[str | None] = mapped_column(String(64))
    effective_from: Mapped[date | None] = mapped_column(Date)
    status_since: Mapped[date | None] = mapped_column(Date)


class Assessment(Base):
    """A subject's current assessment, kept current by imports, status changes and
    ``trustreg maintain``; ``trustreg rate --all`` rewrites them all."""

    __tablename__ = "assessments"
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), primary_key=True)
    as_of: Mapped[date] = mapped_column(Date)
    rulebook_version: Mapped[str] = mapped_column(String(32))
    points: Mapped[int] = mapped_column(Integer)
    # No index on grade or next_change: a subject's row is rewritten with every change
    # to its records, and the daily and statistical reads scan the table anyway.
    grade: Mapped[str] = mapped_column(String(8))
    lists: Mapped[list[str]] = mapped_column(JSON)
    # The explanation is computed on request (it is reproducible at any time), so
    # keeping assessments current writes no more than the figures; a batch may fill it.
    explanation: Mapped[str | None] = mapped_column(Text)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The earliest day on which this assessment changes by itself (a record's publicity
    # or a listing ends, or a record takes effect): what `maintain` looks for.
    next_change: Mapped[date | None] = mapped_column(Date)


class ListEntry(Base):
    """A subject's time on a published list; ``ended_on`` is set when it ends."""

    __tablename__ = "list_entries"
    __table_args__ = (Index("ix_list_entries_list_open", "list_code", "ended_on"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), index=True)
    list_code: Mapped[str] = mapped_column(String(64))
    entered_on: Mapped[date] = mapped_column(Date)
    scheduled_exit: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)
    record_ids: Mapped[list[int]] = mapped_column(JSON)
    rulebook_version: Mapped[str] = mapped_column(String(32))


class AuditEntry(Base):
    """Append-only, hash-chained audit log; database triggers refuse UPDATE and DELETE."""

    __tablename__ = "audit_entries"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    # Indexed: a subject's access log reads its entries (``subject:ID``) by target.
    target: Mapped[str] = mapped_column(String(200), index=True)
    detail: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)


class ScreeningJob(Base):
    """A screening submitted over the API, run in the background; its files live in
    ``DATA_DIR/screenings/ID/``."""

    __tablename__ = "screening_jobs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # queued, running, done, failed
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(100))
    purpose: Mapped[str | None] = mapped_column(String(32))
    top: Mapped[int] = mapped_column(Integer)
    file_format: Mapped[str] = mapped_column(String(8))
    rows: Mapped[int] = mapped_column(Integer, default=0)
    matched: Mapped[int] = mapped_column(Integer, default=0)
    review: Mapped[int] = mapped_column(Integer, default=0)
    no_match: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class Certificate(Base):
    """An issued credit report certificate: the canonical JSON that was signed, kept
    verbatim so ``/verify/CODE`` checks the very bytes the signature covers."""

    __tablename__ = "certificates"
    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), index=True)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    content: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(128))  # Ed25519, hex


class Dispute(Base):
    """A subject's challenge of a record: grounds, who filed it and how to answer them,
    and the day by which the registry owes an answer (the record type's dispute_days).

    Who filed and the contact are personal data: never published, never in the audit
    log; the public sees only that the record is disputed and until when.
    """

    __tablename__ = "disputes"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id"), index=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), index=True)
    filed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    filed_by: Mapped[str] = mapped_column(String(200))
    relation: Mapped[str] = mapped_column(String(32))  # subject, representative
    contact: Mapped[str] = mapped_column(String(200))
    grounds: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # received, then the reviewer's steps
    answer_due: Mapped[date] = mapped_column(Date)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str | None] = mapped_column(Text)  # the reviewer's reasons
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    decision: Mapped[str | None] = mapped_column(String(16))  # upheld, corrected, removed
    decided_by: Mapped[str | None] = mapped_column(String(64))
    # When the source authority was asked to re-verify, and when the record was
    # suspended from publication because the deadline passed without a decision.
    reverify_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    suspended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# The access and due-process models live in their own module; importing it here puts
# them in ``Base.metadata`` wherever the models are used.
from trustreg.store import keys as _keys  # noqa: E402, F401
from trustreg.store import models_access as _models_access  # noqa: E402, F401
from trustreg.store import models_watch as _models_watch  # noqa: E402, F401
