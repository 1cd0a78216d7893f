"""Building the demo registry: generated feeds imported through the real import path."""

from __future__ import annotations

import csv
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

from rich.console import Console
from sqlalchemy.orm import Session, sessionmaker

from trustreg import demo
from trustreg.config import Settings
from trustreg.errors import Conflict
from trustreg.services import assessments, ingest, registry, tender_check
from trustreg.services.demo_accounts import create_demo_accounts
from trustreg.services.eligibility import EligibilityQuery
from trustreg.store.db import make_engine, transaction
from trustreg.store.models import Subject
from trustreg.store.queries import count_rows

# The demo is built as of a fixed date so the same seed always gives the same registry.
DEMO_TODAY = date(2026, 11, 1)
TENDER_BIDDERS = 1000
COUNTERPARTIES = 500


def demo_settings(settings: Settings) -> Settings:
    """The demo keeps its own SQLite file unless a database URL is configured."""
    if settings.database_url:
        return settings
    url = f"sqlite:///{(settings.data_dir / 'demo.db').resolve()}"
    return settings.model_copy(update={"database_url": url})


def build_demo(settings: Settings, n_subjects: int, seed: int, console: Console) -> str:
    """Build the demo registry from scratch in ``demo_settings(settings)``'s store.

    The demo's own SQLite file is replaced; a configured store must be empty.
    Returns a one-line summary.
    """
    started = time.perf_counter()
    if not settings.database_url:
        settings = demo_settings(settings)
        _remove_sqlite(settings)
    factory = registry.initialise(
        make_engine(settings.sqlalchemy_url, **settings.engine_options),
        settings.rulebook,
        settings.identifier_key,
    )
    with transaction(factory) as session:
        if count_rows(session, Subject):
            raise Conflict(
                "the configured store already holds subjects; the demo needs an "
                "empty one (unset TRUSTREG_DATABASE_URL to use var/demo.db)"
            )
    for authority in demo.demo_authorities():
        registry.add_authority(
            factory, authority.code, authority.kind, authority.name, actor="demo"
        )
    folder = settings.data_dir / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    subjects = list(demo.generate_subjects(n_subjects, seed, DEMO_TODAY))
    subjects_csv = _write_csv(folder / "subjects.csv", demo.SUBJECT_COLUMNS, subjects)
    records = list(demo.generate_records(subjects, seed, DEMO_TODAY))
    records_csv = _write_csv(folder / "records.csv", demo.RECORD_COLUMNS, records)
    options = ingest.ImportOptions(
        identifier_key=settings.identifier_key,
        actor="demo",
        chunk_rows=settings.import_chunk_rows,
    )
    reports = []
    for feed, path in (("subjects", subjects_csv), ("records", records_csv)):
        with console.status(f"importing {path.name}"):
            reports.append(ingest.import_file(factory, feed, path, options))
    with console.status("expiring records past their publicity"):
        maintenance = assessments.maintain(factory)
    elapsed = time.perf_counter() - started
    people = create_demo_accounts(factory, datetime.now(UTC))
    tender = _tender_check(factory, folder, subjects, records, seed, settings.identifier_key)
    _write_csv(
        folder / "counterparties.csv",
        demo.COUNTERPARTY_COLUMNS,
        demo.counterparties(subjects, seed, COUNTERPARTIES),
    )
    return (
        f"demo registry built in {elapsed:.1f} s: {reports[0].created} subjects, "
        f"{reports[1].created} records ({maintenance.expired} past their publicity), "
        f"{reports[0].rejected + reports[1].rejected} rejected "
        f"({settings.sqlalchemy_url}; feeds in {folder})\n{tender}\n{people}"
    )


def _tender_check(
    factory: sessionmaker[Session],
    folder: Path,
    subjects: Sequence[dict[str, str]],
    records: Sequence[dict[str, str]],
    seed: int,
    identifier_key: str,
) -> str:
    """A procurement office's check of every bidder of a tender, as a user runs it."""
    bidders = demo.tender_bidders(subjects, records, seed, TENDER_BIDDERS)
    source = _write_csv(folder / "tender_bidders.csv", demo.BIDDER_COLUMNS, bidders)
    target = folder / "tender_bidders.answers.csv"
    query = EligibilityQuery("public_procurement", actor="demo")
    report = tender_check.check_file(factory, source, target, query, identifier_key=identifier_key)
    return (
        f"tender check: {report.rows:,} bidders for public_procurement in "
        f"{report.seconds:.2f} s: {report.eligible:,} eligible, {report.restricted:,} "
        f"restricted, {report.excluded:,} excluded → {target}\n"
        f"  again: trustreg eligibility --decision public_procurement --file {source}\n"
        f"a customer file to screen: trustreg screen {folder / 'counterparties.csv'} "
        f"-o {folder / 'counterparties.results.csv'}"
    )


def _remove_sqlite(settings: Settings) -> None:
    path = Path(settings.sqlalchemy_url.removeprefix("sqlite:///"))
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _write_csv(path: Path, columns: Sequence[str], rows: Iterable[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)
    return path
