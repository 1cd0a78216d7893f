"""The registry the authorization matrix runs against: one account of each role, a
company, the representative's own person and another person, each with records, a
dispute and a repair application of each person waiting for the reviewer, a watch and
a screening of the checker.

Every role has an API token with all its scopes and a browser signed in (pages
post forms with that browser's CSRF token, as a person would).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.accounts import browser, make_account, sign_in
from tests.feeds import (
    COURT,
    KEY,
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
from trustreg.core.identifiers import parse_identifier
from trustreg.services import accounts, disputes, repair, watch
from trustreg.services.evidence import Upload
from trustreg.store import queries
from trustreg.store.db import transaction
from trustreg.store.models import Record
from trustreg.store.models_access import EvidenceFile

ROLES = (
    "anonymous",
    "operator",
    "authority",
    "checker",
    "unverified",
    "representative",
    "reviewer",
)
USERS = {
    "operator": "ops",
    "authority": "clerk",
    "checker": "bank",
    "unverified": "newbank",
    "representative": "rep",
    "reviewer": "officer",
}
OWN, OTHER, LISTED = ric(11), ric(12), ric(13)
GROUNDS = "The judgment was paid in full last month; the receipt from the court is attached."


@dataclass
class World:
    app: FastAPI
    ids: dict[str, int | str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    browsers: dict[str, TestClient] = field(default_factory=dict)


def _records(tmp_path: Path, today: datetime) -> Path:
    effective = (today - timedelta(days=100)).date()  # past the fine's repair day (90)
    dates = {
        "decided_on": (effective - timedelta(days=5)).isoformat(),
        "effective_from": effective.isoformat(),
    }
    penalty = {"record_type": "admin_penalty_minor", "authority": REGULATOR}
    penalty |= {"amount": "", "currency": ""}
    fine = penalty | {"record_type": "admin_penalty_general"}
    rows = [record_row(1, subject=1, **dates)]
    rows += [record_row(2, subject=1, **dates, **penalty), record_row(3, 1, **dates, **fine)]
    # The two persons' records are of types the rulebook does not publish for persons:
    # only the person-look-up gate decides who sees them.
    serious = penalty | {"record_type": "admin_penalty_serious"}
    for n, number, name in ((4, OWN, "王芳"), (7, OTHER, "李强")):
        person = {"subject_kind": "individual", "id_scheme": "ric", "id_value": number}
        person |= {"subject_name": name}
        rows.append(record_row(n, **dates, **person, **serious))
        rows.append(record_row(n + 1, **dates, **person, **penalty))
        rows.append(record_row(n + 2, **dates, **person, **fine))
    # A person on the published list of judgment defaulters: public, masked.
    listed = {"subject_kind": "individual", "id_scheme": "ric", "id_value": LISTED}
    rows.append(record_row(10, **dates, **listed, subject_name="赵敏"))
    return write_csv(tmp_path / "records.csv", rows)


def serving(app: FastAPI, tmp_path: Path) -> Iterator[World]:
    """The matrix's registry built in ``app``, while it serves; its browsers closed after."""
    with TestClient(app):
        world = build(app, tmp_path)
        try:
            yield world
        finally:
            for client in world.browsers.values():
                client.close()


def build(app: FastAPI, tmp_path: Path) -> World:
    factory: sessionmaker[Session] = app.state.sessions
    now = datetime.now(UTC)
    add_authorities(factory)
    run_import(factory, "subjects", write_subjects(tmp_path / "s.csv", [subject_row(1)]))
    assert run_import(factory, "records", _records(tmp_path, now)).rejected == 0
    world = World(app)
    with transaction(factory) as session:
        firm, own, other, listed = (
            _subject_id(session, text)
            for text in (f"uscc:{uscc(1)}", f"ric:{OWN}", f"ric:{OTHER}", f"ric:{LISTED}")
        )
        records = {(r.subject_id, r.record_type): r.id for r in session.scalars(select(Record))}
    world.ids |= {"firm": firm, "own": own, "other": other, "listed": listed}
    world.ids["firm_record"] = records[(firm, "judgment_defaulter")]
    world.ids["listed_record"] = records[(listed, "judgment_defaulter")]
    for name, subject in (("own", own), ("other", other)):
        world.ids[f"{name}_record"] = records[(subject, "admin_penalty_serious")]
    for name, subject in (("firm", firm), ("own", own), ("other", other)):
        world.ids[f"{name}_penalty"] = records[(subject, "admin_penalty_minor")]
        world.ids[f"{name}_fine"] = records[(subject, "admin_penalty_general")]
    _accounts(world, factory, now)
    _due_process(world, factory, now)
    _checker_work(world, factory, now)
    return world


def _checker_work(world: World, factory: sessionmaker[Session], now: datetime) -> None:
    """A watch of the company and a screening of a person, both the checker's, and an
    API token of the checker that only the checker may revoke."""
    checker = accounts.actor_of_account(factory, USERS["checker"])
    asked = watch.WatchRequest(str(world.ids["firm"]))
    made = watch.create_watch(factory, checker, asked, now, identifier_key=KEY, production=False)
    world.ids["watch"] = made["id"]
    with TestClient(world.app, base_url="https://testserver") as client:
        answer = client.post(
            "/api/v1/screenings",
            params={"purpose": "credit"},
            content="ref,name,kind\n1,王芳,individual\n".encode(),
            headers={
                "Content-Type": "text/csv",
                "Authorization": f"Bearer {world.tokens['checker']}",
            },
        )
        assert answer.status_code == 202, answer.text
        world.ids["job"] = answer.json()["id"]
    world.ids["checker_token"] = accounts.list_api_tokens(factory, USERS["checker"])[0]["id"]


def _subject_id(session: Session, text: str) -> int:
    subject = queries.subject_by_identifier(session, parse_identifier(text), KEY)
    assert subject is not None, text
    return subject.id


def _accounts(world: World, factory: sessionmaker[Session], now: datetime) -> None:
    for role, username in USERS.items():
        real_role = "checker" if role == "unverified" else role
        subjects = (int(world.ids["own"]),) if role == "representative" else ()
        authority = COURT if role == "authority" else None
        make_account(
            factory,
            username,
            real_role,
            subjects=subjects,
            authority=authority,
            verified=role != "unverified",
        )
        world.tokens[role] = accounts.issue_api_token(factory, username, (), now)[1]
        world.browsers[role] = sign_in(browser(world.app), username)
    # A representative of the other person, so that the other person's dispute and
    # repair application exist (filed by their own representative).
    make_account(factory, "rep2", "representative", subjects=(int(world.ids["other"]),))
    world.browsers["anonymous"] = browser(world.app)


def _due_process(world: World, factory: sessionmaker[Session], now: datetime) -> None:
    receipt = Upload("receipt.txt", b"Receipt: paid in full.\n")
    for name, username in (("own", "rep"), ("other", "rep2")):
        actor = accounts.actor_of_account(factory, username)
        record_id = int(world.ids[f"{name}_record"])
        dispute = disputes.dispute_record(factory, actor, record_id, GROUNDS, [receipt], now)
        penalty = int(world.ids[f"{name}_penalty"])
        application = repair.apply(factory, actor, penalty, GROUNDS, [receipt], now)
        world.ids[f"{name}_dispute"] = dispute["id"]
        world.ids[f"{name}_repair"] = application["id"]
        with transaction(factory) as session:
            world.ids[f"{name}_evidence"] = session.scalars(
                select(EvidenceFile.id).where(EvidenceFile.record_id == record_id)
            ).one()
