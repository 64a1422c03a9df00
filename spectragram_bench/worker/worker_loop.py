"""The worker loop: a process that only leases work someone else enqueued (`enqueue`), runs
it through the same job-run execution as `run`, and closes job runs left open by dead workers."""

from __future__ import annotations

import asyncio
import logging

from spectragram_bench.core.config import JobConfig, ProviderConfig, parse_config
from spectragram_bench.core.errors import BenchError, ConfigError
from spectragram_bench.core.models import Benchmark, JobRun
from spectragram_bench.core.normalize import Normalizer
from spectragram_bench.core.persistence import Database
from spectragram_bench.core.registry import provider_class
from spectragram_bench.core.result_writer import ResultWriter
from spectragram_bench.providers.base import Provider
from spectragram_bench.worker import job_run_status, leases, work_items
from spectragram_bench.worker.accounts import with_account_limits
from spectragram_bench.worker.job_runs import (
    DEFAULT_GRACE_S,
    JobRunOutcome,
    RunContext,
    closer,
    install_signals,
    run_job_run,
)
from spectragram_bench.worker.plan import build_plan
from spectragram_bench.worker.probes import ProbeStore
from spectragram_bench.worker.progress import ProgressDisplay
from spectragram_bench.worker.registration import (
    VariantResolver,
    build_providers,
    materialise,
    normalizer_for,
)
from spectragram_bench.worker.resume import redacted_paths

log = logging.getLogger(__name__)



# --- workers ---------------------------------------------------------------------------------


def job_run_setup(db: Database, job_run_id: int) -> tuple[Provider, Normalizer, int, VariantResolver, bool]:
    """A provider for a job run someone else enqueued, from its benchmark's stored config.

    Keys come from this machine's environment (api_key_env); a provider whose params had to
    be redacted cannot be rebuilt here and is reported, not guessed.
    """
    with db.session() as s:
        run = s.get(JobRun, job_run_id)
        stored = dict(s.get(Benchmark, run.benchmark_id).config_json)
    pcs = [p for p in stored.get("providers", []) if ProviderConfig.model_validate(p).display == run.label]
    if not pcs:
        raise ConfigError(f"benchmark {run.benchmark_id}'s stored config has no provider labelled {run.label!r}")
    redacted = redacted_paths(pcs[0], "$.provider")
    if redacted:
        raise ConfigError(f"provider {run.label!r} has redacted secrets at {', '.join(redacted)}; a worker cannot rebuild it")
    config = parse_config({k: v for k, v in stored.items() if k not in ("selection", "database_url")}, f"benchmark {run.benchmark_id} config")
    pc = next(p for p in config.providers if p.display == run.label)
    provider = provider_class(pc)(with_account_limits(pc, config.providers))
    provider.check_ready()
    return provider, normalizer_for(config), config.evaluation.bootstrap_seed, VariantResolver(db, config), config.reuse_predictions


async def _close_orphans(ctx: RunContext, skipped: set[int]) -> None:
    """Evaluate job runs whose last worker died after its last commit (exactly once: finalize locks)."""
    for jr in await asyncio.to_thread(ctx.db.retrying, work_items.unclosed_job_runs, ctx.db, what="finding unclosed job runs"):
        if jr in skipped:
            continue
        try:
            _provider, normalizer, _seed, _variants, _reuse = await asyncio.to_thread(job_run_setup, ctx.db, jr)
        except BenchError as exc:
            log.error("job run %d cannot be evaluated here: %s", jr, exc)
            skipped.add(jr)
            continue
        status = await asyncio.to_thread(job_run_status.finalize, ctx.db, jr, evaluate=closer(normalizer, _provider.config))
        if status is not None:
            log.info("job run %d (left open by a dead process) %s: evaluated", jr, status)


async def _worker_loop(ctx: RunContext, wait: bool, poll_s: float) -> list[JobRunOutcome]:
    installed = install_signals(ctx)
    ctx.loop = asyncio.get_running_loop()
    ctx.progress.start()
    active: dict[int, asyncio.Task] = {}
    skipped: set[int] = set()
    outcomes: list[JobRunOutcome] = []
    try:
        while True:
            if not ctx.interrupted:
                for jr in await asyncio.to_thread(ctx.db.retrying, work_items.runnable_job_runs, ctx.db, what="finding work"):
                    if jr in active or jr in skipped:
                        continue
                    try:
                        provider, normalizer, seed, variants, reuse = await asyncio.to_thread(job_run_setup, ctx.db, jr)
                    except BenchError as exc:
                        log.error("job run %d skipped: %s", jr, exc)
                        skipped.add(jr)
                        continue
                    active[jr] = asyncio.create_task(run_job_run(ctx, jr, provider, normalizer, seed, variants, reuse=reuse))
            if not active:
                if ctx.interrupted:
                    break
                await _close_orphans(ctx, skipped)
                still_open = set(await asyncio.to_thread(ctx.db.retrying, work_items.open_job_runs, ctx.db, what="finding open job runs")) - skipped
                if not still_open and not wait:
                    break
                await asyncio.sleep(poll_s)  # items leased by others may expire and come back
                continue
            await asyncio.wait(active.values(), timeout=poll_s, return_when=asyncio.FIRST_COMPLETED)
            for jr, task in list(active.items()):
                if task.done():
                    outcomes.append(task.result())
                    del active[jr]
    finally:
        for task in active.values():
            task.cancel()
        await ctx.progress.stop()
        loop = asyncio.get_running_loop()
        for sig in installed:
            loop.remove_signal_handler(sig)
    return outcomes


def run_worker(
    db: Database, *, lease_s: float = work_items.DEFAULT_LEASE_S, wait: bool = False, poll_s: float = 5.0,
    progress: str = "log", grace_s: float = DEFAULT_GRACE_S,
) -> tuple[list[JobRunOutcome], bool]:
    """Lease and run enqueued work until none is left (or forever with `wait`).

    Returns the job runs this worker took part in and whether it was interrupted.
    """
    reclaimed = leases.reclaim_dead_leases(db)
    if reclaimed:
        log.info("reclaimed %d items leased by dead processes on this host", reclaimed)
    writer = ResultWriter(db, also=work_items.mark_done, on_unavailable=lambda exc: ctx.database_lost(exc))
    ctx = RunContext(db, writer, ProgressDisplay(progress), lease_s=lease_s, grace_s=grace_s, mark_interrupted=False)
    try:
        outcomes = asyncio.run(_worker_loop(ctx, wait, poll_s))
    finally:
        writer.close()
    return outcomes, ctx.interrupted


def enqueue_benchmark(
    config: JobConfig, db: Database, *, max_utt: int | None = None, max_per_subset: int | None = None,
    notes: str | None = None,
) -> tuple[int, list[int], int]:
    """Write the plan for workers to run: (benchmark_id, job_run_ids, items per job run)."""
    providers = build_providers(config)
    normalizer_for(config)
    plan = build_plan(config, max_utt, max_per_subset, ProbeStore(db))
    benchmark_id, job_run_ids, _runtime = materialise(db, plan, providers, notes)
    return benchmark_id, job_run_ids, plan.n_utterances
