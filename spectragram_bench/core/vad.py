"""Speech boundaries from Silero VAD: its ONNX model run with onnxruntime, no torch.

Streaming latency is measured from the end of speech, so the harness needs a voice-activity
detector whose answer is reproducible and named. The model file is the one the `silero-vad`
wheel ships (see vad_model/PROVENANCE.md); that wheel is not a dependency because it declares
torch. The per-window loop and the segment logic follow `get_speech_timestamps` in silero-vad's
utils_vad.py, with its defaults (threshold 0.5, min speech 250 ms, min silence 100 ms, pad 30 ms).
Differences, on purpose: any sample rate other than 16 kHz is resampled to 16 kHz with soxr (the
upstream function decimates multiples of 16 kHz and runs 8 kHz natively), and times are returned
at sample precision instead of rounded to 0.1 s. `speech_bounds` (the span latency is measured
against) is unpadded; `speech_segments` keeps upstream's 30 ms pad by default.
"""

from __future__ import annotations

import hashlib
import threading
from functools import cache
from pathlib import Path

import numpy as np
import soxr

VAD_NAME = "silero-vad"
#: The silero-vad release whose `silero_vad.onnx` is shipped in vad_model/.
VAD_VERSION = "6.2.3"
MODEL_PATH = Path(__file__).with_name("vad_model") / "silero_vad.onnx"
MODEL_SHA256 = "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3"

SAMPLE_RATE = 16_000
WINDOW = 512  # samples per model call at 16 kHz
CONTEXT = 64  # samples of the previous window prepended to each call, as upstream's OnnxWrapper

_load_lock = threading.Lock()


@cache
def _session():
    """One onnxruntime session per process (run() is thread-safe; state is passed per call)."""
    import onnxruntime

    with _load_lock:
        data = MODEL_PATH.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest != MODEL_SHA256:
            raise RuntimeError(f"{MODEL_PATH}: sha256 {digest} is not the shipped Silero VAD model's")
        opts = onnxruntime.SessionOptions()
        opts.inter_op_num_threads = 1
        opts.intra_op_num_threads = 1
        return onnxruntime.InferenceSession(data, sess_options=opts, providers=["CPUExecutionProvider"])


def _to_16k(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    audio = np.asarray(samples, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"VAD needs mono audio, got an array of shape {audio.shape}")
    if sample_rate != SAMPLE_RATE:
        audio = soxr.resample(audio, sample_rate, SAMPLE_RATE, quality="HQ").astype(np.float32)
    return audio


def speech_probabilities(audio: np.ndarray) -> np.ndarray:
    """Silero's speech probability for each 512-sample window of 16 kHz audio (last one zero-padded)."""
    session = _session()
    n_windows = -(-len(audio) // WINDOW)
    padded = np.zeros(n_windows * WINDOW, dtype=np.float32)
    padded[: len(audio)] = audio
    state = np.zeros((2, 1, 128), dtype=np.float32)
    context = np.zeros((1, CONTEXT), dtype=np.float32)
    sr = np.array(SAMPLE_RATE, dtype=np.int64)
    probs = np.empty(n_windows, dtype=np.float32)
    for i in range(n_windows):
        x = np.concatenate([context, padded[None, i * WINDOW : (i + 1) * WINDOW]], axis=1)
        out, state = session.run(None, {"input": x, "state": state, "sr": sr})
        probs[i] = out[0, 0]
        context = x[:, -CONTEXT:]
    return probs


def segments_from_probabilities(
    probs: np.ndarray,
    n_samples: int,
    threshold: float = 0.5,
    min_speech_ms: int = 250,
    min_silence_ms: int = 100,
    speech_pad_ms: int = 30,
    max_speech_s: float = float("inf"),
) -> list[tuple[int, int]]:
    """(start, end) sample pairs at 16 kHz: upstream's get_speech_timestamps_from_probs state machine."""
    sr = SAMPLE_RATE
    min_speech = sr * min_speech_ms / 1000
    pad = sr * speech_pad_ms / 1000
    max_speech = sr * max_speech_s - WINDOW - 2 * pad
    min_silence = sr * min_silence_ms / 1000
    min_silence_at_max = sr * 98 / 1000
    neg_threshold = max(threshold - 0.15, 0.01)
    triggered = False
    speeches: list[dict[str, int]] = []
    current: dict[str, int] = {}
    temp_end = prev_end = next_start = 0
    possible_ends: list[tuple[int, int]] = []

    for i, prob in enumerate(probs):
        cur = WINDOW * i
        if prob >= threshold and temp_end:
            silence = cur - temp_end
            if silence > min_silence_at_max:
                possible_ends.append((temp_end, silence))
            temp_end = 0
            if next_start < prev_end:
                next_start = cur
        if prob >= threshold and not triggered:
            triggered = True
            current["start"] = cur
            continue
        if triggered and cur - current["start"] > max_speech:
            # Upstream's default cut (use_max_poss_sil_at_max_speech): at the longest silence seen.
            if possible_ends:
                prev_end, dur = max(possible_ends, key=lambda end: end[1])
                current["end"] = prev_end
                speeches.append(current)
                current = {}
                next_start = prev_end + dur
                if next_start < prev_end + cur:
                    current["start"] = next_start
                else:
                    triggered = False
            else:
                current["end"] = cur
                speeches.append(current)
                current = {}
                triggered = False
                prev_end = next_start = temp_end = 0
                possible_ends = []
                continue
            prev_end = next_start = temp_end = 0
            possible_ends = []
        if prob < neg_threshold and triggered:
            if not temp_end:
                temp_end = cur
            if cur - temp_end < min_silence:
                continue
            current["end"] = temp_end
            if current["end"] - current["start"] > min_speech:
                speeches.append(current)
            current = {}
            prev_end = next_start = temp_end = 0
            triggered = False
            possible_ends = []

    if current and n_samples - current["start"] > min_speech:
        current["end"] = n_samples
        speeches.append(current)
    return _padded(speeches, n_samples, pad)


def _padded(speeches: list[dict[str, int]], n_samples: int, pad: float) -> list[tuple[int, int]]:
    """Pad each segment by `pad` samples; a gap shorter than two pads is split between its neighbours."""
    for i, speech in enumerate(speeches):
        if i == 0:
            speech["start"] = int(max(0, speech["start"] - pad))
        if i != len(speeches) - 1:
            gap = speeches[i + 1]["start"] - speech["end"]
            if gap < 2 * pad:
                speech["end"] += int(gap // 2)
                speeches[i + 1]["start"] = int(max(0, speeches[i + 1]["start"] - gap // 2))
            else:
                speech["end"] = int(min(n_samples, speech["end"] + pad))
                speeches[i + 1]["start"] = int(max(0, speeches[i + 1]["start"] - pad))
        else:
            speech["end"] = int(min(n_samples, speech["end"] + pad))
    return [(s["start"], s["end"]) for s in speeches]


def speech_segments(samples: np.ndarray, sample_rate: int, **params) -> list[tuple[float, float]]:
    """Speech segments as (start_s, end_s), in seconds from the clip's first sample.

    Keyword `params` are those of `segments_from_probabilities` (e.g. `max_speech_s` to cap a
    segment's length for chunking long recordings).
    """
    audio = _to_16k(samples, sample_rate)
    pairs = segments_from_probabilities(speech_probabilities(audio), len(audio), **params)
    return [(start / SAMPLE_RATE, end / SAMPLE_RATE) for start, end in pairs]


#: speech_bounds leaves out upstream's 30 ms pad: it widens segments for cutting audio, and a
#: latency measured from a padded end would be 30 ms too short.
BOUNDS_PAD_MS = 0


def speech_bounds(samples: np.ndarray, sample_rate: int) -> tuple[float, float] | None:
    """(first speech start, last speech end) in seconds, unpadded; None when the VAD finds no speech.

    Measured on espeak-ng/flite speech (tests/test_vad.py), the start is within 40 ms of the first
    audible sample and the end 0-105 ms after the last one (the model's exit hysteresis).
    """
    segments = speech_segments(samples, sample_rate, speech_pad_ms=BOUNDS_PAD_MS)
    if not segments:
        return None
    return segments[0][0], segments[-1][1]
