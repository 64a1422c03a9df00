"""The report's charts from leaderboard rows: WER against p95 latency, cost and SNR, and latency
distributions (drawn with reporting/plots.py's `Chart`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from spectragram_bench.reporting import plots


@dataclass(frozen=True)
class PlotPoint:
    """One leaderboard row as a chart sees it (plain numbers, so charts do not know the database)."""

    series: plots.Series
    where: str  # dataset/split and variant
    wer: float | None
    wer_low: float | None
    wer_high: float | None
    p95_ms: float | None
    usd_per_audio_hour: float | None
    snr_db: float | None
    clean: bool
    noise: str = ""  # the noise variant's other parameters (type, seed, ...): one SNR curve each
    variant: str = ""  # the variant's label, to tell a system's points apart


def _ci_text(p: PlotPoint) -> str:
    return f" [95% CI {100 * p.wer_low:.2f}-{100 * p.wer_high:.2f}%]" if p.wer_low is not None and p.wer_high is not None else ""


def _finite(*values: float | None) -> bool:
    return all(v is not None and math.isfinite(v) for v in values)


def wer_vs_latency(points: Sequence[PlotPoint]) -> str | None:
    usable = [p for p in points if _finite(p.wer, p.p95_ms)]
    if not usable:
        return None
    ys = [v for p in usable for v in (p.wer, p.wer_low, p.wer_high) if v is not None]
    chart = plots.Chart.create(
        "plot-wer-latency", "WER (95% CI) vs p95 latency", "p95 API latency (ms)", "WER",
        plots.domain([p.p95_ms for p in usable], zero=True), plots.domain(ys, zero=True), y_fmt=plots.fmt_percent,
    )
    per_series: dict[str, set[str]] = {}
    for p in usable:
        per_series.setdefault(p.series.name, set()).add(p.where)
    def label(p: PlotPoint) -> str:  # only what tells the points apart: the system, its variant, or both
        parts = ([p.series.name] if len(per_series) > 1 else []) + ([p.variant] if len(per_series[p.series.name]) > 1 and p.variant else [])
        return plots.clip_label(" \u00b7 ".join(parts) or p.series.name, 40)

    for p in usable:
        chart.point(
            p.series, p.p95_ms, p.wer,
            f"{p.series.name} - {p.where}: WER {100 * p.wer:.2f}%{_ci_text(p)}, p95 {p.p95_ms:,.0f} ms",
            y_low=p.wer_low, y_high=p.wer_high,
            label=label(p),
        )
    return chart.render()


def cost_vs_wer(points: Sequence[PlotPoint]) -> str | None:
    usable = [p for p in points if _finite(p.wer, p.usd_per_audio_hour)]
    if not usable:
        return None
    ys = [v for p in usable for v in (p.wer, p.wer_low, p.wer_high) if v is not None]
    chart = plots.Chart.create(
        "plot-cost-wer", "WER (95% CI) vs cost", "USD per audio hour", "WER",
        plots.domain([p.usd_per_audio_hour for p in usable], zero=True), plots.domain(ys, zero=True),
        x_fmt=plots.usd_tick, y_fmt=plots.fmt_percent,
    )
    for p in usable:
        chart.point(
            p.series, p.usd_per_audio_hour, p.wer,
            f"{p.series.name} - {p.where}: WER {100 * p.wer:.2f}%{_ci_text(p)}, ${p.usd_per_audio_hour:,.3f}/audio h",
            y_low=p.wer_low, y_high=p.wer_high,
        )
    return chart.render()


def wer_vs_snr(points: Sequence[PlotPoint], dataset: str, element_id: str) -> str | None:
    """WER against the SNR of noise variants, one line per system; the clean WER as a dashed line."""
    noisy = [p for p in points if _finite(p.wer, p.snr_db)]
    if not noisy:
        return None
    clean = [p for p in points if p.clean and _finite(p.wer)]
    ys = [v for p in (*noisy, *clean) for v in (p.wer, p.wer_low, p.wer_high) if v is not None]
    chart = plots.Chart.create(
        element_id, f"WER vs SNR - {dataset}", "SNR (dB); dashed: clean audio", "WER",
        plots.domain([p.snr_db for p in noisy], zero=False), plots.domain(ys, zero=True), y_fmt=plots.fmt_percent,
    )
    by_series: dict[str, list[PlotPoint]] = {}
    for p in noisy:
        by_series.setdefault(p.series.name, []).append(p)
    for pts in by_series.values():
        pts.sort(key=lambda p: p.snr_db)
        chart.line(pts[0].series, [p.snr_db for p in pts], [p.wer for p in pts])
        for p in pts:
            chart.point(
                p.series, p.snr_db, p.wer,
                f"{p.series.name} - {p.where}: WER {100 * p.wer:.2f}%{_ci_text(p)} at {p.snr_db:g} dB SNR",
                y_low=p.wer_low, y_high=p.wer_high,
            )
    for p in clean:
        chart.line(
            p.series, [chart.x.lo, chart.x.hi], [p.wer, p.wer], dashed=True,
            tooltip=f"{p.series.name} - clean: WER {100 * p.wer:.2f}%{_ci_text(p)}",
        )
    return chart.render()


def latency_boxes(samples: Sequence[tuple[plots.Series, str, Sequence[float]]]) -> str | None:
    """API latency distributions as horizontal box plots (log axis for wide ranges), one row per
    (system, row label) in the given order: the report passes one row per system and variant."""
    usable = [(s, label, v) for s, label, v in samples if len(v)]
    if not usable:
        return None
    everything = [x for _, _, v in usable for x in v if x > 0]
    wide = bool(everything) and max(everything) / min(everything) > 50
    n = len(usable)
    long = max(len(label) for _, label, _ in usable)
    chart = plots.Chart.create(
        "plot-latency", "API latency per utterance (box p25-p75, whiskers p5-p95)", "API latency (ms)", "",
        plots.domain([x for _, _, v in usable for x in v], zero=not wide, log=wide, pad=0.03),
        (-0.5, n - 0.5), x_log=wide, legend=False, left=min(300, max(120, 7 * long + 16)),
        height=110 + 50 * n if n <= 5 else 90 + 30 * n,
    )
    chart.y_categories = [label for _, label, _ in reversed(usable)]  # row 0 is the bottom: first row on top
    for i, (series, _label, values) in enumerate(usable):
        chart.box(series, n - 1 - i, values)
    return chart.render()
