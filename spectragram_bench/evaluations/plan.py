"""What one evaluation computes, and the eval version and label derived from it.

The eval version names everything that changes a number: the evaluation's code version, the
normaliser (name@version), and, when they are not the defaults, the metric set (each metric's
version and normaliser, each value set's version) and `failures_as_empty`. Two evaluations of
one run with different choices therefore have different versions and stand side by side.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from spectragram_bench.core.config import EvaluationConfig, MetricSpec
from spectragram_bench.core.normalize import Normalizer, resolve
from spectragram_bench.evaluations.registry import VALUE_SETS, Metric, get_metric

EVAL_VERSION = "v2"  # v2: kaldialign's S/D/I tie rule, the metric registry, utterance_value
FAILURES_AS_EMPTY = "failures_as_empty"


@dataclass(frozen=True)
class PlannedMetric:
    metric: Metric
    normalizer: Normalizer
    stored_name: str  # `wer`, or `wer:none@1` under its own normaliser

    @property
    def value_suffix(self) -> str:
        """Appended to its per-utterance value names when its normaliser is not the evaluation's."""
        return self.stored_name[len(self.metric.name):]


@dataclass(frozen=True)
class EvaluationPlan:
    normalizer: Normalizer
    metrics: tuple[PlannedMetric, ...]
    failures_as_empty: bool
    version: str
    label: str
    spec: dict


def default_metric_names() -> tuple[str, ...]:
    from spectragram_bench.evaluations.builtin_metrics import DEFAULT_METRICS

    return DEFAULT_METRICS


def plan_evaluation(normalizer: Normalizer, evaluation: EvaluationConfig, *,
                    failures_as_empty: bool | None = None) -> EvaluationPlan:
    fae = evaluation.failures_as_empty if failures_as_empty is None else failures_as_empty
    specs = [MetricSpec(name=m) if isinstance(m, str) else m for m in (evaluation.metrics or default_metric_names())]
    planned: list[PlannedMetric] = []
    seen: set[str] = set()
    for spec in specs:
        metric = get_metric(spec.name)
        own = spec.normalizer is not None or spec.normalizer_steps is not None
        norm = resolve(spec.normalizer or normalizer.name, spec.normalizer_steps) if own else normalizer
        stored = metric.name if norm.tag == normalizer.tag else f"{metric.name}:{norm.tag}"
        if stored not in seen:
            seen.add(stored)
            planned.append(PlannedMetric(metric, norm, stored))
    described = [
        {"metric": p.stored_name, "version": p.metric.version, "normalizer": p.normalizer.tag,
         "values": {n: VALUE_SETS[n].version for n in p.metric.needs}}
        for p in planned
    ]
    default = [p.stored_name for p in planned] == list(default_metric_names())
    version = f"{EVAL_VERSION}+{normalizer.tag}"
    if not default:
        digest = hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:8]
        version += f"+m{digest}"
    if fae:
        version += f"+{FAILURES_AS_EMPTY}"
    label = f"normaliser {normalizer.tag}, " + ("default metrics" if default else "metrics " + ", ".join(
        p.stored_name for p in planned))
    if fae:
        label += ", failed predictions scored as empty transcripts"
    spec = {"normalizer": normalizer.tag, "steps": list(normalizer.step_names), "metrics": described,
            FAILURES_AS_EMPTY: fae}
    return EvaluationPlan(normalizer, tuple(planned), fae, version, label, spec)
