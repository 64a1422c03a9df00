"""The leaderboard: one row per job run x dataset split x variant, with CIs, speed and cost.

Built on `summary_rows` (metric_summary of each job run's current eval version), joined with
bootstrap_result (confidence intervals), cost_summary and the job run's mode. Every number is
read from the database; a metric that was not computed shows as '-', never as a guess.
The same rows feed the terminal table and the HTML report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from rich.console import Console
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from spectragram_bench.core.models import BootstrapResult, CostSummary, JobRun, Model, Prediction
from spectragram_bench.core.persistence import Database
from spectragram_bench.datasets.variants import variant_sort_key
from spectragram_bench.reporting.summary import SummaryRow, summary_rows

#: metric_summary names for leaderboard quantities, preferred name first. Evaluation v1 owns
#: the names; an alias here only widens what is recognised, it never computes a number.
METRIC_NAMES: dict[str, tuple[str, ...]] = {
    "rtfx": ("rtfx",),
    "ttft_p50": ("latency_ttft_ms_p50", "ttft_ms_p50"),
    "ttft_p95": ("latency_ttft_ms_p95", "ttft_ms_p95"),
    "usd_per_audio_hour": ("cost_usd_per_audio_hour", "usd_per_audio_hour", "cost_per_audio_hour_usd"),
}

#: bootstrap methods (by prefix, e.g. "utterance_percentile") in the order the single CI column prefers them
PREFERRED_METHODS = ("utterance", "speaker")


@dataclass(frozen=True)
class StoredInterval:
    """One stored bootstrap confidence interval."""

    metric: str
    method: str
    low: float | None
    high: float | None
    iterations: int
    seed: int
    level: float = 0.95


@dataclass
class LeaderboardRow:
    summary: SummaryRow
    mode: str = "batch"
    intervals: list[StoredInterval] = field(default_factory=list)
    usd_per_audio_hour: float | None = None
    cost_source: str | None = None  # "metric_summary" or "cost_summary"
    harness_bound: bool = False  # the harness's own queueing distorted its latency figures
    loop_lag_p99_ms: float | None = None
    reused: int = 0  # the job run's predictions copied from earlier ones (worker/reuse.py)
    predictions: int = 0  # the job run's predictions, reused or not

    def metric(self, name: str) -> float | None:
        """A metric by its leaderboard name (see METRIC_NAMES) or its stored name."""
        m = self.summary.metrics
        for stored in METRIC_NAMES.get(name, (name,)):
            if m.get(stored) is not None:
                return m[stored]
        return None

    def interval(self, metric: str) -> StoredInterval | None:
        """The preferred stored CI of `metric` ('wer' or 'cer'), or None."""
        found = self.intervals_of(metric)
        return found[0] if found else None

    def intervals_of(self, metric: str) -> list[StoredInterval]:
        """Every stored CI of `metric`, the preferred method first."""

        def rank(i: StoredInterval) -> tuple[int, str]:
            hits = [k for k, prefix in enumerate(PREFERRED_METHODS) if i.method.startswith(prefix)]
            return (hits[0] if hits else len(PREFERRED_METHODS), i.method)

        return sorted((i for i in self.intervals if i.metric == metric), key=rank)

    @property
    def wer(self) -> float | None:
        return self.metric("wer")

    @property
    def streaming(self) -> bool:
        return self.mode == "streaming"


def leaderboard_rows(session: Session, benchmark_id: int, eval_version: str | None = None) -> list[LeaderboardRow]:
    """Rows of each job run's current eval version, or of `eval_version`."""
    rows = [LeaderboardRow(r) for r in summary_rows(session, benchmark_id, eval_version)]
    if not rows:
        return rows
    run_ids = sorted({r.summary.job_run_id for r in rows})
    runs = {
        jr_id: ((params or {}).get("mode", "batch"), bool(bound), lag)
        for jr_id, params, bound, lag in session.execute(
            select(JobRun.job_run_id, Model.params_json, JobRun.harness_bound, JobRun.loop_lag_p99_ms)
            .join(Model, Model.model_id == JobRun.model_id)
            .where(JobRun.job_run_id.in_(run_ids))
        )
    }
    boots: dict[tuple[int, int, int], list[tuple[str | None, StoredInterval]]] = {}
    for b in session.execute(select(BootstrapResult).where(BootstrapResult.job_run_id.in_(run_ids))).scalars():
        extra = b.extra_json or {}
        level = extra.get("confidence", extra.get("level", 0.95))
        boots.setdefault((b.job_run_id, b.dataset_id, b.variant_id), []).append(
            (b.eval_version, StoredInterval(b.metric, b.method, b.ci_low, b.ci_high, b.iterations, b.seed, float(level)))
        )
    counts = {
        jr_id: (n, n_reused)
        for jr_id, n, n_reused in session.execute(
            select(Prediction.job_run_id, func.count(), func.count(Prediction.reused_from))
            .where(Prediction.job_run_id.in_(run_ids)).group_by(Prediction.job_run_id)
        )
    }
    costs = {
        c.job_run_id: c
        for c in session.execute(select(CostSummary).where(CostSummary.job_run_id.in_(run_ids))).scalars()
    }
    audio_s: dict[int, float] = {}
    for r in rows:
        audio_s[r.summary.job_run_id] = audio_s.get(r.summary.job_run_id, 0.0) + (r.summary.metrics.get("audio_seconds") or 0.0)
    for r in rows:
        s = r.summary
        r.mode, r.harness_bound, r.loop_lag_p99_ms = runs.get(s.job_run_id, ("batch", False, None))
        r.predictions, r.reused = counts.get(s.job_run_id, (0, 0))
        r.intervals = [
            i for version, i in boots.get((s.job_run_id, s.dataset_id, s.variant_id), [])
            if version in (None, s.eval_version)
        ]
        stored = r.metric("usd_per_audio_hour")
        if stored is not None:
            r.usd_per_audio_hour, r.cost_source = stored, "metric_summary"
        elif s.job_run_id in costs and audio_s[s.job_run_id] > 0:
            # cost_summary is per job run: its price over all audio the job run scored
            r.usd_per_audio_hour = costs[s.job_run_id].price_usd / (audio_s[s.job_run_id] / 3600.0)
            r.cost_source = "cost_summary"
    # ranked: per dataset split and variant (variants by their numeric parameter), lowest WER first (no WER last)
    rows.sort(key=lambda r: (
        r.summary.dataset_id or 0, r.summary.split, variant_sort_key(r.summary.variant_json), r.summary.variant_id or 0,
        r.wer is None, r.wer if r.wer is not None else 0.0, r.summary.job_run_id,
    ))
    return rows


# -- formatting shared by the terminal table and the HTML report ---------------------------------

def fmt_rate(v: float | None) -> str:
    if v is None:
        return "-"
    if math.isinf(v):
        return "inf"
    return f"{100 * v:.2f}%"


def fmt_interval(i: StoredInterval | None) -> str:
    """`[low, high]` in percent; the level is appended when it is not the column's 95%."""
    if i is None or i.low is None or i.high is None:
        return "-"
    level = "" if abs(i.level - 0.95) < 1e-9 else f" ({100 * i.level:g}%)"
    return f"[{100 * i.low:.2f}, {100 * i.high:.2f}]{level}"


def fmt_ms(v: float | None) -> str:
    """Whole milliseconds, with decimals below 10 ms so a fast local engine does not read as 0."""
    if v is None:
        return "-"
    return f"{v:,.0f}" if v >= 10 else f"{v:.1f}" if v >= 1 else f"{v:.2f}"


#: marks the latency figures of a harness-bound job run (see harness_note)
HARNESS_MARK = "*"


def fmt_latency(v: float | None, row: LeaderboardRow) -> str:
    return fmt_ms(v) + (HARNESS_MARK if row.harness_bound and v is not None else "")


def harness_note(rows: list[LeaderboardRow]) -> str | None:
    """The sentence that goes under a table with harness-bound rows, None without any."""
    bound = {r.summary.system: r.loop_lag_p99_ms for r in rows if r.harness_bound}
    if not bound:
        return None
    which = ", ".join(f"{name} (event-loop lag p99 {fmt_ms(lag)} ms)" for name, lag in sorted(bound.items()))
    return (
        f"{HARNESS_MARK} harness-bound: {which}. These latency figures include the harness's own queueing, "
        "not the vendor's time alone: rerun with lower concurrency or on a less loaded machine."
    )


def reuse_note(rows: list[LeaderboardRow]) -> str | None:
    """How many predictions each job run reused, None when none did."""
    reused = {r.summary.system: (r.reused, r.predictions) for r in rows if r.reused}
    if not reused:
        return None
    which = ", ".join(f"{name} {n} of {total}" for name, (n, total) in sorted(reused.items()))
    return (
        f"reused predictions: {which}, copied from earlier job runs with the same sent audio, model, params and "
        "adapter version: no request, no cost; latency and cost figures cover the requested items only."
    )


def fmt_count(v: float | None) -> str:
    return "-" if v is None else f"{int(v):,}"


def fmt_ratio(v: float | None) -> str:
    return "-" if v is None else f"{v:,.1f}" if v >= 10 else f"{v:.2f}"


def fmt_usd(v: float | None) -> str:
    return "-" if v is None else f"${v:,.3f}" if v < 1 else f"${v:,.2f}"


def fmt_sdi(m: dict[str, float | None]) -> str:
    return f"{fmt_count(m.get('substitutions'))}/{fmt_count(m.get('deletions'))}/{fmt_count(m.get('insertions'))}"


def print_leaderboard(session: Session, benchmark_id: int, console: Console | None = None, **options) -> list[LeaderboardRow]:
    """The terminal leaderboard (reporting/terminal.py: width-adaptive; `wide`, `eval_version`)."""
    from spectragram_bench.reporting.terminal import print_leaderboard as show

    return show(session, benchmark_id, console, **options)


def print_summary(db: Database, benchmark_id: int, **options) -> list[LeaderboardRow]:
    """The leaderboard of a benchmark, as `run` and `evaluate` print it at the end."""
    with db.session() as s:
        return print_leaderboard(s, benchmark_id, **options)
