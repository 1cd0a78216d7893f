"""Benchmark: re-rate every subject of a large SQLite store with ``rate_all``.

    .venv/bin/python bench/rate_all.py [--subjects 1000000] [--records N] [--workers 2]

Builds, once, a SQLite store with generated subjects and records (five per subject by
default), each record with its status history, written straight into the tables in
bulk; it is kept in ``--workdir`` and reused by later runs (which then time a
re-rating, replacing the assessments the first run stored). The records are what a
store keeps: 40% of subjects have none, the others a long tail; each record took
effect within its type's publicity and retention periods (older ones are purged), one
in two hundred takes effect in the coming month, and some have a second history entry
(satisfied, repaired or revoked). Then times
``trustreg.batch.rate.rate_all`` over it and one subject's ``core.rating.evaluate``
(median of many calls on a subject with about five records). Targets (issue "Ratings,
lists and time"): rate_all of 1,000,000 subjects and 5,000,000 records in at most 60 s
on 2 cores; evaluate at most 1 ms (median).
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from trustreg.batch.rate import rate_all
from trustreg.config import REPO_ROOT
from trustreg.core.rating import RecordVersion, evaluate, facts_as_known
from trustreg.core.rulebook import Rulebook
from trustreg.demo import MODEL_RECORD_TYPES, demo_authorities
from trustreg.demo_tables import SOURCES, TYPE_WEIGHTS
from trustreg.services import registry
from trustreg.store.db import make_engine

AS_OF = date(2026, 11, 1)
RULEBOOK = REPO_ROOT / "rulebooks" / "model.toml"
TIMESTAMP = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy keeps datetimes in SQLite
SUBJECT_KINDS = (
    ("legal_entity", 0.72), ("other_org", 0.08), ("individual", 0.12),
    ("foreign_entity", 0.05), ("foreign_individual", 0.03),
)  # fmt: skip
COMMIT_SUBJECTS = 50_000
Row = tuple[object, ...]


def _types_by_kind() -> dict[str, tuple[list[str], list[float]]]:
    by_kind: dict[str, tuple[list[str], list[float]]] = {}
    for kind, _share in SUBJECT_KINDS:
        codes = [code for code, kinds, _ in MODEL_RECORD_TYPES if kind in kinds]
        by_kind[kind] = (codes, [TYPE_WEIGHTS[c] for c in codes])
    return by_kind


def _record_counts(rng: random.Random, subjects: int, records: int) -> list[int]:
    """Records per subject: 40% have none, the rest a long tail; exactly ``records`` in all."""
    if subjects == 0:
        return []
    mean = records / subjects / 0.6
    counts = [
        0 if rng.random() < 0.4 else 1 + int(rng.expovariate(1 / mean)) for _ in range(subjects)
    ]
    total = sum(counts)
    while total != records:
        i = rng.randrange(subjects)
        if total < records:
            counts[i] += 1
            total += 1
        elif counts[i] > 0:
            counts[i] -= 1
            total -= 1
    return counts


class _Generator:
    """Draws subject, record and history rows in id order (indexes grow at their end)."""

    def __init__(
        self, seed: int, authorities: dict[str, list[tuple[int, str]]], rulebook: Rulebook
    ) -> None:
        self.rng = random.Random(seed)
        self.authorities = authorities
        self.types = _types_by_kind()
        self.kinds = [k for k, _ in SUBJECT_KINDS]
        self.shares = [s for _, s in SUBJECT_KINDS]
        self.record_id = 0
        self.entry_id = 0
        self.now = datetime(2026, 11, 1, 3, 0, tzinfo=UTC).strftime(TIMESTAMP)
        self.authority_for = {code: kinds for code, _kinds, kinds in MODEL_RECORD_TYPES}
        # A store keeps a record until its publicity and retention are over, then purges it.
        self.kept_days = {
            code: rule.publicity_days + rule.retention_days
            for code, rule in rulebook.record_types.items()
        }

    def subject(self, subject_id: int) -> tuple[object, ...]:
        kind = self.rng.choices(self.kinds, self.shares)[0]
        person = kind in ("individual", "foreign_individual")
        born = date(1950, 1, 1) + timedelta(days=self.rng.randrange(20_000)) if person else None
        registered = None if person else date(1995, 1, 1) + timedelta(self.rng.randrange(11_000))
        return (
            subject_id, kind, f"Bench subject {subject_id}", "CN", None,
            born.isoformat() if born else None, registered.isoformat() if registered else None,
            self.now, self.now,
        )  # fmt: skip

    def records(self, subject_id: int, kind: str, count: int) -> Iterator[tuple[Row, list[Row]]]:
        codes, weights = self.types[kind]
        for code in self.rng.choices(codes, weights, k=count):
            self.record_id += 1
            authority_id, abbr = self.rng.choice(
                [a for k in self.authority_for[code] for a in self.authorities.get(k, [])]
            )
            # Still kept (not purged); one in two hundred takes effect in the coming month.
            soon = self.rng.random() < 0.005
            kept = self.kept_days[code]
            offset = self.rng.randrange(1, 30) if soon else -self.rng.randrange(kept)
            effective = AS_OF + timedelta(days=offset)
            decided = effective - timedelta(days=self.rng.randrange(0, 21))
            status, since, history = self._history(code, effective)
            record = (
                self.record_id, authority_id, f"({decided.year}){abbr}{self.record_id}号", code,
                subject_id, decided.isoformat(), effective.isoformat(), None, None, status,
                since.isoformat(), "bench record", "bench", self.now, self.now,
            )  # fmt: skip
            yield record, history

    def _history(self, code: str, effective: date) -> tuple[str, date, list[Row]]:
        """Submitted, then now and then revoked, satisfied (defaulters) or repaired."""
        submitted = datetime.combine(effective, datetime.min.time(), UTC) + timedelta(
            seconds=self.rng.randrange(86_400 * 3), microseconds=self.rng.randrange(1_000_000)
        )
        entries = [(effective, "active", submitted)]
        draw = self.rng.random()
        later = self.rng.randrange(1, 800)
        change = None
        if draw < 0.01:
            change = "revoked"
        elif draw < 0.2 and code == "judgment_defaulter":
            change = "satisfied"
        elif draw < 0.1 and code.startswith("admin_penalty"):
            change = "repaired"
        if change and effective + timedelta(days=later) <= AS_OF:  # only what has happened
            at = submitted + timedelta(days=later, hours=self.rng.randrange(48))
            entries.append((effective + timedelta(days=later), change, at))
        rows: list[Row] = []
        for since, status, at in entries:
            self.entry_id += 1
            rows.append(
                (self.entry_id, self.record_id, status, at.strftime(TIMESTAMP), "bench",
                 "submitted" if status == "active" else f"marked {status}", code,
                 effective.isoformat(), since.isoformat())
            )  # fmt: skip
        return entries[-1][1], entries[-1][0], rows


def build_store(db: Path, subjects: int, records: int, seed: int) -> None:
    """Create the store (schema, rulebook, authorities) and fill it in bulk."""
    started = time.perf_counter()
    engine = make_engine(f"sqlite:///{db}")
    factory = registry.initialise(engine, RULEBOOK)
    for authority in demo_authorities():
        registry.add_authority(factory, authority.code, authority.kind, authority.name)
    engine.dispose()
    connection = sqlite3.connect(db)
    connection.execute("PRAGMA synchronous=OFF")
    by_kind: dict[str, list[tuple[int, str]]] = {}
    abbrs = {s.code: s.abbr for s in SOURCES}
    for authority_id, code, kind in connection.execute("SELECT id, code, kind FROM authorities"):
        by_kind.setdefault(kind, []).append((authority_id, abbrs[code]))
    generator = _Generator(seed, by_kind, registry.read_rulebook(RULEBOOK))
    counts = _record_counts(generator.rng, subjects, records)
    for start in range(0, subjects, COMMIT_SUBJECTS):
        _insert_slice(connection, generator, counts, start, min(subjects, start + COMMIT_SUBJECTS))
        print(f"  built {min(subjects, start + COMMIT_SUBJECTS):,} subjects", end="\r", flush=True)
    connection.execute("ANALYZE")
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    print(f"built {db} in {time.perf_counter() - started:.0f} s" + " " * 20)


def _insert_slice(
    connection: sqlite3.Connection,
    generator: _Generator,
    counts: Sequence[int],
    start: int,
    end: int,
) -> None:
    subject_rows, record_rows, history_rows = [], [], []
    for index in range(start, end):
        row = generator.subject(index + 1)
        subject_rows.append(row)
        for record, history in generator.records(index + 1, str(row[1]), counts[index]):
            record_rows.append(record)
            history_rows.extend(history)
    with connection:
        connection.executemany(
            "INSERT INTO subjects (id, kind, display_name, country, region, birth_date, "
            "registered_on, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            subject_rows,
        )
        connection.executemany(
            "INSERT INTO records (id, authority_id, reference, record_type, subject_id, "
            "decided_on, effective_from, amount_cents, currency, status, status_since, summary, "
            "source_file, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            record_rows,
        )
        connection.executemany(
            "INSERT INTO record_status_history (id, record_id, status, changed_at, actor, reason, "
            "record_type, effective_from, status_since) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            history_rows,
        )


def subject_versions(db: Path, records: int) -> tuple[int, list[RecordVersion]]:
    """A subject with about ``records`` records, and their versions."""
    connection = sqlite3.connect(db)
    try:
        subject_id = connection.execute(
            "SELECT subject_id FROM records GROUP BY subject_id HAVING count(*) = ? LIMIT 1",
            (records,),
        ).fetchone()[0]
        rows = connection.execute(
            "SELECT h.record_id, h.id, h.changed_at, h.record_type, h.effective_from, h.status, "
            "h.status_since, r.reference FROM record_status_history h "
            "JOIN records r ON r.id = h.record_id WHERE r.subject_id = ?",
            (subject_id,),
        ).fetchall()
    finally:
        connection.close()
    versions = [
        RecordVersion(
            r[0],
            r[1],
            datetime.strptime(r[2], TIMESTAMP).replace(tzinfo=UTC),
            r[3],
            date.fromisoformat(r[4]),
            r[5],
            date.fromisoformat(r[6]),
            r[7],
        )
        for r in rows
    ]
    return subject_id, versions


def time_evaluate(db: Path, rulebook: Rulebook, calls: int) -> None:
    subject_id, versions = subject_versions(db, 5)
    facts = facts_as_known(versions, AS_OF)
    timings = []
    for _ in range(calls):
        started = time.perf_counter_ns()
        evaluate(subject_id, facts, rulebook, AS_OF)
        timings.append(time.perf_counter_ns() - started)
    whole = []
    for _ in range(calls):
        started = time.perf_counter_ns()
        assessment = evaluate(subject_id, facts_as_known(versions, AS_OF), rulebook, AS_OF)
        json.dumps(assessment.to_dict(), ensure_ascii=False)
        whole.append(time.perf_counter_ns() - started)
    print(
        f"evaluate, subject {subject_id} with {len(facts)} records: median "
        f"{statistics.median(timings) / 1000:.1f} µs over {calls:,} calls (target <= 1,000 µs); "
        f"with facts_as_known, to_dict and json.dumps: {statistics.median(whole) / 1000:.1f} µs"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subjects", type=int, default=1_000_000)
    parser.add_argument("--records", type=int, default=None, help="default: 5 per subject")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--calls", type=int, default=10_000, help="evaluate calls to time")
    parser.add_argument("--output", type=Path, default=None, help="also write this Parquet")
    parser.add_argument(
        "--fresh", action="store_true", help="clear assessments and list entries: a first rating"
    )
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "trustreg-bench-rate"
    )
    args = parser.parse_args()
    records = args.records if args.records is not None else 5 * args.subjects
    args.workdir.mkdir(parents=True, exist_ok=True)
    db = args.workdir / f"registry-v2-{args.subjects}-{records}-{args.seed}.db"
    done = db.with_suffix(".built")
    if not done.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        build_store(db, args.subjects, records, args.seed)
        done.touch()
    else:
        print(f"reusing {db}")

    rulebook = registry.read_rulebook(RULEBOOK)
    with sqlite3.connect(db) as connection:
        if args.fresh:
            connection.execute("DELETE FROM assessments")
            connection.execute("DELETE FROM list_entries")
        stored = connection.execute("SELECT count(*) FROM assessments").fetchone()[0]
    print(f"{stored:,} assessments stored before: a {'re-' if stored else 'first '}rating")
    engine = make_engine(f"sqlite:///{db}")
    started = time.perf_counter()
    summary = rate_all(engine, rulebook, AS_OF, output=args.output, workers=args.workers)
    elapsed = time.perf_counter() - started
    engine.dispose()
    print(
        f"rate_all: {summary.subjects:,} subjects, {summary.records:,} records in "
        f"{elapsed:.1f} s on {args.workers} workers: {summary.subjects / elapsed:,.0f} subjects/s "
        "(target <= 60 s for 1,000,000 subjects)"
    )
    print("  steps " + ", ".join(f"{k} {v:.1f} s" for k, v in summary.steps.items()))
    print(f"  grades {dict(sorted(summary.grades.items()))}")
    print(f"  lists {dict(sorted(summary.lists.items()))}")
    time_evaluate(db, rulebook, args.calls)


if __name__ == "__main__":
    main()
