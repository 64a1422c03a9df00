"""Evaluation v1: scores a job run's stored predictions into metric_summary rows.

Runs after each job run's inference ("post-onboard evaluation") and again on demand with
another normaliser; it reads only the database, never a provider. Failed predictions are
not scored (a failure is not an empty transcript): they are counted in `n_failed`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from spectragram_bench.core import metrics
from spectragram_bench.core.models import JobRun, LatencySample, MetricSummary, Prediction, Utterance
from spectragram_bench.core.normalize import Normalizer

EVAL_VERSION = "v1"


@dataclass
class GroupRows:
    refs: list[str]
    hyps: list[str]
    api_ms: list[float]
    total_ms: list[float]
    rtf: list[float]
    audio_s: float = 0.0
    n_failed: int = 0


def eval_version_tag(normalizer: Normalizer) -> str:
    return f"{EVAL_VERSION}+{normalizer.tag}"


def evaluate_job_run(session: Session, job_run_id: int, normalizer: Normalizer) -> str:
    """Write (replace) this job run's metric_summary rows for `normalizer`; returns the eval version."""
    version = eval_version_tag(normalizer)
    rows = session.execute(
        select(
            Utterance.dataset_id,
            Utterance.variant_id,
            Utterance.ref_text,
            Utterance.duration_s,
            Prediction.status,
            Prediction.hyp_text,
            LatencySample.api_time_ms,
            LatencySample.total_time_ms,
            LatencySample.rtf,
        )
        .join(Utterance, Utterance.utt_id == Prediction.utt_id)
        .outerjoin(
            LatencySample,
            (LatencySample.job_run_id == Prediction.job_run_id) & (LatencySample.utt_id == Prediction.utt_id),
        )
        .where(Prediction.job_run_id == job_run_id)
        .order_by(Prediction.utt_id)
    ).all()
    groups: dict[tuple[int, int], GroupRows] = defaultdict(lambda: GroupRows([], [], [], [], []))
    for ds, var, ref, dur, status, hyp, api_ms, total_ms, rtf in rows:
        g = groups[(ds, var)]
        if status != "ok":
            g.n_failed += 1
            continue
        g.refs.append(normalizer(ref))
        g.hyps.append(normalizer(hyp or ""))
        if api_ms is not None:
            g.api_ms.append(api_ms)
            g.total_ms.append(total_ms)
        if rtf is not None:
            g.rtf.append(rtf)
        g.audio_s += dur or 0.0

    session.execute(
        delete(MetricSummary).where(MetricSummary.job_run_id == job_run_id, MetricSummary.eval_version == version)
    )
    for (ds, var), g in groups.items():
        values = summarise(g)
        session.add_all(
            MetricSummary(
                job_run_id=job_run_id,
                dataset_id=ds,
                variant_id=var,
                metric=name,
                value=value,
                eval_version=version,
                normalizer=normalizer.tag,
            )
            for name, value in values.items()
        )
    session.execute(
        JobRun.__table__.update().where(JobRun.job_run_id == job_run_id).values(eval_version=version)
    )
    return version


def summarise(g: GroupRows) -> dict[str, float]:
    words = metrics.total(metrics.word_counts(g.refs, g.hyps))
    chars = metrics.total(metrics.char_counts(g.refs, g.hyps))
    out: dict[str, float] = {
        "n_utterances": len(g.refs),
        "n_failed": g.n_failed,
        "wer": words.rate if g.refs else None,
        "cer": chars.rate if g.refs else None,
        "hits": words.hits,
        "substitutions": words.substitutions,
        "deletions": words.deletions,
        "insertions": words.insertions,
        "ref_words": words.ref_len,
        "char_errors": chars.errors,
        "ref_chars": chars.ref_len,
        "audio_seconds": g.audio_s,
    }
    for prefix, values in (("api_ms", g.api_ms), ("total_ms", g.total_ms)):
        for stat, v in metrics.latency_stats(values).items():
            out[f"latency_{prefix}_{stat}"] = v
    if g.rtf:
        out["rtf_mean"] = sum(g.rtf) / len(g.rtf)
    return out
