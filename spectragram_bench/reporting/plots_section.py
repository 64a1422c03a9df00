"""The report's Plots section: the charts that have data, and one line for each that has none."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

import numpy as np

from spectragram_bench.datasets.variants import variant_label, variant_sort_key
from spectragram_bench.reporting import plots, report_charts, streaming_report
from spectragram_bench.reporting.html_leaderboard import e
from spectragram_bench.reporting.leaderboard import LeaderboardRow
from spectragram_bench.reporting.slim_predictions import SlimPredictions

if TYPE_CHECKING:
    from spectragram_bench.reporting.html import SystemInfo


def plot_points(rows: list[LeaderboardRow], series: dict[int, plots.Series]) -> list[report_charts.PlotPoint]:
    out = []
    for r in rows:
        s = r.summary
        ci = r.interval("wer")
        variant = s.variant_json or {}
        snr = variant.get("snr_db")
        noise = ", ".join(f"{k}={v}" for k, v in sorted(variant.items()) if k not in ("kind", "snr_db") and v is not None)
        out.append(
            report_charts.PlotPoint(
                series[s.job_run_id], f"{s.dataset}/{s.split} {s.variant}", r.wer,
                ci.low if ci else None, ci.high if ci else None,
                s.metrics.get("latency_api_ms_p95"), r.usd_per_audio_hour,
                float(snr) if isinstance(snr, int | float) and not isinstance(snr, bool) else None,
                variant.get("kind", "clean") == "clean", noise, s.variant,
            )
        )
    return out


def latency_rows(systems: list[SystemInfo], preds: SlimPredictions) -> list[tuple[plots.Series, str, list[float]]]:
    """API latency samples per system, and per dataset variant when there are several
    (variants in numeric order: 0, 5, 10, 20 dB), each system in its own colour."""
    api = preds.latency()
    keep = preds.ok() & ~np.isnan(api)
    where_of, wheres = preds.wheres()
    label_of = [f"{ds}/{split} \u00b7 {variant_label(vj)}" for ds, split, vj, *_ in wheres]
    order: dict[str, tuple] = {}  # label -> sort key, in the order the predictions first have them
    for i in dict.fromkeys(where_of[keep].tolist()):
        ds, split, vj, *_ = wheres[i]
        order.setdefault(label_of[i], (ds, split, variant_sort_key(vj)))
    names = list(dict.fromkeys(label_of))  # a label can stand for several wheres (eval versions, normalisers)
    group = np.array([names.index(w) for w in label_of], np.int64)[where_of[keep]] if wheres else where_of[keep]
    runs, api = preds.job_runs()[keep], api[keep]
    samples: dict[tuple[int, str], list[float]] = {}  # each in prediction order
    for run in dict.fromkeys(runs.tolist()):
        mine = runs == run
        for k in dict.fromkeys(group[mine].tolist()):
            samples[(run, names[k])] = api[mine & (group == k)].tolist()
    groups = sorted(order, key=order.__getitem__)
    variants = {w.rpartition(" \u00b7 ")[2] for w in groups}
    datasets = {w.rpartition(" \u00b7 ")[0] for w in groups}

    def label(s: SystemInfo, where: str) -> str:
        if len(groups) <= 1:
            return s.name
        dataset, _, variant = where.rpartition(" \u00b7 ")
        parts = (([s.name] if len(systems) > 1 else []) + ([dataset] if len(datasets) > 1 else [])
                 + ([variant] if len(variants) > 1 else []))
        return " \u00b7 ".join(parts)  # only what tells the rows apart

    return [(s.series, label(s, w), samples[(s.id, w)]) for w in groups for s in systems if (s.id, w) in samples]


def plots_html(rows: list[LeaderboardRow], systems: list[SystemInfo], preds: SlimPredictions) -> str:
    """The charts that have data, and one line for each that has none (so its absence is explained)."""
    series = {s.id: s.series for s in systems}
    points = plot_points(rows, series)
    shown: list[tuple[str, str]] = []
    missing: list[str] = []

    def add(svg: str | None, caption: str, why_not: str) -> None:
        if svg is None:
            missing.append(why_not)
        else:
            shown.append((svg, caption))

    add(
        report_charts.wer_vs_latency(points),
        "Each point is a system on one dataset variant; bars are the 95% bootstrap CI of WER. Lower left is better.",
        "WER vs p95 latency: no system has both a WER and a p95 latency.",
    )
    # one WER-vs-SNR chart per dataset split and kind of noise, with that split's clean WER as baseline
    clean: dict[str, list[report_charts.PlotPoint]] = defaultdict(list)
    noisy: dict[tuple[str, str], list[report_charts.PlotPoint]] = defaultdict(list)
    for p, r in zip(points, rows, strict=True):
        where = f"{r.summary.dataset}/{r.summary.split}"
        if p.clean:
            clean[where].append(p)
        elif p.snr_db is not None:
            noisy[(where, p.noise)].append(p)
    snr = [
        report_charts.wer_vs_snr(pts + clean[where], f"{where} ({noise})" if noise else where, f"plot-wer-snr-{i}")
        for i, ((where, noise), pts) in enumerate(sorted(noisy.items()))
    ]
    for svg in snr:
        if svg is not None:
            add(svg, "WER per noise variant (SNR in dB); dashed lines: the same system on clean audio.", "")
    if all(svg is None for svg in snr):
        missing.append("WER vs SNR: no noise variants (variant_json with snr_db) in this benchmark.")
    add(
        report_charts.latency_boxes(latency_rows(systems, preds)),
        "Per-utterance API latency of every scored utterance, per system and dataset variant; dots are samples beyond p5/p95.",
        "Latency distributions: no latency samples stored.",
    )
    fin = streaming_report.finalization_samples(preds)
    if fin:
        add(
            streaming_report.finalization_cdf([(s.series, fin.get(s.id, [])) for s in systems if s.id in fin]),
            "Share of utterances whose final transcript arrived within x ms of the speech end (Silero VAD), at 1x real time.",
            "",
        )
        add(
            streaming_report.wer_vs_finalization(rows, series),
            "Each point is a streaming system on one dataset variant: WER against its p95 finalization latency.",
            "WER vs finalization latency: no streaming system has both a WER and a finalization latency.",
        )
    costs = [p.usd_per_audio_hour for p in points if p.usd_per_audio_hour is not None]
    if costs and all(c == 0 for c in costs):
        missing.append("Cost vs WER: every system here costs $0 per audio hour (local engines or the mock), so there is nothing to plot.")
    else:
        add(
            report_charts.cost_vs_wer(points),
            "Cost per audio hour against WER (95% CI); lower left is better.",
            "Cost vs WER: no cost data (cost_summary or a cost metric) stored for this benchmark.",
        )
    figs = "".join(f'<figure class="plot">{svg}<figcaption>{e(caption)}</figcaption></figure>' for svg, caption in shown)
    notes = "".join(f"<li>{e(m)}</li>" for m in missing)
    return f'<div class="plots">{figs}</div>' + (f'<ul class="notes" id="plots-missing">{notes}</ul>' if notes else "")
