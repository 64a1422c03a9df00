"""Job runs not finished: the lines `report` prints for them, and the provisional leaderboard
after an interruption (Ctrl-C, SIGTERM).

An interrupted job run is not evaluated (its numbers would be stored as if final), so the
ordinary leaderboard has no row for it. Here each one is evaluated over the items done so far
inside a transaction that is rolled back: the same evaluation code, nothing stored. The table
is titled PARTIAL and each interrupted job run is listed with how many items were done.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from sqlalchemy import func, select

from spectragram_bench.core.liveness import shown_status
from spectragram_bench.core.models import JobRun, WorkItemRow
from spectragram_bench.core.normalize import resolve
from spectragram_bench.core.persistence import Database
from spectragram_bench.core.statuses import FINAL_STATUSES, JobRunStatus, WorkItemState
from spectragram_bench.evaluations.v1.pipeline import evaluate_job_run, evaluation_config
from spectragram_bench.reporting.summary import wide_console
from spectragram_bench.reporting.terminal import print_leaderboard


@dataclass(frozen=True)
class Progress:
    job_run_id: int
    label: str | None
    status: str  # as shown: `interrupted (stale, heartbeat 12m03s ago)` for a dead running one
    done: int
    total: int


def unfinished(session, benchmark_id: int, statuses=None) -> list[Progress]:
    """Job runs of the benchmark not closed (or only those with a stored status in `statuses`),
    with their done / total item counts."""
    q = select(JobRun).where(JobRun.benchmark_id == benchmark_id, JobRun.status.not_in(FINAL_STATUSES))
    if statuses is not None:
        q = q.where(JobRun.status.in_(statuses))
    out = []
    for run in session.execute(q.order_by(JobRun.job_run_id)).scalars().all():
        by_state = dict(session.execute(
            select(WorkItemRow.state, func.count()).where(WorkItemRow.job_run_id == run.job_run_id).group_by(WorkItemRow.state)
        ).all())
        out.append(Progress(run.job_run_id, run.label, shown_status(run.status, run.heartbeat_at, run.started_at),
                            by_state.get(WorkItemState.DONE, 0), sum(by_state.values())))
    return out


def unfinished_lines(session, benchmark_id: int, resume_hint: str) -> list[str]:
    """One line per job run not closed: its status (stale or not), its progress, how to resume it."""
    return [
        f"job run {p.job_run_id}{f' ({p.label})' if p.label else ''}: {p.status}, {p.done} of {p.total} items done; "
        f"resume with: {resume_hint}"
        for p in unfinished(session, benchmark_id)
    ]


def print_partial_leaderboard(db: Database, benchmark_id: int, console: Console | None = None, *, wide: bool = False) -> list[Progress]:
    """Print the leaderboard with interrupted job runs scored over their done items; store nothing."""
    console = console or wide_console()
    with db.session() as s:
        progress = unfinished(s, benchmark_id, [JobRunStatus.INTERRUPTED])
        done = sum(p.done for p in progress)
        total = sum(p.total for p in progress)
        console.print(f"PARTIAL leaderboard: interrupted, {done} of {total} items done; "
                      "these numbers cover the done items only and are not stored", style="bold", highlight=False)
        try:
            for p in progress:
                if p.done:
                    config = evaluation_config(s, p.job_run_id)
                    evaluate_job_run(s, p.job_run_id, resolve(config.normalizer, config.normalizer_steps), evaluation=config)
            print_leaderboard(s, benchmark_id, console, wide=wide)
        finally:
            s.rollback()
        for p in progress:
            console.print(f"PARTIAL: job run {p.job_run_id}{f' ({p.label})' if p.label else ''}: "
                          f"{p.done} of {p.total} items done", highlight=False)
    return progress
