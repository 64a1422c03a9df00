"""Where speech starts and ends in the audio a provider is given: the reference points of the
streaming latencies (stream_clock.py).

Computed once per distinct audio (file, segment, variant: noise moves the boundaries) with Silero
VAD and kept for the process; each prediction stores the span it was measured against, with the
detector's name and version, in latency_sample.meta_json["speech_span"].
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any

from spectragram_bench.core import vad
from spectragram_bench.core.audio import AudioClip
from spectragram_bench.core.records import WorkItem

MAX_CACHED = 100_000

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


def speech_span(clip: AudioClip, item: WorkItem) -> dict[str, Any]:
    """The span of `clip` (the audio of `item`), from the cache or computed now (blocking)."""
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
