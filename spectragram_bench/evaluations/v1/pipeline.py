"""Evaluation v1: scores a job run's stored predictions into metric_summary, bootstrap_result
and utterance_score rows.

Runs after each job run's inference ("post-onboard evaluation") and again on demand with
another normaliser (`spectragram-bench evaluate`); it reads only the database, never a
provider. Everything is keyed by an eval version `v1+<normaliser>@<version>`: re-evaluating
with the same normaliser replaces that version's rows, another normaliser adds its own and
leaves the old numbers as they were.

Per (job run, dataset, variant), metric_summary holds:
- counts: n_utterances (scored), n_failed (failed predictions are never scored as empty
  transcripts), n_empty_refs (normalised references without words), n_speakers;
- words: wer, mer, wil, wip, ser (sentence error rate), hits, substitutions, deletions,
  insertions, ref_words, hyp_words; characters: cer, char_hits, char_substitutions,
  char_deletions, char_insertions, char_errors, ref_chars. A rate over no reference units is
  NULL (see core/metrics.py);
- speed: latency_{api,total,ttft}_ms_{mean,p50,p90,p95,p99,max}, rtf_mean, rtfx (audio
  seconds / API seconds of the timed utterances), audio_seconds;
- cost (when cost_summary has the job run): cost_usd and cost_usd_per_audio_hour, for the
  whole job run (extra_json.scope = "job_run").
bootstrap_result holds the 95% percentile intervals of wer and cer by resampling utterances
and, where speakers are known, speakers (iterations and seed from the benchmark's evaluation
config). utterance_score holds each utterance's counts; the speaker_score view sums them per
speaker (the speaker-level table).
"""

from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

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
    JobRun,
    LatencySample,
    MetricSummary,
    Prediction,
    Utterance,
    UtteranceScore,
)
from spectragram_bench.core.normalize import Normalizer

EVAL_VERSION = "v1"
TTFT_KEY = "time_to_first_token_ms"


@dataclass
class GroupRows:
    """The scored utterances of one (dataset, variant), in utt_id order."""

    utt_ids: list[int] = field(default_factory=list)
    refs: list[str] = field(default_factory=list)
    hyps: list[str] = field(default_factory=list)
    speakers: list[str | None] = field(default_factory=list)
    api_ms: list[float] = field(default_factory=list)
    total_ms: list[float] = field(default_factory=list)
    ttft_ms: list[float] = field(default_factory=list)
    rtf: list[float] = field(default_factory=list)
    audio_s: float = 0.0
    timed_audio_s: float = 0.0
    n_failed: int = 0
    language: str | None = None  # the dataset's (ISO 639-1), from the utterances' meta
    normalizer: Normalizer | None = None  # the one its texts were normalised with (core/language.py)


def eval_version_tag(normalizer: Normalizer) -> str:
    return f"{EVAL_VERSION}+{normalizer.tag}"


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
    session: Session, job_run_id: int, normalizer: Normalizer, by_language: dict[str, str] | None = None
) -> dict[tuple[int, int], GroupRows]:
    rows = session.execute(
        select(
            Prediction.utt_id,
            Utterance.dataset_id,
            Utterance.variant_id,
            Utterance.ref_text,
            Utterance.duration_s,
            Utterance.speaker,
            Prediction.status,
            Prediction.hyp_text,
            LatencySample.api_time_ms,
            LatencySample.total_time_ms,
            LatencySample.rtf,
            LatencySample.meta_json,
            Utterance.meta_json,
        )
        .join(Utterance, Utterance.utt_id == Prediction.utt_id)
        .outerjoin(
            LatencySample,
            (LatencySample.job_run_id == Prediction.job_run_id) & (LatencySample.utt_id == Prediction.utt_id),
        )
        .where(Prediction.job_run_id == job_run_id)
        .order_by(Prediction.utt_id)
    ).all()
    groups: dict[tuple[int, int], GroupRows] = defaultdict(GroupRows)
    cached: dict[str, Any] = {}  # once per distinct string: a correct hyp equals its ref
    for utt_id, ds, var, ref, dur, speaker, status, hyp, api_ms, total_ms, rtf, meta, utt_meta in rows:
        g = groups[(ds, var)]
        if g.normalizer is None:  # a dataset's utterances share its language
            g.language = (utt_meta or {}).get("language")
            g.normalizer = normalizer_for(normalizer, g.language, by_language)
        norm = cached.setdefault(g.normalizer.tag, functools.cache(g.normalizer))
        if status != "ok":
            g.n_failed += 1
            continue
        meta = meta or {}
        g.utt_ids.append(utt_id)
        g.refs.append(norm(ref))
        g.hyps.append(norm(hyp or ""))
        g.speakers.append(speaker)
        audio_s = meta.get("audio_s", dur) or 0.0  # a variant (speed) may change the duration
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
    return groups


@dataclass
class GroupScore:
    words: metrics.Counts
    chars: metrics.Counts
    values: dict[str, float | None]
    intervals: list[tuple[str, bootstrap.Interval]]


def score_group(g: GroupRows, evaluation: EvaluationConfig) -> GroupScore:
    words = metrics.word_counts(g.refs, g.hyps)
    chars = metrics.char_counts(g.refs, g.hyps)
    w, c = words.total(), chars.total()
    known = {s for s in g.speakers if s is not None}
    values: dict[str, float | None] = {
        "n_utterances": len(g.refs),
        "n_failed": g.n_failed,
        "n_empty_refs": int((words.ref_len == 0).sum()),
        "n_speakers": len(known),
        "wer": w.rate if w.ref_len else None,
        "mer": w.mer if g.refs else None,
        "wil": w.wil if g.refs else None,
        "wip": w.wip if g.refs else None,
        "ser": words.sentence_error_rate(),
        "hits": w.hits,
        "substitutions": w.substitutions,
        "deletions": w.deletions,
        "insertions": w.insertions,
        "ref_words": w.ref_len,
        "hyp_words": w.hyp_len,
        "cer": c.rate if c.ref_len else None,
        "char_hits": c.hits,
        "char_substitutions": c.substitutions,
        "char_deletions": c.deletions,
        "char_insertions": c.insertions,
        "char_errors": c.errors,
        "ref_chars": c.ref_len,
        "audio_seconds": g.audio_s,
        # 1.0 when CER is the number to read (a language written without spaces: core/language.py)
        "headline_cer": float(headline_metric(g.language) == "cer"),
    }
    for prefix, samples in (("api_ms", g.api_ms), ("total_ms", g.total_ms), ("ttft_ms", g.ttft_ms)):
        for stat, v in metrics.latency_stats(samples).items():
            values[f"latency_{prefix}_{stat}"] = v
    if g.rtf:
        values["rtf_mean"] = sum(g.rtf) / len(g.rtf)
    if g.api_ms:
        values["rtfx"] = metrics.rtfx(g.timed_audio_s, sum(g.api_ms) / 1000.0)

    intervals: list[tuple[str, bootstrap.Interval]] = []
    iterations, seed = evaluation.bootstrap_iterations, evaluation.bootstrap_seed
    if iterations > 0 and g.refs:
        for name, counts in (("wer", words), ("cer", chars)):
            intervals.append((name, bootstrap.rate_interval(counts.errors, counts.ref_len, iterations, seed)))
            if known:
                intervals.append(
                    (name, bootstrap.rate_interval(counts.errors, counts.ref_len, iterations, seed, blocks=g.speakers))
                )
    return GroupScore(words, chars, values, intervals)


def cost_values(session: Session, job_run_id: int, audio_seconds: float) -> dict[str, float]:
    cost = session.execute(select(CostSummary).where(CostSummary.job_run_id == job_run_id)).scalar_one_or_none()
    if cost is None:
        return {}
    out = {"cost_usd": cost.price_usd}
    if audio_seconds > 0:
        out["cost_usd_per_audio_hour"] = cost.price_usd / (audio_seconds / 3600.0)
    return out


def evaluate_job_run(
    session: Session, job_run_id: int, normalizer: Normalizer, *, evaluation: EvaluationConfig | None = None
) -> str:
    """Write (replace) this job run's rows for `normalizer`; returns the eval version.

    `evaluation` (bootstrap iterations and seed) defaults to the job run's benchmark config.
    """
    evaluation = evaluation or evaluation_config(session, job_run_id)
    groups = load_groups(session, job_run_id, normalizer, evaluation.normalizer_by_language)
    others = sorted({g.normalizer.tag for g in groups.values() if g.normalizer and g.normalizer.tag != normalizer.tag})
    version = "+".join([eval_version_tag(normalizer), *others])  # e.g. v1+whisper_english@1+whisper_multilingual@1
    for table in (MetricSummary, BootstrapResult, UtteranceScore):
        session.execute(delete(table).where(table.job_run_id == job_run_id, table.eval_version == version))

    scores = {key: score_group(g, evaluation) for key, g in groups.items()}
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
        write_utterance_scores(session, job_run_id, version, groups[(ds, var)].utt_ids, score)
    session.execute(update(JobRun).where(JobRun.job_run_id == job_run_id).values(eval_version=version))
    return version


def write_utterance_scores(
    session: Session, job_run_id: int, version: str, utt_ids: list[int], score: GroupScore
) -> None:
    if not utt_ids:
        return
    w = score.words.table.tolist()
    c = score.chars.table.tolist()
    rows = [
        {
            "job_run_id": job_run_id, "utt_id": utt_id, "eval_version": version,
            "hits": wh, "substitutions": ws, "deletions": wd, "insertions": wi,
            "char_hits": ch, "char_substitutions": cs, "char_deletions": cd, "char_insertions": ci,
        }
        for utt_id, (wh, ws, wd, wi), (ch, cs, cd, ci) in zip(utt_ids, w, c, strict=True)
    ]
    for start in range(0, len(rows), 5000):
        session.execute(insert(UtteranceScore), rows[start:start + 5000])
