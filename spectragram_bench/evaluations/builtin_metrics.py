"""The built-in value sets and metrics (see evaluations/registry.py for what an entry declares)."""

from __future__ import annotations

import numpy as np

from spectragram_bench.core import metrics
from spectragram_bench.evaluations.registry import UtteranceBatch, Values, register_metric, register_values

WORDS = ("hits", "substitutions", "deletions", "insertions")
CHARS = ("char_hits", "char_substitutions", "char_deletions", "char_insertions")


@register_values("words", WORDS)
def word_values(batch: UtteranceBatch) -> np.ndarray:
    return metrics.word_counts(batch.refs, batch.hyps).table


@register_values("chars", CHARS)
def char_values(batch: UtteranceBatch) -> np.ndarray:
    return metrics.char_counts(batch.refs, batch.hyps).table


def _errors(v: Values, prefix: str = "") -> np.ndarray:
    return v[f"{prefix}substitutions"] + v[f"{prefix}deletions"] + v[f"{prefix}insertions"]


def _ref(v: Values, prefix: str = "") -> np.ndarray:
    return v[f"{prefix}hits"] + v[f"{prefix}substitutions"] + v[f"{prefix}deletions"]


@register_metric("wer", label="WER", needs=("words",), bootstrap=True, paired=True,
                 description="word error rate: (S + D + I) / reference words")
def wer(v: Values):
    return _errors(v), _ref(v)


@register_metric("cer", label="CER", needs=("chars",), bootstrap=True, paired=True,
                 description="character error rate (spaces count as characters)")
def cer(v: Values):
    return _errors(v, "char_"), _ref(v, "char_")


@register_metric("mer", label="MER", needs=("words",), description="match error rate: errors / (hits + errors)",
                 corpus=lambda t: metrics.ErrorCounts(*(int(t[k]) for k in WORDS)).mer)
def mer(v: Values):
    return _errors(v), v["hits"] + _errors(v)


def _wip(t: dict[str, float]) -> float:
    return metrics.ErrorCounts(*(int(t[k]) for k in WORDS)).wip


@register_metric("wip", label="WIP", needs=("words",), direction="higher", corpus=_wip,
                 description="word information preserved: (H / ref words) x (H / hyp words)")
def wip(v: Values):
    return v["hits"], _ref(v)


@register_metric("wil", label="WIL", needs=("words",), description="word information lost: 1 - WIP",
                 corpus=lambda t: 1.0 - _wip(t))
def wil(v: Values):
    return _errors(v), _ref(v)


@register_metric("ser", label="SER", needs=("words",), paired=True,
                 description="sentence error rate: share of utterances with any word error")
def ser(v: Values):
    return (_errors(v) > 0).astype(float), np.ones_like(v["hits"])


#: the metrics an evaluation computes when the job lists none
DEFAULT_METRICS: tuple[str, ...] = ("wer", "cer", "mer", "wil", "wip", "ser")

# the other built-ins register themselves on import (after the word counts they may build on)
from spectragram_bench.evaluations import nonspeech_metrics, text_metrics, timing_metrics  # noqa: E402,F401
