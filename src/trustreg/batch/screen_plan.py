"""Batch screening as SQL: one text, run by DuckDB and by Spark SQL alike.

The online index (``core.blocking.ScreeningIndex._candidates``) reads, for each query,
the postings of its rarest keys: rarest first, every key while the postings read stay
within ``MAX_POSTINGS`` and the key has at most ``MAX_KEY_POSTINGS`` (the rarest key
always, capped at that many), then keeps the ``CANDIDATES`` entries that share the most
weight, a key weighing ``ln((N + 1) / (n + 1)) + 1`` for ``n`` postings among ``N``
entries. ``PLAN`` is that, as joins and window functions over every query at once.

Two choices make the answer the same on every engine, run after run: ties are broken
by key hash and by subject id (the online index breaks them as its arrays happen to
lie), and weights are summed as integers (millionths), so no engine's order of
floating-point additions can change who is a candidate. A capped key keeps its
postings of the lowest subject ids, as the online index keeps its first.

Each step is ``(name, sql)``; the engine makes a table of each, in order. The few
words the two dialects spell differently are the ``Dialect``'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from trustreg.core.blocking import CANDIDATES, MAX_KEY_POSTINGS, MAX_POSTINGS
from trustreg.store.screening import MAIN_SCHEMES

WEIGHT_SCALE = 1_000_000


@dataclass(frozen=True, slots=True)
class Dialect:
    """What DuckDB and Spark SQL spell differently."""

    explode: str  # one row per element of a list, in a select list
    collect: str  # a list of the group's values

    def struct(self, *fields: str) -> str:
        """A struct of these columns, each under its own name."""
        if self.explode == "unnest":
            return "struct_pack(" + ", ".join(f"{f} := {f}" for f in fields) + ")"
        return "named_struct(" + ", ".join(f"'{f}', {f}" for f in fields) + ")"


DIALECTS: Mapping[str, Dialect] = {
    "duckdb": Dialect(explode="unnest", collect="list"),
    "spark": Dialect(explode="explode", collect="collect_list"),
}


# The one step whose rows grow with queries times postings (up to MAX_POSTINGS a query):
# an engine may run it over slices of ``chosen`` (each query's rows in one slice), as
# each query's candidates depend on its own rows only.
SLICED_STEP, SLICED_SOURCE = "shared", "chosen"


def subjects_sql(dialect: Dialect) -> str:
    """Every snapshot subject with its names and identifiers (input of
    ``screen_core.prepare_entries``)."""
    names = dialect.struct("name_id", "name")
    identifiers = dialect.struct("identifier_id", "scheme", "value", "value_hash")
    return f"""
SELECT s.subject_id, s.kind, s.display_name, s.country, s.region, s.birth_date,
       n.names, i.identifiers
FROM subjects s
LEFT JOIN (SELECT subject_id, {dialect.collect}({names}) AS names
           FROM names GROUP BY subject_id) n ON n.subject_id = s.subject_id
LEFT JOIN (SELECT subject_id, {dialect.collect}({identifiers}) AS identifiers
           FROM identifiers GROUP BY subject_id) i ON i.subject_id = s.subject_id
"""


def plan(dialect: Dialect, size: int) -> list[tuple[str, str]]:
    """The steps from prepared ``entries`` and ``queries`` to ``groups``: one row per
    query with its candidates and the key counts its comparison needs (input of
    ``screen_core.score_groups``). ``size`` is the number of entries."""
    x, cap = dialect.explode, MAX_KEY_POSTINGS
    weight = (
        f"CAST(round((ln(({size} + 1.0) / (least(n, {cap}) + 1.0)) + 1.0) * {WEIGHT_SCALE})"
        " AS BIGINT)"
    )
    candidate = dialect.struct("subject_id", "person", "profile")
    count = dialect.struct("key", "n")
    return [
        ("entry_keys", f"SELECT {x}(keys) AS key, subject_id FROM entries"),
        ("key_counts", "SELECT key, count(*) AS n FROM entry_keys GROUP BY key"),
        (
            "query_keys",
            f"SELECT q.row_no, q.key, c.n FROM (SELECT row_no, {x}(keys) AS key FROM queries) q "
            "JOIN key_counts c ON c.key = q.key",
        ),
        (
            SLICED_SOURCE,
            f"""SELECT row_no, key, n, {weight} AS weight FROM (
  SELECT row_no, key, n,
         row_number() OVER (PARTITION BY row_no ORDER BY n, key) AS r,
         sum(least(n, {cap})) OVER (
           PARTITION BY row_no ORDER BY n, key
           ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS postings_read
  FROM query_keys) t
WHERE r = 1 OR (n <= {cap} AND postings_read <= {MAX_POSTINGS})""",
        ),
        (
            "capped",
            f"""SELECT key, subject_id FROM (
  SELECT e.key, e.subject_id,
         row_number() OVER (PARTITION BY e.key ORDER BY e.subject_id) AS r
  FROM entry_keys e JOIN (SELECT DISTINCT key FROM chosen WHERE n > {cap}) b ON b.key = e.key
) t WHERE r <= {cap}""",
        ),
        (SLICED_STEP, shared_sql(SLICED_SOURCE)),
        (
            "candidates",
            f"""SELECT row_no, subject_id FROM (
  SELECT row_no, subject_id,
         row_number() OVER (PARTITION BY row_no ORDER BY shared DESC, subject_id) AS r
  FROM shared) t
WHERE r <= {CANDIDATES}""",
        ),
        (
            "counts",
            f"""SELECT DISTINCT t.row_no, t.key, k.n FROM (
  SELECT row_no, {x}(words) AS key FROM queries
  UNION ALL
  SELECT c.row_no, w.key FROM candidates c
  JOIN (SELECT subject_id, {x}(words) AS key FROM entries) w ON w.subject_id = c.subject_id
) t JOIN key_counts k ON k.key = t.key""",
        ),
        (
            "groups",
            f"""SELECT q.row_no, q.profile, c.candidates, w.counts FROM queries q
LEFT JOIN (SELECT row_no, {dialect.collect}({candidate}) AS candidates FROM (
             SELECT c.row_no, e.subject_id, e.person, e.profile
             FROM candidates c JOIN entries e ON e.subject_id = c.subject_id) j
           GROUP BY row_no) c ON c.row_no = q.row_no
LEFT JOIN (SELECT row_no, {dialect.collect}({count}) AS counts
           FROM counts GROUP BY row_no) w ON w.row_no = q.row_no""",
        ),
    ]


def shared_sql(chosen: str) -> str:
    """Per query and subject, the weight of the keys they share, from the chosen keys
    in table ``chosen``."""
    cap = MAX_KEY_POSTINGS
    return f"""SELECT row_no, subject_id, sum(weight) AS shared FROM (
  SELECT c.row_no, e.subject_id, c.weight
  FROM {chosen} c JOIN entry_keys e ON e.key = c.key WHERE c.n <= {cap}
  UNION ALL
  SELECT c.row_no, p.subject_id, c.weight
  FROM {chosen} c JOIN capped p ON p.key = c.key WHERE c.n > {cap}
) t GROUP BY row_no, subject_id"""


def postings_sql(chosen: str) -> str:
    """How many rows ``shared_sql(chosen)`` joins before it groups them."""
    return f"SELECT coalesce(sum(least(n, {MAX_KEY_POSTINGS})), 0) FROM {chosen}"


def answers_sql() -> str:
    """The scored rows with what the result file shows of each subject, in order (the
    same text in both dialects): its name, its main identifier (the first of
    ``MAIN_SCHEMES`` it has, as stored: a person's masked), grade and lists."""
    ranks = " ".join(f"WHEN '{s}' THEN {i}" for i, s in enumerate(MAIN_SCHEMES))
    return f"""
SELECT s.row_no, q.ref, s.rank, s.subject_id, m.scheme, m.value, sub.display_name,
       s.score, s.decision, a.lists, a.grade, s.explanation, s.person
FROM scored s
JOIN refs q ON q.row_no = s.row_no
LEFT JOIN subjects sub ON sub.subject_id = s.subject_id
LEFT JOIN (
  SELECT subject_id, scheme, value FROM (
    SELECT subject_id, scheme, value,
           row_number() OVER (PARTITION BY subject_id
                              ORDER BY CASE scheme {ranks} ELSE {len(MAIN_SCHEMES)} END,
                                       identifier_id) AS r
    FROM identifiers
    WHERE subject_id IN (SELECT subject_id FROM scored WHERE subject_id IS NOT NULL)) t
  WHERE r = 1) m ON m.subject_id = s.subject_id
LEFT JOIN assessments a ON a.subject_id = s.subject_id
"""
