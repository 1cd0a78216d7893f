"""DuckDB over a snapshot: each record's facts as of a date, and subject ranges.

:func:`resolve_facts` is ``core.rating.facts_as_known(versions, as_of)`` (everything
known, ``known_at=None``) in SQL, for every record at once:

- type, effective date and reference come from the record's latest version, latest by
  (``changed_at``, entry id);
- status and ``status_since`` come from the latest version, by the same order, whose
  ``status_since`` is on or before ``as_of``; with none, the record is ``active`` with
  no ``status_since``;
- ``published_from`` (the end of its notice period) is the record's own, the same in
  every version.

Then the facts that cannot matter on ``as_of`` are left out, which changes neither
``evaluate`` nor ``next_change`` and spares the workers most of their work: revoked
records, records of types the rulebook does not know, and records already marked ended
(expired, repaired) whose every day that counts (publicity end, listing ends) is on
or before ``as_of``, that is whose ``effective_from`` plus the longest of the type's
publicity and listing periods is. A record past those days but not yet marked is
kept: it makes the subject due for ``maintain``, which marks it expired.
A record that takes effect after ``as_of`` is kept: it does not count yet, but it
is a day the assessment changes by itself (``next_change``).

The facts are written sorted by subject, so a worker reads a contiguous subject-id
range from a few row groups.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from trustreg.batch.steps import duck, sql_date, sql_path, sql_text
from trustreg.core.rating import ENDING_STATUSES, VOID_STATUSES
from trustreg.core.rulebook import RecordType, Rulebook

FACTS_ROW_GROUP = 65_536
FACT_COLUMNS = (
    "subject_id",
    "record_id",
    "record_type",
    "effective_from",
    "status",
    "status_since",
    "reference",
    "published_from",
)


@dataclass(frozen=True, slots=True)
class SubjectRange:
    """Subjects ``low`` to ``high`` (inclusive); ``count`` of them are in the snapshot."""

    index: int
    low: int
    high: int
    count: int


def horizon_days(rule: RecordType) -> int:
    """Days after ``effective_from`` by which every period of the type has ended."""
    return max([rule.publicity_days, *(e.listing_days for e in rule.list_effects)])


def resolve_facts(
    con: duckdb.DuckDBPyConnection, versions: Path, facts: Path, rulebook: Rulebook, as_of: date
) -> int:
    """Write the facts on ``as_of`` that can matter to ``facts``; return how many records
    the snapshot holds."""
    on = sql_date(as_of)
    resolve = f"""
CREATE OR REPLACE TEMP TABLE facts AS
SELECT subject_id, record_id, content.record_type AS record_type,
       content.effective_from AS effective_from,
       coalesce(state.status, 'active') AS status, state.status_since AS status_since,
       reference, published_from
FROM (
    SELECT record_id,
           any_value(subject_id) AS subject_id,
           any_value(reference) AS reference,
           any_value(published_from) AS published_from,
           arg_max({{'record_type': record_type, 'effective_from': effective_from}},
                   recorded) AS content,
           arg_max({{'status': status, 'status_since': status_since}}, recorded)
               FILTER (WHERE status_since <= {on}) AS state
    FROM (
        SELECT record_id, subject_id, reference, record_type, status,
               CAST(effective_from AS DATE) AS effective_from,
               CAST(status_since AS DATE) AS status_since,
               CAST(published_from AS DATE) AS published_from,
               {{'at': CAST(changed_at AS TIMESTAMP), 'entry': entry_id}} AS recorded
        FROM read_parquet({sql_path(versions / "*.parquet")})
    )
    GROUP BY record_id
)
"""
    duck(con, "resolve facts", resolve)
    row = duck(con, "count records", "SELECT count(*) FROM facts").fetchone()
    horizons = ", ".join(
        f"({sql_text(code)}, {horizon_days(rule)})" for code, rule in rulebook.record_types.items()
    )
    void = ", ".join(sql_text(status) for status in sorted(VOID_STATUSES))
    ending = ", ".join(sql_text(status) for status in sorted(ENDING_STATUSES))
    write = f"""
COPY (
    SELECT facts.*
    FROM facts JOIN (VALUES {horizons}) AS rules(record_type, horizon_days) USING (record_type)
    WHERE facts.status NOT IN ({void})
      AND (facts.effective_from + rules.horizon_days > {on}
           OR facts.status NOT IN ({ending}))
    ORDER BY subject_id, record_id
) TO {sql_path(facts)} (FORMAT parquet, ROW_GROUP_SIZE {FACTS_ROW_GROUP})
"""
    duck(con, "write facts", write)
    return int(row[0]) if row else 0


def count_records(con: duckdb.DuckDBPyConnection, versions: Path) -> int:
    """How many records the snapshot's versions are versions of."""
    sql = f"SELECT count(DISTINCT record_id) FROM read_parquet({sql_path(versions / '*.parquet')})"
    row = duck(con, "count records", sql).fetchone()
    return int(row[0]) if row else 0


def subject_ranges(
    con: duckdb.DuckDBPyConnection, subjects: Path, per_range: int
) -> list[SubjectRange]:
    """Split the snapshot's subjects, in id order, into ranges of ``per_range`` subjects.

    The ranges cover every id from the first subject's to the last one's, gaps included,
    so bringing a range's open list entries up to date leaves none behind.
    """
    sql = f"""
SELECT min(subject_id) AS low, max(subject_id) AS last, count(*) AS subjects
FROM (
    SELECT subject_id, (row_number() OVER (ORDER BY subject_id) - 1) // {int(per_range)} AS part
    FROM read_parquet({sql_path(subjects / "*.parquet")})
)
GROUP BY part
ORDER BY part
"""
    parts = duck(con, "subject ranges", sql).fetchall()
    ranges = []
    for index, (low, last, count) in enumerate(parts):
        high = parts[index + 1][0] - 1 if index + 1 < len(parts) else last
        ranges.append(SubjectRange(index, int(low), int(high), int(count)))
    return ranges
