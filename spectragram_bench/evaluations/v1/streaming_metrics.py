"""The streaming latency metrics of a (job run, dataset, variant), from the figures each
prediction's stream clock stored in latency_sample.meta_json (providers/stream_clock.py).

metric_summary rows: stream_{finalization,connect,ttfp}_ms_{mean,p50,p90,p95,p99,max},
stream_revisions_mean (partial revisions per utterance), stream_early_words (words shown before
their audio was sent, summed), stream_early_utterances, stream_negative_finalizations (a final
before the speech end was sent: counted, never dropped), stream_no_speech_end (utterances without
a speech end to measure from).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from spectragram_bench.core import metrics
from spectragram_bench.core.models import Utterance

LATENCY_KEYS = ("finalization_ms", "connect_ms", "ttfp_ms")


@dataclass
class StreamSamples:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in LATENCY_KEYS})
    revisions: list[int] = field(default_factory=list)
    early_words: list[int] = field(default_factory=list)
    no_speech_end: int = 0

    def add(self, meta: dict[str, Any]) -> None:
        """One ok prediction's meta; predictions that were not streamed are ignored."""
        if "timeline" not in meta:
            return
        for key in LATENCY_KEYS:
            if meta.get(key) is not None:
                self.latencies[key].append(float(meta[key]))
        if meta.get("finalization_ms") is None:
            self.no_speech_end += 1
        self.revisions.append(int(meta.get("revisions") or 0))
        self.early_words.append(int(meta.get("early_words") or 0))

    def values(self) -> dict[str, float | None]:
        if not self.revisions:
            return {}
        out: dict[str, float | None] = {}
        for key, samples in self.latencies.items():
            for stat, v in metrics.latency_stats(samples).items():
                out[f"stream_{key}_{stat}"] = v
        out["stream_revisions_mean"] = sum(self.revisions) / len(self.revisions)
        out["stream_early_words"] = sum(self.early_words)
        out["stream_early_utterances"] = sum(1 for n in self.early_words if n)
        out["stream_negative_finalizations"] = sum(1 for v in self.latencies["finalization_ms"] if v < 0)
        out["stream_no_speech_end"] = self.no_speech_end
        return out


def span_of(lat_meta: dict | None, utt_id: int, into: dict[int, dict]) -> None:
    """Note a latency sample's speech span (streamed utterances have one) in `into`."""
    span = (lat_meta or {}).get("speech_span")
    if isinstance(span, dict):
        into[utt_id] = span


def store_speech_spans(session: Session, spans: dict[int, dict]) -> int:
    """Keep each streamed utterance's speech span (with the detector's name and version) in its
    utterance row's meta_json, once per utterance and variant (an utterance row is one variant);
    a span already stored is left as it is. Returns how many were added.

    `spans` (utt_id -> span) are collected while the evaluation reads the latency samples
    (span_of): reading every latency meta again, at once, was its peak memory at 100k."""
    added = 0
    ids = sorted(spans)
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for utt_id, utt_meta in session.execute(
            select(Utterance.utt_id, Utterance.meta_json).where(Utterance.utt_id.in_(chunk))
        ).all():
            if "speech_span" not in (utt_meta or {}):
                session.execute(update(Utterance).where(Utterance.utt_id == utt_id)
                                .values(meta_json={**(utt_meta or {}), "speech_span": spans[utt_id]}))
                added += 1
    return added
