"""The benchmark report: one self-contained HTML file that works offline.

Everything is inlined (styles, SVG charts, one small script); audio is linked by a relative path,
never embedded. Every text that comes from a provider, a dataset or a config is escaped: on the
server side with html.escape, in the browser with textContent. A Content-Security-Policy lets
only the report's own script run (by its hash), so stray markup could not execute even unescaped.
"""

from __future__ import annotations

import base64
import gc
import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from spectragram_bench import __version__
from spectragram_bench.core.errors import BenchError
from spectragram_bench.core.liveness import shown_status
from spectragram_bench.core.models import Benchmark, JobRun, Model
from spectragram_bench.core.models import Provider as ProviderRow
from spectragram_bench.core.persistence import Database
from spectragram_bench.core.redaction import redact
from spectragram_bench.reporting import plots, streaming_report
from spectragram_bench.reporting.alignment import ErrorFrequencies
from spectragram_bench.reporting.breakdown_html import breakdowns_html
from spectragram_bench.reporting.browser_data import browser_data
from spectragram_bench.reporting.display import DISPLAY_WORD_CHARS, clip
from spectragram_bench.reporting.failures import JobRunFailures, failure_summary, reasons_text
from spectragram_bench.reporting.html_leaderboard import e, leaderboards_html
from spectragram_bench.reporting.leaderboard import LeaderboardRow, leaderboard_rows
from spectragram_bench.reporting.plots_section import plots_html
from spectragram_bench.reporting.predictions import (
    NormalizerChoice,
    iter_scored_predictions,
    scored_predictions,
)
from spectragram_bench.reporting.sections import ReportContext, arrange
from spectragram_bench.reporting.slim_predictions import SlimPredictions, slimmed
from spectragram_bench.reporting.variant_audio import variant_clips

TOP_ERRORS = 10


def _static(name: str) -> str:
    return (files("spectragram_bench.reporting") / "static" / name).read_text(encoding="utf-8")


@dataclass
class SystemInfo:
    """One job run as the report shows it."""

    job_run: JobRun
    provider: ProviderRow
    model: Model
    normalizer: NormalizerChoice | None
    series: plots.Series

    @property
    def id(self) -> int:
        return self.job_run.job_run_id

    @property
    def name(self) -> str:
        return self.series.name


def load_systems(session: Session, benchmark_id: int) -> list[SystemInfo]:
    q = (
        select(JobRun, ProviderRow, Model)
        .join(ProviderRow, ProviderRow.provider_id == JobRun.provider_id)
        .join(Model, Model.model_id == JobRun.model_id)
        .where(JobRun.benchmark_id == benchmark_id)
        .order_by(JobRun.job_run_id)
    )
    systems = []
    for i, (jr, prov, model) in enumerate(session.execute(q)):
        label = jr.label or f"{prov.name}/{model.name}"
        systems.append(SystemInfo(jr, prov, model, None, plots.Series(label, i)))
    return systems


# -- sections --------------------------------------------------------------------------------------

def _top_table(title: str, items: Iterable[tuple[str, int]]) -> str:
    rows = "".join(f"<tr><td>{e(clip(k, DISPLAY_WORD_CHARS * 2))}</td><td class=\"num\">{n:,}</td></tr>" for k, n in items)
    if not rows:
        rows = '<tr><td colspan="2" class="note">none</td></tr>'
    return f'<table class="top"><thead><tr><th>{e(title)}</th><th class="num">count</th></tr></thead><tbody>{rows}</tbody></table>'


def errors_html(systems: list[SystemInfo], preds: SlimPredictions) -> str:
    freq: dict[int, ErrorFrequencies] = {s.id: ErrorFrequencies() for s in systems}
    for job_run_id, edits in preds.edits():
        freq[job_run_id].add(edits)
    out = []
    for s in systems:
        f = freq[s.id]
        subs = ((f"{r} \u2192 {h}", n) for (r, h), n in f.substitutions.most_common(TOP_ERRORS))
        out.append(
            f'<section class="errs" data-job-run="{s.id}"><h3>{swatch(s.series)}{e(s.name)}</h3><div class="tops">'
            + _top_table("substitution (ref \u2192 hyp)", subs)
            + _top_table("deletion", f.deletions.most_common(TOP_ERRORS))
            + _top_table("insertion", f.insertions.most_common(TOP_ERRORS))
            + "</div></section>"
        )
    return "".join(out)


def swatch(series: plots.Series) -> str:
    return f'<span class="sw" style="background:{plots.colour(series.index)}"></span>'


# -- reproducibility -------------------------------------------------------------------------------

def _pre(value: Any) -> str:
    return f"<pre>{e(json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False))}</pre>"


def _when(dt: datetime | None) -> str:
    return dt.strftime("%Y-%m-%d %H:%M:%S") if dt else "-"


def params_text(params: dict[str, Any]) -> str:
    """One `key: value` line per parameter: a long value (a model path) wraps inside its line
    instead of squeezing the column to one letter per line."""
    if not params:
        return "-"
    return "\n".join(f"{k}: {json.dumps(v, default=str, ensure_ascii=False)}" for k, v in sorted(params.items()))


def repro_html(bench: Benchmark, systems: list[SystemInfo], rows: list[LeaderboardRow],
               failures: dict[int, JobRunFailures] | None = None) -> str:
    out = ['<div class="scroll"><table class="kv"><thead><tr>']
    cols = ("System", "Provider SDK", "Model", "Model revision", "Mode", "Params", "Status", "Started", "Ended",
            "Eval version", "Normaliser", "Run error")
    out.extend(f"<th>{e(c)}</th>" for c in cols)
    out.append("</tr></thead><tbody>")
    for s in systems:
        jr, prov, model = s.job_run, s.provider, s.model
        norm = s.normalizer
        norm_text = "-"
        if norm is not None:
            norm_text = (norm.stored_tag or "-") + (": " + " \u2192 ".join(norm.steps) if norm.steps else "")
            norm_text += f" ({norm.note})" if norm.note else ""
        params = redact(model.params_json or {})
        out.append(
            f'<tr data-job-run="{s.id}"><td>{swatch(s.series)}{e(s.name)}</td>'
            f"<td>{e(prov.sdk or '-')} {e(prov.sdk_version or '')}</td><td>{e(model.name)}</td>"
            f"<td>{e(jr.model_revision or '-')}</td><td>{e(params.get('mode', 'batch'))}</td>"
            f'<td class="params"><code>{e(params_text(params))}</code></td>'
            f"<td>{e(shown_status(jr.status, jr.heartbeat_at, jr.started_at))}</td><td>{_when(jr.started_at)}</td><td>{_when(jr.ended_at)}</td>"
            f"<td>{e(jr.eval_version or '-')}</td><td>{e(norm_text)}</td><td>{e(clip(reasons_text((failures or {}).get(s.id), jr.error_text)) or '')}</td></tr>"
        )
    out.append("</tbody></table></div>")

    boots = sorted(
        {(r.summary.system, i.metric, i.method, i.iterations, i.seed) for r in rows for i in r.intervals}
    )
    config = redact(bench.config_json or {})
    configured = (config.get("evaluation") or {}) if isinstance(config, dict) else {}
    out.append("<h3>Bootstrap</h3>")
    if boots:
        out.append('<table class="kv"><thead><tr><th>System</th><th>Metric</th><th>Method</th><th>Resamples</th><th>Seed</th></tr></thead><tbody>')
        out.extend(f"<tr>{''.join(f'<td>{e(v)}</td>' for v in b)}</tr>" for b in boots)
        out.append("</tbody></table>")
    else:
        out.append(
            f'<p class="note">No bootstrap results stored. Configured: seed {e(configured.get("bootstrap_seed", "-"))}, '
            f'{e(configured.get("bootstrap_iterations", "-"))} resamples.</p>'
        )
    envs: dict[str, list[str]] = {}
    for s in systems:
        key = json.dumps(redact(s.job_run.env_json or {}), sort_keys=True, default=str)
        envs.setdefault(key, []).append(s.name)
    out.append("<h3>Environment (env_json)</h3>")
    for key, names in envs.items():
        out.append(f"<p>{e(', '.join(names))}</p>{_pre(json.loads(key))}")
    hosts = {json.dumps(s.job_run.host_info_json or {}, sort_keys=True, default=str) for s in systems}
    out.append("<h3>Host</h3>" + "".join(_pre(json.loads(h)) for h in sorted(hosts)))
    out.append("<h3>Job configuration (secrets redacted)</h3>" + _pre(config))
    return "".join(out)


# -- the page --------------------------------------------------------------------------------------

def csp(script: str) -> str:
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
    return (
        "default-src 'none'; "
        f"script-src 'sha256-{digest}'; style-src 'unsafe-inline'; img-src data:; "
        "media-src 'self' file: *; base-uri 'none'; form-action 'none'"
    )


def render_report(
    session: Session, benchmark_id: int, out_dir: Path, eval_version: str | None = None, *,
    audio_dir: Path | None = None, variant_audio: dict[int, str] | None = None,
) -> str:
    """The report of `benchmark_id` as one HTML string; audio links are relative to `out_dir`
    (audio held in dataset rows is written to `audio_dir`, by default `benchmark-ID-audio/` there:
    reporting/report_audio.py); `variant_audio` links each degraded utterance to what the model heard.

    Leaderboard, plots and utterances show each job run's current evaluation (or `eval_version`);
    the benchmark's other evaluations get a leaderboard each beside it."""
    bench = session.get(Benchmark, benchmark_id)
    if bench is None:
        raise BenchError(f"benchmark {benchmark_id} not found")
    systems = load_systems(session, benchmark_id)
    rows = leaderboard_rows(session, benchmark_id, eval_version)
    # one pass, a chunk of utterances at a time: the browser's data is packed as it comes, and the
    # plots and error analysis keep slim copies (no texts)
    preds = SlimPredictions()
    stream = iter_scored_predictions(session, benchmark_id, chars=False, eval_version=eval_version, narrow=True)
    data = browser_data(systems, slimmed(stream, preds), out_dir, audio_dir or out_dir / f"benchmark-{benchmark_id}-audio", variant_audio)
    norms = preds.normalizers()
    for s in systems:
        s.normalizer = norms.get(s.id)
    inexact = sorted({f"{s.name}: {s.normalizer.note}" for s in systems if s.normalizer and s.normalizer.note})
    script = _static("report.js")
    title = f"{bench.name or 'benchmark'} - benchmark {benchmark_id}"
    n_utts = data.n_utts
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    warn = "".join(f'<p class="warn">Alignment: {e(w)}</p>' for w in inexact)
    utterances = f"""{warn}
<div id="browser-controls" class="controls"></div>
<p class="legend"><span class="c s"><span>ref</span><span>hyp</span></span> substitution
<span class="c d"><span>ref</span><span>\u2014</span></span> deletion
<span class="c i"><span>\u2014</span><span>hyp</span></span> insertion \u00b7 texts normalised as scored; the raw hypothesis is below each line.</p>
<div id="browser"><noscript>The utterance browser needs JavaScript (it runs offline, from this file).</noscript></div>
{data.html()}
"""
    errors_note = ('<p class="note">Most frequent word substitutions, deletions and insertions of each system over all '
                   "its scored utterances (normalised text).</p>")
    built_in = [
        ("leaderboard", "Leaderboard", leaderboards_html(session, benchmark_id, rows) + "\n" + streaming_report.streaming_table_html(rows)),
        ("plots", "Plots", plots_html(rows, systems, preds)),
        ("breakdowns", "Breakdowns", breakdowns_html(session, {s.id: s.name for s in systems},
                                                     {s.id: s.series.index for s in systems}, eval_version)),
        ("errors", "Error analysis", errors_note + errors_html(systems, preds)),
        ("utterances", "Utterances", utterances),
        ("repro", "Reproducibility", repro_html(bench, systems, rows, {f.job_run_id: f for f in failure_summary(session, benchmark_id)})),
    ]
    sections = arrange(built_in, ReportContext(session, benchmark_id, eval_version, systems, rows, preds))
    nav = "".join(f'<a href="#s-{e(sid)}">{e(title)}</a>' for sid, title, _ in sections)
    main = "\n".join(f'<section id="s-{e(sid)}"><h2>{e(title)}</h2>{html}</section>' for sid, title, html in sections)
    body = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{e(csp(script))}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="spectragram-bench {e(__version__)}">
<title>{e(title)}</title>
<style>{_static("report.css")}</style>
</head><body>
<header class="top"><h1>{e(bench.name or "benchmark")} <span class="muted">benchmark {benchmark_id}</span></h1>
<p class="meta">created {_when(bench.created_at)} \u00b7 {len(systems)} system(s) \u00b7 {n_utts:,} utterance(s) \u00b7
report generated {e(generated)} by spectragram-bench {e(__version__)}</p>
{f'<p class="meta">{e(bench.notes)}</p>' if bench.notes else ""}
<nav>{nav}</nav></header>
<main>
{main}
</main>
<script>{script}</script>
</body></html>
"""
    return body


def default_report_path(db: Database, benchmark_id: int) -> Path:
    """Beside the SQLite file (./runs/ by default); ./runs/ for a server database. Named after the
    database too (`spectragram-benchmark-1-report.html`), so two databases in one folder never
    overwrite each other's report."""
    from sqlalchemy.engine import make_url

    from spectragram_bench.core.config import DEFAULT_DB_DIR

    url = make_url(db.url)
    if db.dialect == "sqlite" and url.database not in (None, "", ":memory:"):
        folder, name = Path(url.database).parent, Path(url.database).stem
    else:
        folder, name = Path(DEFAULT_DB_DIR), "-".join(p for p in (url.host, url.database) if p) or db.dialect
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return folder / f"{safe}-benchmark-{benchmark_id}-report.html"


def audio_dir_of(report: Path) -> Path:
    """Where the report's own audio goes (clips held in rows, --variant-audio): `<report name>-audio/`."""
    return report.with_name(report.stem.removesuffix("-report") + "-audio")


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off: a report allocates millions of short-lived containers
    (rows, scored predictions, the browser's dicts) and next to no reference cycles, and the
    collector's passes over them were a third of a 100k-utterance report's time (its peak
    memory is the same without them: reference counting frees the rest as before)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def write_report(
    db: Database, benchmark_id: int, out: str | os.PathLike[str] | None = None, eval_version: str | None = None,
    *, variant_audio: bool = False,
) -> Path:
    """Render and write the report; returns its path. Written atomically (temp file, then rename).
    With `variant_audio`, every degraded utterance is written as the model heard it (reporting/variant_audio.py)."""
    path = Path(out) if out is not None else default_report_path(db, benchmark_id)
    if path.is_dir():
        raise BenchError(f"report output {path} is a directory; give a file name such as {path / 'report.html'}")
    out_dir = path.parent if str(path.parent) else Path(".")
    with db.session() as session, collector_paused():
        bench = session.get(Benchmark, benchmark_id)
        if bench is None:
            raise BenchError(f"benchmark {benchmark_id} not found in {db.location}")
        heard = None
        if variant_audio:
            preds = scored_predictions(session, benchmark_id, chars=False, align=False, eval_version=eval_version)
            heard, _problems = variant_clips(db, bench.config_json, preds, out_dir, audio_dir_of(path))
        html = render_report(session, benchmark_id, out_dir, eval_version, audio_dir=audio_dir_of(path), variant_audio=heard)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(html, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        raise BenchError(f"cannot write report {path}: {exc.strerror or exc}") from None
    return path
