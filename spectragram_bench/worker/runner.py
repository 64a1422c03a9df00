"""The run loop: datasets into the database, one job run per provider, evaluation after each.

Order of work for `run`: validate everything that can be validated without calling a
provider (registries, keys, dataset roots), register datasets and utterances, create the
benchmark, then for each provider create a job run, execute its work items through the
executor and the single writer, and evaluate it ("post-onboard evaluation").
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from spectragram_bench.core.audio import audio_duration
from spectragram_bench.core.config import JobConfig, ProviderConfig, redact
from spectragram_bench.core.environment import env_json, host_info_json
from spectragram_bench.core.errors import AudioError, BenchError
from spectragram_bench.core.models import Benchmark, JobRun, Model, Utterance, utcnow
from spectragram_bench.core.models import Dataset as DatasetRow
from spectragram_bench.core.models import DatasetVariant as VariantRow
from spectragram_bench.core.models import Provider as ProviderRow
from spectragram_bench.core.normalize import Normalizer
from spectragram_bench.core.normalize import resolve as resolve_normalizer
from spectragram_bench.core.persistence import Database, ResultWriter, _insert, existing_predictions
from spectragram_bench.core.pricing import write_cost_summary
from spectragram_bench.core.records import PredictionResult, UtteranceRecord, WorkItem
from spectragram_bench.core.registry import DATASETS, PROVIDERS
from spectragram_bench.datasets.base import Dataset
from spectragram_bench.datasets.selection import select as select_utterances
from spectragram_bench.datasets.variants import prepare_variant, variant_duration, variant_key
from spectragram_bench.evaluations.v1.pipeline import evaluate_job_run
from spectragram_bench.providers.base import Provider
from spectragram_bench.worker.exec_infer import ExecStats, Executor, RetryPolicy

log = logging.getLogger(__name__)


@dataclass
class PreparedUtterance:
    utt_id: int
    record: UtteranceRecord
    variant: dict[str, Any]


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


def build_providers(config: JobConfig) -> list[Provider]:
    """Instantiate and check every provider before any work starts (missing key, bad params)."""
    providers = []
    for pc in config.providers:
        cls = PROVIDERS.get(pc.name)
        provider = cls(pc)
        provider.check_ready()
        providers.append(provider)
    return providers


def load_datasets(config: JobConfig) -> list[tuple[Any, Dataset]]:
    return [(dc, DATASETS.get(dc.name)(dc.root, dc.subsets, dc.options)) for dc in config.datasets]


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


def register_utterances(
    session: Session, dataset_id: int, variant: dict[str, Any], records: Sequence[UtteranceRecord]
) -> list[PreparedUtterance]:
    """Insert (or refresh) the selected utterances of one variant; returns them with their ids."""
    by_split: dict[str, list[UtteranceRecord]] = {}
    for r in records:
        by_split.setdefault(r.subset, []).append(r)
    prepared: list[PreparedUtterance] = []
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
                "meta_json": r.meta,
            }
            for r in recs
        ]
        for start in range(0, len(rows), 500):
            stmt = insert(Utterance).values(rows[start : start + 500])
            stmt = stmt.on_conflict_do_update(
                index_elements=["dataset_id", "variant_id", "external_id"],
                set_={k: stmt.excluded[k] for k in ("audio_path", "ref_text", "duration_s", "speaker", "meta_json")},
            )
            session.execute(stmt)
        ids = dict(
            session.execute(
                select(Utterance.external_id, Utterance.utt_id).where(
                    Utterance.dataset_id == dataset_id, Utterance.variant_id == vrow.variant_id
                )
            ).all()
        )
        prepared.extend(PreparedUtterance(ids[r.external_id], r, variant) for r in recs)
    return prepared


def with_duration(record: UtteranceRecord) -> UtteranceRecord:
    """Fill duration from the audio header; an unreadable file is noted for the utterance, not fatal."""
    if record.duration_s is not None or "load_error" in record.meta:
        return record
    try:
        duration = audio_duration(record.audio_path)
    except AudioError as exc:
        return UtteranceRecord(**{**record.__dict__, "meta": {**record.meta, "load_error": str(exc)}})
    if record.segment_s is not None:
        duration = record.segment_s
    elif record.offset_s:
        duration = max(0.0, duration - record.offset_s)  # from the offset to the end of the file
    return UtteranceRecord(**{**record.__dict__, "duration_s": duration})


def prepare_utterances(
    session: Session, config: JobConfig, datasets: list[tuple[Any, Dataset]],
    max_utt: int | None, max_per_subset: int | None,
) -> list[PreparedUtterance]:
    keyed: list[tuple[str, UtteranceRecord]] = []
    rows: dict[str, tuple[Any, DatasetRow]] = {}
    for index, (dc, ds) in enumerate(datasets):
        key = f"{index}:{dc.name}"
        rows[key] = (dc, register_dataset(session, ds))
        seen: set[str] = set()
        for rec in ds.utterances():
            if rec.external_id in seen:
                raise BenchError(f"dataset {dc.name!r} at {dc.root}: duplicate utterance id {rec.external_id!r}")
            seen.add(rec.external_id)
            keyed.append((key, rec))
    chosen = select_utterances(keyed, max_per_subset=max_per_subset, max_utt=max_utt, seed=config.selection_seed)
    prepared: list[PreparedUtterance] = []
    for key, (dc, drow) in rows.items():
        recs = [with_duration(r) for k, r in chosen if k == key]
        everything = [r for k, r in keyed if k == key]  # before selection: babble must not depend on it
        for variant in dc.variants:
            spec = variant.model_dump()
            runtime = prepare_variant(spec, everything)  # the stored spec plus e.g. the babble pool
            derived = [replace(r, duration_s=variant_duration(spec, r.duration_s)) for r in recs]
            for p in register_utterances(session, drow.dataset_id, spec, derived):
                p.variant = runtime
                prepared.append(p)
    return prepared


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


def work_items(job_run_id: int, prepared: Sequence[PreparedUtterance], skip: set[int]) -> list[WorkItem]:
    return [
        WorkItem(
            job_run_id=job_run_id,
            utt_id=p.utt_id,
            external_id=p.record.external_id,
            audio_path=p.record.audio_path,
            duration_s=p.record.duration_s,
            ref_text=p.record.ref_text,
            offset_s=p.record.offset_s,
            segment_s=p.record.segment_s,
            variant=p.variant,
        )
        for p in prepared
        if p.utt_id not in skip
    ]


def record_input_errors(items: list[WorkItem], prepared: Sequence[PreparedUtterance], writer: ResultWriter) -> list[WorkItem]:
    """Utterances whose input is already known to be broken are recorded as failed, not sent."""
    broken = {p.utt_id: p.record.meta["load_error"] for p in prepared if "load_error" in p.record.meta}
    for item in items:
        if item.utt_id in broken:
            writer.submit(PredictionResult(item.job_run_id, item.utt_id, None, error_kind="input", error_text=broken[item.utt_id], attempts=0))
    return [i for i in items if i.utt_id not in broken]


async def execute_with_signals(executor: Executor, items: list[WorkItem]) -> ExecStats:
    """First Ctrl-C/SIGTERM: stop dispatching and let in-flight items finish; second: cancel."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(executor.run(items))
    hits = 0

    def on_signal() -> None:
        nonlocal hits
        hits += 1
        executor.stats.interrupted = True
        executor.stop.set()
        if hits == 1:
            log.warning("interrupt: finishing in-flight requests (press Ctrl-C again to stop at once)")
        else:
            task.cancel()

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, on_signal)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):
            pass
    try:
        return await task
    except asyncio.CancelledError:
        return executor.stats
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


async def execute_then_close(executor: Executor, items: list[WorkItem], provider: Provider) -> ExecStats:
    """Run the items, then release the provider's connections in the same event loop that opened them."""
    try:
        return await execute_with_signals(executor, items)
    finally:
        await provider.aclose()


def run_job_run(
    db: Database, benchmark_id: int, provider: Provider, prepared: Sequence[PreparedUtterance],
    normalizer: Normalizer, seed: int,
) -> JobRunOutcome:
    pc: ProviderConfig = provider.config
    with db.transaction() as s:
        run = register_job_run(s, benchmark_id, provider)
        run.status, run.started_at = "running", utcnow()
        job_run_id = run.job_run_id
        done = existing_predictions(s, job_run_id)
    writer = ResultWriter(db)
    executor = Executor(
        provider, writer.submit, concurrency=pc.concurrency, timeout_s=pc.timeout_s,
        retry=RetryPolicy(max_attempts=pc.max_attempts), seed=seed,
    )
    status, error_text = "failed", None
    try:
        items = record_input_errors(work_items(job_run_id, prepared, done), prepared, writer)
        stats = asyncio.run(execute_then_close(executor, items, provider))
        stats.failed += len(prepared) - len(done) - len(items)
        if stats.fatal_error:
            status, error_text = "failed", stats.fatal_error
        elif stats.interrupted:
            status = "interrupted"
        elif stats.failed:
            status = "partial"
        else:
            status = "completed"
    except BaseException as exc:
        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        error_text = str(exc) or type(exc).__name__
        raise
    finally:
        writer.close()  # flush: every finished result is committed, whatever happened
        asyncio.run(provider.aclose())
        with db.transaction() as s:
            run = s.get(JobRun, job_run_id)
            run.status, run.ended_at, run.error_text = status, utcnow(), error_text
            run.model_revision = executor.model_revision
            if executor.model_revision:
                s.get(Model, run.model_id).revision = executor.model_revision  # the newest revision seen
            write_cost_summary(s, job_run_id, pc)
            if status != "interrupted":
                evaluate_job_run(s, job_run_id, normalizer)
    return JobRunOutcome(job_run_id, pc.display, status, executor.stats, error_text)


def run_benchmark(
    config: JobConfig, db: Database, *, max_utt: int | None = None, max_per_subset: int | None = None,
    notes: str | None = None,
) -> BenchmarkOutcome:
    max_utt = max_utt if max_utt is not None else config.max_utt
    max_per_subset = max_per_subset if max_per_subset is not None else config.max_per_subset
    providers = build_providers(config)
    datasets = load_datasets(config)
    normalizer = resolve_normalizer(config.evaluation.normalizer, config.evaluation.normalizer_steps)
    with db.transaction() as s:
        prepared = prepare_utterances(s, config, datasets, max_utt, max_per_subset)
        stored = redact(config.model_dump(mode="json"))
        stored["selection"] = {"max_utt": max_utt, "max_per_subset": max_per_subset}
        bench = Benchmark(name=config.name, config_json=stored, notes=notes)
        s.add(bench)
        s.flush()
        benchmark_id = bench.benchmark_id
    if not prepared:
        raise BenchError("no utterances selected: the datasets are empty or the limits exclude everything")
    outcome = BenchmarkOutcome(benchmark_id)
    for provider in providers:
        result = run_job_run(db, benchmark_id, provider, prepared, normalizer, config.evaluation.bootstrap_seed)
        outcome.job_runs.append(result)
        if result.stats.interrupted:
            outcome.interrupted = True
            break
    return outcome
