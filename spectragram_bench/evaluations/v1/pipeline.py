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
import json
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
    LatencySample,
    MetricSummary,
    Prediction,
    Utterance,
    UtteranceValue,
)
from spectragram_bench.core.normalize import Normalizer
from spectragram_bench.core.statuses import PredictionStatus
from spectragram_bench.evaluations import inputs
from spectragram_bench.evaluations.plan import EvaluationPlan, plan_evaluation
from spectragram_bench.evaluations.registry import (
    VALUE_SETS,
    UtteranceBatch,
    compute_values,
    figure,
    scope_mask,
    scope_of,
)
from spectragram_bench.evaluations.v1.streaming_metrics import StreamSamples, store_speech_spans

TTFT_KEY = "time_to_first_token_ms"


@dataclass
class GroupRows:
    """The scored utterances of one (dataset, variant), in utt_id order."""

    utt_ids: list[int] = field(default_factory=list)
    external_ids: list[str] = field(default_factory=list)
    refs: list[str] = field(default_factory=list)  # as stored (raw)
    hyps: list[str] = field(default_factory=list)
    speakers: list[str | None] = field(default_factory=list)
    durations: list[float] = field(default_factory=list)
    meta: list[dict[str, Any]] = field(default_factory=list)
    hyp_words: list[list[dict[str, Any]] | None] = field(default_factory=list)
    api_ms: list[float] = field(default_factory=list)
    total_ms: list[float] = field(default_factory=list)
    ttft_ms: list[float] = field(default_factory=list)
    rtf: list[float] = field(default_factory=list)
    stream: StreamSamples = field(default_factory=StreamSamples)
    audio_s: float = 0.0
    timed_audio_s: float = 0.0
    n_failed: int = 0
    language: str | None = None  # the dataset's (ISO 639-1), from the utterances' meta
    normalizer: Normalizer | None = None  # the one its texts were normalised with (core/language.py)

    @property
    def nonspeech(self) -> np.ndarray:
        return np.array([inputs.is_nonspeech(m) for m in self.meta], dtype=bool)


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


def load_groups(
    session: Session, job_run_id: int, failures_as_empty: bool = False,
    normalizer: Normalizer | None = None, by_language: dict[str, str] | None = None,
) -> dict[tuple[int, int], GroupRows]:
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
        .execution_options(yield_per=2000)  # streamed into the groups' columns, not held as rows too
    )
    groups: dict[tuple[int, int], GroupRows] = defaultdict(GroupRows)
    shared: dict[str, dict[str, Any]] = {}  # equal metas kept once (a chapter's or speaker's utterances share theirs)
    for (utt_id, ds, var, ext_id, ref, dur, speaker, umeta, status, hyp, words,
         api_ms, total_ms, rtf, meta) in rows:
        g = groups[(ds, var)]
        if g.normalizer is None and normalizer is not None:  # a dataset's utterances share its language
            g.language = (umeta or {}).get("language")
            g.normalizer = normalizer_for(normalizer, g.language, by_language)
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
    return groups


@dataclass
class GroupScore:
    values: dict[str, float | None]
    intervals: list[tuple[str, bootstrap.Interval]]
    per_utterance: list[tuple[str, np.ndarray, np.ndarray]]  # (value name, utt_ids, values): columns, not a tuple per value


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


def score_group(g: GroupRows, plan: EvaluationPlan, evaluation: EvaluationConfig,
                extras: inputs.JobInputs | None = None) -> GroupScore:
    extras = extras or inputs.JobInputs()
    nonspeech = g.nonspeech
    speech = ~nonspeech
    known = {s for s, sp in zip(g.speakers, speech, strict=True) if s is not None and sp}
    values: dict[str, float | None] = {
        "n_utterances": int(speech.sum()), "n_nonspeech": int(nonspeech.sum()), "n_failed": g.n_failed,
        "n_speakers": len(known), "audio_seconds": g.audio_s,
        # 1.0 when CER is the number to read (a language written without spaces: core/language.py)
        "headline_cer": float(headline_metric(g.language) == "cer"),
    }
    per_utterance: list[tuple[str, np.ndarray, np.ndarray]] = []
    intervals: list[tuple[str, bootstrap.Interval]] = []
    computed: dict[tuple[str, str, str], dict[str, np.ndarray]] = {}  # (normaliser, suffix, scope) -> values
    iterations, seed = evaluation.bootstrap_iterations, evaluation.bootstrap_seed
    def in_language(n: Normalizer) -> Normalizer:  # a dataset in another language: core/language.py
        return normalizer_for(n, g.language, evaluation.normalizer_by_language)

    for pm in plan.metrics:
        scope = scope_of(pm.metric)
        mask = scope_mask(scope, nonspeech)
        used = in_language(pm.normalizer)
        key = (used.tag, pm.value_suffix, scope)
        have = computed.setdefault(key, {})
        missing = [n for n in pm.metric.needs if VALUE_SETS[n].columns[0] not in have]
        if missing:
            new = compute_values(_batch(g, used, mask, extras), missing)
            have.update(new)
            ids = np.asarray(g.utt_ids, dtype=np.int64)[mask]
            for name, column in new.items():
                stored = name + pm.value_suffix
                values[stored] = float(column.sum())
                per_utterance.append((stored, ids, np.asarray(column, dtype=np.float64)))
        fig = figure(pm.metric, have)
        values[pm.stored_name] = fig.value
        if pm.metric.bootstrap and iterations > 0 and len(fig.numerator):
            num, den = fig.numerator.astype(np.int64), fig.denominator.astype(np.int64)
            intervals.append((pm.stored_name, bootstrap.rate_interval(num, den, iterations, seed)))
            speakers = [g.speakers[i] for i in np.flatnonzero(mask)]
            if any(s is not None for s in speakers):
                intervals.append((pm.stored_name, bootstrap.rate_interval(num, den, iterations, seed, blocks=speakers)))
    words = computed.get((in_language(plan.normalizer).tag, "", "speech"), {})
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
    groups = load_groups(session, job_run_id, plan.failures_as_empty, normalizer, evaluation.normalizer_by_language)
    others = sorted({g.normalizer.tag for g in groups.values() if g.normalizer and g.normalizer.tag != normalizer.tag})
    version = "+".join([version, *others])  # e.g. ...+whisper_multilingual@1 where a dataset is in another language
    for table in (MetricSummary, BootstrapResult, UtteranceValue, Evaluation):
        session.execute(delete(table).where(table.job_run_id == job_run_id, table.eval_version == version))
    session.add(Evaluation(job_run_id=job_run_id, eval_version=version, label=plan.label, spec_json=plan.spec))

    scores = {key: score_group(g, plan, evaluation, extras) for key, g in groups.items()}
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
    store_speech_spans(session, job_run_id)
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
