"""Evidence files sent with a dispute or a repair application.

A subject's representative may attach up to ``MAX_FILES`` files of at most
``MAX_BYTES`` each. The type is read from the content, never from the name or the
browser's word: PDF, JPEG, PNG, or plain UTF-8 text. Anything else is refused with a
message naming the file and what is wrong. Files are kept in the store
(``EvidenceFile``), beside the record they concern, so retention deletes them with it.

Only reviewers and the representative who sent a file may download it
(:func:`evidence_file`); the public never sees it.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from trustreg.errors import Forbidden, NotFound, Unauthorized, ValidationError
from trustreg.services.accounts import Actor
from trustreg.store.db import transaction
from trustreg.store.models import Dispute
from trustreg.store.models_access import EvidenceFile, RepairApplication

MAX_FILES = 5
MAX_BYTES = 5 * 1024 * 1024
MAX_NAME = 200
OWNER_KINDS = ("dispute", "repair")
# Leading bytes of the binary types accepted.
SIGNATURES = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)
TEXT = "text/plain; charset=utf-8"
ACCEPTED = "PDF, JPEG, PNG or plain UTF-8 text"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")


@dataclass(frozen=True, slots=True)
class Upload:
    """A file as it arrived: the name the sender gave it and its bytes."""

    filename: str
    content: bytes
    # The size as received, when the content was not read because it is too large.
    size: int | None = None


@dataclass(frozen=True, slots=True)
class Evidence:
    """A file that passed the checks, ready to store."""

    filename: str
    content_type: str
    content: bytes
    sha256: str


def check_uploads(uploads: Sequence[Upload]) -> list[Evidence]:
    """The files as they will be kept; ValidationError (field ``evidence``) naming the
    first file that is too large, empty or of a type not accepted, or too many files."""
    present = [u for u in uploads if u.filename or u.content]
    if len(present) > MAX_FILES:
        raise ValidationError("evidence", f"{len(present)} files; at most {MAX_FILES}")
    checked = []
    for upload in present:
        name = safe_name(upload.filename)
        size = upload.size if upload.size is not None else len(upload.content)
        if size == 0:
            raise ValidationError("evidence", f"'{name}' is empty")
        if size > MAX_BYTES:
            raise ValidationError(
                "evidence", f"'{name}' has {size:,} bytes; at most {MAX_BYTES:,} (5 MB) each"
            )
        content_type = sniff(upload.content)
        if content_type is None:
            raise ValidationError("evidence", f"'{name}' is not {ACCEPTED}")
        digest = hashlib.sha256(upload.content).hexdigest()
        checked.append(Evidence(name, content_type, upload.content, digest))
    return checked


def sniff(content: bytes) -> str | None:
    """The type read from the content, or None if it is none of those accepted."""
    for signature, content_type in SIGNATURES:
        if content.startswith(signature):
            return content_type
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return None if _CONTROL.search(text) else TEXT


def safe_name(filename: str) -> str:
    """A file name fit to show and to send back: no path, no control characters."""
    base = re.split(r"[/\\]", filename or "")[-1]
    cleaned = _UNSAFE_NAME.sub("_", unicodedata.normalize("NFC", base)).strip(" ._")
    return (cleaned or "evidence")[:MAX_NAME]


def store(
    session: Session,
    owner_kind: str,
    owner_id: int,
    record_id: int,
    files: Sequence[Evidence],
    now: datetime,
) -> None:
    """Keep the files of a dispute or repair application, in the caller's transaction."""
    for file in files:
        session.add(
            EvidenceFile(
                owner_kind=owner_kind,
                owner_id=owner_id,
                record_id=record_id,
                filename=file.filename,
                content_type=file.content_type,
                size=len(file.content),
                sha256=file.sha256,
                content=file.content,
                uploaded_at=now,
            )
        )


def listed(
    session: Session, owner_kind: str, owner_ids: Collection[int]
) -> dict[int, list[dict[str, Any]]]:
    """The files of these disputes or applications (without their content), by owner."""
    found: dict[int, list[dict[str, Any]]] = {}
    if not owner_ids:
        return found
    rows = session.execute(
        select(
            EvidenceFile.id,
            EvidenceFile.owner_id,
            EvidenceFile.filename,
            EvidenceFile.content_type,
            EvidenceFile.size,
        )
        .where(EvidenceFile.owner_kind == owner_kind, EvidenceFile.owner_id.in_(list(owner_ids)))
        .order_by(EvidenceFile.id)
    )
    for file_id, owner, filename, content_type, size in rows:
        found.setdefault(owner, []).append(
            {"id": file_id, "filename": filename, "content_type": content_type, "size": size}
        )
    return found


@dataclass(frozen=True, slots=True)
class Download:
    filename: str
    content_type: str
    content: bytes


def evidence_file(factory: sessionmaker[Session], actor: Actor, file_id: int) -> Download:
    """One evidence file, for a reviewer or the representative who sent it: 401 for
    anonymous visitors, 403 for any other account, 404 for no such file."""
    if not actor.signed_in:
        raise Unauthorized("sign in as a reviewer, or as the representative who sent it")
    with transaction(factory) as session:
        row = session.get(EvidenceFile, file_id)
        if row is None:
            raise NotFound(f"no evidence file {file_id}")
        if not (actor.may("review") or _sent_by(session, row, actor)):
            raise Forbidden(
                "an evidence file is for the reviewers and the representative who sent it"
            )
        return Download(row.filename, row.content_type, row.content)


def _sent_by(session: Session, row: EvidenceFile, actor: Actor) -> bool:
    owner: Dispute | RepairApplication | None
    if row.owner_kind == "dispute":
        owner = session.get(Dispute, row.owner_id)
    else:
        owner = session.get(RepairApplication, row.owner_id)
    return (
        owner is not None
        and owner.account_id is not None
        and owner.account_id == actor.account_id
        and actor.represents(owner.subject_id)
    )


def utc(moment: datetime) -> datetime:
    """A stored moment as aware UTC (SQLite hands back naive datetimes)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
