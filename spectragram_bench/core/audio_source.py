"""Where an utterance's audio is: a file, a segment of a file, a row of a parquet/Arrow file, or
bytes in memory, behind one immutable record (modelled on lhotse's AudioSource).

Everything that opens audio (the plan's checks, the executor, variants, the report) goes
through `AudioSource.open`/`load`, so it works the same for each kind. A source is stored
with its utterance (`stored()` into meta_json, `restore()` back), so a resume or a worker
rebuilds it from the database: a row is stored as its file and row index, never its bytes.
A `memory` source (bytes handed over by code, not read from a dataset) cannot be stored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from spectragram_bench.core.audio import AudioClip, load_audio, open_audio, open_audio_bytes
from spectragram_bench.core.errors import AudioError

SourceType = Literal["file", "parquet", "arrow", "memory"]
ROW_TYPES = ("parquet", "arrow")
#: The meta_json key a non-file source is stored under.
META_KEY = "audio_source"
#: The meta_json keys `restore` reads: without any of them the source is the whole file.
SOURCE_KEYS = frozenset(("offset_s", "segment_s", META_KEY))


@dataclass(frozen=True, slots=True)
class AudioSource:
    """`path` is the audio file, or the parquet/Arrow file holding row `row` (0-based within the
    file) whose `column` holds the audio: a Hugging Face Audio struct {bytes, path} or
    {array, sampling_rate}, plain bytes, or a path. `offset_s`/`segment_s` select a segment."""

    type: SourceType
    path: str = ""
    offset_s: float = 0.0
    segment_s: float | None = None
    row: int | None = None
    column: str = "audio"
    data: bytes | None = field(default=None, repr=False, compare=False)  # memory only

    def __post_init__(self) -> None:
        if self.type in ROW_TYPES and (self.row is None or self.row < 0):
            raise ValueError(f"a {self.type} audio source needs a row index >= 0, got {self.row!r}")
        if self.type == "memory" and not self.data:
            raise ValueError("a memory audio source needs its bytes")

    @classmethod
    def file(cls, path: str, offset_s: float = 0.0, segment_s: float | None = None) -> AudioSource:
        return cls("file", path, offset_s or 0.0, segment_s)

    @property
    def label(self) -> str:
        """How messages name this audio: the file, or `file.parquet row 12`."""
        if self.type in ROW_TYPES:
            return f"{self.path} row {self.row}"
        return self.path or "<audio in memory>"

    @property
    def is_file(self) -> bool:
        return self.type == "file"

    def stored(self) -> dict[str, Any] | None:
        """What meta_json keeps to rebuild this source (None for a file: the utterance's
        audio_path and offset/segment already say it)."""
        if self.type == "file":
            return None
        if self.type == "memory":
            raise ValueError("audio held in memory cannot be stored: a resume or a worker could not read it again")
        return {"type": self.type, "row": self.row, "column": self.column}

    @classmethod
    def restore(cls, audio_path: str, meta: dict[str, Any] | None) -> AudioSource:
        """The source of a stored utterance (audio_path column + meta_json)."""
        meta = meta or {}
        offset = float(meta.get("offset_s", 0.0) or 0.0)
        segment = meta.get("segment_s")
        stored = meta.get(META_KEY)
        if not stored:
            return cls.file(audio_path, offset, segment)
        return cls(stored["type"], audio_path, offset, segment, int(stored["row"]), stored.get("column", "audio"))

    def open(self) -> AudioClip:
        """A lazy clip where the source allows it (files, encoded bytes). Raises AudioError."""
        return self._clip(decode=False)

    def load(self) -> AudioClip:
        """The clip, decoded now. Raises AudioError."""
        return self._clip(decode=True)

    def _clip(self, decode: bool) -> AudioClip:
        if self.type == "file":
            return (load_audio if decode else open_audio)(self.path, self.offset_s, self.segment_s)
        if self.type == "memory":
            return open_audio_bytes(self.data, self.path or "audio", self.offset_s, self.segment_s, decode)
        from spectragram_bench.core.arrow_rows import row_value

        return self._from_cell(row_value(self.path, self.row, self.column), decode)

    def _from_cell(self, cell: Any, decode: bool) -> AudioClip:
        """A row's audio cell, in any of the shapes Hugging Face datasets write."""
        where = self.label
        if isinstance(cell, bytes):
            return open_audio_bytes(cell, where, self.offset_s, self.segment_s, decode)
        if isinstance(cell, str):
            return self._relative_file(cell, decode)
        if cell is None:
            raise AudioError(f"{where}: column {self.column!r} is null (no audio)")
        if not isinstance(cell, dict):
            raise AudioError(f"{where}: column {self.column!r} holds {type(cell).__name__}, not audio")
        if cell.get("bytes"):
            name = cell.get("path") or ""
            # the stored name gives the container's suffix (upload untouched), the label says where
            label = f"{where} ({Path(name).name})" if name else where
            clip = open_audio_bytes(cell["bytes"], label, self.offset_s, self.segment_s, decode)
            if clip.source_bytes is not None and name:
                clip.source_bytes = (clip.source_bytes[0], Path(name).name)
            return clip
        if cell.get("array") is not None:
            return self._from_array(cell["array"], cell.get("sampling_rate"))
        if cell.get("path"):
            return self._relative_file(cell["path"], decode)
        raise AudioError(f"{where}: column {self.column!r} has neither bytes, array nor path")

    def _relative_file(self, name: str, decode: bool) -> AudioClip:
        path = Path(name).expanduser()
        if not path.is_absolute():
            path = Path(self.path).parent / path
        return AudioSource.file(str(path), self.offset_s, self.segment_s)._clip(decode)

    def _from_array(self, array: Any, sampling_rate: Any) -> AudioClip:
        where = self.label
        if not isinstance(sampling_rate, int | float) or not math.isfinite(sampling_rate) or sampling_rate <= 0:
            raise AudioError(f"{where}: audio array without a valid sampling_rate ({sampling_rate!r})")
        samples = np.asarray(array, dtype=np.float32)
        if samples.ndim > 1:  # (channels, samples) as datasets' Audio(mono=False) gives
            samples = samples.mean(axis=0)
        sr = int(sampling_rate)
        start = int(round(self.offset_s * sr))
        stop = None if self.segment_s is None else start + int(round(self.segment_s * sr))
        samples = np.ascontiguousarray(samples[start:stop])
        if not len(samples):
            raise AudioError(f"{where}: audio array has no samples")
        return AudioClip(samples, sr)
