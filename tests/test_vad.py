"""Silero VAD (ONNX, no torch) on synthetic speech with known leading and trailing silence."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from spectragram_bench.core import vad

TOLERANCE_S = 0.120  # measured here: starts within 40 ms, ends 0-105 ms late (exit hysteresis)
PAD_S = 0.030  # speech_segments' default pad on each side (speech_bounds is unpadded)


def synthesize(tmp_path: Path, engine: str, text: str) -> tuple[np.ndarray, int]:
    """Speech from espeak-ng (22.05 kHz) or flite (8 kHz), trimmed to its first and last audible sample."""
    if shutil.which(engine) is None:
        pytest.skip(f"{engine} is not installed (.ci/run installs it)")
    out = tmp_path / f"{engine}.wav"
    cmd = [engine, "-w", str(out), text] if engine == "espeak-ng" else [engine, "-t", text, "-o", str(out)]
    subprocess.run(cmd, check=True, capture_output=True)
    samples, rate = sf.read(str(out), dtype="float32")
    audible = np.nonzero(np.abs(samples) > 0.01)[0]
    return samples[audible[0] : audible[-1] + 1], rate


def with_silence(speech: np.ndarray, rate: int, lead_s: float, trail_s: float, seed: int = 0) -> np.ndarray:
    """`speech` between `lead_s` and `trail_s` of room-tone (white noise at -60 dBFS)."""
    clip = np.concatenate([np.zeros(int(lead_s * rate)), speech, np.zeros(int(trail_s * rate))])
    return (clip + np.random.default_rng(seed).normal(0, 1e-3, len(clip))).astype(np.float32)


@pytest.mark.parametrize(
    ("engine", "lead_s", "trail_s"),
    [("espeak-ng", 0.7, 0.9), ("espeak-ng", 1.6, 0.25), ("flite", 0.5, 1.3)],
)
def test_bounds_within_100ms_of_known_silence(tmp_path, engine, lead_s, trail_s):
    speech, rate = synthesize(tmp_path, engine, "The quick brown fox jumps over the lazy dog.")
    clip = with_silence(speech, rate, lead_s, trail_s)
    bounds = vad.speech_bounds(clip, rate)
    assert bounds is not None
    start, end = bounds
    true_end = lead_s + len(speech) / rate
    assert abs(start - lead_s) <= TOLERANCE_S, (start, lead_s)
    assert abs(end - true_end) <= TOLERANCE_S, (end, true_end)


def test_two_phrases_give_two_segments_and_bounds_span_both(tmp_path):
    first, rate = synthesize(tmp_path, "espeak-ng", "Open the door.")
    second, _ = synthesize(tmp_path, "espeak-ng", "Close the window.")
    gap = np.zeros(int(1.0 * rate), dtype=np.float32)
    clip = with_silence(np.concatenate([first, gap, second]), rate, 0.5, 0.5)
    segments = vad.speech_segments(clip, rate)
    assert len(segments) == 2
    first_end = 0.5 + len(first) / rate
    second_start = first_end + 1.0
    assert abs(segments[0][1] - first_end) <= TOLERANCE_S + PAD_S
    assert abs(segments[1][0] - second_start) <= TOLERANCE_S + PAD_S
    start, end = vad.speech_bounds(clip, rate)
    assert start == pytest.approx(segments[0][0] + PAD_S, abs=1e-9)
    assert end == pytest.approx(segments[1][1] - PAD_S, abs=1e-9)


def test_silence_and_noise_have_no_speech():
    rate = 16000
    assert vad.speech_bounds(np.zeros(rate * 2, dtype=np.float32), rate) is None
    noise = np.random.default_rng(1).normal(0, 1e-3, rate * 2).astype(np.float32)
    assert vad.speech_segments(noise, rate) == []


def test_max_speech_splits_a_long_segment(tmp_path):
    speech, rate = synthesize(tmp_path, "espeak-ng", "one two three four five six seven eight nine ten")
    clip = with_silence(speech, rate, 0.3, 0.3)
    whole = vad.speech_segments(clip, rate)
    capped = vad.speech_segments(clip, rate, max_speech_s=1.0)
    assert len(capped) > len(whole)
    assert all(end - start <= 1.0 + 1e-9 for start, end in capped)


def test_shipped_model_is_the_recorded_file():
    assert hashlib.sha256(vad.MODEL_PATH.read_bytes()).hexdigest() == vad.MODEL_SHA256
    assert (vad.MODEL_PATH.parent / "LICENSE").read_text().startswith("MIT License")
    assert vad.VAD_NAME == "silero-vad" and vad.VAD_VERSION in (vad.MODEL_PATH.parent / "PROVENANCE.md").read_text()


def test_mono_only():
    with pytest.raises(ValueError, match="mono"):
        vad.speech_segments(np.zeros((100, 2), dtype=np.float32), 16000)
