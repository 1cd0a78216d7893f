"""One subject range evaluated in a worker process, with the core's own functions.

A worker reads its range's facts from the Parquet file ``batch.facts`` wrote and
calls :func:`trustreg.core.rating.evaluate` for every subject of the range (subjects
without records too: they get the starting points and their grade), exactly as the
web app and the CLI do for one subject. It touches no database: the results go back
to the parent process, which alone writes to the store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq  # type: ignore[import-untyped]

from trustreg.batch.facts import FACT_COLUMNS, SubjectRange
from trustreg.core.rating import RecordFact, evaluate, next_change
from trustreg.core.rulebook import parse_rulebook_cached

# subject_id, points, grade, lists (JSON text), explanation (JSON text), next_change
AssessmentRow = tuple[int, int, str, str, str, date | None]
# subject_id, list_code, entered_on, scheduled_exit, record_ids (JSON text)
MembershipRow = tuple[int, str, date, date, str]


@dataclass(frozen=True, slots=True)
class RangeTask:
    """What a worker needs: small enough to pickle cheaply for every range."""

    subjects: SubjectRange
    facts_path: Path
    subjects_path: Path
    rulebook_text: str  # parsed (once per process) in the worker
    as_of: date


@dataclass(frozen=True, slots=True)
class RangeResult:
    subjects: SubjectRange
    assessments: list[AssessmentRow]
    # The codes of each subject's lists, in the order of ``assessments``.
    lists: list[tuple[str, ...]]
    memberships: list[MembershipRow]
    facts: int


def evaluate_range(task: RangeTask) -> RangeResult:
    """Evaluate every subject of ``task.subjects`` on ``task.as_of``."""
    rulebook = parse_rulebook_cached(task.rulebook_text)
    span = task.subjects
    subject_ids = _column(_read(task.subjects_path, ["subject_id"], span), "subject_id")
    facts_table = _read(task.facts_path, list(FACT_COLUMNS), span)
    by_subject = _facts_by_subject(facts_table)
    assessments: list[AssessmentRow] = []
    lists: list[tuple[str, ...]] = []
    memberships: list[MembershipRow] = []
    lists_json: dict[tuple[str, ...], str] = {}
    for subject_id in sorted(subject_ids):
        facts = by_subject.get(subject_id, [])
        assessment = evaluate(subject_id, facts, rulebook, task.as_of)
        codes = tuple(m.list_code for m in assessment.lists)
        if codes not in lists_json:
            lists_json[codes] = json.dumps(list(codes))
        assessments.append(
            (
                subject_id,
                assessment.points,
                assessment.grade,
                lists_json[codes],
                json.dumps(assessment.to_dict(), ensure_ascii=False),
                next_change(facts, rulebook, task.as_of),
            )
        )
        lists.append(codes)
        memberships.extend(
            (subject_id, m.list_code, m.entered_on, m.scheduled_exit, json.dumps(m.record_ids))
            for m in assessment.lists
        )
    return RangeResult(span, assessments, lists, memberships, facts_table.num_rows)


def _read(path: Path, columns: list[str], span: SubjectRange) -> Any:
    # Both files are sorted by subject: the filter skips all but a few row groups.
    return pq.read_table(
        path,
        columns=columns,
        filters=[("subject_id", ">=", span.low), ("subject_id", "<=", span.high)],
    )


def _column(table: Any, name: str) -> list[Any]:
    values: list[Any] = table.column(name).to_pylist()
    return values


def _facts_by_subject(table: Any) -> dict[int, list[RecordFact]]:
    by_subject: dict[int, list[RecordFact]] = {}
    columns = [_column(table, name) for name in FACT_COLUMNS]
    for subject_id, record_id, record_type, effective, status, since, reference in zip(
        *columns, strict=True
    ):
        fact = RecordFact(
            id=record_id,
            record_type=record_type,
            effective_from=effective,
            status=status,
            status_since=since,
            reference=reference,
        )
        by_subject.setdefault(subject_id, []).append(fact)
    return by_subject
