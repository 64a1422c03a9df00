"""The streaming-latency part of the reports: per system the connect time, time to first partial,
finalization latency percentiles, revisions and early words (terminal and HTML tables), the
finalization-latency CDF, and WER against p95 finalization latency (inline SVG).

Only job runs whose metric_summary has stream_* rows (the live adapters) appear here.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import numpy as np
from rich.table import Table

from spectragram_bench.reporting import plots
from spectragram_bench.reporting.leaderboard import LeaderboardRow, fmt_count, fmt_ms, fmt_rate

COLUMNS = (
    ("system", None), ("dataset", None), ("variant", None), ("N", "n_utterances"), ("WER", "wer"),
    ("connect p50", "stream_connect_ms_p50"), ("TTFP p50", "stream_ttfp_ms_p50"),
    ("final p50", "stream_finalization_ms_p50"), ("p90", "stream_finalization_ms_p90"),
    ("p95", "stream_finalization_ms_p95"), ("p99", "stream_finalization_ms_p99"),
    ("revisions/utt", "stream_revisions_mean"), ("early words", "stream_early_words"),
    ("final < speech end", "stream_negative_finalizations"),
)


def streaming_rows(rows: list[LeaderboardRow]) -> list[LeaderboardRow]:
    return [r for r in rows if r.summary.metrics.get("stream_revisions_mean") is not None]


def _cells(r: LeaderboardRow) -> list[str]:
    s, m = r.summary, r.summary.metrics
    out = [s.system, f"{s.dataset}/{s.split}", s.variant]
    for _, key in COLUMNS[3:]:
        v = m.get(key)
        if key == "wer":
            out.append(fmt_rate(r.wer))
        elif key.endswith("_mean"):
            out.append("-" if v is None else f"{v:.2f}")
        elif key.startswith("stream_") and key.endswith(("_p50", "_p90", "_p95", "_p99")):
            out.append(fmt_ms(v))
        else:
            out.append(fmt_count(v))
    return out


def streaming_table(rows: list[LeaderboardRow]) -> Table | None:
    """The terminal table, or None when no job run streamed."""
    live = streaming_rows(rows)
    if not live:
        return None
    table = Table(title="streaming latency (ms from the speech boundaries: Silero VAD, or the word alignment where "
                        "params.speech_span is alignment; connect = handshake)")
    for name, _ in COLUMNS:
        table.add_column(name, justify="left" if name in ("system", "dataset", "variant") else "right")
    for r in live:
        table.add_row(*_cells(r))
    return table


def streaming_table_html(rows: list[LeaderboardRow]) -> str:
    live = streaming_rows(rows)
    if not live:
        return ""
    head = "".join(f"<th>{escape(name)}</th>" for name, _ in COLUMNS)
    body = "".join(
        f'<tr data-job-run="{r.summary.job_run_id}">'
        + "".join(f'<td{" class=num" if i >= 3 else ""}>{escape(c)}</td>' for i, c in enumerate(_cells(r)))
        + "</tr>"
        for r in live
    )
    return (f'<h3>Streaming latency</h3><div class="scroll"><table id="streaming" class="lb"><thead><tr>{head}</tr>'
            f"</thead><tbody>{body}</tbody></table></div>")


def finalization_cdf(samples: Sequence[tuple[plots.Series, Sequence[float]]]) -> str | None:
    """Empirical CDF of finalization latency, one step line per system."""
    usable = [(s, np.sort(np.asarray(v, dtype=float))) for s, v in samples if len(v)]
    if not usable:
        return None
    chart = plots.Chart.create(
        "plot-finalization-cdf", "Finalization latency CDF (speech end to final transcript)",
        "finalization latency (ms)", "share of utterances",
        plots.domain([x for _, v in usable for x in v], zero=True), (0.0, 1.0), y_fmt=plots.fmt_percent,
    )
    for series, values in usable:
        n = values.size
        xs: list[float] = [float(values[0])]
        ys: list[float] = [0.0]
        for i, x in enumerate(values):
            xs.extend([float(x), float(x)])
            ys.extend([i / n, (i + 1) / n])
        p50, p95 = np.percentile(values, [50, 95])
        chart.line(series, xs, ys, tooltip=f"{series.name}: n={n}, p50 {p50:,.0f} ms, p95 {p95:,.0f} ms, max {values[-1]:,.0f} ms")
    return chart.render()


def wer_vs_finalization(rows: list[LeaderboardRow], series: dict[int, plots.Series]) -> str | None:
    live = [r for r in streaming_rows(rows)
            if r.wer is not None and r.summary.metrics.get("stream_finalization_ms_p95") is not None]
    if not live:
        return None
    xs = [r.summary.metrics["stream_finalization_ms_p95"] for r in live]
    ys = []
    for r in live:
        ci = r.interval("wer")
        ys.extend(v for v in (r.wer, ci.low if ci else None, ci.high if ci else None) if v is not None)
    chart = plots.Chart.create(
        "plot-wer-finalization", "WER (95% CI) vs p95 finalization latency", "p95 finalization latency (ms)", "WER",
        plots.domain(xs, zero=True), plots.domain(ys, zero=True), y_fmt=plots.fmt_percent,
    )
    for r, x in zip(live, xs, strict=True):
        ci = r.interval("wer")
        s = r.summary
        chart.point(series[s.job_run_id], x, r.wer,
                    f"{s.system} - {s.dataset}/{s.split} {s.variant}: WER {100 * r.wer:.2f}%, p95 finalization {x:,.0f} ms",
                    y_low=ci.low if ci else None, y_high=ci.high if ci else None)
    return chart.render()


def finalization_samples(preds) -> dict[int, list[float]]:
    """finalization_ms of every scored streamed prediction, by job run (`preds`: SlimPredictions)."""
    fin = preds.latency("finalization_ms")
    keep = preds.ok() & ~np.isnan(fin)
    runs = preds.job_runs()[keep]
    return {int(run): fin[keep][runs == run].tolist() for run in dict.fromkeys(runs.tolist())}


def timeline_entry(meta: dict) -> dict | None:
    """What the utterance browser draws of one streamed hypothesis (events capped at 300)."""
    if "timeline" not in meta:
        return None
    span = meta.get("speech_span") or {}
    events = [[e.get("t_ms"), e.get("audio_ms"), e.get("chars"), 1 if e.get("final") else 0]
              for e in meta["timeline"][:300]]
    return {"ev": events, "sp": [span.get("start_ms"), span.get("end_ms")], "fin": meta.get("finalization_ms"),
            "ttfp": meta.get("ttfp_ms"), "rev": meta.get("revisions"), "early": meta.get("early_words"),
            "conn": meta.get("connect_ms")}
