"""The execution plan: benchmark -> job runs (provider x model) -> work items (utterance x
variant) -> each job run's evaluation, which runs once all of that job run's items are done.

Building the plan reads the datasets (transcripts, audio) and applies the seeded selection;
of the database it uses only the stored audio probes (worker/probes.py), never a provider.
`run --dry-run` prints it with audio hours, estimated cost and the shortest duration the
configured rate limits allow.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from spectragram_bench.core.config import DatasetConfig, JobConfig, ProviderConfig
from spectragram_bench.core.errors import BenchError
from spectragram_bench.core.natural_order import natural_key
from spectragram_bench.core.pricing import price_for
from spectragram_bench.core.records import UtteranceRecord
from spectragram_bench.core.registry import DATASETS, provider_class
from spectragram_bench.core.statuses import PredictionStatus
from spectragram_bench.datasets.base import Dataset
from spectragram_bench.datasets.variants import prepare_variant, variant_duration, variant_label
from spectragram_bench.reporting.leaderboard import fmt_usd
from spectragram_bench.reporting.summary import wide_console
from spectragram_bench.worker import plan_rows
from spectragram_bench.worker.plan_rows import DatasetRows
from spectragram_bench.worker.probes import Prober, ProbeStore
from spectragram_bench.worker.scan_cache import ScanCache


@dataclass(frozen=True)
class PlannedUtterance:
    """One work item's utterance x variant, before it has a database id.

    `variant` is the stored spec; `runtime_variant` adds run-time resources (a babble pool,
    noise files: datasets/variants.prepare_variant)."""

    dataset_index: int
    record: UtteranceRecord
    variant: dict[str, Any]
    runtime_variant: dict[str, Any]


@dataclass(frozen=True)
class EvaluationNode:
    """Runs once, after the last of its job run's items is done."""

    normalizer: str
    after_items: int


@dataclass(frozen=True)
class JobRunNode:
    provider: ProviderConfig
    n_items: int
    audio_s: float
    evaluation: EvaluationNode
    price_per_minute_usd: float | None
    min_duration_s: float | None  # the rate limits' lower bound; None when no limit is set

    @property
    def est_cost_usd(self) -> float | None:
        if self.price_per_minute_usd is None:
            return None
        return self.audio_s / 60.0 * self.price_per_minute_usd


@dataclass
class Plan:
    """The plan. Its utterances are kept as arrays per dataset (worker/plan_rows.py) and read
    again from the loaders when iterated, so a plan over a million rows stays small."""

    config: JobConfig
    max_utt: int | None
    max_per_subset: int | None
    datasets: list[tuple[DatasetConfig, Dataset]]
    rows: list[DatasetRows]
    job_runs: list[JobRunNode] = field(default_factory=list)

    def iter_utterances(self, rows: DatasetRows | None = None) -> Iterator[PlannedUtterance]:
        """Every work item's utterance x variant (of one dataset's `rows`, or all), in plan order."""
        for r in [rows] if rows is not None else self.rows:
            for spec, runtime in r.variants:
                for rec in r.records():
                    yield PlannedUtterance(r.index, replace(rec, duration_s=variant_duration(spec, rec.duration_s)), spec, runtime)

    @property
    def utterances(self) -> list[PlannedUtterance]:
        """All of them as a list (small plans, tests); large callers use iter_utterances."""
        return list(self.iter_utterances())

    @property
    def n_utterances(self) -> int:
        return sum(r.n_selected * len(r.variants) for r in self.rows)

    @property
    def audio_s(self) -> float:
        total = 0.0
        for r in self.rows:
            known = np.nan_to_num(r.durations, nan=0.0)
            for spec, _ in r.variants:
                total += float(known.sum()) if spec.get("kind") != "speed" else float(known.sum()) / float(spec["factor"])
        return total

    @property
    def n_items(self) -> int:
        return sum(j.n_items for j in self.job_runs)


LONG_FORM_SUFFIX = "-longform"


def long_form_threshold(config: JobConfig) -> float | None:
    """The shortest duration limit of the job's providers (their own `max_audio_s` or the job's
    `chunking.max_s`): a longer recording is sent in chunks (worker/chunking.py)."""
    limits = []
    for pc in config.providers:
        limits += [x for x in (getattr(provider_class(pc), "max_audio_s", None), pc.chunking.max_s) if x]
    return min(limits) if limits else None


def mark_long_form(record: UtteranceRecord, threshold: float | None) -> UtteranceRecord:
    """A recording over the threshold moves to `<subset>-longform` (meta long_form), so long-form
    and short-form results never share a leaderboard row; a loader's long-form records
    (meta long_form, subsets of their own) stay as they are."""
    if record.meta.get("long_form") or threshold is None or (record.duration_s or 0.0) <= threshold:
        return record
    return replace(record, subset=record.subset + LONG_FORM_SUFFIX, meta={**record.meta, "long_form": True})


def price_per_minute(pc: ProviderConfig) -> float | None:
    """USD per audio minute: the config's override, else the dated default table (core/pricing.py)."""
    price = price_for(pc)
    return None if price is None else price.usd_per_minute


def min_duration(pc: ProviderConfig, n_items: int, audio_s: float) -> float | None:
    """The shortest time the rate limits allow for `n_items` requests carrying `audio_s` of audio."""
    rl = pc.rate_limit
    if rl is None or (rl.requests_per_minute is None and rl.audio_seconds_per_minute is None):
        return None
    bounds = []
    if rl.requests_per_minute:
        bounds.append(n_items / rl.requests_per_minute * 60.0)
    if rl.audio_seconds_per_minute:
        bounds.append(audio_s / rl.audio_seconds_per_minute * 60.0)
    return max(bounds)


def build_plan(
    config: JobConfig, max_utt: int | None = None, max_per_subset: int | None = None, probes: ProbeStore | None = None
) -> Plan:
    """`probes`: where earlier probes of the audio are kept (worker/probes.py), and with them the
    loaders' earlier scans (worker/scan_cache.py); without it every selected file is decoded and
    every loader read."""
    max_utt = max_utt if max_utt is not None else config.max_utt
    max_per_subset = max_per_subset if max_per_subset is not None else config.max_per_subset
    datasets = [(dc, DATASETS.get(dc.name)(dc.root, dc.subsets, dc.options)) for dc in config.datasets]
    scans = ScanCache(probes.db, writable=probes.writable) if probes is not None else None  # the same database
    rows = [plan_rows.scan(index, dc, ds, config.selection_seed, scans) for index, (dc, ds) in enumerate(datasets)]
    plan_rows.select(rows, max_per_subset=max_per_subset, max_utt=max_utt)
    threshold = long_form_threshold(config)
    prober = Prober(probes)
    if probes is not None:
        probes.preload(sum(r.n_selected for r in rows))
    try:
        for r in rows:
            plan_rows.inspect(r, prober, threshold)
    finally:
        prober.close()
    prober.report("plan")
    for r in rows:
        specs = [v.model_dump() for v in r.config.variants]
        # babble mixes in the dataset's other utterances, all of them (before selection): read only then
        everything = list(r.loader_records()) if any(s.get("noise") == "babble" for s in specs) else []
        r.variants = [(spec, prepare_variant(spec, everything)) for spec in specs]
    plan = Plan(config, max_utt, max_per_subset, datasets, rows)
    n = plan.n_utterances
    if not n:
        raise BenchError("no utterances selected: the datasets are empty or the limits exclude everything")
    audio_s = plan.audio_s
    for pc in config.providers:
        plan.job_runs.append(
            JobRunNode(
                provider=pc,
                n_items=n,
                audio_s=audio_s,
                evaluation=EvaluationNode(config.evaluation.normalizer, n),
                price_per_minute_usd=price_per_minute(pc),
                min_duration_s=min_duration(pc, n, audio_s),
            )
        )
    return plan


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = math.ceil(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


def print_plan(plan: Plan, console: Console | None = None) -> None:
    """The dry-run view: one row per job run, then the totals."""
    console = console or wide_console()
    cfg = plan.config
    variants = sorted({variant_label(spec) for r in plan.rows for spec, _ in r.variants}, key=natural_key)  # 5 before 10 dB
    per_dataset = ", ".join(f"{r.config.name} ({r.n_selected * len(r.variants)} items)" for r in plan.rows)
    table = Table(title=f"plan for benchmark {cfg.name!r} (dry run: no provider called, nothing written)")
    for col, justify in (
        ("job run", "left"), ("mode", "left"), ("items", "right"), ("audio h", "right"), ("concurrency", "right"),
        ("rate limit", "left"), ("est. cost", "right"), ("min duration", "right"), ("then", "left"),
    ):
        table.add_column(col, justify=justify)
    for j in plan.job_runs:
        rl = j.provider.rate_limit
        limits = []
        if rl and rl.requests_per_minute:
            limits.append(f"{rl.requests_per_minute:g} req/min")
        if rl and rl.audio_seconds_per_minute:
            limits.append(f"{rl.audio_seconds_per_minute:g} audio s/min")
        table.add_row(
            j.provider.display, j.provider.mode, str(j.n_items), f"{j.audio_s / 3600:.3f}", str(j.provider.concurrency),
            ", ".join(limits) or "none", fmt_usd(j.est_cost_usd),
            fmt_duration(j.min_duration_s) if j.min_duration_s is not None else "no limit set",
            f"evaluate ({j.evaluation.normalizer}) after {j.evaluation.after_items} items",
        )
    console.print(table)
    costs = [j.est_cost_usd for j in plan.job_runs]
    known = [c for c in costs if c is not None]
    if not known:
        total_cost = "unknown (set price_per_minute_usd)"
    else:
        total_cost = fmt_usd(sum(known)) + (" + unpriced job runs (set price_per_minute_usd)" if len(known) < len(costs) else "")
    bounds = [j.min_duration_s for j in plan.job_runs if j.min_duration_s is not None]
    console.print(f"datasets: {per_dataset}; variants: {', '.join(variants)}")
    console.print(
        f"total: {len(plan.job_runs)} job run(s), {plan.n_items} work items, "
        f"{plan.audio_s / 3600 * len(plan.job_runs):.3f} audio hours sent, est. cost {total_cost}, "
        f"min duration {fmt_duration(max(bounds)) if bounds else '- (no rate limits)'} (job runs run concurrently)"
    )


def print_remaining(db, benchmark_id: int, config: JobConfig, console: Console | None = None) -> None:
    """`--resume ID --dry-run`: what a resume would still request, per job run."""
    from sqlalchemy import select

    from spectragram_bench.core.models import JobRun, Prediction, Utterance, WorkItemRow
    from spectragram_bench.worker import work_items

    console = console or wide_console()
    by_label = {pc.display: pc for pc in config.providers}
    table = Table(title=f"benchmark {benchmark_id}: work left for a resume (dry run: nothing called, nothing written)")
    for col in ("job run", "status", "items", "ok", "failed (retried)", "not done", "audio h left", "est. cost left", "min duration"):
        table.add_column(col, justify="left" if col in ("job run", "status") else "right")
    with db.session() as s:
        runs = s.execute(select(JobRun).where(JobRun.benchmark_id == benchmark_id).order_by(JobRun.job_run_id)).scalars().all()
        for run in runs:
            c = work_items.counts(s, run.job_run_id)
            ok_ids = select(Prediction.utt_id).where(Prediction.job_run_id == run.job_run_id, Prediction.status == PredictionStatus.OK)
            left = s.execute(
                select(Utterance.duration_s)
                .join(WorkItemRow, WorkItemRow.utt_id == Utterance.utt_id)
                .where(WorkItemRow.job_run_id == run.job_run_id, WorkItemRow.utt_id.not_in(ok_ids))
            ).scalars().all()
            audio_left = sum(d or 0.0 for d in left)
            pc = by_label.get(run.label or "")
            price = price_per_minute(pc) if pc else None
            table.add_row(
                f"{run.job_run_id} {run.label}", run.status, str(c.total), str(c.ok), str(c.failed), str(c.open),
                f"{audio_left / 3600:.3f}", fmt_usd(None if price is None else audio_left / 60 * price),
                fmt_duration(min_duration(pc, len(left), audio_left)) if pc and pc.rate_limit else "no limit set",
            )
    console.print(table)
