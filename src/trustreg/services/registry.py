"""Setting up a registry: schema, rulebook, authorities and their API tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from trustreg.core.identifiers import key_check_value
from trustreg.core.rulebook import Rulebook, parse_rulebook
from trustreg.core.validation import AuthorityGrant, ValidationContext
from trustreg.core.vocabulary import AUTHORITY_KINDS
from trustreg.errors import (
    ConfigurationError,
    Conflict,
    InputFileError,
    NotFound,
    Unauthorized,
    ValidationError,
)
from trustreg.store import keys, queries, writes
from trustreg.store.db import migrate, session_factory, transaction
from trustreg.store.models import Authority, AuthorityToken

TOKEN_PREFIX = "trt_"


def read_rulebook(path: Path) -> Rulebook:
    """Read and validate a rulebook file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{path}: cannot read the rulebook ({exc})") from exc
    return parse_rulebook(text)


def initialise(
    engine: Engine, rulebook_path: Path, identifier_key: str | None = None
) -> sessionmaker[Session]:
    """Migrate the schema and load the rulebook; safe to run again.

    With ``identifier_key``, also check that it is the key the store was built with
    (the first run records it): see :func:`check_identifier_key`.
    """
    migrate(engine)
    factory = session_factory(engine)
    load_rulebook(factory, read_rulebook(rulebook_path), "system")
    if identifier_key is not None:
        check_identifier_key(factory, identifier_key)
    return factory


def check_identifier_key(factory: sessionmaker[Session], identifier_key: str) -> None:
    """Refuse a key other than the one the store's identifiers are hashed under.

    With another key no person would be found by number, and the next import would
    register every person again; so the mismatch stops the command instead. The first
    run on a store records the key's check value (never the key).
    """
    wanted = key_check_value(identifier_key)
    with transaction(factory) as session:
        stored = keys.key_check_of(session, keys.IDENTIFIER)
        if stored is None:
            keys.store_key_check(session, keys.IDENTIFIER, wanted, datetime.now(UTC))
            return
    if not hmac.compare_digest(stored, wanted):
        raise ConfigurationError(
            "TRUSTREG_IDENTIFIER_KEY is not the key this registry's identifiers are hashed "
            "under: with it no person would be found by number. Set the registry's key, or "
            "change keys with `trustreg identifiers rekey` (docs/security.md)."
        )


def load_rulebook(factory: sessionmaker[Session], rulebook: Rulebook, actor: str) -> bool:
    """Store a new rulebook version (kept for ever); False if it was loaded already."""
    with transaction(factory) as session:
        now = datetime.now(UTC)
        loaded = writes.load_rulebook(session, rulebook, now)
        if loaded:
            writes.append_audit(
                session,
                actor,
                "rulebook.load",
                f"rulebook:{rulebook.version}",
                {
                    "record_types": sorted(rulebook.record_types),
                    "effective_from": rulebook.effective_from.isoformat(),
                },
                now,
            )
    return loaded


def rulebook_versions(factory: sessionmaker[Session]) -> list[tuple[str, date, datetime]]:
    """Every loaded version: (version, effective from, loaded at), oldest first."""
    with transaction(factory) as session:
        return queries.rulebook_versions(session)


def rulebook_in_force(factory: sessionmaker[Session], on: date | None = None) -> Rulebook:
    """The rulebook version in force on ``on`` (default: today, UTC)."""
    day = on if on is not None else datetime.now(UTC).date()
    with transaction(factory) as session:
        return queries.rulebook_in_force(session, day)


def validation_context(session: Session, today: date, max_name_chars: int) -> ValidationContext:
    """What the pure validators need from the store, read once per import."""
    grants = {
        authority.code: AuthorityGrant(authority.id, authority.code, authority.kind, frozenset(t))
        for authority, t in queries.authorities(session)
    }
    return ValidationContext(queries.record_types(session), grants, today, max_name_chars)


@dataclass(frozen=True, slots=True)
class AuthorityView:
    code: str
    kind: str
    name: str
    record_types: list[str]


def add_authority(
    factory: sessionmaker[Session],
    code: str,
    kind: str,
    name: str,
    record_types: list[str] | None = None,
    actor: str = "cli",
) -> AuthorityView:
    """Register an authority; by default it may submit every type its kind may."""
    if kind not in AUTHORITY_KINDS:
        raise ValidationError("kind", f"'{kind}' is not one of {', '.join(AUTHORITY_KINDS)}")
    code = code.strip()
    if not code or len(code) > 64 or not name.strip():
        raise ValidationError("code", "code (1-64 characters) and name are required")
    with transaction(factory) as session:
        rules = queries.record_types(session)
        allowed = [c for c, rule in rules.items() if kind in rule.authority_kinds]
        chosen = record_types if record_types is not None else allowed
        refused = [c for c in chosen if c not in allowed]
        if refused:
            raise ValidationError(
                "record_types", f"a {kind} authority may not submit {', '.join(refused)}"
            )
        if queries.authority_by_code(session, code) is not None:
            raise Conflict(f"authority '{code}' already exists")
        now = datetime.now(UTC)
        try:
            writes.add_authority(session, code, kind, name.strip(), chosen, now)
        except IntegrityError as exc:
            raise Conflict(f"authority '{code}' already exists") from exc
        writes.append_audit(
            session, actor, "authority.add", f"authority:{code}", {"kind": kind}, now
        )
    return AuthorityView(code, kind, name.strip(), sorted(chosen))


def list_authorities(factory: sessionmaker[Session]) -> list[AuthorityView]:
    with transaction(factory) as session:
        return [
            AuthorityView(a.code, a.kind, a.name, types)
            for a, types in queries.authorities(session)
        ]


def hash_token(secret_key: str, token: str) -> str:
    """Tokens are kept only as a keyed hash, so a copy of the database reveals none."""
    return hmac.new(secret_key.encode(), token.encode(), hashlib.sha256).hexdigest()


def issue_token(factory: sessionmaker[Session], secret_key: str, code: str, days: int = 90) -> str:
    """Create an API token for an authority; the clear token is shown once."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction(factory) as session:
        authority = queries.authority_by_code(session, code)
        if authority is None:
            raise NotFound(f"no authority '{code}'")
        now = datetime.now(UTC)
        session.add(
            AuthorityToken(
                authority_id=authority.id,
                token_hash=hash_token(secret_key, token),
                created_at=now,
                expires_at=now + timedelta(days=days),
            )
        )
        writes.append_audit(
            session, "cli", "authority.token", f"authority:{code}", {"days": days}, now
        )
    return token


def authority_for_token(session: Session, secret_key: str, token: str) -> str:
    """The code of the authority holding this token; Unauthorized if none or expired."""
    row = queries.authority_by_token_hash(session, hash_token(secret_key, token))
    now = datetime.now(UTC)
    if row is None or row.revoked_at is not None or _aware(row.expires_at) <= now:
        raise Unauthorized("the bearer token is unknown, expired or revoked")
    authority = session.get(Authority, row.authority_id)
    assert authority is not None  # the foreign key guarantees it
    return authority.code


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything the registry writes is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
