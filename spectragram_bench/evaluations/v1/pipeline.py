"""The evaluation: scores a job run's stored predictions into evaluation, metric_summary,
bootstrap_result and utterance_value rows.

Runs after each job run's inference and again on demand (`spectragram-bench evaluate`); it reads
only the database, never a provider. Everything is keyed by an eval version derived from what
was computed (evaluations/plan.py): re-evaluating with the same choices replaces that version's
rows, other choices add their own beside it, and the job run's current version (what `report`
shows first) becomes the newest.

Per (job run, dataset, variant), metric_summary holds:
- counts: n_utterances (scored speech), n_nonspeech (scored clips whose reference is empty on
  purpose), n_failed (failed predictions are never scored as empty transcripts, unless the
  opt-in failures_as_empty says so under its own version), n_empty_refs, n_speakers;
- every registered metric of the evaluation (wer, cer, mer, ... see evaluations/builtin_metrics.py),
  a corpus figure (sum of per-utterance numerators / sum of denominators; NULL over nothing), and
  the sum of every per-utterance value (hits, substitutions, ..., char_errors) with ref_words,
  hyp_words, ref_chars;
- speed: latency_{api,total,ttft}_ms_{mean,p50,p90,p95,p99,max}, rtf_mean, rtfx, audio_seconds;
- streaming (live adapters only): stream_* latencies from the speech boundaries, revisions and
  early words (streaming_metrics.py);
- cost (when cost_summary has the job run): cost_usd and cost_usd_per_audio_hour, for the
  whole job run (extra_json.scope = "job_run").
bootstrap_result holds 95% percentile intervals of each metric that asks for them, by resampling
utterances and, where speakers are known, speakers. utterance_value holds each utterance's values.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import ValidationError
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from spectragram_bench.core import bootstrap, metrics
from spectragram_bench.core.config import EvaluationConfig
from spectragram_bench.core.language import headline_metric, normalizer_for
from spectragram_bench.core.models import (
    Benchmark,
    BootstrapResult,
    CostSummary,
    Evaluation,
    JobRun,
    MetricSummary,
    UtteranceValue,
)
from spectragram_bench.core.normalize import Normalizer
from spectragram_bench.evaluations import inputs
from spectragram_bench.evaluations.plan import EvaluationPlan, plan_evaluation
from spectragram_bench.evaluations.registry import (
    UtteranceBatch,
    compute_values,
    figure,
    scope_mask,
    scope_of,
)
from spectragram_bench.evaluations.v1.group_rows import GroupRows, load_groups
from spectragram_bench.evaluations.v1.streaming_metrics import store_speech_spans


def eval_version_tag(normalizer: Normalizer, evaluation: EvaluationConfig | None = None) -> str:
    return plan_evaluation(normalizer, evaluation or EvaluationConfig()).version


def evaluation_config(session: Session, job_run_id: int) -> EvaluationConfig:
    """The evaluation section of the job run's benchmark config (defaults if absent or unreadable)."""
    stored = session.execute(
        select(Benchmark.config_json).join(JobRun, JobRun.benchmark_id == Benchmark.benchmark_id)
        .where(JobRun.job_run_id == job_run_id)
    ).scalar_one_or_none()
    try:
        return EvaluationConfig.model_validate((stored or {}).get("evaluation") or {})
    except ValidationError:
        return EvaluationConfig()


@dataclass
class GroupScore:
    values: dict[str, float | None]
    intervals: list[tuple[str, bootstrap.Interval]]
    per_utterance: list[tuple[str, np.ndarray, np.ndarray]]  # (value name, utt_ids, values): columns, not a tuple per value


ValueKey = tuple[str, str, str]  # (normaliser tag, value suffix, scope)


@dataclass
class GroupValues:
    """One (dataset, variant)'s per-utterance values over the chunks scored so far: numpy
    columns (and the speakers, for the speaker-level bootstrap), never the texts."""

    utt_ids: list[np.ndarray] = field(default_factory=list)
    nonspeech: list[np.ndarray] = field(default_factory=list)
    speakers: list[str | None] = field(default_factory=list)
    columns: dict[ValueKey, dict[str, list[np.ndarray]]] = field(default_factory=dict)
    chunks: int = 0


def _batch(g: GroupRows, normalizer: Normalizer, mask: np.ndarray, extras: inputs.JobInputs) -> UtteranceBatch:
    norm = functools.cache(normalizer)  # once per distinct string: a correct hyp equals its ref
    pick = np.flatnonzero(mask).tolist()
    return UtteranceBatch(
        refs=[norm(g.refs[i]) for i in pick], hyps=[norm(g.hyps[i]) for i in pick],
        raw_refs=[extras.formatted_reference(g.external_ids[i], g.meta[i], g.refs[i]) for i in pick],
        raw_hyps=[g.hyps[i] for i in pick], durations=[g.durations[i] for i in pick],
        meta=[g.meta[i] for i in pick], hyp_words=[g.hyp_words[i] for i in pick],
        nonspeech=g.nonspeech[mask], keywords=[extras.keywords_of(g.meta[i]) for i in pick],
        normalizer=normalizer,
    )


def _keyed(g: GroupRows, plan: EvaluationPlan, evaluation: EvaluationConfig):
    """Each planned metric with the key of the values it is figured from."""
    for pm in plan.metrics:
        scope = scope_of(pm.metric)
        used = normalizer_for(pm.normalizer, g.language, evaluation.normalizer_by_language)  # core/language.py
        yield pm, used, (used.tag, pm.value_suffix, scope)


def score_chunk(g: GroupRows, acc: GroupValues, plan: EvaluationPlan, evaluation: EvaluationConfig,
                extras: inputs.JobInputs) -> None:
    """Compute every value set the plan needs over the chunk `g` holds, into `acc`; clear the chunk.
    Value sets are per utterance (evaluations/registry.py), so chunks add up to the whole."""
    nonspeech = g.nonspeech
    acc.utt_ids.append(np.asarray(g.utt_ids, dtype=np.int64))
    acc.nonspeech.append(nonspeech)
    acc.speakers.extend(g.speakers)
    acc.chunks += 1
    done: dict[ValueKey, set[str]] = {}
    for pm, used, key in _keyed(g, plan, evaluation):
        have = done.setdefault(key, set())
        missing = [n for n in pm.metric.needs if n not in have]
        if missing:
            new = compute_values(_batch(g, used, scope_mask(key[2], nonspeech), extras), missing)
            have.update(missing)
            columns = acc.columns.setdefault(key, {})
            for name, column in new.items():
                columns.setdefault(name, []).append(np.asarray(column, dtype=np.float64))
    g.clear_chunk()


def score_group(g: GroupRows, plan: EvaluationPlan, evaluation: EvaluationConfig,
                extras: inputs.JobInputs | None = None, acc: GroupValues | None = None) -> GroupScore:
    """The group's figures, intervals and per-utterance values: from the chunks already scored
    into `acc` and the one `g` still holds."""
    extras = extras or inputs.JobInputs()
    acc = acc or GroupValues()
    if g.utt_ids or acc.chunks == 0:
        score_chunk(g, acc, plan, evaluation, extras)
    nonspeech = np.concatenate(acc.nonspeech)
    utt_ids = np.concatenate(acc.utt_ids)
    speech = ~nonspeech
    known = {s for s, sp in zip(acc.speakers, speech, strict=True) if s is not None and sp}
    values: dict[str, float | None] = {
        "n_utterances": int(speech.sum()), "n_nonspeech": int(nonspeech.sum()), "n_failed": g.n_failed,
        "n_speakers": len(known), "audio_seconds": g.audio_s,
        # 1.0 when CER is the number to read (a language written without spaces: core/language.py)
        "headline_cer": float(headline_metric(g.language) == "cer"),
    }
    per_utterance: list[tuple[str, np.ndarray, np.ndarray]] = []
    intervals: list[tuple[str, bootstrap.Interval]] = []
    computed: dict[ValueKey, dict[str, np.ndarray]] = {}
    iterations, seed = evaluation.bootstrap_iterations, evaluation.bootstrap_seed
    for pm, _used, key in _keyed(g, plan, evaluation):
        mask = scope_mask(key[2], nonspeech)
        if key not in computed:
            computed[key] = {name: np.concatenate(parts) for name, parts in acc.columns.get(key, {}).items()}
            ids = utt_ids[mask]
            for name, column in computed[key].items():
                stored = name + pm.value_suffix
                values[stored] = float(column.sum())
                per_utterance.append((stored, ids, column))
        fig = figure(pm.metric, computed[key])
        values[pm.stored_name] = fig.value
        if pm.metric.bootstrap and iterations > 0 and len(fig.numerator):
            num, den = fig.numerator.astype(np.int64), fig.denominator.astype(np.int64)
            intervals.append((pm.stored_name, bootstrap.rate_interval(num, den, iterations, seed)))
            speakers = [acc.speakers[i] for i in np.flatnonzero(mask)]
            if any(s is not None for s in speakers):
                intervals.append((pm.stored_name, bootstrap.rate_interval(num, den, iterations, seed, blocks=speakers)))
    main_key = (normalizer_for(plan.normalizer, g.language, evaluation.normalizer_by_language).tag, "", "speech")
    words = computed.get(main_key, {})
    if "hits" in words:
        ref_len = words["hits"] + words["substitutions"] + words["deletions"]
        values["n_empty_refs"] = int((ref_len == 0).sum())
    _derived_counts(values)
    for prefix, samples in (("api_ms", g.api_ms), ("total_ms", g.total_ms), ("ttft_ms", g.ttft_ms)):
        for stat, v in metrics.latency_stats(samples).items():
            values[f"latency_{prefix}_{stat}"] = v
    if g.rtf:
        values["rtf_mean"] = sum(g.rtf) / len(g.rtf)
    if g.api_ms:
        values["rtfx"] = metrics.rtfx(g.timed_audio_s, sum(g.api_ms) / 1000.0)
    values.update(g.stream.values())
    return GroupScore(values, intervals, per_utterance)


def _derived_counts(values: dict[str, float | None]) -> None:
    """ref_words, hyp_words, ref_chars, char_errors from the summed word and character counts."""
    v = values
    if "hits" in v:
        v["ref_words"] = v["hits"] + v["substitutions"] + v["deletions"]
        v["hyp_words"] = v["hits"] + v["substitutions"] + v["insertions"]
    if "char_hits" in v:
        v["ref_chars"] = v["char_hits"] + v["char_substitutions"] + v["char_deletions"]
        v["char_errors"] = v["char_substitutions"] + v["char_deletions"] + v["char_insertions"]


def cost_values(session: Session, job_run_id: int, audio_seconds: float) -> dict[str, float]:
    cost = session.execute(select(CostSummary).where(CostSummary.job_run_id == job_run_id)).scalar_one_or_none()
    if cost is None:
        return {}
    out = {"cost_usd": cost.price_usd}
    if audio_seconds > 0:
        out["cost_usd_per_audio_hour"] = cost.price_usd / (audio_seconds / 3600.0)
    return out


def evaluate_job_run(
    session: Session, job_run_id: int, normalizer: Normalizer, *, evaluation: EvaluationConfig | None = None,
    failures_as_empty: bool | None = None,
) -> str:
    """Write (replace) this job run's rows of the evaluation `normalizer` + `evaluation` make; returns its version.

    `evaluation` (metrics, bootstrap iterations and seed, keyword list) defaults to the job
    run's benchmark config.
    """
    evaluation = evaluation or evaluation_config(session, job_run_id)
    plan = plan_evaluation(normalizer, evaluation, failures_as_empty=failures_as_empty)
    version = plan.version
    extras = inputs.JobInputs.from_config(evaluation)
    spans: dict[int, dict] = {}
    acc: dict[tuple[int, int], GroupValues] = defaultdict(GroupValues)
    groups = load_groups(session, job_run_id, plan.failures_as_empty, normalizer, evaluation.normalizer_by_language, spans,
                         on_chunk=lambda key, g: score_chunk(g, acc[key], plan, evaluation, extras))
    others = sorted({g.normalizer.tag for g in groups.values() if g.normalizer and g.normalizer.tag != normalizer.tag})
    version = "+".join([version, *others])  # e.g. ...+whisper_multilingual@1 where a dataset is in another language
    for table in (MetricSummary, BootstrapResult, UtteranceValue, Evaluation):
        session.execute(delete(table).where(table.job_run_id == job_run_id, table.eval_version == version))
    session.add(Evaluation(job_run_id=job_run_id, eval_version=version, label=plan.label, spec_json=plan.spec))

    scores = {key: score_group(g, plan, evaluation, extras, acc[key]) for key, g in groups.items()}
    cost = cost_values(session, job_run_id, sum(g.audio_s for g in groups.values()))
    for (ds, var), score in scores.items():
        g = groups[(ds, var)]
        used = g.normalizer or normalizer
        steps: dict[str, Any] = {"steps": used.step_names, "language": g.language, "headline": headline_metric(g.language)}
        where = {"job_run_id": job_run_id, "dataset_id": ds, "variant_id": var, "eval_version": version}
        session.add_all(
            MetricSummary(**where, metric=name, value=value, normalizer=used.tag, extra_json=steps)
            for name, value in score.values.items()
        )
        session.add_all(
            MetricSummary(**where, metric=name, value=value, normalizer=used.tag, extra_json={"scope": "job_run"})
            for name, value in cost.items()
        )
        session.add_all(
            BootstrapResult(
                **where, metric=name, ci_low=iv.low, ci_high=iv.high, iterations=iv.iterations,
                method=iv.method, seed=iv.seed, extra_json=iv.extra(),
            )
            for name, iv in score.intervals
        )
        write_utterance_values(session, job_run_id, version, score.per_utterance)
    store_speech_spans(session, spans)
    session.execute(update(JobRun).where(JobRun.job_run_id == job_run_id).values(eval_version=version))
    return version


def write_utterance_values(
    session: Session, job_run_id: int, version: str, columns: list[tuple[str, np.ndarray, np.ndarray]]
) -> None:
    """Insert the per-utterance values 5,000 rows at a time (a row dict per value for the whole
    job run at once was the evaluation's peak memory: 9 values x 100k utterances)."""
    for name, ids, values in columns:
        for start in range(0, len(ids), 5000):
            session.connection().execute(insert(UtteranceValue.__table__), [  # Core executemany
                {"job_run_id": job_run_id, "utt_id": u, "eval_version": version, "name": name, "value": v}
                for u, v in zip(ids[start:start + 5000].tolist(), values[start:start + 5000].tolist(), strict=True)
            ])
