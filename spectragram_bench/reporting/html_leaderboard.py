"""The report's leaderboard section: the column list (reporting/columns.py) as a sortable table,
one per evaluation of the benchmark (the current one first), with notes on how to read it."""

from __future__ import annotations

from html import escape
from typing import Any

from sqlalchemy.orm import Session

from spectragram_bench.core.statuses import JobRunStatus
from spectragram_bench.reporting.columns import leaderboard_columns
from spectragram_bench.reporting.leaderboard import (
    LeaderboardRow,
    fmt_interval,
    harness_note,
    leaderboard_rows,
    reuse_note,
)
from spectragram_bench.reporting.terminal import evaluation_labels


def e(value: Any) -> str:
    """Escape anything for HTML text or a quoted attribute."""
    return escape("" if value is None else str(value), quote=True)


def leaderboard_html(rows: list[LeaderboardRow], table_id: str = "leaderboard") -> str:
    if not rows:
        return '<p class="note">No scored results: every job run failed before producing a prediction, or none was evaluated.</p>'
    cols = leaderboard_columns(rows, html=True)
    out = [f'<div class="scroll"><table id="{e(table_id)}" class="lb sortable"><thead><tr>']
    out.extend(
        f'<th data-type="{"n" if c.numeric else "t"}" tabindex="0"{f" title={chr(34)}{e(c.title)}{chr(34)}" if c.title else ""}>'
        f"{e(c.header[:1].upper() + c.header[1:])}</th>"
        for c in cols
    )
    out.append("</tr></thead><tbody>")
    for r in rows:
        s = r.summary
        ci_title = "; ".join(
            f"{i.method}: {fmt_interval(i)} ({100 * i.level:g}%, {i.iterations:,} resamples, seed {i.seed})"
            for i in r.intervals_of("wer")
        ) or "no bootstrap result stored"
        out.append(f'<tr data-job-run="{s.job_run_id}">')
        for c in cols:
            sort = c.sort(r) if c.sort is not None else None
            attrs = f' data-sort="{sort!r}"' if sort is not None else ""
            if c.key == "wer_ci":
                attrs += f' title="{e(ci_title)}"'
            cls = ' class="num"' if c.numeric else ""
            badge = (f' <span class="badge" title="job run status">{e(s.status)}</span>'
                     if c.key == "system" and s.status != JobRunStatus.COMPLETED else "")
            out.append(f"<td{cls}{attrs}>{e(c.text(r))}{badge}</td>")
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def leaderboard_notes(rows: list[LeaderboardRow]) -> str:
    notes = [
        "WER and CER are corpus rates: total edits over total reference words (characters), on normalised text.",
        "Failed predictions are not scored (counted under Failed), never treated as empty transcripts.",
        "Latency is the provider's time per utterance: for HTTP APIs clocked at the wire, from the request's last "
        "byte sent to the reply's last byte read (time queued inside the harness is stored apart, "
        "latency_sample.queue_ms); otherwise the attempt's duration.",
    ]
    for note in (reuse_note(rows), harness_note(rows)):
        if note:
            notes.insert(0, note)
    unspaced = sorted({f"{r.summary.dataset}/{r.summary.split}" for r in rows if r.metric("headline_cer") == 1.0})
    if unspaced:
        notes.append(
            f"CER is the headline metric of {', '.join(unspaced)}: its language is written without spaces "
            "between words, so a word count (WER) depends on a segmenter, not on the transcript."
        )
    methods = sorted({(i.method, i.iterations, i.level) for r in rows for i in r.intervals if i.metric == "wer"})
    if methods:
        shown = ", ".join(f"{m} ({it:,} resamples, {100 * lv:g}%)" for m, it, lv in methods)
        notes.append(f"Confidence intervals of WER by bootstrap: {shown}; the CI column shows the utterance-level one where stored, its tooltip all of them.")
    else:
        notes.append("No bootstrap confidence intervals are stored for this benchmark ('-').")
    if any(r.cost_source == "cost_summary" for r in rows):
        notes.append("$/audio h from cost_summary: the job run's price over all audio it scored.")
    if not any(r.usd_per_audio_hour is not None for r in rows):
        notes.append("No cost data is stored for this benchmark ('-').")
    return '<ul class="notes">' + "".join(f"<li>{e(n)}</li>" for n in notes) + "</ul>"


def leaderboards_html(session: Session, benchmark_id: int, rows: list[LeaderboardRow]) -> str:
    """The shown evaluation's leaderboard, then one per other evaluation of the benchmark."""
    labels = evaluation_labels(session, benchmark_id)
    shown = sorted({r.summary.eval_version for r in rows})
    head = "".join(f'<p class="meta">eval {e(v)}: {e(labels.get(v, ""))}</p>' for v in shown)
    out = [head, leaderboard_html(rows), leaderboard_notes(rows)]
    for k, version in enumerate(v for v in labels if v not in shown):
        other = leaderboard_rows(session, benchmark_id, version)
        out.append(f'<details class="eval" id="eval-{k}"><summary>Also evaluated: {e(version)} ({e(labels[version])})</summary>'
                   f"{leaderboard_html(other, f'leaderboard-{k + 1}')}</details>")
    return "".join(out)
