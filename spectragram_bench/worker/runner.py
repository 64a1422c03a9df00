"""The run loop: a plan into the database, then every job run through the executor, each
evaluated once its items are done ("post-onboard evaluation").

`run_benchmark` validates everything that can be validated without calling a provider
(registries, keys, dataset roots), writes the plan (datasets, utterances, the benchmark, its
job runs queued, their work items), and runs all job runs concurrently in one event loop,
each under its own provider's limits, all results through one writer. `resume_benchmark`
continues a benchmark from its work items. `run_worker` is the same loop for a process that
only leases work someone else enqueued (worker/queue.py has the leasing).

Interruption: the first SIGINT/SIGTERM stops dispatching and lets in-flight requests finish
for a grace period; a second one (or the end of the grace period) abandons them. Either way
every finished result is committed, unfinished items are released for a resume, and the
job runs are marked interrupted.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import signal
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from spectragram_bench.core.config import REDACTED, JobConfig, ProviderConfig, parse_config, redact
from spectragram_bench.core.environment import env_json, host_info_json
from spectragram_bench.core.errors import BenchError, ConfigError
from spectragram_bench.core.models import Benchmark, JobRun, Model, Utterance
from spectragram_bench.core.models import Dataset as DatasetRow
from spectragram_bench.core.models import DatasetVariant as VariantRow
from spectragram_bench.core.models import Provider as ProviderRow
from spectragram_bench.core.normalize import Normalizer
from spectragram_bench.core.normalize import resolve as resolve_normalizer
from spectragram_bench.core.persistence import Database, ResultWriter, _insert
from spectragram_bench.core.pricing import write_cost_summary
from spectragram_bench.core.records import PredictionResult, UtteranceRecord
from spectragram_bench.core.registry import DATASETS, PROVIDERS
from spectragram_bench.datasets.base import Dataset
from spectragram_bench.datasets.variants import prepare_variant, variant_key
from spectragram_bench.evaluations.v1.pipeline import evaluate_job_run
from spectragram_bench.providers.base import Provider
from spectragram_bench.worker import queue
from spectragram_bench.worker.exec_infer import ExecStats, Executor, RetryPolicy
from spectragram_bench.worker.limits import Pacer, SharedPacer
from spectragram_bench.worker.plan import Plan, build_plan
from spectragram_bench.worker.progress import ProgressDisplay

log = logging.getLogger(__name__)

DEFAULT_GRACE_S = 30.0


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

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return 1 if any(j.status == "failed" for j in self.job_runs) else 0


# --- registration: a plan into the database --------------------------------------------------


def build_providers(config: JobConfig) -> list[Provider]:
    """Instantiate and check every provider before any work starts (missing key, bad params)."""
    providers = []
    for pc in config.providers:
        provider = PROVIDERS.get(pc.name)(pc)
        provider.check_ready()
        providers.append(provider)
    return providers


def normalizer_for(config: JobConfig) -> Normalizer:
    return resolve_normalizer(config.evaluation.normalizer, config.evaluation.normalizer_steps)


class VariantResolver:
    """The variant as the executor applies it, for items rebuilt from the database.

    The database stores a variant's parameters; some variants also need run-time resources
    (datasets/variants.prepare_variant): noise files are listed from their folder, and a
    babble pool is the dataset's utterances before selection, so a resume or a worker reads
    that dataset again (from the benchmark's config) the first time it meets such a variant.
    """

    def __init__(self, db: Database, config: JobConfig, known: dict[tuple[int, str], dict[str, Any]] | None = None) -> None:
        self.db = db
        self.config = config
        self.known = dict(known or {})
        self._lock = threading.Lock()

    def __call__(self, dataset_id: int, spec: dict[str, Any]) -> dict[str, Any]:
        key = (dataset_id, variant_key(spec))
        with self._lock:
            if key not in self.known:
                if spec.get("noise") == "babble":  # needs the whole dataset's utterance list
                    self._load_babble_pools()
                else:
                    self.known[key] = prepare_variant(spec, ())
            if key not in self.known:
                raise BenchError(f"variant {spec} of dataset {dataset_id} is not in the benchmark's config")
            return self.known[key]

    def _load_babble_pools(self) -> None:
        for dc in self.config.datasets:
            specs = [v.model_dump() for v in dc.variants]
            specs = [v for v in specs if v.get("noise") == "babble"]
            if not specs:
                continue
            ds = DATASETS.get(dc.name)(dc.root, dc.subsets, dc.options)
            info = ds.info()
            with self.db.session() as s:
                row = s.execute(select(DatasetRow).filter_by(name=info.name, source=info.source)).scalar_one_or_none()
            if row is None:
                continue
            everything = list(ds.utterances())
            for spec in specs:
                self.known[(row.dataset_id, variant_key(spec))] = prepare_variant(spec, everything)


def _upsert(session: Session, table, values: dict[str, Any], keys: Sequence[str], update: Sequence[str] = ()):
    insert = _insert(session.bind.dialect.name)
    stmt = insert(table).values(**values)
    if update:
        stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_={k: stmt.excluded[k] for k in update})
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
    session.execute(stmt)
    return session.execute(select(table).filter_by(**{k: values[k] for k in keys})).scalar_one()


def register_dataset(session: Session, dataset: Dataset) -> DatasetRow:
    info = dataset.info()
    existing = session.execute(
        select(DatasetRow).filter_by(name=info.name, source=info.source)
    ).scalar_one_or_none()
    if existing is not None and existing.checksum and info.checksum and existing.checksum != info.checksum:
        log.warning(
            "dataset %s at %s changed since it was last registered (transcript checksum %s... -> %s...)",
            info.name, info.source, existing.checksum[:12], info.checksum[:12],
        )
    return _upsert(
        session,
        DatasetRow,
        {"name": info.name, "source": info.source, "license": info.license, "checksum": info.checksum, "notes": info.notes},
        ["name", "source"],
        ["license", "checksum", "notes"],
    )


def utterance_meta(r: UtteranceRecord) -> dict[str, Any]:
    """meta_json, with a segment's offset/length so a work item can be rebuilt from the row alone."""
    meta = dict(r.meta)
    if r.offset_s:
        meta["offset_s"] = r.offset_s
    if r.segment_s is not None:
        meta["segment_s"] = r.segment_s
    return meta


def register_utterances(
    session: Session, dataset_id: int, variant: dict[str, Any], records: Sequence[UtteranceRecord]
) -> list[int]:
    """Insert (or refresh) the selected utterances of one variant; returns their ids in order."""
    by_split: dict[str, list[UtteranceRecord]] = {}
    for r in records:
        by_split.setdefault(r.subset, []).append(r)
    ids_out: dict[tuple[str, str], int] = {}
    insert = _insert(session.bind.dialect.name)
    for split, recs in by_split.items():
        vrow = _upsert(
            session,
            VariantRow,
            {"dataset_id": dataset_id, "split": split, "variant_key": variant_key(variant), "variant_json": variant},
            ["dataset_id", "split", "variant_key"],
        )
        rows = [
            {
                "dataset_id": dataset_id,
                "variant_id": vrow.variant_id,
                "external_id": r.external_id,
                "audio_path": r.audio_path,
                "ref_text": r.ref_text,
                "duration_s": r.duration_s,
                "speaker": r.speaker,
                "meta_json": utterance_meta(r),
            }
            for r in recs
        ]
        if rows:  # one cached statement, executemany: compiling a 500-row VALUES costs more than running it
            stmt = insert(Utterance)
            stmt = stmt.on_conflict_do_update(
                index_elements=["dataset_id", "variant_id", "external_id"],
                set_={k: stmt.excluded[k] for k in ("audio_path", "ref_text", "duration_s", "speaker", "meta_json")},
            )
            session.connection().execute(stmt, rows)
        ids = session.execute(
            select(Utterance.external_id, Utterance.utt_id).where(
                Utterance.dataset_id == dataset_id, Utterance.variant_id == vrow.variant_id
            )
        ).all()
        ids_out.update({(split, ext): utt for ext, utt in ids})
    return [ids_out[(r.subset, r.external_id)] for r in records]


def config_hash(values: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()


def register_job_run(session: Session, benchmark_id: int, provider: Provider) -> JobRun:
    pc: ProviderConfig = provider.config
    sdk, sdk_version = provider.sdk_info()
    prow = _upsert(session, ProviderRow, {"name": pc.name, "sdk": sdk, "sdk_version": sdk_version}, ["name"], ["sdk", "sdk_version"])
    params = redact({**provider.model_params(), "mode": pc.mode})
    mrow = _upsert(
        session,
        Model,
        {"provider_id": prow.provider_id, "name": pc.model, "params_hash": config_hash(params), "params_json": params},
        ["provider_id", "name", "params_hash"],
    )
    run = JobRun(
        benchmark_id=benchmark_id,
        provider_id=prow.provider_id,
        model_id=mrow.model_id,
        label=pc.display,
        status="queued",
        env_json=env_json(),
        host_info_json=host_info_json(),
    )
    session.add(run)
    session.flush()
    return run


def stored_config(config: JobConfig, plan: Plan) -> dict[str, Any]:
    stored = redact(config.model_dump(mode="json"))
    stored["selection"] = {"max_utt": plan.max_utt, "max_per_subset": plan.max_per_subset}
    return stored


def materialise(
    db: Database, plan: Plan, providers: Sequence[Provider], notes: str | None = None
) -> tuple[int, list[int], dict[tuple[int, str], dict[str, Any]]]:
    """Write the plan in one transaction: utterances, benchmark, job runs (queued), work items.

    Returns (benchmark_id, job_run_ids in provider order, run-time variants by (dataset_id, variant key)).
    """
    runtime: dict[tuple[int, str], dict[str, Any]] = {}
    with db.transaction() as s:
        utt_ids: list[int] = []
        for index, (_dc, ds) in enumerate(plan.datasets):
            drow = register_dataset(s, ds)
            mine = [u for u in plan.utterances if u.dataset_index == index]
            for vkey, planned in {variant_key(u.variant): u for u in mine}.items():
                recs = [u.record for u in mine if variant_key(u.variant) == vkey]
                utt_ids.extend(register_utterances(s, drow.dataset_id, planned.variant, recs))
                runtime[(drow.dataset_id, vkey)] = planned.runtime_variant
        bench = Benchmark(name=plan.config.name, config_json=stored_config(plan.config, plan), notes=notes)
        s.add(bench)
        s.flush()
        job_run_ids = []
        for provider in providers:
            run = register_job_run(s, bench.benchmark_id, provider)
            queue.add_work_items(s, run.job_run_id, utt_ids)
            job_run_ids.append(run.job_run_id)
        return bench.benchmark_id, job_run_ids, runtime


# --- resume ----------------------------------------------------------------------------------


def _redacted_paths(value: Any, path: str = "$") -> list[str]:
    if value == REDACTED or (isinstance(value, str) and "***" in value and "@" in value):
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _redacted_paths(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _redacted_paths(v, f"{path}[{i}]")]
    return []


WORK_IDENTITY_PROVIDER_KEYS = ("name", "model", "label", "mode", "params")


def work_identity(stored: dict[str, Any]) -> dict[str, Any]:
    """What decides which requests a benchmark makes; everything else (concurrency, limits,
    timeouts, base_url, the database) may change between a run and its resume."""
    return {
        "providers": [{k: p.get(k) for k in WORK_IDENTITY_PROVIDER_KEYS} for p in stored.get("providers", [])],
        "datasets": stored.get("datasets"),
        "selection_seed": stored.get("selection_seed"),
        "selection": stored.get("selection"),
    }


def _differences(a: Any, b: Any, path: str = "$") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in _differences(a.get(k), b.get(k), f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in _differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} was stored, {b!r} given"]


def config_for_resume(db: Database, benchmark_id: int, given: JobConfig | None) -> JobConfig:
    """The job config a resume runs with.

    Without --config it is rebuilt from the benchmark's stored config (keys always come from
    the environment, so nothing is missing unless a secret had to be redacted from params or a
    URL; then --config is required). With --config, what decides the requests (providers'
    identity, datasets, selection) must match what was stored; concurrency, rate limits,
    timeouts and base_url may differ and the new values apply.
    """
    with db.session() as s:
        bench = s.get(Benchmark, benchmark_id)
        if bench is None:
            raise BenchError(f"no benchmark {benchmark_id} in {db.location}")
        stored = dict(bench.config_json)
    if given is None:
        redacted = _redacted_paths({k: v for k, v in stored.items() if k != "database_url"})
        if redacted:
            raise ConfigError(
                f"benchmark {benchmark_id}'s stored config has redacted secrets at {', '.join(redacted)}; "
                "pass the job file with --config"
            )
        return parse_config({k: v for k, v in stored.items() if k != "selection"}, f"benchmark {benchmark_id} config")
    given_stored = redact(given.model_dump(mode="json"))
    given_stored["selection"] = stored.get("selection")
    diffs = _differences(work_identity(stored), work_identity(given_stored))
    if diffs:
        raise ConfigError(f"the job file does not match benchmark {benchmark_id}: " + "; ".join(diffs[:5]))
    return given


def reopen_benchmark(db: Database, benchmark_id: int, config: JobConfig) -> list[tuple[int, ProviderConfig]]:
    """Job runs of the benchmark with work left, made runnable again, with their provider config.

    A job run whose items are all done but which was never closed (its process died between
    the last commit and the evaluation) is evaluated and closed here, without any request.
    """
    by_label = {pc.display: pc for pc in config.providers}
    out, to_close = [], []
    with db.transaction() as s:
        runs = s.execute(select(JobRun).where(JobRun.benchmark_id == benchmark_id).order_by(JobRun.job_run_id)).scalars().all()
        for run in runs:
            if run.label not in by_label:
                raise ConfigError(f"job run {run.job_run_id} ({run.label}) has no provider with that label in the config")
            if run.status == "running" and not _all_leases_dead(s, run.job_run_id):
                log.warning("job run %d (%s) is running elsewhere; this process joins it", run.job_run_id, run.label)
            was_final = run.status in queue.FINAL_STATUSES
            if queue.reopen(s, run.job_run_id):
                out.append((run.job_run_id, by_label[run.label]))
            elif not was_final:
                to_close.append((run.job_run_id, by_label[run.label]))
    normalizer = normalizer_for(config)
    for job_run_id, pc in to_close:
        status = queue.finalize(db, job_run_id, evaluate=_closer(normalizer, pc))
        log.info("job run %d had no work left: %s, evaluated", job_run_id, status)
    return out


def _all_leases_dead(session: Session, job_run_id: int) -> bool:
    from spectragram_bench.core.models import WorkItemRow

    owners = session.execute(
        select(WorkItemRow.lease_owner).where(WorkItemRow.job_run_id == job_run_id, WorkItemRow.state == "leased").distinct()
    ).scalars().all()
    return all(queue._owner_dead_here(o) for o in owners if o)


# --- execution -------------------------------------------------------------------------------


@dataclass
class RunContext:
    """What the job runs of one process share: database, writer, display, stop state."""

    db: Database
    writer: ResultWriter
    progress: ProgressDisplay
    lease_s: float = queue.DEFAULT_LEASE_S
    grace_s: float = DEFAULT_GRACE_S
    mark_interrupted: bool = True  # `run` marks its job runs interrupted; a worker leaves them to the others
    executors: list[Executor] = field(default_factory=list)
    run_tasks: set[asyncio.Task] = field(default_factory=set)
    interrupted: bool = False
    hard_stopped: bool = False

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


async def _heartbeat(db: Database, owner: str, lease_s: float) -> None:
    while True:
        await asyncio.sleep(lease_s / 3)
        try:
            await asyncio.to_thread(queue.renew, db, owner, lease_s)
        except Exception as exc:  # a missed renewal is retried; the lease outlives two misses
            log.warning("lease renewal failed: %s", exc)


def _closer(normalizer: Normalizer, pc: ProviderConfig):
    """What closing a job run writes: the model's revision as the provider reported it, the
    cost summary, and the evaluation."""

    def close(session: Session, job_run_id: int) -> None:
        run = session.get(JobRun, job_run_id)
        if run.model_revision:
            session.get(Model, run.model_id).revision = run.model_revision  # the newest revision seen
        write_cost_summary(session, job_run_id, pc)
        evaluate_job_run(session, job_run_id, normalizer)

    return close


def _pacer_for(db: Database, pc: ProviderConfig, job_run_id: int) -> Pacer:
    """PostgreSQL: the schedule every worker shares; SQLite (one process): in memory."""
    if pc.rate_limit is not None and db.dialect == "postgresql":
        return SharedPacer(pc.rate_limit, db, job_run_id)
    return Pacer(pc.rate_limit)


async def run_job_run(
    ctx: RunContext, job_run_id: int, provider: Provider, normalizer: Normalizer, seed: int,
    variants: VariantResolver,
) -> JobRunOutcome:
    """Lease and run this job run's items until none are left, then evaluate it (once, across processes)."""
    db, pc = ctx.db, provider.config
    owner = queue.new_owner()

    def record_broken(result: PredictionResult) -> None:
        executor.stats.failed += 1
        ctx.writer.submit(result)

    executor = Executor(
        provider, ctx.writer.submit, concurrency=pc.concurrency, timeout_s=pc.timeout_s,
        retry=RetryPolicy(max_attempts=pc.max_attempts), pacer=_pacer_for(db, pc, job_run_id), seed=seed,
    )
    ctx.executors.append(executor)
    if ctx.interrupted:
        executor.stop.set()
    with db.session() as s:
        c = queue.counts(s, job_run_id)
    tracked = ctx.progress.add(pc.display, c.total, c.total - c.open, executor.stats)
    await asyncio.to_thread(queue.mark_running, db, job_run_id)
    feeder = queue.LeaseFeeder(
        db, job_run_id, owner, batch=min(500, max(8, 2 * pc.concurrency)), lease_s=ctx.lease_s,
        on_broken=record_broken, variants=variants,
    )
    heartbeat = asyncio.create_task(_heartbeat(db, owner, ctx.lease_s))
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
        await asyncio.to_thread(ctx.writer.flush)  # every finished result committed, whatever happened
        await asyncio.to_thread(queue.release, db, owner)  # unfinished items back to pending
        try:
            await provider.aclose()
        except Exception as exc:  # closing a client must not hide the run's outcome
            log.warning("closing provider %s: %s", pc.display, exc)
        stats = executor.stats
        if stats.fatal_error is not None or not stats.interrupted:
            status = await asyncio.to_thread(
                queue.finalize, db, job_run_id, evaluate=_closer(normalizer, pc),
                fatal_error=stats.fatal_error, model_revision=executor.model_revision,
            )
            if status is not None:
                log.info("job run %d (%s) %s: evaluated", job_run_id, pc.display, status)
        elif ctx.mark_interrupted:
            await asyncio.to_thread(queue.mark_interrupted, db, job_run_id, lambda s, jr: write_cost_summary(s, jr, pc))
        ctx.progress.finish(tracked)
    with db.session() as s:
        run = s.get(JobRun, job_run_id)
        return JobRunOutcome(job_run_id, pc.display, run.status, executor.stats, run.error_text)


def _install_signals(ctx: RunContext) -> list[signal.Signals]:
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
    installed = _install_signals(ctx)
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
    lease_s: float = queue.DEFAULT_LEASE_S,
) -> BenchmarkOutcome:
    writer = ResultWriter(db, also=queue.mark_done)
    ctx = RunContext(db, writer, ProgressDisplay(progress), lease_s=lease_s, grace_s=grace_s)
    normalizer = normalizer_for(config)
    try:
        outcomes = asyncio.run(run_job_runs(ctx, runs, normalizer, config.evaluation.bootstrap_seed, variants))
    finally:
        writer.close()
    return BenchmarkOutcome(benchmark_id, outcomes, interrupted=ctx.interrupted)


def run_benchmark(
    config: JobConfig, db: Database, *, max_utt: int | None = None, max_per_subset: int | None = None,
    notes: str | None = None, progress: str = "log", grace_s: float = DEFAULT_GRACE_S,
) -> BenchmarkOutcome:
    """Plan, write the plan, run every job run, evaluate each."""
    normalizer_for(config)  # an unknown normaliser fails before anything is written
    providers = build_providers(config)
    plan = build_plan(config, max_utt, max_per_subset)
    benchmark_id, job_run_ids, runtime = materialise(db, plan, providers, notes)
    log.info("benchmark %d: %d job run(s) x %d work items", benchmark_id, len(job_run_ids), len(plan.utterances))
    return execute(
        db, benchmark_id, list(zip(job_run_ids, providers, strict=True)), config,
        VariantResolver(db, config, runtime), progress=progress, grace_s=grace_s,
    )


def resume_benchmark(
    db: Database, benchmark_id: int, config: JobConfig | None = None, *, progress: str = "log",
    grace_s: float = DEFAULT_GRACE_S,
) -> BenchmarkOutcome:
    """Continue a benchmark: items with a prediction are skipped, failed items retried."""
    config = config_for_resume(db, benchmark_id, config)
    normalizer_for(config)
    queue.reclaim_dead_leases(db)
    open_runs = reopen_benchmark(db, benchmark_id, config)
    providers = {pc.display: p for pc, p in zip(config.providers, build_providers(config), strict=True)}
    if not open_runs:
        log.info("benchmark %d: nothing left to do", benchmark_id)
    runs = [(jr, providers[pc.display]) for jr, pc in open_runs]
    return execute(db, benchmark_id, runs, config, VariantResolver(db, config), progress=progress, grace_s=grace_s)


# --- workers ---------------------------------------------------------------------------------


def job_run_setup(db: Database, job_run_id: int) -> tuple[Provider, Normalizer, int, VariantResolver]:
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
    redacted = _redacted_paths(pcs[0], "$.provider")
    if redacted:
        raise ConfigError(f"provider {run.label!r} has redacted secrets at {', '.join(redacted)}; a worker cannot rebuild it")
    config = parse_config({k: v for k, v in stored.items() if k not in ("selection", "database_url")}, f"benchmark {run.benchmark_id} config")
    pc = next(p for p in config.providers if p.display == run.label)
    provider = PROVIDERS.get(pc.name)(pc)
    provider.check_ready()
    return provider, normalizer_for(config), config.evaluation.bootstrap_seed, VariantResolver(db, config)


async def _close_orphans(ctx: RunContext, skipped: set[int]) -> None:
    """Evaluate job runs whose last worker died after its last commit (exactly once: finalize locks)."""
    for jr in await asyncio.to_thread(queue.unclosed_job_runs, ctx.db):
        if jr in skipped:
            continue
        try:
            _provider, normalizer, _seed, _variants = await asyncio.to_thread(job_run_setup, ctx.db, jr)
        except BenchError as exc:
            log.error("job run %d cannot be evaluated here: %s", jr, exc)
            skipped.add(jr)
            continue
        status = await asyncio.to_thread(queue.finalize, ctx.db, jr, evaluate=_closer(normalizer, _provider.config))
        if status is not None:
            log.info("job run %d (left open by a dead process) %s: evaluated", jr, status)


async def _worker_loop(ctx: RunContext, wait: bool, poll_s: float) -> list[JobRunOutcome]:
    installed = _install_signals(ctx)
    ctx.progress.start()
    active: dict[int, asyncio.Task] = {}
    skipped: set[int] = set()
    outcomes: list[JobRunOutcome] = []
    try:
        while True:
            if not ctx.interrupted:
                for jr in await asyncio.to_thread(queue.runnable_job_runs, ctx.db):
                    if jr in active or jr in skipped:
                        continue
                    try:
                        provider, normalizer, seed, variants = await asyncio.to_thread(job_run_setup, ctx.db, jr)
                    except BenchError as exc:
                        log.error("job run %d skipped: %s", jr, exc)
                        skipped.add(jr)
                        continue
                    active[jr] = asyncio.create_task(run_job_run(ctx, jr, provider, normalizer, seed, variants))
            if not active:
                if ctx.interrupted:
                    break
                await _close_orphans(ctx, skipped)
                still_open = set(await asyncio.to_thread(queue.open_job_runs, ctx.db)) - skipped
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
    db: Database, *, lease_s: float = queue.DEFAULT_LEASE_S, wait: bool = False, poll_s: float = 5.0,
    progress: str = "log", grace_s: float = DEFAULT_GRACE_S,
) -> tuple[list[JobRunOutcome], bool]:
    """Lease and run enqueued work until none is left (or forever with `wait`).

    Returns the job runs this worker took part in and whether it was interrupted.
    """
    reclaimed = queue.reclaim_dead_leases(db)
    if reclaimed:
        log.info("reclaimed %d items leased by dead processes on this host", reclaimed)
    writer = ResultWriter(db, also=queue.mark_done)
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
    plan = build_plan(config, max_utt, max_per_subset)
    benchmark_id, job_run_ids, _runtime = materialise(db, plan, providers, notes)
    return benchmark_id, job_run_ids, len(plan.utterances)
