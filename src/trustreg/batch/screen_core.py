"""The Python steps of batch screening, the same for every engine.

Batch screening (``batch.screen``) is the online index's method (``core.blocking``)
written as a relational plan: the parts that are rules of matching stay in the core
and run here, in whichever process an engine gives them (a DuckDB engine's worker, a
Spark Python worker), on Arrow batches:

- ``prepare_entries``: each subject of a snapshot as the online index sees it
  (``services.screening.entry_party``, ``core.matching.profile``), with the keys it is
  filed under (``core.blocking.keys``);
- ``prepare_queries``: each query of the screened file, likewise;
- ``score_groups``: each query against its candidates (``core.matching.compare``),
  with the rarity of words counted over the whole snapshot, ranked and decided.

What runs between them (counting keys, choosing each query's rarest keys, gathering
candidates) is SQL that both engines run as it is (``batch.screen_plan``). Keys are
carried as 64-bit hashes that are stable across processes and machines (Python's own
``hash`` of a string differs per process), so every engine counts and joins alike.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Iterator
from datetime import date
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]

from trustreg.core.blocking import keys, word_rarity
from trustreg.core.matching import Party, Profile, Thresholds, compare, profile, slim
from trustreg.services.screening import entry_party
from trustreg.store.screening import MAIN_SCHEMES, ScreeningEntry

# Columns of what ``prepare_entries`` and ``prepare_queries`` return.
PREPARED_FIELDS = [
    ("person", pa.bool_()),
    ("profile", pa.binary()),  # the slim profile, pickled
    ("keys", pa.list_(pa.int64())),  # every key, hashed
    ("words", pa.list_(pa.int64())),  # the name-word keys among them (their rarity)
]
ENTRY_SCHEMA = pa.schema([("subject_id", pa.int64()), *PREPARED_FIELDS])
QUERY_SCHEMA = pa.schema([("row_no", pa.int64()), *PREPARED_FIELDS])
ENTRY_DDL = "subject_id long, person boolean, profile binary, keys array<long>, words array<long>"
QUERY_DDL = "row_no long, person boolean, profile binary, keys array<long>, words array<long>"
# One query's answers: kept candidates (rank 1, 2, ...) or one no_match row (rank 0).
SCORED_SCHEMA = pa.schema(
    [
        ("row_no", pa.int64()),
        ("rank", pa.int64()),
        ("subject_id", pa.int64()),
        ("score", pa.float64()),
        ("decision", pa.string()),
        ("explanation", pa.string()),
        ("person", pa.bool_()),
    ]
)
SCORED_DDL = (
    "row_no long, rank long, subject_id long, score double, decision string, "
    "explanation string, person boolean"
)
WORD = "w:"  # the prefix of name-word keys (core.blocking.keys)


def key_hash(key: str) -> int:
    """A key's stable signed 64-bit hash."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


def _prepared(prepared: Profile) -> tuple[bool, bytes, list[int], list[int]]:
    # As the online index: a party with neither names nor numbers finds no one (its
    # birth date or address alone would find everyone born that day).
    found = keys(prepared) if prepared.names or prepared.identifiers else set()
    return (
        prepared.person,
        pickle.dumps(slim(prepared), protocol=pickle.HIGHEST_PROTOCOL),
        [key_hash(k) for k in found],
        [key_hash(k) for k in found if k.startswith(WORD)],
    )


def _batch(
    ids: list[int], prepared: list[tuple[bool, bytes, list[int], list[int]]], schema: Any
) -> Any:
    columns: list[Any] = list(zip(*prepared, strict=True)) if prepared else [[], [], [], []]
    arrays = [pa.array(ids, pa.int64())] + [
        pa.array(list(values), field.type)
        for values, field in zip(columns, list(schema)[1:], strict=True)
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _scheme_rank(identifier: dict[str, Any]) -> tuple[int, int]:
    scheme = identifier["scheme"]
    rank = MAIN_SCHEMES.index(scheme) if scheme in MAIN_SCHEMES else len(MAIN_SCHEMES)
    return rank, identifier["identifier_id"]


def entry_of(row: dict[str, Any]) -> ScreeningEntry:
    """A snapshot subject, with its ``names`` and ``identifiers`` (lists of structs
    with their ids), as the store's screening read gives it (``store.screening``)."""
    name = row["display_name"]
    names = sorted(row["names"] or (), key=lambda n: n["name_id"])
    return ScreeningEntry(
        subject_id=row["subject_id"],
        kind=row["kind"],
        name=name,
        other_names=tuple(n["name"] for n in names if n["name"] != name),
        identifiers=tuple(
            (i["scheme"], i["value"], i["value_hash"])
            for i in sorted(row["identifiers"] or (), key=_scheme_rank)
        ),
        country=row["country"],
        birth_date=row["birth_date"],
        region=row["region"],
    )


def prepare_entries(batches: Iterator[Any]) -> Iterator[Any]:
    """Arrow batches of snapshot subjects (``screen_plan.SUBJECTS_SQL``) prepared."""
    for batch in batches:
        rows = batch.to_pylist()
        prepared = [_prepared(profile(entry_party(entry_of(row)))) for row in rows]
        yield _batch([r["subject_id"] for r in rows], prepared, ENTRY_SCHEMA)


def query_party(row: dict[str, Any]) -> Party:
    """A query as the parent validated it (``batch.screen``: numbers already hashed)."""
    scheme, value = row["id_scheme"], row["id_value"]
    birth: date | str | None = row["birth_date"]
    return Party(
        name=row["name"],
        kind=row["kind"],
        identifiers=((scheme, value),) if scheme else (),
        country=row["country"],
        birth_date=str(birth) if birth else None,
        address=row["address"],
    )


def prepare_queries(batches: Iterator[Any]) -> Iterator[Any]:
    """Arrow batches of validated queries prepared."""
    for batch in batches:
        rows = batch.to_pylist()
        prepared = [_prepared(profile(query_party(row))) for row in rows]
        yield _batch([r["row_no"] for r in rows], prepared, QUERY_SCHEMA)


def score_groups(
    size: int, thresholds: Thresholds, top: int, persons: bool, batches: Iterator[Any]
) -> Iterator[Any]:
    """Arrow batches of one query each (``screen_plan.GROUPS_SQL``) scored and ranked.

    ``size`` is how many entries the snapshot has (the rarity of a word is counted
    among them, as the online index counts it among its own).
    """
    for batch in batches:
        out: dict[str, list[Any]] = {name: [] for name in SCORED_SCHEMA.names}
        for group in batch.to_pylist():
            for answer in _answers(group, size, thresholds, top, persons):
                for name, value in zip(SCORED_SCHEMA.names, answer, strict=True):
                    out[name].append(value)
        yield pa.RecordBatch.from_pydict(out, schema=SCORED_SCHEMA)


def _answers(
    group: dict[str, Any], size: int, thresholds: Thresholds, top: int, persons: bool
) -> list[tuple[Any, ...]]:
    """One query's rows: what ``services.screening_file`` writes, but as values."""
    query: Profile = pickle.loads(group["profile"])
    counts = {int(c["key"]): int(c["n"]) for c in group["counts"] or ()}
    cache: dict[str, float] = {}

    def rarity(word: str) -> float:
        return word_rarity(cache, size, lambda key: counts.get(key_hash(key), 0), word)

    found = []
    for candidate in sorted(group["candidates"] or (), key=lambda c: c["subject_id"]):
        if candidate["person"] and not persons:
            continue  # as the online index: persons are compared only with a purpose
        comparison = compare(query, pickle.loads(candidate["profile"]), rarity)
        found.append((comparison.score, candidate["subject_id"], candidate["person"], comparison))
    found.sort(key=lambda f: (-f[0], f[1]))
    row = group["row_no"]
    kept = [f for f in found if thresholds.decision(f[0]) != "no_match"][:top]
    if not kept:
        best = f"best candidate scored {found[0][0]:.4f}" if found else "no candidate"
        return [(row, 0, None, found[0][0] if found else None, "no_match", best, False)]
    return [
        (row, rank, sid, score, thresholds.decision(score), c.explanation, person)
        for rank, (score, sid, person, c) in enumerate(kept, start=1)
    ]
