"""Audio loading, resampling and encoding shared by every provider and variant.

Providers receive an `AudioClip`: float32 mono samples plus where they came from, so a
cloud adapter can upload the untouched source file while a local engine gets resampled PCM.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from spectragram_bench.core.errors import AudioError

MIME_BY_SUFFIX = {
    ".wav": "audio/wav",
    ".flac": "audio/flac",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".opus": "audio/ogg",
    ".webm": "audio/webm",
    ".m4a": "audio/mp4",
}


@dataclass(frozen=True)
class AudioClip:
    """Decoded mono audio. `source_path` is set only while the samples are the file's own, unmodified."""

    samples: np.ndarray  # float32, mono, in [-1, 1]
    sample_rate: int
    source_path: str | None = None

    @property
    def duration_s(self) -> float:
        return len(self.samples) / float(self.sample_rate)

    def resampled(self, sample_rate: int) -> AudioClip:
        """The clip at `sample_rate` (soxr, high quality); the source link is kept only if unchanged."""
        if sample_rate == self.sample_rate:
            return self
        out = soxr.resample(self.samples, self.sample_rate, sample_rate, quality="HQ")
        return AudioClip(np.asarray(out, dtype=np.float32), sample_rate, None)

    def pcm16(self) -> bytes:
        """Little-endian signed 16-bit PCM, as pocketsphinx and Deepgram's linear16 expect."""
        clipped = np.clip(self.samples, -1.0, 1.0)
        return (clipped * 32767.0).round().astype("<i2").tobytes()

    def encode(self, fmt: str = "WAV") -> bytes:
        """The clip encoded as a file (WAV or FLAC, 16-bit)."""
        buf = io.BytesIO()
        sf.write(buf, self.samples, self.sample_rate, format=fmt, subtype="PCM_16")
        return buf.getvalue()

    def file_bytes(self) -> tuple[bytes, str, str]:
        """(bytes, mime type, file name) to upload: the source file when untouched, else a WAV."""
        if self.source_path is not None:
            path = Path(self.source_path)
            mime = MIME_BY_SUFFIX.get(path.suffix.lower())
            if mime is not None:
                return path.read_bytes(), mime, path.name
        return self.encode("WAV"), "audio/wav", "audio.wav"


def load_audio(path: str, offset_s: float = 0.0, segment_s: float | None = None) -> AudioClip:
    """Decode `path` (or the segment from `offset_s` lasting `segment_s`) to float32 mono.

    Raises AudioError with the reason for anything unusable (missing, corrupt, empty).
    """
    p = Path(path)
    if not p.is_file():
        raise AudioError(f"audio file not found: {path}")
    try:
        with sf.SoundFile(str(p)) as f:
            sr = f.samplerate
            if offset_s:
                f.seek(int(round(offset_s * sr)))
            frames = -1 if segment_s is None else int(round(segment_s * sr))
            data = f.read(frames=frames, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as exc:
        raise AudioError(f"cannot decode audio {path}: {exc}") from exc
    if data.shape[0] == 0:
        raise AudioError(f"audio file has no samples: {path}")
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    untouched = not offset_s and segment_s is None and data.shape[1] == 1
    return AudioClip(np.ascontiguousarray(mono, dtype=np.float32), sr, str(p) if untouched else None)


def audio_duration(path: str) -> float:
    """Duration from the file header, without decoding the samples."""
    if not Path(path).is_file():
        raise AudioError(f"audio file not found: {path}")
    try:
        info = sf.info(path)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioError(f"cannot read audio header {path}: {exc}") from exc
    return info.frames / float(info.samplerate)
