"""The metric registry: what each metric needs per utterance and how it becomes a corpus figure.

Modelled on lm-evaluation-harness's `register_metric`. Two kinds of entry:

- a *value set* (`register_values`) computes named per-utterance numbers from a batch of scored
  utterances (the word edit counts `hits`, `substitutions`, ...). Every value is stored per
  utterance (table utterance_value) and summed into metric_summary under the same name;
- a *metric* (`register_metric`) declares the value sets it needs and returns, per utterance, a
  numerator and a denominator: the corpus figure is sum(numerator) / sum(denominator), never a
  mean of per-utterance rates, which is also what the bootstrap resamples and the paired tests
  compare. A metric's direction, unit and label drive the leaderboard column.

Value names must be unique across sets (they are stored flat). A value set covers the
utterances it is about (`utterances`: "speech", the default, or "nonspeech": clips whose
reference is empty on purpose), and a metric covers those of the value sets it needs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from spectragram_bench.core.errors import ConfigError
from spectragram_bench.core.normalize import Normalizer

Values = Mapping[str, np.ndarray]  # value name -> one float per utterance
Ratio = tuple[np.ndarray, np.ndarray]  # per-utterance numerator and denominator


@dataclass
class UtteranceBatch:
    """The scored utterances of one (dataset, variant) as a metric sees them, in utt_id order."""

    refs: list[str]  # normalised with the metric's normaliser
    hyps: list[str]
    raw_refs: list[str]  # as stored: the dataset's reference, the provider's text
    raw_hyps: list[str]
    durations: list[float]
    meta: list[dict[str, Any]]  # utterance meta_json (formatted reference, keywords, word alignments)
    hyp_words: list[list[dict[str, Any]] | None]  # the provider's word timings, if any
    nonspeech: np.ndarray  # bool per utterance: reference empty on purpose
    keywords: list[list[str]] = field(default_factory=list)  # per utterance (manifest or job list)
    normalizer: Normalizer | None = None

    def __len__(self) -> int:
        return len(self.refs)

    def subset(self, mask: np.ndarray) -> UtteranceBatch:
        pick = np.flatnonzero(mask).tolist()

        def take(xs: list) -> list:
            return [xs[i] for i in pick] if xs else xs

        return UtteranceBatch(
            take(self.refs), take(self.hyps), take(self.raw_refs), take(self.raw_hyps), take(self.durations),
            take(self.meta), take(self.hyp_words), self.nonspeech[mask], take(self.keywords), self.normalizer,
        )


Scope = Literal["speech", "nonspeech"]


@dataclass(frozen=True)
class ValueSet:
    name: str
    columns: tuple[str, ...]
    compute: Callable[[UtteranceBatch], np.ndarray]  # (n, len(columns))
    version: int = 1
    utterances: Scope = "speech"


Direction = Literal["lower", "higher"]
Unit = Literal["rate", "count", "per_minute", "seconds"]


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    needs: tuple[str, ...]
    ratio: Callable[[Values], Ratio]
    direction: Direction = "lower"
    unit: Unit = "rate"
    bootstrap: bool = False  # store 95% bootstrap intervals (utterance and speaker level)
    paired: bool = False  # `compare` tests the difference of two systems
    description: str = ""
    version: int = 1
    #: a corpus figure that is not sum/sum (WIP: a product of two ratios), from the summed values
    corpus: Callable[[dict[str, float]], float | None] | None = None


VALUE_SETS: dict[str, ValueSet] = {}
METRICS: dict[str, Metric] = {}


def register_values(name: str, columns: tuple[str, ...], version: int = 1, utterances: Scope = "speech"):
    """Decorator: `fn(batch) -> (n, len(columns)) array` becomes the value set `name`."""

    def wrap(fn: Callable[[UtteranceBatch], np.ndarray]) -> Callable[[UtteranceBatch], np.ndarray]:
        taken = {c for vs in VALUE_SETS.values() if vs.name != name for c in vs.columns}
        clash = taken & set(columns)
        if clash:
            raise ValueError(f"value set {name!r}: value names {sorted(clash)} already belong to another set")
        VALUE_SETS[name] = ValueSet(name, tuple(columns), fn, version, utterances)
        return fn

    return wrap


def register_metric(name: str, *, label: str, needs: tuple[str, ...], **options: Any):
    """Decorator: `fn(values) -> (numerator, denominator)` per utterance becomes the metric `name`."""

    def wrap(fn: Callable[[Values], Ratio]) -> Callable[[Values], Ratio]:
        METRICS[name] = Metric(name, label, tuple(needs), fn, **options)
        return fn

    return wrap


def get_metric(name: str) -> Metric:
    _load_builtins()
    if name not in METRICS:
        raise ConfigError(f"unknown metric {name!r}; known: {', '.join(sorted(METRICS))}")
    return METRICS[name]


def compute_values(batch: UtteranceBatch, sets: list[str]) -> dict[str, np.ndarray]:
    """Every column of the named value sets (one float64 array per name, over `batch`)."""
    _load_builtins()
    out: dict[str, np.ndarray] = {}
    for name in sets:
        vs = VALUE_SETS[name]
        if len(batch) == 0:
            table = np.zeros((0, len(vs.columns)))
        else:
            table = np.asarray(vs.compute(batch), dtype=np.float64).reshape(len(batch), len(vs.columns))
        for k, column in enumerate(vs.columns):
            out[column] = table[:, k]
    return out


def scope_of(metric: Metric) -> Scope:
    scopes = {VALUE_SETS[n].utterances for n in metric.needs}
    if len(scopes) != 1:
        raise ValueError(f"metric {metric.name!r} needs value sets of different utterances: {sorted(scopes)}")
    return scopes.pop()


def corpus_value(numerator: np.ndarray, denominator: np.ndarray) -> float | None:
    """sum / sum, None over no denominator (a rate over nothing is not 0 and not inf here)."""
    den = float(np.sum(denominator))
    return float(np.sum(numerator)) / den if den > 0 else None


_loaded = False


def _load_builtins() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        from spectragram_bench.evaluations import builtin_metrics  # noqa: F401  (registers on import)


def all_metrics() -> dict[str, Metric]:
    _load_builtins()
    return dict(METRICS)


def scope_mask(scope: Scope, nonspeech: np.ndarray) -> np.ndarray:
    return nonspeech.copy() if scope == "nonspeech" else ~nonspeech


@dataclass(frozen=True)
class MetricFigure:
    """One metric's corpus figure and the per-utterance ratio it was summed from."""

    metric: Metric
    value: float | None
    numerator: np.ndarray
    denominator: np.ndarray


def figure(metric: Metric, values: Values) -> MetricFigure:
    """`values`: the metric's scope only (see scope_of), one entry per utterance of that scope."""
    num, den = metric.ratio(values)
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    if metric.corpus is not None:
        value = metric.corpus({k: float(v.sum()) for k, v in values.items()}) if len(num) else None
    else:
        value = corpus_value(num, den)
    return MetricFigure(metric, value, num, den)
