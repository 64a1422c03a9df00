"""The report's breakdown section: each metric by speaker, duration and every useful metadata key
(evaluations/breakdowns.py), as a table and a bar chart of each metric of the table (a selector
picks the one shown), with 95% intervals where the metric has them."""

from __future__ import annotations

import math
from collections import defaultdict
from html import escape

from sqlalchemy.orm import Session

from spectragram_bench.core.natural_order import natural_key
from spectragram_bench.evaluations.breakdowns import GroupFigure, breakdown, breakdown_keys
from spectragram_bench.evaluations.registry import all_metrics
from spectragram_bench.reporting import plots
from spectragram_bench.reporting.columns import fmt_value

MAX_KEYS = 6
BAR_H, LABEL_W, PLOT_W = 14, 150, 360


def _ci(f: GroupFigure) -> str:
    iv = f.interval
    if iv is None or iv.low is None or iv.high is None:
        return "-"
    metric = all_metrics().get(f.metric.partition(":")[0])
    if metric is not None and metric.unit != "rate":
        return f"[{fmt_value(metric, iv.low)}, {fmt_value(metric, iv.high)}]"
    return f"[{100 * iv.low:.2f}, {100 * iv.high:.2f}]"


def table_html(key: str, figures: list[GroupFigure], systems: dict[int, str]) -> str:
    registered = all_metrics()
    names = list(dict.fromkeys(f.metric for f in figures))
    cells: dict[tuple[int, str], dict[str, GroupFigure]] = defaultdict(dict)
    for f in figures:
        cells[(f.job_run_id, f.group)][f.metric] = f
    head = "".join(f"<th class=\"num\">{escape(registered[n.partition(':')[0]].label)}</th>"
                   + ('<th class="num">WER 95% CI</th>' if n == "wer" else "") for n in names)
    rows = []
    for (jr, group), by_metric in sorted(cells.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        n = max(f.utterances for f in by_metric.values())
        tds = []
        for name in names:
            f = by_metric.get(name)
            metric = registered[name.partition(":")[0]]
            tds.append(f'<td class="num">{escape(fmt_value(metric, f.value) if f else "-")}</td>')
            if name == "wer":
                tds.append(f'<td class="num">{escape(_ci(f) if f else "-")}</td>')
        rows.append(f"<tr><td>{escape(group)}</td><td>{escape(systems.get(jr, str(jr)))}</td>"
                    f"<td class=\"num\">{n}</td>{''.join(tds)}</tr>")
    return (f'<table class="lb sortable" id="breakdown-{escape(key)}"><thead><tr><th>{escape(key)}</th><th>system</th>'
            f'<th class="num">N</th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>')


def metric_bars(key: str, metric_name: str, figures: list[GroupFigure], systems: dict[int, str],
                colours: dict[int, int]) -> str:
    """Horizontal bars of one metric per group and system, whiskers at its 95% interval (when the
    metric has one). Empty when no group has a finite value."""
    metric = all_metrics()[metric_name.partition(":")[0]]
    shown = [f for f in figures if f.metric == metric_name and f.value is not None and math.isfinite(f.value)]
    if not shown:
        return ""
    highs = [f.interval.high for f in shown if f.interval and f.interval.high is not None]
    top = max([f.value for f in shown] + highs)
    scale = PLOT_W / (top or 1.0)
    shown.sort(key=lambda f: (natural_key(f.group), f.job_run_id))
    height = BAR_H * len(shown) + 24
    label_of = metric.label
    slug = metric_name.replace(":", "-").replace("@", "-")
    out = [f'<svg id="plot-breakdown-{escape(key)}-{escape(slug)}" class="chart bd" viewBox="0 0 {LABEL_W + PLOT_W + 80} {height}" '
           f'role="img" aria-label="{escape(label_of)} by {escape(key)}">']
    for i, f in enumerate(shown):
        y = 4 + i * BAR_H
        label = f"{f.group} \u00b7 {systems.get(f.job_run_id, f.job_run_id)}" if len(systems) > 1 else f.group
        colour = plots.colour(colours.get(f.job_run_id, 0))
        value = fmt_value(metric, f.value)
        out.append(f'<g class="bar"><title>{escape(label)}: {escape(label_of)} {escape(value)} {escape(_ci(f))}, {f.utterances} utterances</title>'
                   f'<text x="{LABEL_W - 4}" y="{y + 10}" text-anchor="end" font-size="10">{escape(label[:28])}</text>'
                   f'<rect x="{LABEL_W}" y="{y + 2}" width="{max(0.0, f.value) * scale:.1f}" height="{BAR_H - 4}" fill="{colour}"></rect>')
        if f.interval and f.interval.low is not None and f.interval.high is not None:
            x1, x2 = LABEL_W + f.interval.low * scale, LABEL_W + f.interval.high * scale
            out.append(f'<line x1="{x1:.1f}" x2="{x2:.1f}" y1="{y + BAR_H / 2:.1f}" y2="{y + BAR_H / 2:.1f}" stroke="#333"></line>')
        end = max(0.0, f.value, f.interval.high if f.interval and f.interval.high is not None else 0.0)
        out.append(f'<text x="{LABEL_W + end * scale + 4:.1f}" y="{y + 10}" font-size="10">{escape(value)}</text></g>')
    whiskers = " (bars: 95% bootstrap CI)" if metric.bootstrap else ""
    direction = "lower is better" if metric.direction == "lower" else "higher is better"
    out.append(f'<text x="{LABEL_W}" y="{height - 4}" font-size="10">{escape(label_of)} by {escape(key)}, {direction}{whiskers}</text></svg>')
    return "".join(out)


def charts_html(key: str, figures: list[GroupFigure], systems: dict[int, str], colours: dict[int, int]) -> str:
    """One chart per metric of the table, behind a metric selector (the report's script shows the
    chosen one; without it every chart shows)."""
    registered = all_metrics()
    charts = [(name, metric_bars(key, name, figures, systems, colours)) for name in dict.fromkeys(f.metric for f in figures)]
    charts = [(name, svg) for name, svg in charts if svg]
    if not charts:
        return ""
    first = "wer" if any(name == "wer" for name, _ in charts) else charts[0][0]
    options = "".join(f'<option value="{escape(name)}"{" selected" if name == first else ""}>'
                      f"{escape(registered[name.partition(':')[0]].label)}</option>" for name, _ in charts)
    figs = "".join(f'<figure class="plot bd-chart" data-metric="{escape(name)}">{svg}</figure>' for name, svg in charts)
    return (f'<div class="bd-charts" data-key="{escape(key)}"><label class="bd-pick">Chart '
            f'<select class="bd-metric" aria-label="metric shown by {escape(key)}">{options}</select></label>{figs}</div>')


def breakdowns_html(session: Session, job_runs: dict[int, str], colours: dict[int, int],
                    eval_version: str | None = None) -> str:
    ids = list(job_runs)
    keys = breakdown_keys(session, ids)[:MAX_KEYS]
    if not keys:
        return '<p class="note">No utterance metadata with two or more values (speaker, duration, sex, ...) to break the metrics down by.</p>'
    parts = ['<p class="note">Each metric over the utterances of each group (sums of the stored per-utterance values, '
             'so the groups add up to the leaderboard); intervals are utterance-level 95% bootstrap.</p>']
    for key in keys:
        figures = breakdown(session, ids, key, eval_version=eval_version, iterations=1000)
        parts.append(f'<h3>By {escape(key)}</h3><div class="scroll">{table_html(key, figures, job_runs)}</div>'
                     + charts_html(key, figures, job_runs, colours))
    return "".join(parts)
