"""The utterance browser's data: every utterance with each system's hypothesis, alignment,
per-utterance values of every metric, and failure, as one JSON object embedded in the report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from spectragram_bench.datasets.variants import variant_label
from spectragram_bench.reporting import plots, streaming_report
from spectragram_bench.reporting.alignment import HIT, Column
from spectragram_bench.reporting.display import clip, clip_columns
from spectragram_bench.reporting.predictions import CHAR_VALUES, WORD_VALUES, ScoredPrediction
from spectragram_bench.reporting.report_audio import audio_href


def _encode_columns(columns: list[Column]) -> list[Any]:
    """Hits as plain strings, edits as [op, ref, hyp]: compact for long benchmarks."""
    return [ref if op == HIT else [op, ref, hyp] for op, ref, hyp in columns]


def browser_data(
    systems: list, preds: list[ScoredPrediction], out_dir: Path, clips_dir: Path | None = None,
    variant_audio: dict[int, str] | None = None,
) -> dict[str, Any]:
    """`variant_audio`: utt_id -> link to the utterance as the model heard it (`report --variant-audio`)."""
    clips_dir = clips_dir or out_dir / "report-audio"
    groups: dict[str, int] = {}
    utts: dict[int, dict[str, Any]] = {}
    for sp in preds:
        u = sp.utterance
        if u.utt_id not in utts:
            group = f"{sp.dataset}/{sp.split} \u00b7 {variant_label(sp.variant_json)}"
            gi = groups.setdefault(group, len(groups))
            utts[u.utt_id] = {
                "g": gi, "id": u.external_id, "a": audio_href(u.utt_id, u.audio_path, u.meta_json, out_dir, clips_dir),
                "src": sp.variant_json.get("kind", "clean") != "clean",
                "dur": round(u.duration_s, 2) if u.duration_s is not None else None,
                "spk": u.speaker, "ref": clip(u.ref_text), "h": {},
            }
            if variant_audio and u.utt_id in variant_audio:
                utts[u.utt_id]["va"] = variant_audio[u.utt_id]
        p = sp.prediction
        if sp.ok and sp.words is not None:
            w = sp.words
            entry: dict[str, Any] = {
                "ok": 1, "e": w.errors, "n": w.ref_len, "s": w.substitutions, "d": w.deletions, "i": w.insertions,
                "raw": clip(p.hyp_text or ""), "cols": _encode_columns(clip_columns(sp.columns or [])),
                "ms": round(sp.latency.api_time_ms, 1) if sp.latency is not None and sp.latency.api_time_ms is not None else None,
                "t": round(sp.ttft_ms, 1) if sp.ttft_ms is not None else None,
            }
            extra = {k: v for k, v in sp.values.items() if k not in WORD_VALUES + CHAR_VALUES and v is not None}
            if extra:
                entry["v"] = {k: round(v, 4) for k, v in sorted(extra.items())}
            stream = streaming_report.timeline_entry((sp.latency.meta_json or {}) if sp.latency is not None else {})
            if stream is not None:
                entry["st"] = stream
        else:
            entry = {"ok": 0, "err": clip(f"{p.error_kind or 'error'}: {p.error_text or ''}"), "att": p.attempts}
        utts[u.utt_id]["h"][str(p.job_run_id)] = entry
    return {
        "systems": [{"id": str(s.id), "name": s.name, "c": plots.colour(s.series.index)} for s in systems],
        "groups": list(groups),
        "utts": list(utts.values()),
    }


def json_for_script(data: Any) -> str:
    """JSON safe inside <script type="application/json">: no '<', '>' or '&' can end the element."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for ch, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, code)
    return text
