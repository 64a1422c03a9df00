"""Small typed records passed between datasets, providers and the runner.

Modelled on lhotse: immutable dataclasses linked by id, corpus extras in a `meta` dict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from spectragram_bench.core.audio_source import AudioSource


@dataclass(frozen=True)
class UtteranceRecord:
    """One reference utterance as a dataset loader yields it (before it has a database id)."""

    external_id: str
    audio_path: str
    ref_text: str
    subset: str
    duration_s: float | None = None
    speaker: str | None = None
    offset_s: float = 0.0
    segment_s: float | None = None  # set when the utterance is a segment of a longer file
    meta: dict[str, Any] = field(default_factory=dict)
    #: set when the audio is not (a segment of) the file at audio_path, e.g. a parquet row;
    #: audio_path is then the file holding it
    source: AudioSource | None = None
    language: str | None = None  # ISO 639-1, from the release or the dataset's options

    @property
    def audio(self) -> AudioSource:
        return self.source or AudioSource.file(self.audio_path, self.offset_s, self.segment_s)


@dataclass(frozen=True)
class DatasetInfo:
    """What the `dataset` table stores about a corpus."""

    name: str
    source: str
    license: str | None = None
    checksum: str | None = None
    notes: str | None = None


@dataclass(frozen=True)
class WorkItem:
    """One utterance to transcribe in one job run, with everything the runner needs."""

    job_run_id: int
    utt_id: int
    external_id: str
    audio_path: str
    duration_s: float | None
    ref_text: str = ""  # for the mock provider and for scoring; never sent to a real provider
    offset_s: float = 0.0
    segment_s: float | None = None
    variant: dict[str, Any] = field(default_factory=dict)
    source: AudioSource | None = None  # as UtteranceRecord.source
    language: str | None = None  # ISO 639-1 or None; adapters send it under their own parameter name
    #: (first word start, last word end) in seconds from the dataset's word alignment (meta `words`),
    #: the speech span a streaming adapter may be told to measure latency against
    word_span: tuple[float, float] | None = None
    #: why the utterance has no word_span although the dataset names alignments (meta `alignment_error`)
    alignment_note: str | None = None

    @property
    def audio(self) -> AudioSource:
        return self.source or AudioSource.file(self.audio_path, self.offset_s, self.segment_s)


@dataclass(frozen=True)
class PredictionResult:
    """The outcome of one work item, as the executor hands it to the single writer.

    `hyp_text` is None exactly when the item failed; `error_kind`/`error_text` say why.
    """

    job_run_id: int
    utt_id: int
    hyp_text: str | None
    words: list[dict[str, Any]] | None = None
    usage: dict[str, Any] | None = None
    error_kind: str | None = None
    error_text: str | None = None
    attempts: int = 1
    api_time_ms: float | None = None  # the vendor's time (at the wire for HTTP adapters)
    queue_ms: float | None = None  # what the successful attempt's requests waited inside the harness
    total_time_ms: float | None = None
    rtf: float | None = None
    billed_seconds: float | None = None
    latency_meta: dict[str, Any] = field(default_factory=dict)
    sent_sha256: str | None = None  # of the audio bytes sent (Provider.sent_audio)
    reused_from: int | None = None  # the prediction copied (reuse_predictions): no request, no latency sample

    @property
    def ok(self) -> bool:
        return self.hyp_text is not None
