"""The report's breakdown section: each metric by speaker, duration and every useful metadata key
(evaluations/breakdowns.py), as a table and a bar chart of WER with its 95% interval."""

from __future__ import annotations

from collections import defaultdict
from html import escape

from sqlalchemy.orm import Session

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


def wer_bars(key: str, figures: list[GroupFigure], systems: dict[int, str], colours: dict[int, int]) -> str:
    """Horizontal bars of WER per group and system, whiskers at the 95% interval."""
    wer = [f for f in figures if f.metric == "wer" and f.value is not None]
    if not wer:
        return ""
    top = max(max(f.value for f in wer), max((f.interval.high or 0) for f in wer if f.interval) if any(f.interval for f in wer) else 0)
    scale = PLOT_W / (top or 1.0)
    wer.sort(key=lambda f: (f.group, f.job_run_id))
    height = BAR_H * len(wer) + 24
    out = [f'<svg id="plot-breakdown-{escape(key)}" class="chart" viewBox="0 0 {LABEL_W + PLOT_W + 60} {height}" '
           f'width="{LABEL_W + PLOT_W + 60}" height="{height}" role="img" aria-label="WER by {escape(key)}">']
    for i, f in enumerate(wer):
        y = 4 + i * BAR_H
        label = f"{f.group} \u00b7 {systems.get(f.job_run_id, f.job_run_id)}" if len(systems) > 1 else f.group
        colour = plots.colour(colours.get(f.job_run_id, 0))
        out.append(f'<g class="bar"><title>{escape(label)}: WER {100 * f.value:.2f}% {escape(_ci(f))}, {f.utterances} utterances</title>'
                   f'<text x="{LABEL_W - 4}" y="{y + 10}" text-anchor="end" font-size="10">{escape(label[:28])}</text>'
                   f'<rect x="{LABEL_W}" y="{y + 2}" width="{f.value * scale:.1f}" height="{BAR_H - 4}" fill="{colour}"></rect>')
        if f.interval and f.interval.low is not None and f.interval.high is not None:
            x1, x2 = LABEL_W + f.interval.low * scale, LABEL_W + f.interval.high * scale
            out.append(f'<line x1="{x1:.1f}" x2="{x2:.1f}" y1="{y + BAR_H / 2:.1f}" y2="{y + BAR_H / 2:.1f}" stroke="#333"></line>')
        out.append(f'<text x="{LABEL_W + f.value * scale + 4:.1f}" y="{y + 10}" font-size="10">{100 * f.value:.1f}%</text></g>')
    out.append(f'<text x="{LABEL_W}" y="{height - 4}" font-size="10">WER by {escape(key)} (bars: 95% bootstrap CI)</text></svg>')
    return "".join(out)


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
                     f'<figure class="plot">{wer_bars(key, figures, job_runs, colours)}</figure>')
    return "".join(parts)
