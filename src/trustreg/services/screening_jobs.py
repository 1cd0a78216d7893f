"""Screenings submitted over the API, run one at a time in the background.

A job's input is saved under ``DATA_DIR/screenings/ID/`` before it is queued, so a
server that stops mid-run resumes the job (``resume_unfinished``) from its last
checkpoint when it starts again. Status and counts are kept in ``screening_jobs``.
"""

from __future__ import annotations

import logging
import uuid
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from trustreg.errors import NotFound, TrustRegError
from trustreg.services import access, screening
from trustreg.services.accounts import ANONYMOUS
from trustreg.services.screening_file import ScreenOptions, ScreenReport, screen_file
from trustreg.store.db import transaction
from trustreg.store.models import ScreeningJob

log = logging.getLogger("trustreg.screening")
_RUNNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="screening")
# The jobs submitted for each registry (by id of its index), so that an app shutting
# down waits for its own before its store is closed under them.
_PENDING: dict[int, set[Future[None]]] = {}


def _submit(registry: screening.RegistryIndex, *args: Any) -> None:
    future = _RUNNER.submit(_run, registry, *args)
    pending = _PENDING.setdefault(id(registry), set())
    pending.add(future)
    future.add_done_callback(pending.discard)


def wait_for_jobs(registry: screening.RegistryIndex, timeout: float = 30.0) -> bool:
    """Wait (at most ``timeout`` seconds) for this registry's queued and running jobs;
    True if none is left. A job still running is resumed at the next start."""
    pending = list(_PENDING.get(id(registry), ()))
    _, not_done = wait(pending, timeout=timeout)
    return not not_done


def job_folder(data_dir: Path, job_id: str) -> Path:
    return data_dir / "screenings" / job_id


def submit(
    registry: screening.RegistryIndex,
    data_dir: Path,
    data: bytes,
    file_format: str,
    options: ScreenOptions,
    asker: access.Asker = ANONYMOUS,
) -> dict[str, Any]:
    """Save the file, queue the job, and return its status.

    With a purpose (persons screened too) ``asker`` needs leave to look persons up
    (``services.access``): refused now, not as a job that fails later, since the caller
    is still listening. The job runs, and logs, under the asker's name."""
    access.check_purpose(options.purpose)
    if options.purpose is not None:
        grant = access.authorise(asker, options.purpose)
        options = replace(options, actor=grant.actor)
    job_id = uuid.uuid4().hex
    folder = job_folder(data_dir, job_id)
    folder.mkdir(parents=True)
    (folder / f"input.{file_format}").write_bytes(data)
    with transaction(registry.factory) as session:
        session.add(
            ScreeningJob(
                id=job_id,
                status="queued",
                created_at=datetime.now(UTC),
                actor=options.actor,
                purpose=options.purpose,
                top=options.top,
                file_format=file_format,
                rows=0,
                matched=0,
                review=0,
                no_match=0,
                rejected=0,
            )
        )
    _submit(registry, folder, job_id, options, False)
    return status(registry, job_id)


def status(
    registry: screening.RegistryIndex, job_id: str, asker: access.Asker | None = None
) -> dict[str, Any]:
    """A job's status and counts. With ``asker``: a job that screened persons is known
    only to its submitter (as its result); anyone else is told there is no such job."""
    with transaction(registry.factory) as session:
        job = session.get(ScreeningJob, job_id)
        hidden = (
            job is not None
            and asker is not None
            and job.purpose is not None
            and job.actor != access.label(asker)
        )
        if job is None or hidden:
            raise NotFound(f"no screening {job_id}")
        return {
            "id": job.id,
            "status": job.status,
            "created_at": job.created_at.isoformat(),
            "finished_at": job.finished_at.isoformat() if job.finished_at else None,
            "top": job.top,
            "rows": job.rows,
            "matched": job.matched,
            "review": job.review,
            "no_match": job.no_match,
            "rejected": job.rejected,
            "error": job.error,
            "result": f"/api/v1/screenings/{job.id}/result" if job.status == "done" else None,
        }


def result_path(
    registry: screening.RegistryIndex,
    data_dir: Path,
    job_id: str,
    asker: access.Asker = ANONYMOUS,
) -> Path:
    """The finished result file; NotFound while the job is not done, and for anyone
    but its submitter when it screened persons (the result names them)."""
    with transaction(registry.factory) as session:
        job = session.get(ScreeningJob, job_id)
        if job is not None and job.purpose is not None and job.actor != access.label(asker):
            raise NotFound(f"no screening {job_id}")
    if status(registry, job_id)["status"] != "done":
        raise NotFound(f"screening {job_id} has no result yet; see its status")
    return job_folder(data_dir, job_id) / "result.csv"


def resume_unfinished(registry: screening.RegistryIndex, data_dir: Path) -> int:
    """Queue again the jobs a stopped server left queued or running."""
    with transaction(registry.factory) as session:
        jobs = session.scalars(
            select(ScreeningJob).where(ScreeningJob.status.in_(("queued", "running")))
        ).all()
        pending = [(j.id, j.top, j.purpose, j.actor) for j in jobs]
    for job_id, top, purpose, actor in pending:
        options = ScreenOptions(top=top, purpose=purpose, actor=actor, workers=1)
        _submit(registry, job_folder(data_dir, job_id), job_id, options, True)
    return len(pending)


def _run(
    registry: screening.RegistryIndex,
    folder: Path,
    job_id: str,
    options: ScreenOptions,
    resume: bool,
) -> None:
    _set(registry, job_id, status="running")
    source = next(folder.glob("input.*"))
    target = folder / "result.csv"
    partial = target.with_name(target.name + ".partial")
    options = replace(options, workers=1, resume=resume and partial.exists())
    try:
        report = screen_file(registry, source, target, options)
    except TrustRegError as exc:
        _set(registry, job_id, status="failed", error=exc.detail, finished=True)
    except Exception:  # a job must end with a status, whatever happened
        log.exception("screening %s failed", job_id)
        _set(registry, job_id, status="failed", error="internal error", finished=True)
    else:
        _set(registry, job_id, status="done", report=report, finished=True)


def _set(
    registry: screening.RegistryIndex,
    job_id: str,
    status: str,
    error: str | None = None,
    report: ScreenReport | None = None,
    finished: bool = False,
) -> None:
    with transaction(registry.factory) as session:
        job = session.get(ScreeningJob, job_id)
        assert job is not None
        job.status = status
        job.error = error
        if report is not None:
            job.rows, job.matched, job.review = report.rows, report.matched, report.review
            job.no_match, job.rejected = report.no_match, report.rejected
        if finished:
            job.finished_at = datetime.now(UTC)
