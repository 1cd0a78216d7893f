"""Crash safety (issue 8): a real import and a real server, killed with SIGKILL at
random points and started again, lose nothing they acknowledged and duplicate nothing.

The import runs as ``trustreg import … --progress-lines``, which prints a line after
each committed chunk; the server as ``trustreg serve --workers 2``, taking record
submissions from an authority and person look-ups from a checker (each logged in the
audit chain) from two client threads. After the kills (seeded, so a failure repeats):

- every row an import reported and every submission answered 2xx is stored exactly
  once (by authority and reference; subjects by identifier);
- every person look-up answered 200 has its audit entry, and the audit chain verifies
  (``trustreg audit verify``);
- every subject has an assessment, and a fresh re-rating of all (``trustreg rate
  --all``) changes none.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.accounts import make_account
from tests.conftest import RULEBOOK
from tests.feeds import (
    COURT,
    KEY,
    TODAY,
    TRUSTREG,
    add_authorities,
    cli_env,
    record_row,
    reference,
    ric,
    subject_row,
    uscc,
    write_csv,
    write_subjects,
)
from tests.pgserver import free_port
from trustreg.batch.rate import rate_all
from trustreg.config import PLACEHOLDER_SECRET
from trustreg.core.identifiers import Identifier as IdentifierValue
from trustreg.core.identifiers import identifier_hash
from trustreg.services import accounts, audit, registry
from trustreg.store import queries
from trustreg.store.audit import PERSON_CHECK
from trustreg.store.db import make_engine, transaction
from trustreg.store.models import Assessment, AuditEntry, Identifier, ListEntry, Record, Subject

SEED = 20268
SUBJECTS = 1200  # every tenth a person
RECORDS = 2400  # about subjects 1..1500: the last 300 are created by the records feed
CHUNK_ROWS = 150
DECIDED = (TODAY - timedelta(days=60)).isoformat()
EFFECTIVE = (TODAY - timedelta(days=50)).isoformat()
COMMITTED = re.compile(r"batch \d+: (\d+) rows read, committed")


def person(n: int) -> bool:
    return n % 10 == 0


def subject_of(n: int) -> dict[str, str]:
    if person(n):
        return subject_row(
            n, kind="individual", id_scheme="ric", id_value=ric(n // 10), birth_date="1980-05-17"
        )
    return subject_row(n)


def record_of(n: int, subject: int, ref: str) -> dict[str, str]:
    """Record ``n``, decided two months ago: in force, its subject listed."""
    row = record_row(n, subject, reference=ref, decided_on=DECIDED, effective_from=EFFECTIVE)
    if person(subject):
        row.update(subject_kind="individual", id_scheme="ric", id_value=ric(subject // 10))
    return row


@dataclass
class World:
    factory: sessionmaker[Session]
    env: dict[str, str]
    tmp: Path
    authority_token: str
    checker_token: str


@pytest.fixture
def world(store_url: str, tmp_path: Path) -> Iterator[World]:
    engine = make_engine(store_url)
    factory = registry.initialise(engine, RULEBOOK)
    add_authorities(factory)
    env = cli_env(tmp_path, TRUSTREG_IMPORT_CHUNK_ROWS=str(CHUNK_ROWS))
    env["TRUSTREG_DATABASE_URL"] = store_url
    token = registry.issue_token(factory, PLACEHOLDER_SECRET, COURT)  # the CLI's default
    make_account(factory, "bank", "checker")
    _, checker = accounts.issue_api_token(factory, "bank", (), datetime.now(UTC))
    yield World(factory, env, tmp_path, token, checker)
    engine.dispose()


# ------------------------------------------------------------------ the import


def import_killed(
    world: World, feed: str, path: Path, kills: int, stored: Callable[[int], set[int]]
) -> int:
    """Run ``trustreg import FEED PATH`` ``kills`` times, each killed at a random point
    (after 0 to 6 committed chunks and a few milliseconds more), then once to the end.
    After each kill, every row reported committed must be stored: ``stored(n)`` says
    which of the file's rows 1..n are. Returns the most rows a run reported."""
    reported = 0
    rng = random.Random(f"{SEED} {feed}")
    command = [str(TRUSTREG), "import", feed, str(path), "--progress-lines"]
    for _ in range(kills):
        process = subprocess.Popen(
            command,
            cwd=world.tmp,
            env=world.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its reader process, if any, dies with it
        )
        assert process.stderr is not None
        chunks = rng.randint(0, 6)
        lines = [process.stderr.readline() for _ in range(chunks)]
        time.sleep(rng.uniform(0.0, 0.03) if chunks else rng.uniform(0.5, 1.5))
        _kill_group(process)
        lines += process.stderr.readlines()  # what it printed before it died
        process.stderr.close()
        counts = [int(m.group(1)) for line in lines if (m := COMMITTED.match(line))]
        reported = max([reported, *counts])
        assert stored(reported) == set(range(1, reported + 1))
    done = subprocess.run(
        command, cwd=world.tmp, env=world.env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert " 0 rejected" in done.stdout, done.stdout
    return reported


def _kill_group(process: subprocess.Popen[Any]) -> None:
    """SIGKILL the process and all it started (its own session), as a crash would."""
    with contextlib.suppress(ProcessLookupError):  # it had ended
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


# ------------------------------------------------------------------ the server


def call(url: str, token: str, body: Any = None) -> int:
    """The status of one request (0: no answer), on a new connection."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data, {"Authorization": f"Bearer {token}"})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=20) as answer:
            answer.read()
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return error.code
    except (OSError, http.client.HTTPException):  # refused, reset, or cut off by the kill
        # (a body cut off mid-read is an IncompleteRead: not acknowledged either)
        return 0


@dataclass
class Clients:
    """An authority submitting records and a checker looking persons up, until stopped."""

    world: World
    url: str
    persons: list[int]
    next_ref: int
    acknowledged: list[str] = field(default_factory=list)
    looked_up: int = 0
    errors: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def submit(self) -> None:
        while not self.stop.is_set():
            self.submit_once()

    def submit_once(self) -> int:
        """Submit 25 new records about known and new subjects; returns the status."""
        rng = random.Random(self.next_ref)
        refs = [f"api-{self.next_ref + i}" for i in range(25)]
        self.next_ref += len(refs)
        rows = [record_of(1, rng.randint(1, 1600), ref) for ref in refs]
        for row in rows:
            del row["authority"]  # the token's
        status = call(f"{self.url}/api/v1/records", self.world.authority_token, rows)
        if 200 <= status < 300:
            self.acknowledged += refs
        elif status:
            self.errors.append(f"records: {status}")
        return status

    def look_up(self) -> None:
        rng = random.Random(-self.next_ref)
        while not self.stop.is_set():
            subject = rng.choice(self.persons)
            path = f"/api/v1/subjects/{subject}?purpose=contract"
            status = call(self.url + path, self.world.checker_token)
            if status == 200:
                self.looked_up += 1
            elif status:
                self.errors.append(f"look-up: {status}")


def start_server(world: World, port: int) -> subprocess.Popen[bytes]:
    command = [str(TRUSTREG), "serve", "--port", str(port), "--workers", "2"]
    with (world.tmp / "server.log").open("ab") as log:
        process = subprocess.Popen(
            command, cwd=world.tmp, env=world.env, stdout=log, stderr=log, start_new_session=True
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if call(f"http://127.0.0.1:{port}/api/v1/subjects/1", "none") == 200:
            return process
        assert process.poll() is None, (world.tmp / "server.log").read_text()
        time.sleep(0.1)
    raise AssertionError((world.tmp / "server.log").read_text())


def server_killed(world: World, persons: list[int], kills: int) -> Clients:
    """Serve, submit and look up, kill at a random moment; ``kills`` times, then once
    more to see it answer again. One kill takes the parent alone (as the OOM killer
    may): its workers must end with it, or they would serve next to the new ones."""
    port = free_port()
    clients = Clients(world, f"http://127.0.0.1:{port}", persons, next_ref=1)
    rng = random.Random(f"{SEED} server")
    for kill in range(kills):
        server = start_server(world, port)
        workers = workers_of(server)
        threads = [
            threading.Thread(target=work, daemon=True) for work in (clients.submit, clients.look_up)
        ]
        clients.stop.clear()
        for thread in threads:
            thread.start()
        try:
            time.sleep(rng.uniform(0.5, 2.0))
            if kill == 1:
                server.kill()
                _gone, alive = psutil.wait_procs(workers, timeout=20)
                assert alive == [], "workers outlived their killed parent"
        finally:
            _kill_group(server)
            clients.stop.set()
            for thread in threads:
                thread.join(timeout=60)
    server = start_server(world, port)
    try:
        assert clients.submit_once() == 200
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    finally:
        _kill_group(server)
    return clients


def workers_of(server: subprocess.Popen[bytes]) -> list[psutil.Process]:
    parent = psutil.Process(server.pid)
    deadline = time.monotonic() + 30
    while len(children := parent.children()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    return children


# ------------------------------------------------------------------ what is stored


def reference_counts(factory: sessionmaker[Session]) -> dict[str, int]:
    with transaction(factory) as session:
        rows = session.execute(
            select(Record.reference, func.count()).group_by(Record.authority_id, Record.reference)
        )
        counts: dict[str, int] = {}
        for ref, n in rows:
            counts[ref] = counts.get(ref, 0) + n
        return counts


def identifier_counts(factory: sessionmaker[Session]) -> dict[str, int]:
    with transaction(factory) as session:
        rows = session.execute(
            select(Identifier.value_hash, func.count()).group_by(
                Identifier.scheme, Identifier.value_hash
            )
        )
        return {row[0]: row[1] for row in rows}


def stored_records(factory: sessionmaker[Session], rows: int) -> set[int]:
    """Which of the records file's rows 1..``rows`` are stored (by their reference)."""
    wanted = {reference(n): n for n in range(1, rows + 1)}
    with transaction(factory) as session:
        found = session.scalars(select(Record.reference).where(Record.reference.in_(wanted)))
        return {wanted[ref] for ref in found}


def stored_subjects(factory: sessionmaker[Session], rows: int) -> set[int]:
    """Which of the subjects file's rows 1..``rows`` are stored (by their identifier)."""
    wanted = {hash_of(n): n for n in range(1, rows + 1)}
    with transaction(factory) as session:
        found = session.scalars(
            select(Identifier.value_hash).where(Identifier.value_hash.in_(wanted))
        )
        return {wanted[digest] for digest in found}


def hash_of(n: int) -> str:
    scheme, value = ("ric", ric(n // 10)) if person(n) else ("uscc", uscc(n))
    return identifier_hash(KEY, IdentifierValue(scheme, value))


def standings(factory: sessionmaker[Session]) -> tuple[int, dict[int, tuple[Any, ...]], list[Any]]:
    """The subject count, every stored assessment (less the explanation, which only the
    batch writes) and every open list entry."""
    with transaction(factory) as session:
        subjects = session.scalar(select(func.count()).select_from(Subject)) or 0
        stored = {
            a.subject_id: (a.as_of, a.rulebook_version, a.points, a.grade, a.lists, a.next_change)
            for a in session.scalars(select(Assessment))
        }
        entries = session.execute(
            select(ListEntry.subject_id, ListEntry.list_code, ListEntry.entered_on)
            .where(ListEntry.ended_on.is_(None))
            .order_by(ListEntry.subject_id, ListEntry.list_code)
        ).all()
        return subjects, stored, [tuple(e) for e in entries]


def person_checks(factory: sessionmaker[Session]) -> int:
    with transaction(factory) as session:
        query = select(func.count()).where(AuditEntry.action == PERSON_CHECK)
        return session.scalar(query.select_from(AuditEntry)) or 0


# ------------------------------------------------------------------ the test


def test_killed_imports_and_servers_lose_and_duplicate_nothing(world: World) -> None:
    subjects_file = write_subjects(
        world.tmp / "subjects.csv", [subject_of(n) for n in range(1, SUBJECTS + 1)]
    )
    records_file = write_csv(
        world.tmp / "records.csv",
        [record_of(n, 1 + (n * 7) % 1500, reference(n)) for n in range(1, RECORDS + 1)],
    )
    subjects_reported = import_killed(
        world, "subjects", subjects_file, 1, lambda n: stored_subjects(world.factory, n)
    )
    with transaction(world.factory) as session:
        wanted = [hash_of(n) for n in range(1, SUBJECTS + 1) if person(n)]
        query = select(Identifier.subject_id).where(Identifier.value_hash.in_(wanted))
        persons = list(session.scalars(query))
    # The records import and the server write at the same time, and are killed apart.
    with ThreadPoolExecutor(1) as pool:
        importing = pool.submit(
            import_killed,
            world,
            "records",
            records_file,
            3,
            lambda n: stored_records(world.factory, n),
        )
        clients = server_killed(world, persons, kills=3)
        records_reported = importing.result()
    assert clients.errors == []
    assert clients.acknowledged  # the kills left them some time
    assert clients.looked_up
    assert subjects_reported > 0  # some kills came after a commit
    assert records_reported > 0

    refs = reference_counts(world.factory)
    assert [r for r, n in refs.items() if n != 1] == []
    assert {reference(n) for n in range(1, RECORDS + 1)} <= refs.keys()  # the file, whole
    assert set(clients.acknowledged) <= refs.keys()
    identifiers = identifier_counts(world.factory)
    assert [d for d, n in identifiers.items() if n != 1] == []
    assert {hash_of(n) for n in range(1, SUBJECTS + 1)} <= identifiers.keys()

    assert person_checks(world.factory) >= clients.looked_up
    verified = audit.verify(world.factory)  # what `trustreg audit verify` reports
    assert verified.intact, verified.summary()

    subjects, stored, entries = standings(world.factory)
    assert len(stored) == subjects
    assert entries  # the records list their subjects: something to re-evaluate
    today = datetime.now(UTC).date()
    with transaction(world.factory) as session:
        rules = queries.rulebook_in_force(session, today)
    rate_all(world.factory.kw["bind"], rules, today, workers=1)  # `trustreg rate --all`
    assert standings(world.factory) == (subjects, stored, entries)
