"""Every metric by any utterance metadata key, with intervals, from the stored per-utterance values.

Keys: `speaker`, `duration` (buckets of DURATION_EDGES seconds), `variant` (the variant label),
`dataset`, or any key of the utterance's meta (LibriSpeech's `sex`, a manifest's `accent`,
`age`, ...). A group's figure is the metric's own corpus figure over that group's utterances
(sum / sum of the stored per-utterance numerators and denominators), so the groups of one key
add up to the leaderboard figure; metrics that ask for bootstrap intervals get the utterance-level
95% percentile interval within the group.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session

from spectragram_bench.core import bootstrap
from spectragram_bench.core.models import Dataset, DatasetVariant, JobRun, Utterance, UtteranceValue
from spectragram_bench.core.natural_order import natural_key
from spectragram_bench.datasets.variants import variant_label
from spectragram_bench.evaluations.registry import VALUE_SETS, Metric, all_metrics, figure

#: a meta key with more distinct values than this is no breakdown (a table of 100k groups is no help)
MAX_GROUPS = 50

DURATION_EDGES = (2.0, 5.0, 10.0, 20.0)
BUILT_IN_KEYS = ("speaker", "duration", "variant", "dataset")


def duration_bucket(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    low = 0.0
    for edge in DURATION_EDGES:
        if seconds < edge:
            return f"{low:g}-{edge:g} s"
        low = edge
    return f">= {low:g} s"


def group_of(key: str, utt: Utterance, dataset: str, split: str, variant_json: dict[str, Any]) -> str | None:
    if key == "speaker":
        return utt.speaker
    if key == "duration":
        return duration_bucket(utt.duration_s)
    if key == "variant":
        return variant_label(variant_json)
    if key == "dataset":
        return f"{dataset}/{split}"
    value = (utt.meta_json or {}).get(key)
    return None if value in (None, "") else str(value)


@dataclass(frozen=True)
class GroupFigure:
    job_run_id: int
    group: str
    metric: str  # stored name (`wer`, `wer:none@1`)
    utterances: int
    value: float | None
    interval: bootstrap.Interval | None


def _metric_of(stored: str, registered: dict[str, Metric]) -> Metric | None:
    return registered.get(stored.partition(":")[0])


def breakdown(
    session: Session, job_run_ids: list[int], key: str, *, metrics: list[str] | None = None,
    eval_version: str | None = None, iterations: int = 1000, seed: int = 0,
) -> list[GroupFigure]:
    """Figures per (job run, group of `key`, metric) from utterance_value; groups in natural order
    (numbers by value: `noise white 5 dB` before `10 dB`, speaker 19 before 103)."""
    registered = all_metrics()
    version = JobRun.eval_version if eval_version is None else eval_version
    q = (
        select(UtteranceValue.job_run_id, UtteranceValue.utt_id, UtteranceValue.name, UtteranceValue.value)
        .join(JobRun, (JobRun.job_run_id == UtteranceValue.job_run_id) & (UtteranceValue.eval_version == version))
        .where(UtteranceValue.job_run_id.in_(job_run_ids))
    )
    values: dict[int, dict[int, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    for jr, utt, name, v in session.execute(q):
        values[jr][utt][name] = v
    utt_ids = {u for per in values.values() for u in per}
    groups: dict[int, str | None] = {}
    for utt, dname, split, vjson in session.execute(
        select(Utterance, Dataset.name, DatasetVariant.split, DatasetVariant.variant_json)
        .join(Dataset, Dataset.dataset_id == Utterance.dataset_id)
        .join(DatasetVariant, DatasetVariant.variant_id == Utterance.variant_id)
        .where(Utterance.utt_id.in_(utt_ids))
    ):
        groups[utt.utt_id] = group_of(key, utt, dname, split, vjson or {})
    out: list[GroupFigure] = []
    for jr in job_run_ids:
        per_utt = values.get(jr, {})
        names = metrics or _stored_metrics(per_utt, registered)
        members: dict[str, list[int]] = defaultdict(list)
        for utt in sorted(per_utt):
            if groups.get(utt) is not None:
                members[groups[utt]].append(utt)
        for name in names:
            metric = _metric_of(name, registered)
            if metric is None:
                continue
            suffix = name[len(metric.name):]
            columns = [c + suffix for n in metric.needs for c in VALUE_SETS[n].columns]
            for group in sorted(members, key=natural_key):
                ids = [u for u in members[group] if all(c in per_utt[u] for c in columns)]
                if not ids:
                    continue
                arrays = {c[: len(c) - len(suffix)] if suffix else c: np.array([per_utt[u][c] for u in ids])
                          for c in columns}
                fig = figure(metric, arrays)
                interval = None
                if metric.bootstrap and iterations > 0 and fig.value is not None:
                    interval = bootstrap.rate_interval(
                        fig.numerator.astype(np.int64), fig.denominator.astype(np.int64), iterations, seed)
                out.append(GroupFigure(jr, group, name, len(ids), fig.value, interval))
    return out


def _stored_metrics(per_utt: dict[int, dict[str, float]], registered: dict[str, Metric]) -> list[str]:
    """The registered metrics (default normaliser) whose per-utterance values are all stored."""
    have = {name for vals in per_utt.values() for name in vals}
    return [m.name for m in registered.values()
            if all(c in have for n in m.needs for c in VALUE_SETS[n].columns)]


def breakdown_keys(session: Session, job_run_ids: list[int]) -> list[str]:
    """The keys worth a breakdown here: built-ins and meta keys with 2..50 distinct values."""
    distinct: dict[str, set] = defaultdict(set)
    full: set[str] = set()  # keys past MAX_GROUPS values: out, and not worth holding 100k values of

    def note(key: str, value: Any) -> None:
        if key not in full:
            seen = distinct[key]
            seen.add(value)
            if len(seen) > MAX_GROUPS:
                full.add(key)
                seen.clear()

    scored = Utterance.utt_id.in_(select(UtteranceValue.utt_id).where(UtteranceValue.job_run_id.in_(job_run_ids)))
    # the keys depend only on each one's set of values: read distinct ones (most utterances share
    # their meta with others of their speaker or chapter, and a decode per utterance is seconds at 100k)
    for (speaker,) in session.execute(select(Utterance.speaker).where(scored).distinct()):
        note("speaker", speaker)
    for (duration,) in session.execute(select(Utterance.duration_s).where(scored).distinct()):
        note("duration", duration_bucket(duration))
    metas = session.execute(select(cast(Utterance.meta_json, Text)).where(scored).distinct().execution_options(yield_per=2000))
    for (text,) in metas:
        for k, v in ((json.loads(text) if text else None) or {}).items():
            if isinstance(v, str | int | float) and not isinstance(v, bool) and k not in ("load_error",):
                note(k, v)
    keys = [k for k in ("speaker", "duration") if k in full or len(distinct[k] - {None}) >= 2]
    keys += sorted(k for k, vals in distinct.items()
                   if k not in BUILT_IN_KEYS and k not in full and 2 <= len(vals) and not k.endswith("_id")
                   and k != "speaker_name")
    return keys
