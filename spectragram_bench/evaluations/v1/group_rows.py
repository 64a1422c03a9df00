"""A job run's predictions as the evaluation reads them: per (dataset, variant), streamed from
the database a chunk of utterances at a time."""

from __future__ import annotations

import json
from array import array
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from spectragram_bench.core.language import normalizer_for
from spectragram_bench.core.models import LatencySample, Prediction, Utterance
from spectragram_bench.core.normalize import Normalizer
from spectragram_bench.core.statuses import PredictionStatus
from spectragram_bench.evaluations import inputs
from spectragram_bench.evaluations.v1.streaming_metrics import StreamSamples, span_of

TTFT_KEY = "time_to_first_token_ms"
#: utterances of one (dataset, variant) whose texts are held and scored at a time
CHUNK_UTTS = 2000


@dataclass
class GroupRows:
    """The scored utterances of one (dataset, variant), in utt_id order: the texts and metas of
    the chunk being read (cleared once it is scored), the timings of all of them."""

    utt_ids: list[int] = field(default_factory=list)
    external_ids: list[str] = field(default_factory=list)
    refs: list[str] = field(default_factory=list)  # as stored (raw)
    hyps: list[str] = field(default_factory=list)
    speakers: list[str | None] = field(default_factory=list)
    durations: list[float] = field(default_factory=list)
    meta: list[dict[str, Any]] = field(default_factory=list)
    hyp_words: list[list[dict[str, Any]] | None] = field(default_factory=list)
    api_ms: array = field(default_factory=lambda: array("d"))  # every scored utterance's: 8 bytes each
    total_ms: array = field(default_factory=lambda: array("d"))  # every scored utterance's: 8 bytes each
    ttft_ms: array = field(default_factory=lambda: array("d"))  # every scored utterance's: 8 bytes each
    rtf: array = field(default_factory=lambda: array("d"))  # every scored utterance's: 8 bytes each
    stream: StreamSamples = field(default_factory=StreamSamples)
    audio_s: float = 0.0
    timed_audio_s: float = 0.0
    n_failed: int = 0
    language: str | None = None  # the dataset's (ISO 639-1), from the utterances' meta
    normalizer: Normalizer | None = None  # the one its texts were normalised with (core/language.py)

    def clear_chunk(self) -> None:
        """Forget the scored chunk's per-utterance texts and metas (timings and counts stay)."""
        for held in (self.utt_ids, self.external_ids, self.refs, self.hyps, self.speakers, self.durations,
                     self.meta, self.hyp_words):
            held.clear()

    @property
    def nonspeech(self) -> np.ndarray:
        return np.array([inputs.is_nonspeech(m) for m in self.meta], dtype=bool)



def load_groups(
    session: Session, job_run_id: int, failures_as_empty: bool = False,
    normalizer: Normalizer | None = None, by_language: dict[str, str] | None = None,
    spans: dict[int, dict] | None = None, on_chunk: Callable[[tuple[int, int], GroupRows], None] | None = None,
    chunk: int = CHUNK_UTTS,
) -> dict[tuple[int, int], GroupRows]:
    """The job run's scored utterances by (dataset, variant); `spans` collects the streamed ones'
    speech spans on the way (store_speech_spans). With `on_chunk`, a group is handed to it each
    time it holds `chunk` utterances (it scores them and clears the chunk), so the texts of a
    100k-utterance job run are never all in memory at once."""
    rows = session.execute(
        select(
            Prediction.utt_id, Utterance.dataset_id, Utterance.variant_id, Utterance.external_id,
            Utterance.ref_text, Utterance.duration_s, Utterance.speaker, Utterance.meta_json,
            Prediction.status, Prediction.hyp_text, Prediction.words_json,
            LatencySample.api_time_ms, LatencySample.total_time_ms, LatencySample.rtf, LatencySample.meta_json,
        )
        .join(Utterance, Utterance.utt_id == Prediction.utt_id)
        .outerjoin(
            LatencySample,
            (LatencySample.job_run_id == Prediction.job_run_id) & (LatencySample.utt_id == Prediction.utt_id),
        )
        .where(Prediction.job_run_id == job_run_id)
        .order_by(Prediction.utt_id)
        .execution_options(yield_per=500)  # streamed into the groups' columns, not held as rows too
    )
    groups: dict[tuple[int, int], GroupRows] = defaultdict(GroupRows)
    shared: dict[str, dict[str, Any]] = {}  # equal metas kept once (a chapter's or speaker's utterances share theirs)
    for (utt_id, ds, var, ext_id, ref, dur, speaker, umeta, status, hyp, words,
         api_ms, total_ms, rtf, meta) in rows:
        g = groups[(ds, var)]
        if g.normalizer is None and normalizer is not None:  # a dataset's utterances share its language
            g.language = (umeta or {}).get("language")
            g.normalizer = normalizer_for(normalizer, g.language, by_language)
        if spans is not None:
            span_of(meta, utt_id, spans)
        if status != PredictionStatus.OK:
            g.n_failed += 1
            if not failures_as_empty:
                continue
            hyp, words, api_ms, total_ms, rtf, meta = "", None, None, None, None, None
        meta = meta or {}
        g.utt_ids.append(utt_id)
        g.external_ids.append(ext_id)
        g.refs.append(ref)
        g.hyps.append(hyp or "")
        g.speakers.append(speaker)
        g.meta.append(shared.setdefault(json.dumps(umeta, sort_keys=True, default=str), umeta) if umeta else {})
        g.hyp_words.append(words if isinstance(words, list) else None)
        audio_s = meta.get("audio_s", dur) or 0.0  # a variant (speed) may change the duration
        g.durations.append(float(audio_s))
        g.audio_s += audio_s
        if api_ms is not None:
            g.api_ms.append(api_ms)
            g.timed_audio_s += audio_s
        if total_ms is not None:
            g.total_ms.append(total_ms)
        if rtf is not None:
            g.rtf.append(rtf)
        if meta.get(TTFT_KEY) is not None:
            g.ttft_ms.append(float(meta[TTFT_KEY]))
        g.stream.add(meta)
        if on_chunk is not None and len(g.utt_ids) >= chunk:
            on_chunk((ds, var), g)
    return groups
