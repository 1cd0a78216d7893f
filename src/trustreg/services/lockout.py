"""Sign-in lock-out: repeated failed sign-ins lock an account for a while.

``Lockout.failures`` failures within ``Lockout.minutes`` lock the account for
``minutes`` more; each lock is an audit entry. The count lives on the account row
(migration 0010), so every server worker sees the same one. ``accounts.sign_in`` calls
these; while an account is locked even the right password is refused, with the answer
a wrong password or an unknown name gets. API tokens and open sessions are not
affected. The operator lifts a lock with ``trustreg accounts unlock`` (or ``enable``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from trustreg.store import writes
from trustreg.store.models_access import Account


@dataclass(frozen=True, slots=True)
class Lockout:
    """``failures`` failed sign-ins within ``minutes`` lock the account for ``minutes``
    (settings ``lockout_failures``, ``lockout_minutes``); 0 failures: never locked."""

    failures: int = 5
    minutes: int = 15


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything the registry writes is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def locked_until(account: Account) -> datetime | None:
    return _aware(account.locked_until) if account.locked_until else None


def is_locked(account: Account, now: datetime) -> bool:
    until = locked_until(account)
    return until is not None and until > now


def count_failure(session: Session, account: Account, now: datetime, lockout: Lockout) -> None:
    """One more failed sign-in; the one that reaches ``lockout.failures`` within the
    window locks the account (an audit entry) and starts the count again."""
    if lockout.failures <= 0:
        return
    window = timedelta(minutes=lockout.minutes)
    since = account.failing_since
    if since is None or _aware(since) + window <= now:
        account.failing_since, account.failed_sign_ins = now, 1
    else:
        account.failed_sign_ins = (account.failed_sign_ins or 0) + 1
    if account.failed_sign_ins < lockout.failures:
        return
    until = now + window
    detail = {"failures": account.failed_sign_ins, "until": until.isoformat()}
    clear(account)
    account.locked_until = until
    target = f"account:{account.username}"
    writes.append_audit(session, "anonymous", "account.lock", target, detail, now)


def clear(account: Account) -> None:
    """Forget the failures and lift the lock (a good sign-in, the operator)."""
    account.failed_sign_ins, account.failing_since, account.locked_until = 0, None, None
