"""Audio loading, resampling and encoding shared by every provider and variant.

Providers receive an `AudioClip`: float32 mono samples plus where they came from, so a
cloud adapter can upload the untouched source file while a local engine gets resampled PCM.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from spectragram_bench.core.errors import AudioError
from spectragram_bench.core.flac_header import HEAD_BYTES, flac_stream, read_head

#: Peak below which a clip counts as silent (-80 dBFS: under one 16-bit LSB of dither).
SILENT_PEAK = 1e-4

MIME_BY_SUFFIX = {
    ".wav": "audio/wav",
    ".flac": "audio/flac",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".opus": "audio/ogg",
    ".webm": "audio/webm",
    ".m4a": "audio/mp4",
}


class AudioClip:
    """Mono float32 audio. `source_path` (a file) or `source_bytes` (an encoded file held in
    memory, e.g. a parquet row's bytes, with its name) is set only while the samples are that
    source's own, unmodified.

    A clip opened from a file or bytes (`open_audio`, `open_audio_bytes`) is lazy: its header
    was read and checked, and the samples are decoded on first access, so an adapter that
    uploads the untouched source (`file_bytes`) or needs only `duration_s` never pays for a
    decode. A decode that fails then raises AudioError where `samples` is first read. Clips are
    not modified once built.
    """

    __slots__ = ("_samples", "_frames", "_decode", "sample_rate", "source_path", "source_bytes", "_file")

    def __init__(self, samples: np.ndarray, sample_rate: int, source_path: str | None = None) -> None:
        self._samples: np.ndarray | None = samples  # float32, mono, in [-1, 1]
        self._frames = len(samples)
        self._decode: tuple[str | bytes, str, int, int, int] | None = None  # (source, label, start, frames, channels)
        self.sample_rate = sample_rate
        self.source_path = source_path
        self.source_bytes: tuple[bytes, str] | None = None  # (encoded file, its name)
        self._file: tuple[bytes, str, str] | None = None  # file_bytes(), once read (preload_file, a small FLAC)

    @classmethod
    def _lazy(
        cls, src: str | bytes, label: str, sample_rate: int, start: int, frames: int, channels: int, untouched: bool
    ) -> AudioClip:
        clip = cls.__new__(cls)
        clip._samples = None
        clip._frames = frames
        clip._decode = (src, label, start, frames, channels)
        clip.sample_rate = sample_rate
        clip.source_path = src if untouched and isinstance(src, str) else None
        clip.source_bytes = (src, label) if untouched and isinstance(src, bytes) else None
        clip._file = None
        return clip

    @property
    def decoded(self) -> bool:
        """Whether the samples are in memory (a lazy clip decodes on first access)."""
        return self._samples is not None

    @property
    def samples(self) -> np.ndarray:
        if self._samples is None:
            self._set_samples(_decode(*self._decode))
        return self._samples

    def _set_samples(self, samples: np.ndarray) -> None:
        self._samples = samples
        self._frames = len(samples)  # what was decoded, should a file hold less than its header says

    @property
    def duration_s(self) -> float:
        return self._frames / float(self.sample_rate)

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

    def preload_file(self) -> None:
        """Read the untouched source file now (in an I/O thread), so that an upload does not
        read it, nor stat it, on the event loop."""
        if self.source_path is not None and self._file is None:
            self._file = self.file_bytes()

    def source_size(self) -> int:
        """The source file's size in bytes (source_path set)."""
        return len(self._file[0]) if self._file is not None else os.path.getsize(self.source_path)

    def file_bytes(self) -> tuple[bytes, str, str]:
        """(bytes, mime type, file name) to upload: the source file when untouched, else a WAV."""
        if self._file is not None:
            return self._file
        if self.source_path is not None:
            path = Path(self.source_path)
            mime = MIME_BY_SUFFIX.get(path.suffix.lower())
            if mime is not None:
                return path.read_bytes(), mime, path.name
        if self.source_bytes is not None:
            data, name = self.source_bytes
            mime = MIME_BY_SUFFIX.get(Path(name).suffix.lower())
            if mime is not None:
                return data, mime, Path(name).name
        return self.encode("WAV"), "audio/wav", "audio.wav"


def open_audio(path: str, offset_s: float = 0.0, segment_s: float | None = None) -> AudioClip:
    """A lazy clip of `path` (or of the segment from `offset_s` lasting `segment_s`): the header
    is read and checked now, the samples decoded on first access.

    Raises AudioError with the reason for a missing file, an unreadable header or no samples.
    """
    if path[-5:].lower() == ".flac" and (head := read_head(path)) is not None and (stream := flac_stream(head)) is not None:
        sr, total, channels = stream  # a plain FLAC header, read without libsndfile (core/flac_header.py)
        start, frames = _span(sr, total, offset_s, segment_s)
        if frames > 0:
            clip = AudioClip._lazy(path, path, sr, start, frames, channels, not offset_s and segment_s is None and channels == 1)
            if clip.source_path is not None and len(head) < HEAD_BYTES:  # the whole file was read: kept for file_bytes
                clip._file = (head, MIME_BY_SUFFIX[".flac"], os.path.basename(path))
            return clip
    if not os.path.isfile(path):
        raise AudioError(f"audio file not found: {path}")
    return _open(path, path, offset_s, segment_s, decode=False)


def _span(sr: int, total: int, offset_s: float, segment_s: float | None) -> tuple[int, int]:
    """(first frame, frames) of the segment from `offset_s` lasting `segment_s` (None: to the end)."""
    start = int(round(offset_s * sr)) if offset_s else 0
    available = max(0, total - start)
    return start, available if segment_s is None else min(available, int(round(segment_s * sr)))


def open_audio_bytes(
    data: bytes, name: str, offset_s: float = 0.0, segment_s: float | None = None, decode: bool = False
) -> AudioClip:
    """A clip of an encoded audio file held in memory (`name` says what it is, e.g. `x.flac`
    or `data.parquet row 12`, and gives its suffix), lazy unless `decode`."""
    if not data:
        raise AudioError(f"audio has no bytes: {name}")
    return _open(data, name, offset_s, segment_s, decode=decode)


def load_audio(path: str, offset_s: float = 0.0, segment_s: float | None = None) -> AudioClip:
    """Decode `path` (or the segment from `offset_s` lasting `segment_s`) to float32 mono now.

    Raises AudioError with the reason for anything unusable (missing, corrupt, empty).
    """
    if not os.path.isfile(path):
        raise AudioError(f"audio file not found: {path}")
    return _open(path, path, offset_s, segment_s, decode=True)


def _soundfile(src: str | bytes) -> sf.SoundFile:
    return sf.SoundFile(src if isinstance(src, str) else io.BytesIO(src))


def _open(src: str | bytes, path: str, offset_s: float, segment_s: float | None, decode: bool) -> AudioClip:
    """`path` names the source in messages (the file, or where the bytes came from)."""
    try:
        with _soundfile(src) as f:
            sr, total, channels = f.samplerate, f.frames, f.channels
            start, frames = _span(sr, total, offset_s, segment_s)
            if frames <= 0:
                raise AudioError(f"audio file has no samples: {path}")
            untouched = not offset_s and segment_s is None and channels == 1
            clip = AudioClip._lazy(src, path, sr, start, frames, channels, untouched)
            if decode:  # in the same open: a second one costs as much as the read
                clip._set_samples(_read(f, path, start, frames, channels))
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as exc:
        raise AudioError(f"cannot read audio header {path}: {exc}") from exc
    return clip


def _decode(src: str | bytes, path: str, start: int, frames: int, channels: int) -> np.ndarray:
    try:
        with _soundfile(src) as f:
            return _read(f, path, start, frames, channels)
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as exc:
        raise AudioError(f"cannot decode audio {path}: {exc}") from exc


def _read(f: sf.SoundFile, path: str, start: int, frames: int, channels: int) -> np.ndarray:
    """`frames` float32 mono samples from frame `start` of the open file `f`."""
    try:
        if start:
            f.seek(start)
        data = f.read(frames=frames, dtype="float32", always_2d=channels > 1)
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as exc:
        raise AudioError(f"cannot decode audio {path}: {exc}") from exc
    if data.shape[0] == 0:
        raise AudioError(f"audio file has no samples: {path}")
    if data.ndim > 1:
        data = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    return np.ascontiguousarray(data, dtype=np.float32)


def check_audible(clip: AudioClip, path: str) -> None:
    """Raise AudioError for a silent clip: there is nothing to transcribe (and no SNR to set)."""
    peak = float(np.max(np.abs(clip.samples))) if len(clip.samples) else 0.0
    if peak < SILENT_PEAK:
        raise AudioError(f"audio is silent (peak {20 * np.log10(max(peak, 1e-12)):.0f} dBFS): {path}")


def audio_duration(path: str) -> float:
    """Duration from the file header, without decoding the samples."""
    return open_audio(path).duration_s
