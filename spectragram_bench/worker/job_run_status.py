"""A job run's status transitions: queued -> running -> completed | partial | failed, or
interrupted (resumable), and back to queued on resume. Each check-then-write runs under a lock
on the job_run row, so a job run is closed (evaluated) exactly once however many processes
work on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from spectragram_bench.core.models import JobRun, Prediction, WorkItemRow, utcnow
from spectragram_bench.core.persistence import Database
from spectragram_bench.core.scrubbing import scrub_text
from spectragram_bench.core.statuses import (
    FINAL_STATUSES,
    LEASABLE_STATUSES,
    JobRunStatus,
    PredictionStatus,
    WorkItemState,
)
from spectragram_bench.core.storable import storable_short, storable_text
from spectragram_bench.worker.work_items import counts


def _lock_job_run(session: Session, job_run_id: int) -> JobRun:
    """Take the job run's row lock first (a no-op UPDATE: a row lock on PostgreSQL, the write
    lock on SQLite), so a check-then-write below is never interleaved with another process's."""
    session.execute(update(JobRun).where(JobRun.job_run_id == job_run_id).values(status=JobRun.status))
    return session.execute(select(JobRun).where(JobRun.job_run_id == job_run_id)).scalar_one()


def reopen(session: Session, job_run_id: int) -> int:
    """Make a job run runnable again (resume): failed items pending, status queued.

    Returns the number of items left to do. A run with nothing left but no final status
    (killed between its last commit and its evaluation) is queued too, for `finalize`.
    """
    failed = select(Prediction.utt_id).where(Prediction.job_run_id == job_run_id, Prediction.status != PredictionStatus.OK)
    session.execute(
        update(WorkItemRow)
        .where(WorkItemRow.job_run_id == job_run_id, WorkItemRow.state == WorkItemState.DONE, WorkItemRow.utt_id.in_(failed))
        .values(state=WorkItemState.PENDING, lease_owner=None, lease_expires_at=None)
    )
    remaining = session.execute(
        select(func.count()).select_from(WorkItemRow).where(WorkItemRow.job_run_id == job_run_id, WorkItemRow.state != WorkItemState.DONE)
    ).scalar_one()
    run = session.get(JobRun, job_run_id)
    if remaining or run.status not in FINAL_STATUSES:
        run.status, run.ended_at, run.error_text = JobRunStatus.QUEUED, None, None
    return remaining


def mark_running(db: Database, job_run_id: int, model_revision: str | None = None) -> None:
    with db.transaction() as s:
        run = _lock_job_run(s, job_run_id)
        if run.status == JobRunStatus.QUEUED:
            run.status = JobRunStatus.RUNNING
            run.started_at = run.started_at or utcnow()
        run.heartbeat_at = time.time()


def beat(db: Database, job_run_id: int) -> None:
    """This process is alive and running the job run (core/liveness.py reads it)."""
    with db.transaction() as s:
        s.execute(update(JobRun).where(JobRun.job_run_id == job_run_id).values(heartbeat_at=time.time()))


def finalize(
    db: Database, job_run_id: int, *, evaluate: Callable[[Session, int], None],
    fatal_error: str | None = None, model_revision: str | None = None,
) -> str | None:
    """Close a job run once: evaluate it and set its final status, under a lock on its row.

    Called by every process when it runs out of items; only the one that finds every item
    done (or brings a run-fatal error) while the run is still open does anything. Returns the
    status it set, or None when there was nothing to do.
    """
    model_revision = storable_short(model_revision)  # a provider-given header: scrubbed, fits its column
    fatal_error = storable_text(scrub_text(fatal_error))[0] if fatal_error is not None else None
    with db.transaction() as s:
        run = _lock_job_run(s, job_run_id)
        if model_revision and not run.model_revision:
            run.model_revision = model_revision
        if run.status not in LEASABLE_STATUSES:
            return None
        c = counts(s, job_run_id)
        if fatal_error is not None:
            status, error_text = JobRunStatus.FAILED, fatal_error
        elif c.open:
            return None
        elif c.failed == 0:
            status, error_text = JobRunStatus.COMPLETED, None
        elif c.ok == 0:
            status, error_text = JobRunStatus.FAILED, f"all {c.failed} items failed"
        else:
            status, error_text = JobRunStatus.PARTIAL, f"{c.failed} of {c.total} items failed"
        evaluate(s, job_run_id)
        run.status, run.ended_at, run.error_text = status, utcnow(), error_text
        return status


def mark_interrupted(db: Database, job_run_id: int, also: Callable[[Session, int], None] | None = None) -> None:
    """`also`: what else an interrupted run records (the cost of what was done so far)."""
    with db.transaction() as s:
        run = s.get(JobRun, job_run_id)
        if run.status in LEASABLE_STATUSES:
            run.status, run.ended_at = JobRunStatus.INTERRUPTED, utcnow()
            if also is not None:
                also(s, job_run_id)
