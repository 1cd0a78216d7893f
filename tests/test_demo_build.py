"""``trustreg demo`` builds a registry with one account of each role and due process
under way: a dispute and a repair application waiting for the reviewer."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from sqlalchemy import select

from tests.conftest import RULEBOOK
from trustreg.config import Settings
from trustreg.core.vocabulary import PERSON_KINDS
from trustreg.services import accounts
from trustreg.services.demo_accounts import ACCOUNTS
from trustreg.services.demo_build import build_demo, demo_settings
from trustreg.store.db import make_engine, session_factory, transaction
from trustreg.store.models import Dispute, Subject
from trustreg.store.models_access import RepairApplication


def test_the_demo_has_every_role_a_dispute_and_a_repair_in_progress(tmp_path: Path) -> None:
    settings = Settings(environment="test", data_dir=tmp_path, rulebook=RULEBOOK)
    summary = build_demo(settings, 800, 2026, Console(file=io.StringIO()))
    for spec in ACCOUNTS:
        assert f"{spec.username}" in summary
        assert spec.password in summary
    factory = session_factory(make_engine(demo_settings(settings).sqlalchemy_url))
    now = datetime.now(UTC)
    roles = set()
    for spec in ACCOUNTS:
        assert accounts.sign_in(factory, spec.username, spec.password, now, 1)
        roles.add(accounts.get_account(factory, spec.username).role)
    assert roles == set(accounts.ROLES)
    representative = accounts.actor_of_account(factory, "subject-rep")
    assert accounts.actor_of_account(factory, "bank-checker").may_look_up_persons
    with transaction(factory) as session:
        (subject_id,) = representative.subject_ids
        subject = session.get(Subject, subject_id)
        assert subject is not None
        assert subject.kind in PERSON_KINDS
        open_disputes = session.scalars(select(Dispute).where(Dispute.decided_at.is_(None))).all()
        applications = session.scalars(
            select(RepairApplication).where(RepairApplication.status == "received")
        ).all()
    assert [d.subject_id for d in open_disputes] == [subject_id]
    assert [a.subject_id for a in applications] == [subject_id]
    assert "awaits the reviewer" in summary
