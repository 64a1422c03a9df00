"""The leaderboard's one column list, read by the terminal table and the HTML report alike.

A column says how to print a row's value, how to sort it, and how much it matters (`priority`:
a narrow terminal keeps the lowest first). Registered metrics (evaluations/registry.py) beyond
the fixed ones become columns of their own when some row has a value for them, with the
label, unit and direction the metric declares; nothing else has to be edited to show one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from spectragram_bench.core.statuses import JobRunStatus
from spectragram_bench.evaluations.registry import Metric, all_metrics
from spectragram_bench.reporting.leaderboard import (
    LeaderboardRow,
    fmt_count,
    fmt_interval,
    fmt_latency,
    fmt_ms,
    fmt_rate,
    fmt_ratio,
    fmt_sdi,
    fmt_usd,
)

#: metrics with a fixed column, or only worth a column in the wide view
FIXED_METRICS = ("wer", "cer")
WIDE_ONLY_METRICS = ("mer", "wil", "wip", "ser")


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    text: Callable[[LeaderboardRow], str]
    sort: Callable[[LeaderboardRow], float | None] | None = None
    numeric: bool = True
    priority: int = 50
    wide_only: bool = False
    title: str = ""  # what the column means (HTML tooltip, terminal note)


def fmt_value(metric: Metric, v: float | None) -> str:
    if v is None:
        return "-"
    if math.isinf(v):
        return "inf"
    if metric.unit == "rate":
        return fmt_rate(v)
    if metric.unit == "seconds":
        return f"{v:.3f} s"
    if metric.unit == "per_minute":
        return f"{v:.2f}/min"
    return f"{v:,.2f}" if v != int(v) else f"{int(v):,}"


def _metric(name: str) -> Callable[[LeaderboardRow], float | None]:
    return lambda r: r.metric(name)


def _ttft(r: LeaderboardRow) -> float | None:
    return r.metric("ttft_p50") if r.streaming else None


def _interval_low(r: LeaderboardRow) -> float | None:
    ci = r.interval("wer")
    return ci.low if ci else None


def base_columns() -> list[Column]:
    m = _metric
    return [
        Column("system", "system", lambda r: r.summary.system, numeric=False, priority=0),
        Column("provider", "provider", lambda r: r.summary.provider, numeric=False, wide_only=True),
        Column("model", "model", lambda r: r.summary.model, numeric=False, wide_only=True),
        Column("dataset", "dataset", lambda r: f"{r.summary.dataset}/{r.summary.split}", numeric=False, priority=0),
        Column("variant", "variant", lambda r: r.summary.variant, numeric=False, priority=1),
        Column("status", "status", lambda r: r.summary.status, numeric=False, priority=3),
        Column("n", "N", lambda r: fmt_count(r.metric("n_utterances")), m("n_utterances"), priority=3),
        Column("failed", "failed", lambda r: fmt_count(r.metric("n_failed")), m("n_failed"), priority=3),
        Column("wer", "WER", lambda r: fmt_rate(r.wer), m("wer"), priority=0, title="word error rate"),
        Column("wer_ci", "WER 95% CI", lambda r: fmt_interval(r.interval("wer")), _interval_low, priority=2),
        Column("cer", "CER", lambda r: fmt_rate(r.metric("cer")), m("cer"), priority=4, title="character error rate"),
        Column("sdi", "S/D/I", lambda r: fmt_sdi(r.summary.metrics), None, priority=5,
               title="substitutions/deletions/insertions"),
        Column("p50", "p50 ms", lambda r: fmt_latency(r.metric("latency_api_ms_p50"), r), m("latency_api_ms_p50"), priority=6),
        Column("p95", "p95 ms", lambda r: fmt_latency(r.metric("latency_api_ms_p95"), r), m("latency_api_ms_p95"), priority=9),
        Column("rtfx", "RTFx", lambda r: fmt_ratio(r.metric("rtfx")), m("rtfx"), priority=7),
        Column("ttft", "TTFT p50", lambda r: fmt_ms(_ttft(r)) if r.streaming else "-", _ttft, priority=10),
        Column("usd", "$/audio h", lambda r: fmt_usd(r.usd_per_audio_hour), lambda r: r.usd_per_audio_hour, priority=8),
    ]


def metric_columns(rows: list[LeaderboardRow]) -> list[Column]:
    """A column per registered metric (or `metric:normaliser`) that some row has a value for."""
    registered = all_metrics()
    present: list[str] = []
    for r in rows:
        for name, value in r.summary.metrics.items():
            base = name.partition(":")[0]
            if value is not None and base in registered and name not in FIXED_METRICS and name not in present:
                present.append(name)
    # in the order the evaluation lists them (metric_summary rows are written in that order)
    out = []
    for k, name in enumerate(present):
        metric = registered[name.partition(":")[0]]
        suffix = name.partition(":")[2]
        header = metric.label + (f" [{suffix}]" if suffix else "")
        better = "lower is better" if metric.direction == "lower" else "higher is better"
        out.append(Column(
            name, header, (lambda r, n=name, mt=metric: fmt_value(mt, r.metric(n))), _metric(name),
            priority=20 + k, wide_only=metric.name in WIDE_ONLY_METRICS,
            title=f"{metric.description or metric.label} ({better})",
        ))
    return out


def leaderboard_columns(rows: list[LeaderboardRow], *, html: bool = False) -> list[Column]:
    """Every column with something to show for these rows, in display order.

    The HTML report shows a job run's status as a badge beside its name, and every fixed column."""
    cols = base_columns()
    if html or all(r.summary.status == JobRunStatus.COMPLETED for r in rows):
        cols = [c for c in cols if c.key != "status"]
    if not html and not any(r.streaming for r in rows):
        cols = [c for c in cols if c.key != "ttft"]
    return cols + metric_columns(rows)
