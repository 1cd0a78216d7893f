"""What the scale benchmark runs on: synthetic snapshot folders and screening files.

A snapshot of N subjects is written straight as Parquet (no store, no import) in the
layout of ``trustreg snapshot`` (``batch.snapshot_files``): its tables, columns, Parquet
types and manifest, so ``open_snapshot`` and both engines read it as a real one. It is
made once per size in the work folder and reused (``bench/scale.py --prepare-only``
makes only these).

- subjects, names, identifiers: ``demo.generate_subjects`` in one stream (Han and Latin
  names, aliases, valid numbers unique in the stream), a person's number masked and
  hashed under :data:`BENCH_KEY` as the store keeps it; a part file per million subjects;
- records: drawn in DuckDB SQL as ``bench/rate_all.py`` draws them (40 % of subjects
  with none, a long tail, five per subject on average, types by subject kind, dates
  within publicity and retention, some later satisfied, repaired or revoked: a second
  version), one row per version, in the subjects' parts;
- assessments: none (a store never rated), with the table's schema;
- manifest: the bench's own store (``trustreg init``) read by ``snapshot_files.describe``
  and written by the function ``write_snapshot`` uses.

Screening files (:func:`queries_for`) are drawn from a sample kept beside the snapshot.
"""

from __future__ import annotations

import csv
import json
import math
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import duckdb
import opencc
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from rate_all import AS_OF, RULEBOOK, _types_by_kind
from screening_speed_data import QUERY_COLUMNS, english
from trustreg import demo
from trustreg.batch import snapshot
from trustreg.batch.snapshot import ASSESSMENTS, IDENTIFIERS, NAMES, RECORDS, SUBJECTS
from trustreg.batch.snapshot_files import describe, write_manifest
from trustreg.batch.steps import BatchError, duck, sql_path
from trustreg.core.identifiers import Identifier, identifier_hash, stored_identifier
from trustreg.core.names import name_forms
from trustreg.core.vocabulary import PERSON_KINDS
from trustreg.demo_tables import SOURCES
from trustreg.services.registry import read_rulebook

BENCH_KEY = "trustreg-scale-bench-identifier-key"  # the store's and the snapshot's
GENERATION = 1  # part of a cached snapshot's name: change it when the data drawn changes
PART_SUBJECTS = 1_000_000  # subjects per part file: readers split the work by files
SAMPLE_SUBJECTS = 100_000  # kept in clear for the screening files
TYPE_BUCKETS = 1_000  # a record type is drawn as one of this many equal shares
RULES_SCHEMA = pa.schema(
    # Days as INTEGER: DuckDB adds those to a DATE, not a BIGINT.
    [("code", pa.string()), ("kept_days", pa.int32()), ("notice_days", pa.int32()),
     ("abbrs", pa.list_(pa.string()))]
)  # fmt: skip
TRUSTREG = Path(sys.executable).parent / "trustreg"
Row = dict[str, str]


def bench_env(work: Path) -> dict[str, str]:
    """The environment of every ``trustreg`` child: the bench's store, key and Spark."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTREG_")}
    store = (work / "store").resolve()
    return env | {
        "TRUSTREG_DATABASE_URL": f"sqlite:///{store / 'registry.db'}",
        "TRUSTREG_DATA_DIR": str(store / "var"),
        "TRUSTREG_IDENTIFIER_KEY": BENCH_KEY,
        # Else Spark binds to the first network interface it finds.
        "SPARK_LOCAL_IP": "127.0.0.1",
    }


def ensure_store(work: Path) -> Path:
    """The bench's SQLite store (made by ``trustreg init`` the first time): screening
    logs the persons it shows there, and the manifest is read from it."""
    db = work / "store" / "registry.db"
    if not db.is_file():
        db.parent.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [str(TRUSTREG), "init"], env=bench_env(work), capture_output=True, text=True
        )
        if done.returncode != 0:
            sys.exit(f"trustreg init exited {done.returncode}: {done.stderr[-2000:]}")
    return db


@dataclass(frozen=True)
class Generated:
    """A snapshot folder and what making it cost (the first time; kept in ``made.json``)."""

    folder: Path
    subjects: int
    rows: dict[str, int]
    seconds: float
    disk_mib: float
    reused: bool = False


def snapshot_for(work: Path, subjects: int, per_subject: float, seed: int) -> Generated:
    """The snapshot of ``subjects`` subjects in ``work``, made once and then reused."""
    home = work / f"n{subjects}-r{per_subject:g}-s{seed}-g{GENERATION}"
    made = home / "made.json"
    if made.is_file() and (home / "snapshot" / "manifest.json").is_file():
        saved = json.loads(made.read_text(encoding="utf-8"))
        return Generated(**saved | {"folder": Path(saved["folder"]), "reused": True})
    store = ensure_store(work)
    started = time.perf_counter()
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    # Built beside its place and renamed into it, as write_snapshot does: a folder with
    # a manifest is always whole.
    building = Path(tempfile.mkdtemp(prefix=".snapshot-", dir=home))
    try:
        rows = _generate(building, home / "sample.parquet", subjects, per_subject, seed)
        with closing(sqlite3.connect(store)) as connection:
            described = describe(connection.cursor())
        write_manifest(building, rows, described, "sqlite")
        building.rename(home / "snapshot")
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    folder = home / "snapshot"
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    generated = Generated(folder, subjects, rows, time.perf_counter() - started, size / 2**20)
    saved = asdict(generated) | {"folder": str(folder)}
    made.write_text(json.dumps({k: v for k, v in saved.items() if k != "reused"}, indent=2))
    return generated


def _generate(
    folder: Path, sample: Path, subjects: int, per_subject: float, seed: int
) -> dict[str, int]:
    """Every table of the snapshot into ``folder``; rows per table, in manifest order."""
    for table in (RECORDS, SUBJECTS, NAMES, IDENTIFIERS, ASSESSMENTS):
        (folder / table.name).mkdir()
    parts = _parts(subjects)
    written = _write_subjects(folder, sample, subjects, parts, seed)
    records = _write_records(folder, parts, per_subject, seed)
    empty = snapshot.schema(ASSESSMENTS.columns).empty_table()
    pq.write_table(empty, folder / ASSESSMENTS.name / "part-0.parquet")
    return {RECORDS.name: records, **written, ASSESSMENTS.name: 0}


def _parts(subjects: int) -> list[tuple[int, int]]:
    """Subject-id ranges, one per part file (ids 1..subjects)."""
    count = max(2, math.ceil(subjects / PART_SUBJECTS))
    size = math.ceil(subjects / count)
    return [(low, min(subjects, low + size - 1)) for low in range(1, subjects + 1, size)]


def _duckdb(spill: str | None) -> duckdb.DuckDBPyConnection:
    """The generator's DuckDB: bounded, and quiet in a log (no progress bars)."""
    spills = {"temp_directory": spill} if spill else {}
    con = duckdb.connect(config={"threads": 2, "memory_limit": "4GB", **spills})
    return duck(con, "configure", "SET enable_progress_bar = false")


# --- subjects, names, identifiers ---------------------------------------------------


class _Columns:
    """One part's rows of a table, column by column, written with the snapshot's schema."""

    def __init__(self, table: snapshot.SnapshotTable) -> None:
        self.table = table
        self.values: list[list[Any]] = [[] for _ in table.columns]

    def add(self, *row: Any) -> None:
        for column, value in zip(self.values, row, strict=True):
            column.append(value)

    def write(self, folder: Path, index: int) -> int:
        target = snapshot.schema(self.table.columns)
        # Dates come as ISO text ('' for none); Arrow parses them as the snapshot does.
        arrays = [
            pc.cast(pa.array([v or None for v in values], pa.string()), field.type)
            if pa.types.is_date(field.type)
            else pa.array(values, field.type)
            for values, field in zip(self.values, target, strict=True)
        ]
        path = folder / self.table.name / f"part-{index}.parquet"
        # Row groups as small as a real snapshot's: a worker reading one subject range
        # skips the others by their statistics.
        table = pa.table(arrays, schema=target)
        pq.write_table(table, path, row_group_size=snapshot.FETCH_ROWS, compression="snappy")
        return len(self.values[0])


def _write_subjects(
    folder: Path, sample: Path, subjects: int, parts: list[tuple[int, int]], seed: int
) -> dict[str, int]:
    """Subjects, names and identifiers, part by part, from one stream of demo subjects
    (one stream: its identifiers are unique); a uniform sample of the rows to ``sample``."""
    stream = demo.generate_subjects(subjects, seed, AS_OF)
    rng = random.Random(seed)
    share = min(1.0, SAMPLE_SUBJECTS / subjects)
    kept: list[Row] = []
    rows = {SUBJECTS.name: 0, NAMES.name: 0, IDENTIFIERS.name: 0}
    started = time.perf_counter()
    for index, (low, high) in enumerate(parts):
        tables = {t.name: _Columns(t) for t in (SUBJECTS, NAMES, IDENTIFIERS)}
        for subject_id in range(low, high + 1):
            row = next(stream)
            _add_subject(tables, subject_id, row, rows[NAMES.name] + len(tables["names"].values[0]))
            if rng.random() < share:
                kept.append(row | {"subject_id": str(subject_id)})
        for name, columns in tables.items():
            rows[name] += columns.write(folder, index)
        print(f"  subjects to {high:,}: {time.perf_counter() - started:.0f} s", flush=True)
    pq.write_table(pa.Table.from_pylist(kept), sample)
    return rows


def _add_subject(tables: dict[str, _Columns], subject_id: int, row: Row, names: int) -> None:
    """One demo row as the store keeps it (``names``: name rows before this one)."""
    name = row["name"]
    tables["subjects"].add(
        subject_id, row["kind"], name, row["country"], row["region"] or None, row["birth_date"]
    )
    # As an import names a subject: its name, then its other names as aliases.
    others = [n for n in row["alt_names"].split("|") if n and n != name]
    for offset, (text, kind) in enumerate([(name, "original"), *((n, "alias") for n in others)]):
        tables["names"].add(subject_id, names + offset + 1, text, kind)
    kept = stored_identifier(BENCH_KEY, Identifier(row["id_scheme"], row["id_value"]))
    # One identifier per subject: its id can be the subject's.
    tables["identifiers"].add(subject_id, subject_id, kept.scheme, kept.value, kept.value_hash)


# --- records ------------------------------------------------------------------------

RECORDS_SQL = """
WITH drawn AS (
  SELECT subject_id, kind, first_record + k + 1 AS record_id
  FROM (SELECT subject_id, kind, first_record, unnest(range(n)) AS k
        FROM counts WHERE subject_id BETWEEN {low} AND {high})
), dated AS (
  SELECT d.record_id, d.subject_id, t.code, r.notice_days, r.abbrs,
         {as_of} + CAST(CASE WHEN u(d.record_id, 'soon') < 0.005
                             THEN 1 + floor(u(d.record_id, 'offset') * 29)
                             ELSE -floor(u(d.record_id, 'offset') * r.kept_days) END
                        AS INTEGER) AS effective
  FROM drawn d
  JOIN type_shares t ON t.kind = d.kind
   AND t.bucket = CAST(floor(u(d.record_id, 'type') * {buckets}) AS INTEGER)
  JOIN rules r ON r.code = t.code
), changed AS (
  SELECT *,
         CAST(effective AS TIMESTAMP)
           + to_microseconds(CAST(floor(u(record_id, 'at') * 259200e6) AS BIGINT)) AS submitted,
         CAST(1 + floor(u(record_id, 'later') * 799) AS INTEGER) AS later,
         CASE WHEN u(record_id, 'change') < 0.01 THEN 'revoked'
              WHEN u(record_id, 'change') < 0.2 AND code = 'judgment_defaulter' THEN 'satisfied'
              WHEN u(record_id, 'change') < 0.1 AND code LIKE 'admin_penalty%' THEN 'repaired'
         END AS change,
         '(' || year(effective) || ')'
           || abbrs[1 + CAST(floor(u(record_id, 'authority') * len(abbrs)) AS INTEGER)]
           || record_id || '号' AS reference
  FROM dated
), versions AS (
  SELECT *, CASE WHEN notice_days > 0 THEN CAST(submitted AS DATE) + notice_days END
              AS published_from
  FROM changed
)
SELECT record_id, subject_id, reference, 2 * record_id - 1 AS entry_id, submitted AS changed_at,
       code AS record_type, effective AS effective_from, 'active' AS status,
       effective AS status_since, published_from
FROM versions
UNION ALL
SELECT record_id, subject_id, reference, 2 * record_id,
       submitted + to_days(later) + to_hours(CAST(floor(u(record_id, 'hours') * 48) AS BIGINT)),
       code, effective, change, effective + later, published_from
FROM versions WHERE change IS NOT NULL AND effective + later <= {as_of}
ORDER BY record_id, entry_id
"""


def _write_records(
    folder: Path, parts: list[tuple[int, int]], per_subject: float, seed: int
) -> int:
    """Every record version, in DuckDB, part by part (the subjects' parts); returns how
    many versions there are (what a snapshot counts as the records table's rows)."""
    versions = 0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="records-", dir=folder) as spill:
        con = _duckdb(spill)
        try:
            _record_inputs(con, folder, per_subject, seed)
            as_of = f"DATE '{AS_OF.isoformat()}'"
            for index, (low, high) in enumerate(parts):
                sql = RECORDS_SQL.format(low=low, high=high, as_of=as_of, buckets=TYPE_BUCKETS)
                versions += _copy(con, sql, folder / RECORDS.name / f"part-{index}.parquet")
                done = time.perf_counter() - started
                print(f"  records of subjects to {high:,}: {done:.0f} s", flush=True)
        finally:
            con.close()
    return versions


def _copy(con: duckdb.DuckDBPyConnection, sql: str, path: Path) -> int:
    """One part through Arrow, written with the snapshot's own schema (the real
    snapshot's types and nullability, whatever DuckDB would have inferred); its rows."""
    target = snapshot.schema(RECORDS.columns)
    try:
        reader = con.sql(sql).to_arrow_reader(snapshot.FETCH_ROWS)
    except duckdb.Error as exc:
        raise BatchError("draw records", sql, str(exc)) from exc
    rows = 0
    with pq.ParquetWriter(path, target, compression="snappy") as writer:
        for batch in reader:
            writer.write_table(pa.Table.from_batches([batch]).cast(target))
            rows += batch.num_rows
    return rows


def _record_inputs(
    con: duckdb.DuckDBPyConnection, folder: Path, per_subject: float, seed: int
) -> None:
    """The tables ``RECORDS_SQL`` draws from: records per subject, types, rules."""
    # A uniform draw in [0, 1) per (value, purpose): the same on every run and thread.
    duck(con, "macro", f"CREATE MACRO u(x, what) AS (hash(x, what, {seed}) >> 11) / 2.0 ** 53")
    # 40 % none, the others 1 + an exponential's floor, whose mean makes the average.
    nonzero = max(1.0, per_subject / 0.6)
    scale = 1 / math.log1p(1 / (nonzero - 1)) if nonzero > 1 else 0.0
    subjects = sql_path(folder / SUBJECTS.name / "*.parquet")
    counts = f"""
CREATE TABLE counts AS
SELECT subject_id, kind, n, sum(n) OVER (ORDER BY subject_id) - n AS first_record
FROM (SELECT subject_id, kind,
             CASE WHEN u(subject_id, 'none') < 0.4 THEN 0
                  ELSE 1 + CAST(floor(-ln(1 - u(subject_id, 'count')) * {scale}) AS BIGINT)
             END AS n
      FROM read_parquet({subjects}))
"""
    duck(con, "records per subject", counts)
    con.register("type_shares", _type_shares())
    con.register("rules", _rules())


def _type_shares() -> Any:
    """(kind, bucket, code): each kind's record types over ``TYPE_BUCKETS`` shares."""
    rows: list[tuple[str, int, str]] = []
    for kind, (codes, weights) in _types_by_kind().items():
        total, bounds, running = sum(weights), [], 0.0
        for weight in weights:
            running += weight
            bounds.append(running / total)
        for bucket in range(TYPE_BUCKETS):
            point = (bucket + 0.5) / TYPE_BUCKETS
            rows.append((kind, bucket, codes[next(i for i, b in enumerate(bounds) if point < b)]))
    return pa.table([list(c) for c in zip(*rows, strict=True)], names=["kind", "bucket", "code"])


def _rules() -> Any:
    """Per record type: days a store keeps it (publicity and retention, then purged),
    its notice days (0 when published at once) and its authorities' abbreviations."""
    rulebook = read_rulebook(RULEBOOK)
    authorities = {code: kinds for code, _subjects, kinds in demo.MODEL_RECORD_TYPES}
    rows = []
    for code, rule in rulebook.record_types.items():
        days = 0 if rule.publish_during_notice else rule.notice_days
        shown = [s.abbr for s in SOURCES if s.kind in authorities.get(code, ())] or ["bench"]
        rows.append((code, rule.publicity_days + rule.retention_days, days, shown))
    return pa.table([list(c) for c in zip(*rows, strict=True)], schema=RULES_SCHEMA)


# --- screening files ----------------------------------------------------------------

ID_SHARE = 0.2  # queries that give a number besides the name


@dataclass(frozen=True)
class Queries:
    """A screening file and what it holds."""

    path: Path
    rows: int
    registered: int  # names (in some spelling) of snapshot subjects
    strangers: int  # names and numbers the snapshot does not hold
    numbers: int
    persons: int
    seconds: float  # to make it


def queries_for(generated: Generated, count: int, seed: int) -> Queries:
    """``count`` queries against ``generated``, made once and then reused: half names of
    sampled subjects as a customer's file spells them, half drawn from another stream."""
    path = generated.folder.parent / f"queries-{count}-s{seed}.csv"
    facts = path.with_suffix(".json")
    if path.is_file() and facts.is_file():
        return Queries(**json.loads(facts.read_text(encoding="utf-8")) | {"path": path})
    started, rng = time.perf_counter(), random.Random(seed)
    sample = pq.read_table(generated.folder.parent / "sample.parquet").to_pylist()
    spell = _Spelling()
    known = [_query(rng, row, spell(rng, row)) for row in rng.choices(sample, k=count // 2)]
    others, strangers = _strangers(generated.folder, count - len(known), seed + 1_000_003)
    unknown = [_query(rng, row, row["name"]) for row in others]
    rows = known + unknown
    rng.shuffle(rows)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(QUERY_COLUMNS))
        writer.writeheader()
        for number, row in enumerate(rows, start=1):
            writer.writerow(row | {"ref": f"q{number}"})
    numbers = sum(1 for r in rows if r["id_scheme"])
    persons = sum(1 for r in rows if r["kind"] in PERSON_KINDS)
    spent = time.perf_counter() - started
    made = Queries(path, len(rows), len(known), strangers, numbers, persons, spent)
    facts.write_text(json.dumps(asdict(made) | {"path": str(path)}, indent=2), encoding="utf-8")
    return made


class _Spelling:
    """A registered name as a customer's file spells it: Han companies exact, in
    traditional characters, in pinyin/English or upper case; Han persons exact or in
    pinyin; Latin names exact, upper case or with two letters swapped."""

    def __init__(self) -> None:
        self.s2t = opencc.OpenCC("s2t")

    def __call__(self, rng: random.Random, row: Row) -> str:
        name, kind = row["name"], row["kind"]
        if row["country"] != "CN":
            return str(rng.choice((name, name.upper(), _swapped(rng, name))))
        if kind in PERSON_KINDS:
            words = name_forms(name, kind).translated
            pinyin = f"{words[0].capitalize()} {''.join(words[1:]).capitalize()}"
            return str(rng.choice((name, pinyin)))
        variant = rng.choice(("exact", "traditional", "english", "upper"))
        if variant == "traditional":
            return str(self.s2t.convert(name))
        if variant in ("english", "upper"):
            spelled = english(name, kind)
            return spelled.upper() if variant == "upper" else spelled
        return name


def _swapped(rng: random.Random, name: str) -> str:
    """``name`` with two neighbouring letters swapped (a typing slip)."""
    places = [i for i in range(len(name) - 1) if name[i].isalpha() and name[i + 1].isalpha()]
    if not places:
        return name
    i = rng.choice(places)
    return name[:i] + name[i + 1] + name[i] + name[i + 2 :]


def _query(rng: random.Random, row: Row, name: str) -> Row:
    """One line of the screening file (``ref`` set by the writer)."""
    person = row["kind"] in PERSON_KINDS
    number = (row["id_scheme"], row["id_value"]) if rng.random() < ID_SHARE else ("", "")
    birth = row["birth_date"] if person else ""
    return dict(zip(QUERY_COLUMNS, ("", name, row["kind"], *number, row["country"], birth,
                                    row["region"]), strict=True))  # fmt: skip


def _strangers(folder: Path, count: int, seed: int) -> tuple[list[Row], int]:
    """``count`` subjects of another stream, those whose name and number the snapshot
    does not hold first (at ten million subjects many person names are all taken);
    returns them and how many are strangers indeed."""
    drawn = list(demo.generate_subjects(count * 2, seed, AS_OF))
    candidates = pa.Table.from_pylist(
        [{"pos": pos, "name": r["name"], "value_hash": _hashed(r)} for pos, r in enumerate(drawn)]
    )
    con = _duckdb(None)
    try:
        con.register("candidates", candidates)
        names = sql_path(folder / NAMES.name / "*.parquet")
        numbers = sql_path(folder / IDENTIFIERS.name / "*.parquet")
        sql = f"""
SELECT c.pos FROM candidates c JOIN read_parquet({names}) n ON n.name = c.name
UNION
SELECT c.pos FROM candidates c JOIN read_parquet({numbers}) i ON i.value_hash = c.value_hash
"""
        held = {int(pos) for (pos,) in duck(con, "registered strangers", sql).fetchall()}
    finally:
        con.close()
    order = sorted(range(len(drawn)), key=lambda pos: (pos in held, pos))[:count]
    return [drawn[pos] for pos in order], sum(1 for pos in order if pos not in held)


def _hashed(row: Row) -> str:
    return identifier_hash(BENCH_KEY, Identifier(row["id_scheme"], row["id_value"]))
