"""Where speech starts and ends in the audio a provider is given: the reference points of the
streaming latencies (stream_clock.py).

Computed once per distinct audio (file, segment, variant: noise moves the boundaries) with Silero
VAD and kept for the process; each prediction stores the span it was measured against, with the
detector's name and version, in latency_sample.meta_json["speech_span"].

Where the dataset has a word alignment (utterance meta `words`: [{"word", "start", "end"}] in
seconds from the start of the utterance's audio, as the word-timing metrics read it), a streaming
adapter given `"speech_span": "alignment"` measures from the first word's start and the last
word's end instead: the aligner saw the clean audio, so noise does not move the span, and a speed
variant scales it. An utterance without a usable alignment falls back to the VAD, and the span
says which it is (`source`, and `fallback` with the reason: the alignment file's line when the
dataset's `options.alignments` had none for it, datasets/alignments.py), so a report never mixes
the two unseen.
"""

from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
from typing import Any

from spectragram_bench.core import vad
from spectragram_bench.core.audio import AudioClip
from spectragram_bench.core.records import WorkItem

MAX_CACHED = 100_000
#: where a streaming adapter's speech span comes from (its `params.speech_span`)
REFERENCES = ("vad", "alignment")

_cache: OrderedDict[tuple, dict[str, Any]] = OrderedDict()
_lock = threading.Lock()


def audio_key(item: WorkItem) -> tuple:
    """What identifies the audio an adapter receives for `item`."""
    return (item.audio_path, item.offset_s, item.segment_s, json.dumps(item.variant, sort_keys=True, default=str))


def detect(clip: AudioClip) -> dict[str, Any]:
    """The VAD's span of `clip` in ms (None for both when it finds no speech)."""
    bounds = vad.speech_bounds(clip.samples, clip.sample_rate)
    start_ms, end_ms = (None, None) if bounds is None else (round(bounds[0] * 1000, 2), round(bounds[1] * 1000, 2))
    return {"start_ms": start_ms, "end_ms": end_ms, "source": "vad", "detector": vad.VAD_NAME, "version": vad.VAD_VERSION}


def alignment_bounds(words: Any) -> tuple[float, float] | None:
    """(first start, last end) in seconds of a word alignment; None unless every entry has a
    finite, non-negative start <= end (a partly broken alignment is no reference)."""
    if not isinstance(words, list) or not words:
        return None
    spans = []
    for w in words:
        start, end = (w.get("start"), w.get("end")) if isinstance(w, dict) else (None, None)
        if not all(isinstance(t, int | float) and not isinstance(t, bool) and math.isfinite(t) for t in (start, end)):
            return None
        if not 0 <= start <= end:
            return None
        spans.append((float(start), float(end)))
    return min(s for s, _ in spans), max(e for _, e in spans)


def from_alignment(item: WorkItem) -> dict[str, Any] | None:
    """The span of `item`'s audio from its word alignment (scaled for a speed variant), or None."""
    if item.word_span is None:
        return None
    factor = float(item.variant.get("factor", 1.0)) if item.variant.get("kind") == "speed" else 1.0
    start_s, end_s = (t / factor for t in item.word_span)
    return {"start_ms": round(start_s * 1000, 2), "end_ms": round(end_s * 1000, 2), "source": "alignment"}


def speech_span(clip: AudioClip, item: WorkItem, reference: str = "vad") -> dict[str, Any]:
    """The span of `clip` (the audio of `item`): from the word alignment when `reference` is
    "alignment" and the utterance has one, else the VAD's, from the cache or computed now (blocking)."""
    if reference == "alignment":
        aligned = from_alignment(item)
        if aligned is not None:
            return aligned
        reason = "no usable word alignment" + (f": {item.alignment_note}" if item.alignment_note else "")
        return {**_vad_span(clip, item), "fallback": reason}
    return _vad_span(clip, item)


def _vad_span(clip: AudioClip, item: WorkItem) -> dict[str, Any]:
    key = audio_key(item)
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    span = detect(clip)
    with _lock:
        _cache[key] = span
        while len(_cache) > MAX_CACHED:
            _cache.popitem(last=False)
    return span


def remember(item: WorkItem, span: dict[str, Any]) -> None:
    """Seed the cache with a span known otherwise (tests, benches with exact synthetic audio)."""
    with _lock:
        _cache[audio_key(item)] = span
