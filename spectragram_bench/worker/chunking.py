"""Long-form recordings: cut at silences into chunks, one request each, stitched into one hypothesis.

A recording needs chunks when it is longer than the smallest of the provider's duration
limit (`Provider.max_audio_s`), the job's `chunking.max_s`, and the duration whose 16-bit WAV
fits the provider's upload limit (`max_upload_bytes`) when its own upload would not.

Cutting: the VAD (core/vad.py, Silero) finds the speech; each chunk ends at the middle of
the last silence that keeps it within the limit, so no word is cut and chunks do not overlap:
stitching is plain concatenation in order, with no overlap to reconcile. A stretch of speech
longer than the limit with no silence in it is cut hard at the limit (`forced` in the
chunk's record: a word there may be split). Chunks are sent as WAV.

Each chunk is a request of its own through the executor's attempt loop: it holds a
concurrency slot and a rate-limit slot (requests and audio seconds), is timed out and
retried like any request. The recording is one prediction: its text the chunks' texts in
order, its words shifted to the recording's clock, `api_time_ms` the sum of the chunks'
API times, and `latency_sample.meta_json.chunks` each chunk's start, end, text, API time
and attempts. A chunk that fails fails the recording (the error names the chunk); scoring
is per recording.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from spectragram_bench.core.audio import AudioClip
from spectragram_bench.core.records import WorkItem
from spectragram_bench.core.statuses import ErrorKind
from spectragram_bench.providers.base import Provider, Transcript

if TYPE_CHECKING:
    from spectragram_bench.worker.exec_infer import Executor

WAV_HEADER_BYTES = 44
VAD_RATE = 16000
#: A chunk never ends sooner than this after its start when a silence is chosen (avoids slivers).
MIN_CHUNK_S = 1.0


@dataclass(frozen=True)
class Chunk:
    start_s: float
    end_s: float
    forced: bool = False  # cut inside speech: no silence within the limit


def upload_bytes(clip: AudioClip) -> int:
    """What an untouched upload of the clip weighs, without reading or encoding it."""
    if clip.source_path is not None:
        return clip.source_size()
    if clip.source_bytes is not None:
        return len(clip.source_bytes[0])
    return WAV_HEADER_BYTES + 2 * int(round(clip.duration_s * clip.sample_rate))


def limit_s(provider: Provider, clip: AudioClip) -> float | None:
    """The longest chunk this provider takes for this clip, or None when it takes it whole."""
    limits = [x for x in (getattr(provider, "max_audio_s", None), provider.config.chunking.max_s) if x]
    max_bytes = getattr(provider, "max_upload_bytes", None)
    if max_bytes and upload_bytes(clip) > max_bytes:
        limits.append((max_bytes - WAV_HEADER_BYTES) / (2.0 * clip.sample_rate))
    return min(limits) if limits else None


def needs_chunks(provider: Provider, clip: AudioClip) -> bool:
    limit = limit_s(provider, clip)
    return limit is not None and clip.duration_s > limit


def plan_chunks(speech: list[tuple[float, float]], total_s: float, max_s: float) -> list[Chunk]:
    """Chunks covering [0, total_s], each at most `max_s`, cut in the silences between `speech` segments."""
    cuts = sorted({(a_end + b_start) / 2.0 for (_, a_end), (b_start, _) in zip(speech, speech[1:], strict=False)
                   if b_start > a_end})
    if speech:  # the silence before the first word and after the last are cut points too
        cuts = sorted({*cuts, speech[0][0] / 2.0, (speech[-1][1] + total_s) / 2.0})
    chunks: list[Chunk] = []
    start = 0.0
    while total_s - start > max_s:
        fitting = [c for c in cuts if start + MIN_CHUNK_S <= c <= start + max_s]
        if fitting:
            chunks.append(Chunk(start, fitting[-1]))
        else:
            chunks.append(Chunk(start, start + max_s, forced=True))
        start = chunks[-1].end_s
    chunks.append(Chunk(start, total_s))
    return chunks


def _cut(clip: AudioClip, chunk: Chunk) -> AudioClip:
    a, b = int(round(chunk.start_s * clip.sample_rate)), int(round(chunk.end_s * clip.sample_rate))
    return AudioClip(np.ascontiguousarray(clip.samples[a:b]), clip.sample_rate)


def _chunk_item(item: WorkItem, chunk: Chunk, total_s: float) -> WorkItem:
    """The recording's item for one chunk. Its ref_text (read only by the mock provider, never
    sent) is the reference's words in proportion to time, so chunk texts partition it."""
    words = item.ref_text.split()
    a = int(round(len(words) * chunk.start_s / total_s)) if total_s else 0
    b = int(round(len(words) * chunk.end_s / total_s)) if total_s else len(words)
    return replace(item, duration_s=chunk.end_s - chunk.start_s, ref_text=" ".join(words[a:b]))


def stitch(chunks: list[Chunk], transcripts: list[Transcript]) -> Transcript:
    """One transcript: texts in order, words on the recording's clock, usage and billing summed."""
    text = " ".join(t.text.strip() for t in transcripts if t.text.strip())
    words: list[dict[str, Any]] | None = None
    if all(t.words is not None for t in transcripts):
        words = []
        for chunk, t in zip(chunks, transcripts, strict=True):
            for w in t.words or []:
                shifted = dict(w)
                for key in ("start", "end"):
                    if isinstance(shifted.get(key), int | float):
                        shifted[key] = round(shifted[key] + chunk.start_s, 4)
                words.append(shifted)
    billed = [t.billed_seconds for t in transcripts]
    return Transcript(
        text=text,
        words=words,
        usage={"chunks": [t.usage for t in transcripts]},
        model_revision=next((t.model_revision for t in transcripts if t.model_revision), None),
        billed_seconds=sum(billed) if all(b is not None for b in billed) else None,
    )


async def run_chunked(executor: Executor, item: WorkItem, clip: AudioClip, variant_facts: dict, started: float) -> None:
    """Transcribe a long recording chunk by chunk (concurrently, under the executor's limits) and
    hand the executor one result for it."""
    from spectragram_bench.core.errors import AudioError
    from spectragram_bench.worker.exec_infer import Settled

    max_s = limit_s(executor.provider, clip)
    try:
        from spectragram_bench.core import vad
    except ImportError as exc:
        executor.fail(item, ErrorKind.INPUT, f"recording is {clip.duration_s:.0f} s, over the {max_s:.0f} s limit, "
                       f"and the VAD that cuts it is not available: {exc}", 0, started, [])
        return
    loop = asyncio.get_running_loop()
    def find_speech() -> list[tuple[float, float]]:
        at16k = clip.resampled(VAD_RATE)  # Silero runs at 8 or 16 kHz; the times are in seconds either way
        return vad.speech_segments(at16k.samples, VAD_RATE)

    try:
        speech = await loop.run_in_executor(executor.io_pool, find_speech)
    except AudioError as exc:
        executor.fail(item, ErrorKind.INPUT, str(exc), 0, started, [])
        return
    chunks = plan_chunks(speech, clip.duration_s, max_s)
    t0 = time.perf_counter()
    settled = await asyncio.gather(
        *(executor.settle(_cut(clip, c), _chunk_item(item, c, clip.duration_s)) for c in chunks)
    )
    attempts = sum(s.attempts for s in settled)
    log_ = [dict(entry, chunk=i) for i, s in enumerate(settled) for entry in s.attempt_log]
    for i, (c, s) in enumerate(zip(chunks, settled, strict=True)):
        if s.transcript is None and s.failure is not None:
            kind, text = s.failure
            where = f"chunk {i + 1}/{len(chunks)} ({c.start_s:.1f}-{c.end_s:.1f} s)"
            executor.fail(item, kind, f"{where}: {text}", attempts, started, log_)
            return
    if any(s.transcript is None for s in settled):  # stopped: the recording is unfinished, not failed
        return
    transcripts = [s.transcript for s in settled]
    stitched = stitch(chunks, transcripts)
    meta = {
        "chunks": [
            {"start_s": round(c.start_s, 3), "end_s": round(c.end_s, 3), "forced": c.forced, "text": t.text,
             "api_ms": round(s.api_ms, 2), "attempts": s.attempts}
            for c, t, s in zip(chunks, transcripts, settled, strict=True)
        ],
        "chunking": {"max_s": round(max_s, 3), "vad": f"{vad.VAD_NAME}@{vad.VAD_VERSION}", "overlap_s": 0.0,
                     "wall_ms": round((time.perf_counter() - t0) * 1000, 2)},
    }
    stitched = replace(stitched, meta=meta)
    executor.succeed_settled(item, clip, variant_facts,
                     Settled(stitched, attempts, sum(s.api_ms for s in settled), log_), started)
