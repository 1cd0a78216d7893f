"""Accounts, roles, sign-in sessions and API tokens: who is asking.

Roles (``ROLES``): the **operator** runs the registry and verifies checkers and
representatives; an **authority** submits records of its own record types; a
**checker** is an organisation that looks up counterparties (persons only once
verified, and only with a declared purpose); a **representative** speaks for the
subjects it is linked to (its own file, disputes, repair); a **reviewer** decides
disputes and repair applications. Anyone not signed in is **anonymous**.

Passwords are kept as argon2id hashes; sessions and API tokens as SHA-256 hashes of
random tokens, so a copy of the database lets no one sign in. Every change to an
account is an audit entry.

Repeated failed sign-ins lock an account for a while (``services.lockout``): a locked
account, a wrong password and an unknown username get the same answer, checked in the
same time, so trying names tells no one which accounts exist.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from trustreg.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationError
from trustreg.services.lockout import Lockout, count_failure, is_locked, locked_until
from trustreg.services.lockout import clear as clear_failures
from trustreg.store import queries, writes
from trustreg.store.db import transaction
from trustreg.store.models import Authority, AuthorityRecordType, Subject
from trustreg.store.models_access import Account, AccountSubject, ApiToken, WebSession

ROLES = ("operator", "authority", "checker", "representative", "reviewer")
# What a token of each role may be scoped to; a session holds all of its role's scopes.
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "operator": frozenset({"read", "admin"}),
    "authority": frozenset({"read", "records:write"}),
    "checker": frozenset({"read", "check", "watch"}),
    "representative": frozenset({"read", "myfile", "dispute"}),
    "reviewer": frozenset({"read", "review"}),
}
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
MIN_PASSWORD = 12
TOKEN_PREFIX = "trk_"
_HASHER = PasswordHasher()
# One answer to every refused sign-in: it must not tell which accounts exist.
SIGN_IN_REFUSED = (
    "the username or password is wrong, the account is disabled, or it is locked for a "
    "while after repeated failed sign-ins"
)


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the username is unknown, so a wrong name costs as long as
    a wrong password and the timing does not tell which accounts exist. Made on first
    use: hashing takes a tenth of a second, which every command would pay at start."""
    return _HASHER.hash("not-a-password-of-anyone")


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is asking, with what they may do. ``anonymous`` when no one signed in."""

    role: str = "anonymous"
    username: str = ""
    account_id: int | None = None
    organisation: str = ""
    verified: bool = False
    authority: str | None = None
    record_types: frozenset[str] = frozenset()
    subject_ids: frozenset[int] = frozenset()
    scopes: frozenset[str] = field(default_factory=frozenset)

    @property
    def label(self) -> str:
        """How the audit log names this actor."""
        return f"{self.role}:{self.username}" if self.account_id is not None else "anonymous"

    @property
    def signed_in(self) -> bool:
        return self.account_id is not None

    def may(self, scope: str) -> bool:
        return scope in self.scopes

    def represents(self, subject_id: int) -> bool:
        return self.role == "representative" and subject_id in self.subject_ids

    @property
    def may_look_up_persons(self) -> bool:
        """A verified checker with the ``check`` scope (purpose still required)."""
        return self.role == "checker" and self.verified and self.may("check")


ANONYMOUS = Actor()


@dataclass(frozen=True, slots=True)
class AccountView:
    username: str
    role: str
    display_name: str
    organisation: str
    authority: str | None
    verified: bool
    disabled: bool
    subjects: tuple[int, ...]
    locked_until: datetime | None = None

    def locked(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now

    def to_dict(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "role": self.role,
            "display_name": self.display_name,
            "organisation": self.organisation,
            "authority": self.authority,
            "verified": self.verified,
            "disabled": self.disabled,
            "subjects": list(self.subjects),
            "locked_until": self.locked_until.isoformat() if self.locked_until else None,
        }


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything the registry writes is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValidationError("password", f"must have at least {MIN_PASSWORD} characters")


def create_account(
    factory: sessionmaker[Session],
    username: str,
    password: str,
    role: str,
    now: datetime,
    *,
    display_name: str = "",
    organisation: str = "",
    authority: str | None = None,
    actor: str = "cli",
) -> AccountView:
    """Create an account. An authority account names its authority; checkers and
    representatives start unverified (the operator verifies them)."""
    if not USERNAME.match(username):
        raise ValidationError(
            "username", "3-64 characters: lower-case letters, digits, '.', '_' or '-'"
        )
    if role not in ROLES:
        raise ValidationError("role", f"'{role}' is not one of {', '.join(ROLES)}")
    if (authority is not None) != (role == "authority"):
        raise ValidationError(
            "authority", "an authority account, and only one, names its authority"
        )
    check_password(password)
    with transaction(factory) as session:
        if session.scalar(select(Account.id).where(Account.username == username)):
            raise Conflict(f"the username '{username}' is taken")
        authority_id = _authority_id(session, authority) if authority else None
        account = Account(
            username=username,
            password_hash=_HASHER.hash(password),
            role=role,
            display_name=display_name or username,
            organisation=organisation,
            authority_id=authority_id,
            # Only checkers and representatives wait for the operator's verification.
            verified_at=None if role in ("checker", "representative") else now,
            created_at=now,
        )
        session.add(account)
        session.flush()
        writes.append_audit(
            session, actor, "account.create", f"account:{username}", {"role": role}, now
        )
        return _view(session, account)


def _authority_id(session: Session, code: str) -> int:
    found = queries.authority_by_code(session, code)
    if found is None:
        raise NotFound(f"no authority '{code}'")
    return found.id


def _account(session: Session, username: str) -> Account:
    account = session.scalar(select(Account).where(Account.username == username))
    if account is None:
        raise NotFound(f"no account '{username}'")
    return account


def _view(session: Session, account: Account) -> AccountView:
    links = session.scalars(
        select(AccountSubject.subject_id).where(AccountSubject.account_id == account.id)
    )
    authority = session.get(Authority, account.authority_id) if account.authority_id else None
    return AccountView(
        username=account.username,
        role=account.role,
        display_name=account.display_name,
        organisation=account.organisation,
        authority=authority.code if authority else None,
        verified=account.verified_at is not None,
        disabled=account.disabled_at is not None,
        subjects=tuple(sorted(links)),
        locked_until=locked_until(account),
    )


def list_accounts(factory: sessionmaker[Session], role: str | None = None) -> list[AccountView]:
    with transaction(factory) as session:
        query = select(Account).order_by(Account.username)
        if role:
            query = query.where(Account.role == role)
        return [_view(session, a) for a in session.scalars(query)]


def get_account(factory: sessionmaker[Session], username: str) -> AccountView:
    with transaction(factory) as session:
        return _view(session, _account(session, username))


def verify(factory: sessionmaker[Session], username: str, now: datetime, actor: str) -> None:
    """The operator has checked who this checker or representative is."""
    with transaction(factory) as session:
        account = _account(session, username)
        account.verified_at = account.verified_at or now
        writes.append_audit(session, actor, "account.verify", f"account:{username}", {}, now)


def link_subject(
    factory: sessionmaker[Session], username: str, subject_id: int, now: datetime, actor: str
) -> None:
    """Let a verified representative speak for a subject (after the operator checked
    its mandate)."""
    with transaction(factory) as session:
        account = _account(session, username)
        if account.role != "representative":
            raise ValidationError(
                "username", f"'{username}' is a {account.role}, not a representative"
            )
        if session.get(Subject, subject_id) is None:
            raise NotFound(f"no subject with id {subject_id}")
        if session.get(AccountSubject, (account.id, subject_id)) is None:
            session.add(
                AccountSubject(
                    account_id=account.id, subject_id=subject_id, verified_at=now, verified_by=actor
                )
            )
        account.verified_at = account.verified_at or now
        detail = {"subject": subject_id}
        writes.append_audit(session, actor, "account.link", f"account:{username}", detail, now)


def set_disabled(
    factory: sessionmaker[Session], username: str, disabled: bool, now: datetime, actor: str
) -> None:
    """Disable (or enable again) an account; disabling ends its sessions and tokens,
    enabling also lifts a sign-in lock-out."""
    with transaction(factory) as session:
        account = _account(session, username)
        account.disabled_at = now if disabled else None
        if not disabled:
            clear_failures(account)
        if disabled:
            for row in session.scalars(
                select(WebSession).where(WebSession.account_id == account.id)
            ):
                row.revoked_at = row.revoked_at or now
            for token in session.scalars(select(ApiToken).where(ApiToken.account_id == account.id)):
                token.revoked_at = token.revoked_at or now
        action = "account.disable" if disabled else "account.enable"
        writes.append_audit(session, actor, action, f"account:{username}", {}, now)


def set_password(
    factory: sessionmaker[Session], username: str, password: str, now: datetime, actor: str
) -> None:
    check_password(password)
    with transaction(factory) as session:
        account = _account(session, username)
        account.password_hash = _HASHER.hash(password)
        writes.append_audit(session, actor, "account.password", f"account:{username}", {}, now)


# ------------------------------------------------------------------ sessions


def sign_in(
    factory: sessionmaker[Session],
    username: str,
    password: str,
    now: datetime,
    hours: int,
    lockout: Lockout = Lockout(),
) -> str:
    """Check the password and open a session; returns the cookie token (shown once).

    A failure counts towards the account's lock-out; a success clears the count. While
    locked, even the right password is refused, with the same answer as a wrong one."""
    token: str | None = None
    with transaction(factory) as session:
        account = session.scalar(select(Account).where(Account.username == username))
        try:
            # An unknown name is checked against a dummy hash: it takes as long.
            _HASHER.verify(account.password_hash if account else _dummy_hash(), password)
            right = True
        except (VerificationError, InvalidHashError):
            right = False
        # Only a known account has a count to keep: the extra UPDATE costs well under a
        # millisecond, lost in the hash check's tens of milliseconds and their jitter.
        if account is not None and not is_locked(account, now):
            if not right:
                count_failure(session, account, now, lockout)
            elif account.disabled_at is None:
                clear_failures(account)
                token = _open_session(session, account, now, hours)
    if token is None:
        raise Unauthorized(SIGN_IN_REFUSED)
    return token


def _open_session(session: Session, account: Account, now: datetime, hours: int) -> str:
    token = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            id=_digest(token),
            account_id=account.id,
            created_at=now,
            expires_at=now + timedelta(hours=hours),
        )
    )
    target = f"account:{account.username}"
    writes.append_audit(session, account.username, "session.open", target, {}, now)
    return token


def unlock(factory: sessionmaker[Session], username: str, now: datetime, actor: str) -> bool:
    """Lift a sign-in lock-out before it ends (the operator); False if none was on."""
    with transaction(factory) as session:
        account = _account(session, username)
        was_locked = is_locked(account, now)
        clear_failures(account)
        if was_locked:
            target = f"account:{username}"
            writes.append_audit(session, actor, "account.unlock", target, {}, now)
        return was_locked


def sign_out(factory: sessionmaker[Session], token: str, now: datetime) -> None:
    with transaction(factory) as session:
        row = session.get(WebSession, _digest(token))
        if row is not None and row.revoked_at is None:
            row.revoked_at = now


def actor_for_session(session: Session, token: str, now: datetime) -> Actor:
    """The actor of a session cookie; anonymous if unknown, expired or revoked."""
    row = session.get(WebSession, _digest(token))
    if row is None or row.revoked_at is not None or _aware(row.expires_at) <= now:
        return ANONYMOUS
    account = session.get(Account, row.account_id)
    if account is None or account.disabled_at is not None:
        return ANONYMOUS
    return _actor(session, account, ROLE_SCOPES[account.role])


def _actor(session: Session, account: Account, scopes: Iterable[str]) -> Actor:
    authority: str | None = None
    types: frozenset[str] = frozenset()
    if account.authority_id is not None:
        found = session.get(Authority, account.authority_id)
        authority = found.code if found else None
        types = frozenset(
            session.scalars(
                select(AuthorityRecordType.record_type).where(
                    AuthorityRecordType.authority_id == account.authority_id
                )
            )
        )
    subjects = frozenset(
        session.scalars(
            select(AccountSubject.subject_id).where(AccountSubject.account_id == account.id)
        )
    )
    return Actor(
        role=account.role,
        username=account.username,
        account_id=account.id,
        organisation=account.organisation,
        verified=account.verified_at is not None,
        authority=authority,
        record_types=types,
        subject_ids=subjects,
        scopes=frozenset(scopes),
    )


# ------------------------------------------------------------------ API tokens


def issue_api_token(
    factory: sessionmaker[Session],
    username: str,
    scopes: Iterable[str],
    now: datetime,
    *,
    days: int = 90,
    label: str = "",
    actor: str = "cli",
) -> tuple[int, str]:
    """A bearer token for an account, limited to ``scopes`` (each allowed to its role)
    and expiring after ``days``; returns its id and the token, shown only once."""
    if not 1 <= days <= 730:
        raise ValidationError("days", "a token lives from 1 to 730 days")
    with transaction(factory) as session:
        account = _account(session, username)
        wanted = frozenset(scopes) or ROLE_SCOPES[account.role]
        refused = sorted(wanted - ROLE_SCOPES[account.role])
        if refused:
            allowed = ", ".join(sorted(ROLE_SCOPES[account.role]))
            raise ValidationError(
                "scopes", f"a {account.role} cannot have {', '.join(refused)}; allowed: {allowed}"
            )
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = ApiToken(
            account_id=account.id,
            token_hash=_digest(token),
            label=label or f"{username} token",
            scopes=sorted(wanted),
            created_at=now,
            expires_at=now + timedelta(days=days),
        )
        session.add(row)
        session.flush()
        detail = {"token": row.id, "scopes": sorted(wanted), "days": days}
        writes.append_audit(session, actor, "token.issue", f"account:{username}", detail, now)
        return row.id, token


def revoke_api_token(
    factory: sessionmaker[Session],
    token_id: int,
    now: datetime,
    actor: str,
    owner: str | None = None,
) -> None:
    """Revoke a token by id; with ``owner``, only that account's own token."""
    with transaction(factory) as session:
        row = session.get(ApiToken, token_id)
        account = session.get(Account, row.account_id) if row else None
        if row is None or account is None or (owner is not None and account.username != owner):
            raise NotFound(f"no token {token_id}")
        row.revoked_at = row.revoked_at or now
        detail = {"token": token_id}
        writes.append_audit(
            session, actor, "token.revoke", f"account:{account.username}", detail, now
        )


def list_api_tokens(factory: sessionmaker[Session], username: str) -> list[dict[str, Any]]:
    with transaction(factory) as session:
        account = _account(session, username)
        rows = session.scalars(
            select(ApiToken).where(ApiToken.account_id == account.id).order_by(ApiToken.id)
        )
        return [
            {
                "id": t.id,
                "label": t.label,
                "scopes": list(t.scopes),
                "created_at": _aware(t.created_at).isoformat(),
                "expires_at": _aware(t.expires_at).isoformat(),
                "revoked": t.revoked_at is not None,
            }
            for t in rows
        ]


def actor_for_token(session: Session, token: str, now: datetime) -> Actor | None:
    """The actor of an account's bearer token; None if it is not an account token
    (it may be an authority's ingest token); Unauthorized if expired or revoked."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token)))
    if row is None or row.revoked_at is not None or _aware(row.expires_at) <= now:
        raise Unauthorized("the bearer token is unknown, expired or revoked")
    account = session.get(Account, row.account_id)
    if account is None or account.disabled_at is not None:
        raise Unauthorized("the bearer token's account is disabled")
    row.last_used_at = now
    return _actor(session, account, row.scopes)


def require(actor: Actor, scope: str, what: str) -> None:
    """Refuse unless the actor holds ``scope``: 401 for anonymous, 403 otherwise."""
    if actor.may(scope):
        return
    if not actor.signed_in:
        raise Unauthorized(f"sign in to {what}")
    raise Forbidden(f"a {actor.role} account cannot {what}")


def actor_of_account(factory: sessionmaker[Session], username: str) -> Actor:
    """The actor an account is when signed in (for the CLI and the demo acting as it)."""
    with transaction(factory) as session:
        account = _account(session, username)
        return _actor(session, account, ROLE_SCOPES[account.role])
