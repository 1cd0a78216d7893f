"""Open data: the public lists, the published records and their subjects, as files.

:func:`export` writes three datasets into a directory, in one format:

    list_entries   open list entries, with the records that caused them
    records        records published today (still within their publicity period)
    subjects       the subjects appearing in either

as CSV, JSON Lines or Parquet (one file per dataset), or as FollowTheMoney entities
(``ftm``: one ``entities.ftm.json`` with a Company, Organization, LegalEntity or Person
per subject and a Sanction per list entry and per record), so sanctions-screening tools
can load the registry as a dataset. ``manifest.json`` lists every file with its row
count, SHA-256 and size, with the rulebook version in force and the export time.

Persons. A person appears only through records whose type the rulebook marks
``persons_public`` (and list entries caused by such records), and then only with a
masked identifier; a birth date never appears. Each file is written under a temporary
name and renamed into place, so a reader never sees half a file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa  # type: ignore[import-untyped]
from followthemoney.proxy import EntityProxy
from sqlalchemy.orm import Session, sessionmaker

from trustreg.core.identifiers import Identifier, mask_identifier
from trustreg.core.rating import VOID_STATUSES, RecordFact, publicity_end
from trustreg.core.rulebook import Rulebook
from trustreg.core.vocabulary import PERSON_KINDS
from trustreg.errors import ValidationError
from trustreg.services.export_files import (
    TABLE_WRITERS,
    ExportedFile,
    Row,
    Writer,
    chunks,
    write_file,
)
from trustreg.services.export_ftm import SEPARATOR, ftm_listing, ftm_record, ftm_subject
from trustreg.store import exports as store
from trustreg.store import queries
from trustreg.store.db import transaction

FORMATS = ("csv", "jsonl", "parquet", "ftm")
EXTENSIONS = {"csv": "csv", "jsonl": "jsonl", "parquet": "parquet"}

_ID, _DAY, _TEXT = pa.int64(), pa.date32(), pa.string()
COLUMNS: dict[str, tuple[tuple[str, pa.DataType], ...]] = {
    "list_entries": (
        ("list_code", _TEXT),
        ("list_title", _TEXT),
        ("subject_id", _ID),
        ("subject_kind", _TEXT),
        ("subject_name", _TEXT),
        ("identifier", _TEXT),
        ("entered_on", _DAY),
        ("scheduled_exit", _DAY),
        ("legal_basis", _TEXT),
        ("records", _TEXT),
    ),
    "records": (
        ("record_id", _ID),
        ("authority", _TEXT),
        ("reference", _TEXT),
        ("record_type", _TEXT),
        ("title", _TEXT),
        ("legal_basis", _TEXT),
        ("subject_id", _ID),
        ("subject_kind", _TEXT),
        ("subject_name", _TEXT),
        ("decided_on", _DAY),
        ("effective_from", _DAY),
        ("status", _TEXT),
        ("publicity_end", _DAY),
    ),
    "subjects": (
        ("subject_id", _ID),
        ("kind", _TEXT),
        ("name", _TEXT),
        ("identifier", _TEXT),
        ("country", _TEXT),
        ("region", _TEXT),
        ("lists", _TEXT),
        ("record_types", _TEXT),
    ),
}


@dataclass(frozen=True, slots=True)
class ExportReport:
    directory: Path
    file_format: str
    rulebook_version: str
    exported_at: datetime
    files: tuple[ExportedFile, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class _Scope:
    """What may be published on ``as_of`` under ``rulebook``."""

    rulebook: Rulebook
    as_of: date

    @property
    def person_types(self) -> frozenset[str]:
        return frozenset(c for c, t in self.rulebook.record_types.items() if t.persons_public)

    @property
    def window(self) -> tuple[date, date]:
        longest = max((t.publicity_days for t in self.rulebook.record_types.values()), default=0)
        return self.as_of - timedelta(days=longest), self.as_of


def export(factory: sessionmaker[Session], file_format: str, directory: Path) -> ExportReport:
    """Write the open-data files and ``manifest.json`` into ``directory``."""
    if file_format not in FORMATS:
        raise ValidationError("--format", f"'{file_format}' is not one of {', '.join(FORMATS)}")
    directory.mkdir(parents=True, exist_ok=True)
    exported_at = datetime.now(UTC)
    with transaction(factory) as session:
        scope = _Scope(queries.rulebook_in_force(session, exported_at.date()), exported_at.date())
        if file_format == "ftm":
            files = [
                write_file(directory, "entities.ftm.json", "entities", _ftm_writer(session, scope))
            ]
        else:
            files = [
                write_file(
                    directory,
                    f"{dataset}.{EXTENSIONS[file_format]}",
                    dataset,
                    _table_writer(file_format, dataset, DATASETS[dataset](session, scope)),
                )
                for dataset in DATASETS
            ]
    report = ExportReport(directory, file_format, scope.rulebook.version, exported_at, tuple(files))
    _write_manifest(report)
    return report


# ------------------------------------------------------------------------ datasets


def list_entry_rows(session: Session, scope: _Scope) -> Iterator[Row]:
    """Open list entries; a person's only where a public record type caused it."""
    for chunk in chunks(store.open_entries(session), store.BATCH):
        idents = store.main_identifiers(session, {e.subject_id for e in chunk})
        refs = store.record_refs(session, {i for e in chunk for i in e.record_ids})
        for entry in chunk:
            causes = _causes(entry, refs, scope)
            if not causes:
                continue
            listed = scope.rulebook.lists.get(entry.list_code)
            yield {
                "list_code": entry.list_code,
                "list_title": listed.title_en if listed else "",
                "subject_id": entry.subject_id,
                "subject_kind": entry.subject_kind,
                "subject_name": entry.subject_name,
                "identifier": _identifier(entry.subject_kind, idents.get(entry.subject_id)),
                "entered_on": entry.entered_on,
                "scheduled_exit": entry.scheduled_exit,
                "legal_basis": listed.legal_basis if listed else "",
                "records": SEPARATOR.join(f"{c.authority} {c.reference}" for c in causes),
            }


def record_rows(session: Session, scope: _Scope) -> Iterator[Row]:
    """Records within their publicity period today; a person's only if its type is public."""
    candidates = store.candidate_records(session, scope.person_types, scope.window, VOID_STATUSES)
    for record in candidates:
        end = _published_until(record, scope)
        if end is None:
            continue
        rule = scope.rulebook.record_types[record.record_type]
        yield {
            "record_id": record.id,
            "authority": record.authority,
            "reference": record.reference,
            "record_type": record.record_type,
            "title": rule.title_en,
            "legal_basis": rule.legal_basis,
            "subject_id": record.subject_id,
            "subject_kind": record.subject_kind,
            "subject_name": record.subject_name,
            "decided_on": record.decided_on,
            "effective_from": record.effective_from,
            "status": record.status,
            "publicity_end": end,
        }


def subject_rows(session: Session, scope: _Scope) -> Iterator[Row]:
    """The subjects of the other two datasets, with the lists and record types shown."""
    batches = store.candidate_subjects(session, scope.person_types, scope.window, VOID_STATUSES)
    for chunk in batches:
        ids = [s.id for s in chunk]
        records = store.records_of(session, ids, scope.person_types, scope.window, VOID_STATUSES)
        entries = store.open_entries_of(session, ids)
        refs = store.record_refs(session, {i for e in entries for i in e.record_ids})
        types: dict[int, set[str]] = {}
        for record in records:
            if _published_until(record, scope) is not None:
                types.setdefault(record.subject_id, set()).add(record.record_type)
        lists: dict[int, set[str]] = {}
        for entry in entries:
            if _causes(entry, refs, scope):
                lists.setdefault(entry.subject_id, set()).add(entry.list_code)
        idents = store.main_identifiers(session, ids)
        for subject in chunk:
            if subject.id not in types and subject.id not in lists:
                continue
            yield {
                "subject_id": subject.id,
                "kind": subject.kind,
                "name": subject.name,
                "identifier": _identifier(subject.kind, idents.get(subject.id)),
                "country": subject.country,
                "region": subject.region,
                "lists": SEPARATOR.join(sorted(lists.get(subject.id, ()))),
                "record_types": SEPARATOR.join(sorted(types.get(subject.id, ()))),
            }


DATASETS: dict[str, Callable[[Session, _Scope], Iterator[Row]]] = {
    "list_entries": list_entry_rows,
    "records": record_rows,
    "subjects": subject_rows,
}


def _published_until(record: store.RecordRow, scope: _Scope) -> date | None:
    """The record's publicity end if it is published on ``scope.as_of``, else None."""
    rule = scope.rulebook.record_types.get(record.record_type)
    if rule is None or record.effective_from > scope.as_of:
        return None
    if record.subject_kind in PERSON_KINDS and not rule.persons_public:
        return None
    fact = RecordFact(
        record.id, record.record_type, record.effective_from, record.status, record.status_since
    )
    end = publicity_end(fact, rule)
    return end if scope.as_of < end else None


def _causes(
    entry: store.EntryRow, refs: dict[int, store.RecordRef], scope: _Scope
) -> list[store.RecordRef]:
    """The records of an entry that may be cited; for a person, only of public types
    (none: the entry is not shown)."""
    causes = [refs[i] for i in entry.record_ids if i in refs]
    if entry.subject_kind in PERSON_KINDS:
        causes = [c for c in causes if c.record_type in scope.person_types]
    return causes


def _identifier(kind: str, found: tuple[str, str] | None) -> str:
    if found is None:
        return ""
    ident = Identifier(*found)
    value = mask_identifier(ident) if kind in PERSON_KINDS else ident.value
    return f"{ident.scheme}:{value}"


# ------------------------------------------------------------------------- writers


def _table_writer(file_format: str, dataset: str, rows: Iterator[Row]) -> Writer:
    columns = COLUMNS[dataset]
    return lambda path: TABLE_WRITERS[file_format](path, columns, rows)


def _write_manifest(report: ExportReport) -> None:
    manifest = {
        "format": report.file_format,
        "exported_at": report.exported_at.isoformat(timespec="seconds"),
        "rulebook_version": report.rulebook_version,
        "files": [
            {
                "name": f.name,
                "dataset": f.dataset,
                "rows": f.rows,
                "sha256": f.sha256,
                "bytes": f.bytes,
            }
            for f in report.files
        ],
    }
    final = report.directory / "manifest.json"
    temporary = report.directory / f".manifest.json.{os.getpid()}.tmp"
    temporary.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, final)


# ----------------------------------------------------------------- FollowTheMoney


def _ftm_writer(session: Session, scope: _Scope) -> Writer:
    def write(path: Path) -> int:
        count = 0
        with path.open("w", encoding="utf-8") as handle:
            for entity in _ftm_entities(session, scope):
                handle.write(json.dumps(entity.to_dict(), ensure_ascii=False, sort_keys=True))
                handle.write("\n")
                count += 1
        return count

    return write


def _ftm_entities(session: Session, scope: _Scope) -> Iterator[EntityProxy]:
    for row in subject_rows(session, scope):
        yield ftm_subject(row, scope.rulebook)
    for row in list_entry_rows(session, scope):
        yield ftm_listing(row)
    for row in record_rows(session, scope):
        yield ftm_record(row)
