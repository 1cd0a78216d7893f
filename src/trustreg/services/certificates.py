"""Credit report certificates: what the registry states about one organisation, now.

A certificate is issued only for legal entities, other organisations and foreign
entities. Look-ups at a person are for signed-in checkers with a declared purpose
(DESIGN.md, accountable access), so a person's file is never handed out as a certificate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.orm import Session, sessionmaker

from trustreg.core import signing
from trustreg.core.vocabulary import PERSON_KINDS, SUBJECT_KINDS
from trustreg.errors import NotFound
from trustreg.services.subjects import subject_view
from trustreg.store import certificates as store_certificates
from trustreg.store import queries
from trustreg.store.db import transaction
from trustreg.store.models import Certificate

CERTIFICATE_KINDS = tuple(kind for kind in SUBJECT_KINDS if kind not in PERSON_KINDS)
# Names the form of the signed content, so a later form can be told apart.
CONTENT_FORMAT = "trustreg-certificate/1"
# How a change is worded: English with %(name)s fields, and also the gettext message id
# the portal translates (web/locales; a test checks each has a Chinese translation).
SUBJECT_GONE = "the subject is no longer in the registry"
UNREADABLE = "content unreadable"
GRADE_CHANGED = "grade changed from %(before)s to %(after)s"
# A list or consequence: gone, new, and each compared date changed.
LIST_WORDS = {
    "gone": "no longer on list %(entry)s",
    "new": "now on list %(entry)s",
    "entered_on": "list %(entry)s: entered on changed from %(before)s to %(after)s",
    "scheduled_exit": "list %(entry)s: scheduled exit changed from %(before)s to %(after)s",
}
CONSEQUENCE_WORDS = {
    "gone": "consequence %(entry)s no longer in force",
    "new": "consequence %(entry)s now in force",
    "ends_on": "consequence %(entry)s: ends on changed from %(before)s to %(after)s",
}
CHANGE_MESSAGES = (
    SUBJECT_GONE,
    UNREADABLE,
    GRADE_CHANGED,
    *LIST_WORDS.values(),
    *CONSEQUENCE_WORDS.values(),
)


def certificate(factory: sessionmaker[Session], subject_id: int) -> dict[str, Any]:
    """The certificate of one non-person subject, issued now.

    Returns ``issued_at`` (UTC), the subject's view (``subject``, as on its profile:
    assessment, list memberships, consequences in force) and ``published_records``:
    how many of its records count in today's assessment. NotFound for an unknown
    subject and for a person.
    """
    issued_at = datetime.now(UTC).replace(microsecond=0)
    with transaction(factory) as session:
        subject = queries.subject_by_id(session, subject_id)
        if subject is None:
            raise NotFound(f"no subject with id {subject_id}")
        if subject.kind not in CERTIFICATE_KINDS:
            raise NotFound(
                "certificates are issued for legal entities and organisations; "
                f"subject {subject_id} is a person, and no certificate is issued for a person"
            )
        view = subject_view(session, subject, masked=True)
    return {
        "issued_at": issued_at,
        "subject": view,
        "published_records": published_records(view),
    }


def published_records(view: dict[str, Any]) -> int:
    """Records that count in the view's assessment: effective, not revoked, and still
    within their publicity period (each has one line in the explanation)."""
    lines = view["assessment"]["explanation"]
    return len({line["record"] for line in lines if line["record"] is not None})


@dataclass(frozen=True)
class Change:
    """One way the standing now differs from what a certificate stated.

    ``message`` is one of :data:`CHANGE_MESSAGES`: English with ``%(name)s`` fields, and
    the gettext message id the portal words it by in another language; ``str()`` gives
    the English wording.
    """

    message: str
    fields: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message % self.fields


@dataclass(frozen=True)
class Issued:
    """A certificate as issued: its code, the signed canonical JSON and the signature."""

    code: str
    content: dict[str, Any]
    payload: str
    signature: str


def issue(factory: sessionmaker[Session], subject_id: int, secret_key: str) -> dict[str, Any]:
    """Issue, sign and store the certificate of one non-person subject, now.

    Returns what :func:`certificate` returns plus ``issued``: the :class:`Issued`
    certificate, whose code leads to ``/verify/CODE``. NotFound as :func:`certificate`.
    """
    stated = certificate(factory, subject_id)
    content = certificate_content(stated["subject"], stated["issued_at"])
    code = signing.new_code()
    content = {"code": code, **content}
    payload = signing.canonical_json(content)
    signature = signing.sign(signing.signing_key(secret_key), payload)
    row = Certificate(
        code=code,
        subject_id=subject_id,
        issued_at=stated["issued_at"],
        content=payload,
        signature=signature,
    )
    with transaction(factory) as session:
        store_certificates.add_certificate(session, row)
    return {**stated, "issued": Issued(code, content, payload, signature)}


def certificate_content(view: dict[str, Any], issued_at: datetime) -> dict[str, Any]:
    """What a certificate states about a subject view, in the form that is signed."""
    assessment = view["assessment"]
    return {
        "format": CONTENT_FORMAT,
        "issued_at": issued_at.isoformat(),
        "subject": {
            "id": view["id"],
            "kind": view["kind"],
            "name": view["name"],
            "identifier": view["identifiers"][0] if view["identifiers"] else None,
        },
        **standing(view),
        "as_of": assessment["as_of"],
        "points": assessment["points"],
        "rulebook_version": assessment["rulebook_version"],
    }


def standing(view: dict[str, Any]) -> dict[str, Any]:
    """The part of a certificate that verification compares: grade, lists, consequences."""
    assessment = view["assessment"]
    return {
        "grade": assessment["grade"],
        "lists": [
            {
                "list": m["list"],
                "title_zh": m.get("title_zh"),
                "title_en": m.get("title_en"),
                "entered_on": m["entered_on"],
                "scheduled_exit": m["scheduled_exit"],
            }
            for m in assessment["lists"]
        ],
        "consequences": [
            {
                "code": c["code"],
                "title_zh": c["title_zh"],
                "title_en": c["title_en"],
                "effect": c["effect"],
                "list": c["list"],
                "ends_on": c["ends_on"],
            }
            for c in view["consequences"]
        ],
    }


def verify(
    factory: sessionmaker[Session], code: str, public_key: Ed25519PublicKey
) -> dict[str, Any]:
    """What the certificate ``code`` said, whether its signature verifies with
    ``public_key``, and whether it still holds: the subject's grade, lists and
    consequences recomputed now and compared, each difference a :class:`Change` in
    ``changes``. NotFound for an unknown code."""
    checked_at = datetime.now(UTC).replace(microsecond=0)
    with transaction(factory) as session:
        row = store_certificates.certificate_by_code(session, code.strip().upper())
        if row is None:
            raise NotFound(f"no certificate with verification code {code}")
        payload, signature, subject_id = row.content, row.signature, row.subject_id
        subject = queries.subject_by_id(session, subject_id)
        now = None if subject is None else standing(subject_view(session, subject, masked=True))
    content = _parsed(payload)
    authentic = signing.verifies(public_key, payload, signature)
    changes = standing_changes(content, now) if content is not None else [Change(UNREADABLE)]
    return {
        "code": row.code,
        "checked_at": checked_at.isoformat(),
        "content": content,
        "payload": payload,
        "signature": signature,
        "signature_valid": authentic,
        "still_holds": authentic and not changes,
        "changes": changes,
    }


def _parsed(payload: str) -> dict[str, Any] | None:
    try:
        content = json.loads(payload)
    except ValueError:
        return None
    return content if isinstance(content, dict) else None


def standing_changes(then: dict[str, Any], now: dict[str, Any] | None) -> list[Change]:
    """What changed between a certificate's standing and the standing now; empty when
    the certificate still holds."""
    if now is None:
        return [Change(SUBJECT_GONE)]
    changes = []
    if then.get("grade") != now["grade"]:
        changes.append(
            Change(GRADE_CHANGED, {"before": f"{then.get('grade')}", "after": f"{now['grade']}"})
        )
    changes += _entries_changed(
        LIST_WORDS, then.get("lists", []), now["lists"], "list", ("entered_on", "scheduled_exit")
    )
    changes += _entries_changed(
        CONSEQUENCE_WORDS, then.get("consequences", []), now["consequences"], "code", ("ends_on",)
    )
    return changes


def _entries_changed(
    words: dict[str, str],
    then: list[dict[str, Any]],
    now: list[dict[str, Any]],
    key: str,
    dates: tuple[str, ...],
) -> list[Change]:
    before = {entry[key]: entry for entry in then}
    after = {entry[key]: entry for entry in now}
    changes = []
    for code, entry in before.items():
        named = {"entry": _named(code, entry)}
        if code not in after:
            changes.append(Change(words["gone"], named))
            continue
        for date_field in dates:
            if entry.get(date_field) != after[code].get(date_field):
                moved = {
                    "before": f"{entry.get(date_field)}",
                    "after": f"{after[code].get(date_field)}",
                }
                changes.append(Change(words[date_field], named | moved))
    changes += [
        Change(words["new"], {"entry": _named(c, e)}) for c, e in after.items() if c not in before
    ]
    return changes


def _named(code: str, entry: dict[str, Any]) -> str:
    titles = " ".join(t for t in (entry.get("title_zh"), entry.get("title_en")) if t)
    return f"{code} ({titles})" if titles else code
