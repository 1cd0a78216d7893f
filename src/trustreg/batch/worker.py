"""One subject range in a worker process: read its facts, evaluate, store the results.

A worker reads its range's facts from the Parquet file ``batch.facts`` wrote and calls
:func:`trustreg.core.rating.evaluate` for every subject of the range (subjects without
records too: they get the starting points and their grade), exactly as the web app and
the CLI do for one subject. It then writes the range in one transaction: its
assessments replaced, its open list entries brought up to date. The workers write in
parallel; on SQLite they take turns (one writer at a time, ``busy_timeout``), each
holding the write lock only for its own range's short transaction. What goes back to
the parent is a tally (and, when asked, the rows of the Parquet output), never the
explanations, which would cost more to send than to write.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import Any

from trustreg.batch import process, store_writes
from trustreg.batch.facts import FACT_COLUMNS, SubjectRange
from trustreg.batch.steps import duck, sql_path
from trustreg.core.rating import Assessment, RecordFact, evaluate, schedule
from trustreg.core.rulebook import Rulebook, parse_rulebook_cached
from trustreg.services import watch_events
from trustreg.store.db import transaction

# subject_id, points, grade, list codes: a row of the Parquet output.
OutputRow = tuple[int, int, str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class RangeTask:
    """What a worker needs: small enough to pickle cheaply for every range."""

    subjects: SubjectRange
    facts_path: Path
    subjects_path: Path  # a folder of Parquet files
    rulebook_text: str  # parsed (once per process) in the worker
    as_of: date
    computed_at: datetime
    output: bool  # send back the rows of the Parquet output
    write: bool = True  # store the results (not when rating a snapshot folder alone)
    # Results another engine computed (``batch.spark_rate``), to store rather than
    # evaluate: a folder of Parquet files; facts_path is then unused.
    results_path: Path | None = None


@dataclass
class RangeOutcome:
    subjects: SubjectRange
    assessed: int = 0
    facts: int = 0
    grades: Counter[str] = field(default_factory=Counter)
    lists: Counter[str] = field(default_factory=Counter)
    entries: store_writes.EntryChanges = field(default_factory=store_writes.EntryChanges)
    output: list[OutputRow] = field(default_factory=list)

    def tally(
        self, subject_id: int, points: int, grade: str, codes: tuple[str, ...], output: bool
    ) -> None:
        self.grades[grade] += 1
        self.lists.update(codes)
        if output:
            self.output.append((subject_id, points, grade, codes))


@dataclass
class _Evaluated:
    assessments: list[dict[str, Any]] = field(default_factory=list)
    memberships: list[store_writes.MembershipRow] = field(default_factory=list)
    # JSON of each combination of lists met so far (a handful in all).
    lists_json: dict[tuple[str, ...], str] = field(default_factory=dict)

    def add(self, assessment: Assessment, next_day: date | None, task: RangeTask) -> None:
        memberships = [
            (m.list_code, m.entered_on, m.scheduled_exit, m.record_ids) for m in assessment.lists
        ]
        self.add_result(
            assessment.subject,
            assessment.points,
            assessment.grade,
            json.dumps(assessment.to_dict(), ensure_ascii=False),
            next_day,
            memberships,
            task,
            assessment.rulebook_version,
        )

    def add_result(
        self,
        subject_id: int,
        points: int,
        grade: str,
        explanation: str,
        next_day: date | None,
        memberships: list[tuple[str, date, date, tuple[int, ...]]],
        task: RangeTask,
        rulebook_version: str,
    ) -> None:
        """One subject's results, evaluated here or by another engine."""
        codes = tuple(m[0] for m in memberships)
        if codes not in self.lists_json:
            self.lists_json[codes] = json.dumps(list(codes))
        self.assessments.append(
            {
                "subject_id": subject_id,
                "as_of": task.as_of,
                "rulebook_version": rulebook_version,
                "points": points,
                "grade": grade,
                "lists": self.lists_json[codes],
                "explanation": explanation,
                "computed_at": task.computed_at,
                "next_change": next_day,
            }
        )
        self.memberships.extend(
            (subject_id, code, entered, leaves, json.dumps(list(ids)))
            for code, entered, leaves, ids in memberships
        )


def evaluate_range(task: RangeTask) -> RangeOutcome:
    """Evaluate every subject of ``task.subjects`` on ``task.as_of`` and store the results."""
    with process.without_gc():
        return _evaluate_range(task)


def assess(
    subject_id: int, facts: list[RecordFact], rulebook: Rulebook, as_of: date
) -> tuple[Assessment, date | None]:
    """A subject's assessment on ``as_of`` and the day it is next due: what every
    engine computes for every subject (``batch.spark_rate`` calls it too)."""
    assessment = evaluate(subject_id, facts, rulebook, as_of)
    upcoming, overdue = schedule(facts, rulebook, as_of)
    # As online (services.assessments): a record whose publicity has ended but is
    # not yet marked expired makes the subject due for `maintain` on this day.
    return assessment, as_of if overdue else upcoming


def _evaluate_range(task: RangeTask) -> RangeOutcome:
    rulebook = parse_rulebook_cached(task.rulebook_text)
    if task.results_path is not None:
        return _store_results(task, rulebook)
    subject_ids, facts_of, facts = _read(task)
    outcome = RangeOutcome(task.subjects, assessed=len(subject_ids), facts=facts)
    evaluated = _Evaluated()
    for subject_id in subject_ids:
        assessment, next_day = assess(
            subject_id, facts_of.get(subject_id, []), rulebook, task.as_of
        )
        evaluated.add(assessment, next_day, task)
        codes = tuple(m.list_code for m in assessment.lists)
        outcome.tally(subject_id, assessment.points, assessment.grade, codes, task.output)
    if task.write:
        outcome.entries = _write(task.subjects, evaluated, rulebook, task.as_of, task.computed_at)
    return outcome


def _store_results(task: RangeTask, rulebook: Rulebook) -> RangeOutcome:
    """A range of results another engine computed: tallied, and stored like ours."""
    assert task.results_path is not None
    con = process.duck_connection()
    sql = (
        "SELECT subject_id, points, grade, lists, explanation, next_change, memberships "
        f"FROM read_parquet({sql_path(task.results_path / '*.parquet')}) "
        f"WHERE subject_id BETWEEN {int(task.subjects.low)} AND {int(task.subjects.high)} "
        "ORDER BY subject_id"
    )
    rows = duck(con, "read results", sql).fetchall()
    outcome = RangeOutcome(task.subjects, assessed=len(rows))
    evaluated = _Evaluated()
    for subject_id, points, grade, lists, explanation, next_day, memberships in rows:
        held = [
            (code, date.fromisoformat(entered), date.fromisoformat(leaves), tuple(ids))
            for code, entered, leaves, ids in json.loads(memberships)
        ]
        evaluated.add_result(
            subject_id, points, grade, explanation, next_day, held, task, rulebook.version
        )
        outcome.tally(subject_id, points, grade, tuple(lists), task.output)
    if task.write:
        outcome.entries = _write(task.subjects, evaluated, rulebook, task.as_of, task.computed_at)
    return outcome


def _read(task: RangeTask) -> tuple[list[int], dict[int, list[RecordFact]], int]:
    """The range's subject ids, and the facts of those that have any."""
    con = process.duck_connection()
    # Both files are sorted by subject: the range is read from a few row groups.
    where = f"WHERE subject_id BETWEEN {int(task.subjects.low)} AND {int(task.subjects.high)}"
    subjects_sql = (
        f"SELECT subject_id FROM read_parquet({sql_path(task.subjects_path / '*.parquet')}) "
        f"{where} ORDER BY subject_id"
    )
    subject_ids = [row[0] for row in duck(con, "read subjects", subjects_sql).fetchall()]
    facts_sql = (
        f"SELECT {', '.join(FACT_COLUMNS)} FROM read_parquet({sql_path(task.facts_path)}) "
        f"{where} ORDER BY subject_id, record_id"
    )
    rows = duck(con, "read facts", facts_sql).fetchall()
    facts_of = {
        subject_id: [
            RecordFact(r[1], r[2], r[3], r[4], r[5], r[6], published_from=r[7]) for r in group
        ]
        for subject_id, group in groupby(rows, itemgetter(0))
    }
    return subject_ids, facts_of, len(rows)


def _write(
    span: SubjectRange,
    evaluated: _Evaluated,
    rulebook: Rulebook,
    as_of: date,
    computed_at: datetime,
) -> store_writes.EntryChanges:
    """The range in one transaction: its assessments, its open list entries, and the
    events of its watched subjects (``services.watch_events``)."""
    with transaction(process.store_sessions()) as session:
        watched = watch_events.before_range(session, span.low, span.high)  # usually none
        store_writes.replace_assessments(session, evaluated.assessments)
        changes = store_writes.sync_list_entries(
            session, span.low, span.high, evaluated.memberships, as_of, rulebook.version
        )
        watch_events.after_batch(
            session, watched, evaluated.assessments, evaluated.memberships, computed_at
        )
        return changes
