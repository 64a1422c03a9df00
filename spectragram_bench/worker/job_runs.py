"""Job-run execution: every job run of a process through the executor, each evaluated once its
items are done ("post-onboard evaluation").

Interruption: the first SIGINT/SIGTERM stops dispatching and lets in-flight requests finish
for a grace period; a second one (or the end of the grace period) abandons them. Either way
every finished result is committed, unfinished items are released for a resume, and the
job runs are marked interrupted.

A database outage longer than `db_retry_s` (the writer, the shared pacer, leasing or lease
renewal could not reach it: core/db_retry.py) is an interruption too: dispatching stops,
in-flight requests finish, their results are written if the database comes back in time,
leases are released and job runs marked interrupted where it can be reached; the CLI prints
one line saying how to resume.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from spectragram_bench.core.config import JobConfig, ProviderConfig
from spectragram_bench.core.defaults import DEFAULT_GRACE_S  # noqa: F401  (re-exported)
from spectragram_bench.core.errors import DatabaseUnavailable
from spectragram_bench.core.models import JobRun, Model
from spectragram_bench.core.normalize import Normalizer
from spectragram_bench.core.persistence import Database
from spectragram_bench.core.pricing import write_cost_summary
from spectragram_bench.core.records import PredictionResult
from spectragram_bench.core.result_writer import ResultWriter
from spectragram_bench.core.statuses import JobRunStatus
from spectragram_bench.evaluations.v1.pipeline import evaluate_job_run
from spectragram_bench.providers.base import Provider
from spectragram_bench.worker import job_run_status, leases, work_items
from spectragram_bench.worker.accounts import Accounts, account_pacer_row
from spectragram_bench.worker.exec_infer import ExecStats, Executor
from spectragram_bench.worker.harness_health import record_harness_health
from spectragram_bench.worker.limits import Pacer, SharedPacer
from spectragram_bench.worker.plan import build_plan
from spectragram_bench.worker.preflight import check_names
from spectragram_bench.worker.probes import ProbeStore
from spectragram_bench.worker.progress import ProgressDisplay
from spectragram_bench.worker.registration import (
    VariantResolver,
    build_providers,
    materialise,
    normalizer_for,
)
from spectragram_bench.worker.retry import RetryPolicy
from spectragram_bench.worker.reuse import ReuseIndex

log = logging.getLogger(__name__)



@dataclass
class JobRunOutcome:
    job_run_id: int
    label: str
    status: str
    stats: ExecStats
    error_text: str | None = None


@dataclass
class BenchmarkOutcome:
    benchmark_id: int
    job_runs: list[JobRunOutcome] = field(default_factory=list)
    interrupted: bool = False
    database_error: str | None = None  # the outage that stopped the run
    unsaved: int = 0  # finished results the database never took (requested again on resume)

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return 1 if any(j.status == JobRunStatus.FAILED for j in self.job_runs) else 0


# --- execution -------------------------------------------------------------------------------


@dataclass
class RunContext:
    """What the job runs of one process share: database, writer, display, stop state."""

    db: Database
    writer: ResultWriter
    progress: ProgressDisplay
    lease_s: float = work_items.DEFAULT_LEASE_S
    grace_s: float = DEFAULT_GRACE_S
    mark_interrupted: bool = True  # `run` marks its job runs interrupted; a worker leaves them to the others
    reuse: bool = False  # reuse_predictions: fill items from matching earlier predictions (worker/reuse.py)
    executors: list[Executor] = field(default_factory=list)
    accounts: Accounts = field(default_factory=Accounts)  # limits shared by job runs of one account
    run_tasks: set[asyncio.Task] = field(default_factory=set)
    interrupted: bool = False
    hard_stopped: bool = False
    database_error: str | None = None
    loop: asyncio.AbstractEventLoop | None = None

    def database_lost(self, exc: DatabaseUnavailable) -> None:
        """The database stayed away past db_retry_s: stop as interrupted (any thread)."""
        if self.database_error is None:
            self.database_error = str(exc)
            log.error("%s: stopping; finished results are held until it is back", exc)
        if self.loop is not None and not self.loop.is_closed():
            try:
                self.loop.call_soon_threadsafe(self.stop_dispatching)
            except RuntimeError:  # the loop has just closed: nothing left to stop
                pass

    def stop_dispatching(self) -> None:
        self.interrupted = True
        for ex in self.executors:
            ex.stats.interrupted = True
            ex.stop.set()

    def hard_stop(self) -> None:
        self.stop_dispatching()
        self.hard_stopped = True
        for t in list(self.run_tasks):
            t.cancel()


async def _heartbeat(ctx: RunContext, job_run_id: int, owner: str, lease_s: float) -> None:
    """Every lease_s / 3: renew this owner's leases and the job run's heartbeat (core/liveness.py)."""
    db = ctx.db
    while True:
        await asyncio.sleep(lease_s / 3)
        try:
            await asyncio.to_thread(db.retrying, leases.renew, db, owner, lease_s, what="renewing leases")
            await asyncio.to_thread(db.retrying, job_run_status.beat, db, job_run_id, what="writing the heartbeat")
        except DatabaseUnavailable as exc:
            ctx.database_lost(exc)
            return
        except Exception as exc:  # a missed renewal is retried; the lease outlives two misses
            log.warning("lease renewal failed: %s", exc)


async def _close_step(ctx: RunContext, fn, *args, what: str) -> Any:
    """One step of closing a job run, riding out an outage; None if the database stayed away."""
    try:
        return await asyncio.to_thread(ctx.db.retrying, fn, *args, what=what)
    except DatabaseUnavailable as exc:
        ctx.database_lost(exc)
        return None


def closer(normalizer: Normalizer, pc: ProviderConfig):
    """What closing a job run writes: the model's revision as the provider reported it, the
    cost summary, and the evaluation."""

    def close(session: Session, job_run_id: int) -> None:
        run = session.get(JobRun, job_run_id)
        if run.model_revision:
            session.get(Model, run.model_id).revision = run.model_revision  # the newest revision seen
        write_cost_summary(session, job_run_id, pc)
        evaluate_job_run(session, job_run_id, normalizer)

    return close


def _pacer_for(ctx: RunContext, pc: ProviderConfig, job_run_id: int) -> Pacer:
    """PostgreSQL: the schedule every worker shares (the `rate_pacer` row of the account's
    first job run); SQLite (one process): in memory."""
    if pc.rate_limit is not None and ctx.db.dialect == "postgresql":
        return SharedPacer(pc.rate_limit, ctx.db, account_pacer_row(ctx.db, job_run_id), on_unavailable=ctx.database_lost)
    return Pacer(pc.rate_limit)


async def run_job_run(
    ctx: RunContext, job_run_id: int, provider: Provider, normalizer: Normalizer, seed: int,
    variants: VariantResolver, *, reuse: bool | None = None,
) -> JobRunOutcome:
    """Lease and run this job run's items until none are left, then evaluate it (once, across processes)."""
    db, pc = ctx.db, provider.config
    owner = leases.new_owner()

    def record_broken(result: PredictionResult) -> None:
        executor.stats.failed += 1
        ctx.writer.submit(result)

    account = ctx.accounts.get(pc, pc.concurrency, lambda: _pacer_for(ctx, pc, job_run_id))
    if ctx.reuse if reuse is None else reuse:  # a worker passes its benchmark's reuse_predictions
        reuse_index = await asyncio.to_thread(db.retrying, ReuseIndex.load, db, job_run_id, what="finding reusable predictions")
    else:
        reuse_index = None
    executor = Executor(
        provider, ctx.writer.submit, concurrency=pc.concurrency, timeout_s=pc.timeout_s,
        retry=RetryPolicy(max_attempts=pc.max_attempts), pacer=account.pacer, slots=account.slots,
        gate=account.gate, seed=seed, reuse=reuse_index,
    )
    ctx.executors.append(executor)
    if ctx.interrupted:
        executor.stop.set()
    c = await asyncio.to_thread(db.retrying, _counts, db, job_run_id, what="counting items")
    tracked = ctx.progress.add(pc.display, c.total, c.total - c.open, executor.stats)
    await asyncio.to_thread(db.retrying, job_run_status.mark_running, db, job_run_id, what="starting the job run")
    feeder = work_items.LeaseFeeder(
        db, job_run_id, owner, batch=min(500, max(8, 2 * pc.concurrency)), lease_s=ctx.lease_s,
        on_broken=record_broken, variants=variants, on_unavailable=ctx.database_lost,
    )
    heartbeat = asyncio.create_task(_heartbeat(ctx, job_run_id, owner, ctx.lease_s))
    run_task = asyncio.create_task(executor.run(feeder))
    ctx.run_tasks.add(run_task)
    status: str | None = None
    try:
        try:
            await run_task
        except asyncio.CancelledError:
            if not ctx.hard_stopped:
                raise
    finally:
        ctx.run_tasks.discard(run_task)
        heartbeat.cancel()
        executor.close(wait=not ctx.hard_stopped)
        try:
            await asyncio.to_thread(ctx.writer.flush)  # every finished result committed, whatever happened
        except DatabaseUnavailable as exc:  # held by the writer; written at close if the database returns
            ctx.database_lost(exc)
        await _close_step(ctx, leases.release, db, owner, what="releasing leases")  # unfinished items back to pending
        try:
            await provider.aclose()
        except Exception as exc:  # closing a client must not hide the run's outcome
            log.warning("closing provider %s: %s", pc.display, exc)
        stats = executor.stats
        for reason in stats.health.bound_reasons():
            log.warning("job run %d (%s): latency figures are harness-bound: %s", job_run_id, pc.display, reason)
        await _close_step(ctx, record_harness_health, db, job_run_id, stats.health, what="recording harness health")
        if ctx.database_error is None and (stats.fatal_error is not None or not stats.interrupted):
            status = await _close_step(
                ctx, functools.partial(job_run_status.finalize, evaluate=closer(normalizer, pc),
                                       fatal_error=stats.fatal_error, model_revision=executor.model_revision),
                db, job_run_id, what="closing the job run",
            )
            if status is not None:
                log.info("job run %d (%s) %s: evaluated", job_run_id, pc.display, status)
        elif ctx.mark_interrupted:
            await _close_step(
                ctx, job_run_status.mark_interrupted, db, job_run_id, lambda s, jr: write_cost_summary(s, jr, pc),
                what="marking the job run interrupted",
            )
        ctx.progress.finish(tracked)
    if ctx.database_error is not None:
        return JobRunOutcome(job_run_id, pc.display, JobRunStatus.INTERRUPTED, executor.stats, ctx.database_error)
    run = await asyncio.to_thread(db.retrying, _job_run_row, db, job_run_id, what="reading the job run")
    return JobRunOutcome(job_run_id, pc.display, run.status, executor.stats, run.error_text)


def _counts(db: Database, job_run_id: int) -> work_items.ItemCounts:
    with db.session() as s:
        return work_items.counts(s, job_run_id)


def _job_run_row(db: Database, job_run_id: int) -> JobRun:
    with db.session() as s:
        return s.get(JobRun, job_run_id)


def install_signals(ctx: RunContext) -> list[signal.Signals]:
    """First SIGINT/SIGTERM: stop dispatching, grace period for in-flight; second: abandon them."""
    loop = asyncio.get_running_loop()
    hits = 0

    def on_signal() -> None:
        nonlocal hits
        hits += 1
        if hits == 1:
            log.warning(
                "interrupt: no new requests; waiting up to %g s for the ones in flight (interrupt again to stop now)",
                ctx.grace_s,
            )
            ctx.stop_dispatching()
            loop.call_later(ctx.grace_s, ctx.hard_stop)
        else:
            log.warning("second interrupt: abandoning in-flight requests; committing finished results")
            ctx.hard_stop()

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, on_signal)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            pass
    return installed


async def run_job_runs(
    ctx: RunContext, runs: Sequence[tuple[int, Provider]], normalizer: Normalizer, seed: int, variants: VariantResolver
) -> list[JobRunOutcome]:
    """All job runs concurrently: each is bounded by its own provider's limits, not by the others."""
    installed = install_signals(ctx)
    ctx.loop = asyncio.get_running_loop()
    ctx.progress.start()
    try:
        return list(await asyncio.gather(*(run_job_run(ctx, jr, p, normalizer, seed, variants) for jr, p in runs)))
    finally:
        await ctx.progress.stop()
        loop = asyncio.get_running_loop()
        for sig in installed:
            loop.remove_signal_handler(sig)


def execute(
    db: Database, benchmark_id: int, runs: Sequence[tuple[int, Provider]], config: JobConfig,
    variants: VariantResolver, *, progress: str = "log", grace_s: float = DEFAULT_GRACE_S,
    lease_s: float = work_items.DEFAULT_LEASE_S,
) -> BenchmarkOutcome:
    db.set_retry_s(config.db_retry_s)
    writer = ResultWriter(db, also=work_items.mark_done, on_unavailable=lambda exc: ctx.database_lost(exc))
    ctx = RunContext(db, writer, ProgressDisplay(progress), lease_s=lease_s, grace_s=grace_s, reuse=config.reuse_predictions)
    normalizer = normalizer_for(config)
    try:
        outcomes = asyncio.run(run_job_runs(ctx, runs, normalizer, config.evaluation.bootstrap_seed, variants))
    finally:
        try:
            writer.close()
        except DatabaseUnavailable as exc:  # the held results could not be written: a resume requests them again
            ctx.database_lost(exc)
    return BenchmarkOutcome(
        benchmark_id, outcomes, interrupted=ctx.interrupted or ctx.database_error is not None,
        database_error=ctx.database_error, unsaved=writer.unsaved,
    )


def run_benchmark(
    config: JobConfig, db: Database, *, max_utt: int | None = None, max_per_subset: int | None = None,
    notes: str | None = None, progress: str = "log", grace_s: float = DEFAULT_GRACE_S,
) -> BenchmarkOutcome:
    """Plan, write the plan, run every job run, evaluate each."""
    check_names(config)  # every bad name (normaliser, metric, provider, dataset) before anything is written
    providers = build_providers(config)
    plan = build_plan(config, max_utt, max_per_subset, ProbeStore(db))
    benchmark_id, job_run_ids, runtime = materialise(db, plan, providers, notes)
    log.info("benchmark %d: %d job run(s) x %d work items", benchmark_id, len(job_run_ids), plan.n_utterances)
    return execute(
        db, benchmark_id, list(zip(job_run_ids, providers, strict=True)), config,
        VariantResolver(db, config, runtime), progress=progress, grace_s=grace_s,
    )


