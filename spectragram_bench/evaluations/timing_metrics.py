"""Word timestamp accuracy, where the dataset has word alignments.

Reference alignments: utterance meta `words` = [{"word", "start", "end"}] in seconds (a
manifest field, or a loader that reads forced alignments). Hypothesis timings: the provider's
`words_json` in the same shape. Words are normalised with the evaluation's normaliser (one
word to one word; a word the normaliser splits or drops is left out), aligned by
minimum edit, and each matched pair (equal words) contributes |start_ref - start_hyp| and
|end_ref - end_hyp|. Utterances without either side's timings contribute nothing.
"""

from __future__ import annotations

import numpy as np
from rapidfuzz.distance import Levenshtein

from spectragram_bench.evaluations.registry import UtteranceBatch, Values, register_metric, register_values


def _timed(words, normalize) -> list[tuple[str, float, float]]:
    out = []
    for w in words or []:
        if not isinstance(w, dict):
            continue
        text, start, end = w.get("word", w.get("text")), w.get("start"), w.get("end")
        if not isinstance(text, str) or not isinstance(start, int | float) or not isinstance(end, int | float):
            continue
        norm = normalize(text).split()
        if len(norm) == 1:
            out.append((norm[0], float(start), float(end)))
    return out


@register_values("word_times", ("ts_matched", "ts_start_abs", "ts_end_abs"))
def word_time_values(batch: UtteranceBatch) -> np.ndarray:
    out = np.zeros((len(batch), 3))
    normalize = batch.normalizer or (lambda s: s)
    for k, (meta, hyp_words) in enumerate(zip(batch.meta, batch.hyp_words, strict=True)):
        ref = _timed(meta.get("words"), normalize)
        hyp = _timed(hyp_words, normalize)
        if not ref or not hyp:
            continue
        ids: dict[str, int] = {}
        r_ids = [ids.setdefault(w, len(ids)) for w, _, _ in ref]
        h_ids = [ids.setdefault(w, len(ids)) for w, _, _ in hyp]
        for tag, i1, i2, j1, j2 in Levenshtein.opcodes(r_ids, h_ids):
            if tag == "equal":
                for (_, rs, re_), (_, hs, he) in zip(ref[i1:i2], hyp[j1:j2], strict=True):
                    out[k] += (1, abs(rs - hs), abs(re_ - he))
    return out


@register_metric("ts_start_mae", label="start MAE", needs=("word_times",), unit="seconds",
                 description="mean absolute offset of matched words' start times")
def start_offset(v: Values):
    return v["ts_start_abs"], v["ts_matched"]


@register_metric("ts_end_mae", label="end MAE", needs=("word_times",), unit="seconds",
                 description="mean absolute offset of matched words' end times")
def end_offset(v: Values):
    return v["ts_end_abs"], v["ts_matched"]
