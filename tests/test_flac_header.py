"""core/flac_header.py: a plain FLAC header read without libsndfile gives exactly what soundfile
reports, and any file it is not sure of (broken, truncated, unusual metadata) opens through
soundfile with the same outcome and message as before."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from spectragram_bench.core import audio
from spectragram_bench.core.errors import AudioError
from spectragram_bench.core.flac_header import flac_stream, read_head


def write_flac(path: Path, sr: int, channels: int, subtype: str, frames: int, tags: bool = False) -> Path:
    x = (np.random.default_rng(frames).standard_normal((frames, channels)) * 0.1).astype("float32")
    with sf.SoundFile(path, "w", sr, channels, subtype, format="FLAC") as f:
        if tags:
            f.title, f.artist = "a title", "x" * 3000
        f.write(x)
    return path


def outcome(fn, path: str, offset_s: float = 0.0, segment_s: float | None = None):
    try:
        clip = fn(path, offset_s, segment_s)
    except AudioError as exc:
        return "error", str(exc)
    return clip.sample_rate, clip.duration_s, clip._decode[2:], clip.source_path


def through_soundfile(path: str, offset_s: float = 0.0, segment_s: float | None = None):
    if not os.path.isfile(path):
        raise AudioError(f"audio file not found: {path}")
    return audio._open(path, path, offset_s, segment_s, decode=False)


@pytest.mark.parametrize("sr", [8000, 16000, 44100])
@pytest.mark.parametrize(("channels", "subtype"), [(1, "PCM_16"), (2, "PCM_24"), (1, "PCM_S8")])
def test_the_header_says_what_soundfile_says(tmp_path, sr, channels, subtype):
    for frames, tags in ((1, False), (5000, True)):
        path = write_flac(tmp_path / f"a{frames}.flac", sr, channels, subtype, frames, tags)
        with sf.SoundFile(path) as f:
            assert flac_stream(read_head(str(path))) == (f.samplerate, f.frames, f.channels)
        for span in ((0.0, None), (0.01, None), (0.0, 0.02), (99.0, None)):
            assert outcome(audio.open_audio, str(path), *span) == outcome(through_soundfile, str(path), *span)


def test_broken_files_keep_their_outcome_and_message(tmp_path):
    good = write_flac(tmp_path / "good.flac", 16000, 1, "PCM_16", 3000, tags=True).read_bytes()
    variants = {"empty": b"", "text": b"not audio at all", "magic": b"fLaC"}
    variants |= {f"cut{n}": good[:n] for n in range(1, 200, 7)}
    for j in range(4, 160):
        flipped = bytearray(good)
        flipped[j] ^= 0xFF
        variants[f"flip{j}"] = bytes(flipped)
    for name, data in variants.items():
        path = tmp_path / f"{name}.flac"
        path.write_bytes(data)
        assert outcome(audio.open_audio, str(path)) == outcome(through_soundfile, str(path)), name
    missing = str(tmp_path / "missing.flac")
    assert outcome(audio.open_audio, missing) == ("error", f"audio file not found: {missing}")


def test_a_small_file_read_whole_is_what_file_bytes_returns(tmp_path):
    path = write_flac(tmp_path / "s.flac", 16000, 1, "PCM_16", 4000)
    clip = audio.open_audio(str(path))
    assert clip.file_bytes() == (path.read_bytes(), "audio/flac", "s.flac")
    assert clip.source_size() == path.stat().st_size
    assert audio.open_audio(str(path), 0.1).file_bytes()[1] == "audio/wav"  # a segment is not the file
