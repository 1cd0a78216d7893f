"""The registry of the due-process tests (disputes, repair), with a clock the tests move.

The app runs on a :class:`FixedClock` set to the real moment once the records are
imported (imports stamp them with the real time, so the two agree until a test moves
the clock). Records:

- ``firm``: company 1, a judgment defaulter since 40 days ago (listed);
- ``person``: a person, a judgment defaulter since 40 days ago (published for persons);
- ``repairable``: company 2, a general administrative penalty of 100 days ago (its
  type may be repaired 90 days after it takes effect);
- ``early``: company 3, the same penalty 30 days ago (repair from day 90).

Accounts (made on first use): ``rep`` represents companies 1-3, ``rep-person`` the
person, ``rep-other`` company 4 (no records), ``officer`` is a reviewer, ``bank`` a
verified checker and ``clerk`` an account of the court that decided the judgments.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.accounts import browser, csrf, make_account, sign_in
from tests.feeds import (
    COURT,
    REGULATOR,
    add_authorities,
    record_row,
    ric,
    run_import,
    subject_row,
    uscc,
    write_csv,
    write_subjects,
)
from trustreg.config import Settings
from trustreg.core.rating import Assessment
from trustreg.services import accounts, assessments
from trustreg.services.clock import FixedClock
from trustreg.store.db import transaction
from trustreg.store.models import ListEntry, Record, Subject
from trustreg.store.models_access import Account, Notification
from trustreg.web.app import create_app

TODAY = datetime.now(UTC).date()
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
GROUNDS = "The judgment was paid in full on 2024-05-02; the court's receipt is attached."
REASONS = "The court confirmed the judgment and its date on re-verification."


def days_ago(n: int) -> str:
    return (TODAY - timedelta(days=n)).isoformat()


def penalty(n: int, subject: int, effective: str) -> dict[str, str]:
    return record_row(
        n,
        subject=subject,
        authority=REGULATOR,
        record_type="admin_penalty_general",
        reference=f"京市监罚〔2026〕{n}号",
        decided_on=effective,
        effective_from=effective,
        amount="",
        currency="",
    )


@dataclass
class World:
    settings: Settings
    clock: FixedClock
    client: TestClient  # anonymous
    factory: sessionmaker[Session]
    ids: dict[str, int] = field(default_factory=dict)  # subject ids
    records: dict[str, int] = field(default_factory=dict)
    made: set[str] = field(default_factory=set)

    def ensure(self, username: str) -> str:
        """The account, created on first use (a password hash costs a third of a second)."""
        if username not in self.made:
            role, subjects, authority = self.accounts()[username]
            make_account(self.factory, username, role, subjects=subjects, authority=authority)
            self.made.add(username)
        return username

    def accounts(self) -> dict[str, tuple[str, tuple[int, ...], str | None]]:
        firms = (self.ids["firm"], self.ids["repairable"], self.ids["early"])
        return {
            "rep": ("representative", firms, None),
            "rep-person": ("representative", (self.ids["person"],), None),
            "rep-other": ("representative", (self.ids["other"],), None),
            "officer": ("reviewer", (), None),
            "bank": ("checker", (), None),
            "clerk": ("authority", (), COURT),
        }

    def browser_of(self, username: str) -> TestClient:
        return sign_in(browser(self.client.app), self.ensure(username))  # type: ignore[arg-type]

    def token_of(self, username: str, scopes: tuple[str, ...] = ()) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token(username, scopes)}"}

    def _token(self, username: str, scopes: tuple[str, ...]) -> str:
        now = self.clock.now()
        _, token = accounts.issue_api_token(self.factory, self.ensure(username), scopes, now)
        return token

    def actor(self, username: str) -> accounts.Actor:
        """The actor of ``username`` with all its role's scopes (for service calls)."""
        token = self._token(username, ())
        with transaction(self.factory) as session:
            found = accounts.actor_for_token(session, token, self.clock.now())
        assert found is not None
        return found

    def now(self) -> datetime:
        return self.clock.now()

    def record(self, name: str) -> Record:
        with transaction(self.factory) as session:
            found = session.get(Record, self.records[name])
            assert found is not None
            return found

    def standing(self, name: str, on: date | None = None) -> Assessment:
        """The subject's assessment today (or ``on``) as known now."""
        with transaction(self.factory) as session:
            subject = self.record(name).subject_id
            return assessments.assess(session, subject, on or self.now().date())

    def open_entries(self, name: str) -> list[tuple[str, date]]:
        with transaction(self.factory) as session:
            subject = self.record(name).subject_id
            rows = session.execute(
                select(ListEntry.list_code, ListEntry.entered_on).where(
                    ListEntry.subject_id == subject, ListEntry.ended_on.is_(None)
                )
            ).all()
            return [(code, entered) for code, entered in rows]

    def notifications(self, kind: str, **where: Any) -> list[Notification]:
        with transaction(self.factory) as session:
            query = select(Notification).where(Notification.kind == kind)
            if "username" in where:
                account = select(Account.id).where(Account.username == where["username"])
                query = query.where(Notification.account_id == account.scalar_subquery())
            if "subject" in where:
                query = query.where(
                    Notification.subject_id == self.ids[where["subject"]],
                    Notification.account_id.is_(None),
                )
            return list(session.scalars(query.order_by(Notification.id)))

    def post_form(
        self,
        client: TestClient,
        path: str,
        data: dict[str, str],
        files: list[tuple[str, bytes]] = (),  # type: ignore[assignment]
        token_page: str | None = None,
    ) -> Any:
        """Post a page's form as a browser does: its CSRF token, fields and files."""
        token = csrf(client, token_page or path)
        parts = [
            ("evidence", (name, content, "application/octet-stream")) for name, content in files
        ]
        return client.post(path, data={"csrf_token": token, **data}, files=parts or None)


@contextmanager
def opened(settings: Settings, tmp_path: Path) -> Iterator[World]:
    """The registry above, its app running (closed, with its engine, at the end)."""
    clock = FixedClock(datetime.now(UTC))
    with browser(create_app(settings, clock)) as client:
        yield build(settings, tmp_path, clock, client)


def build(settings: Settings, tmp_path: Path, clock: FixedClock, client: TestClient) -> World:
    factory: sessionmaker[Session] = client.app.state.sessions  # type: ignore[attr-defined]
    add_authorities(factory)
    subjects = [subject_row(n) for n in (1, 2, 3, 4)]
    assert (
        run_import(factory, "subjects", write_subjects(tmp_path / "s.csv", subjects)).rejected == 0
    )
    person = {
        "subject_kind": "individual",
        "id_scheme": "ric",
        "id_value": ric(1),
        "subject_name": "王伟",
    }
    rows = [
        record_row(1, effective_from=days_ago(40), decided_on=days_ago(45)),
        record_row(2, subject=0, effective_from=days_ago(40), decided_on=days_ago(45), **person),
        penalty(3, 2, days_ago(100)),
        penalty(4, 3, days_ago(30)),
    ]
    report = run_import(factory, "records", write_csv(tmp_path / "r.csv", rows))
    assert (report.created, report.rejected) == (4, 0)
    world = World(settings, clock, client, factory)
    with transaction(factory) as session:
        for name, n in (("firm", 1), ("person", 2), ("repairable", 3), ("early", 4)):
            record = session.scalar(select(Record).where(Record.reference.like(f"%{n}号")))
            assert record is not None
            world.records[name] = record.id
            world.ids[name] = record.subject_id
        world.ids["other"] = (
            session.scalar(select(Subject.id).where(Subject.display_name == subject_row(4)["name"]))
            or 0
        )
    world.ensure("clerk")  # the court's account must exist to be asked to re-verify
    # From the end of the imports: the registry's decisions come after what it holds.
    clock.set(datetime.now(UTC))
    return world


__all__ = ["GROUNDS", "PDF", "PNG", "REASONS", "TODAY", "World", "opened", "uscc"]
