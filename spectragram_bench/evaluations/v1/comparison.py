"""Paired comparison of two job runs on the utterances both transcribed successfully.

Reads stored predictions only. Per (dataset, split, variant), or per group of any utterance
metadata key (`by`: speaker, sex, duration, ...; evaluations/breakdowns.py), and over all of
them when there are several: each system's corpus WER with its utterance-level 95% bootstrap
interval and S/D/I, the paired bootstrap of the difference WER_A - WER_B (same resampled
utterances for both) with P(B better), sclite's MAPSSWE test, its sign and Wilcoxon
signed-rank tests over speakers and McNemar's test on sentence errors (core/significance.py),
and the paired bootstrap of CER_A - CER_B. Utterances that only one run transcribed are left
out and counted.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from spectragram_bench.core import bootstrap, metrics, significance
from spectragram_bench.core.errors import BenchError
from spectragram_bench.core.models import Dataset, DatasetVariant, JobRun, Model, Prediction, Utterance
from spectragram_bench.core.models import Provider as ProviderRow
from spectragram_bench.core.natural_order import natural_key
from spectragram_bench.core.normalize import Normalizer
from spectragram_bench.core.statuses import PredictionStatus
from spectragram_bench.datasets.variants import variant_label
from spectragram_bench.evaluations.breakdowns import group_of as group_value

ALL = "all"


@dataclass(frozen=True)
class SystemScore:
    counts: metrics.ErrorCounts
    interval: bootstrap.Interval


@dataclass(frozen=True)
class Comparison:
    dataset: str
    split: str
    variant: str
    utterances: int  # scored by both
    only_a: int  # transcribed by A only (failed or missing in B)
    only_b: int
    a: SystemScore
    b: SystemScore
    paired: bootstrap.PairedComparison
    mapsswe: bootstrap.Mapsswe
    sign: significance.SignTest
    wilcoxon: significance.Wilcoxon
    mcnemar: significance.McNemar
    cer: bootstrap.PairedComparison


def job_run_label(session: Session, job_run_id: int) -> str:
    row = session.execute(
        select(JobRun.label, ProviderRow.name, Model.name)
        .join(ProviderRow, ProviderRow.provider_id == JobRun.provider_id)
        .join(Model, Model.model_id == JobRun.model_id)
        .where(JobRun.job_run_id == job_run_id)
    ).one_or_none()
    if row is None:
        raise BenchError(f"job run {job_run_id} not found")
    label, provider, model = row
    return label or f"{provider}/{model}"


def _successful(session: Session, job_run_id: int) -> dict[int, str]:
    rows = session.execute(
        select(Prediction.utt_id, Prediction.hyp_text).where(
            Prediction.job_run_id == job_run_id, Prediction.status == PredictionStatus.OK
        )
    )
    return {utt_id: hyp or "" for utt_id, hyp in rows}


def compare_job_runs(
    session: Session, job_run_a: int, job_run_b: int, normalizer: Normalizer, iterations: int, seed: int,
    by: str | None = None,
) -> list[Comparison]:
    for jr in (job_run_a, job_run_b):
        job_run_label(session, jr)  # raises when missing
    hyps_a, hyps_b = _successful(session, job_run_a), _successful(session, job_run_b)
    common = sorted(hyps_a.keys() & hyps_b.keys())
    if not common:
        raise BenchError(
            f"job runs {job_run_a} and {job_run_b} have no successfully transcribed utterance in common"
        )
    utterances = session.execute(
        select(Utterance, Dataset.name, DatasetVariant.split, DatasetVariant.variant_json)
        .join(Dataset, Dataset.dataset_id == Utterance.dataset_id)
        .join(DatasetVariant, DatasetVariant.variant_id == Utterance.variant_id)
        .where(Utterance.utt_id.in_(hyps_a.keys() | hyps_b.keys()))
    ).all()
    group_of: dict[int, tuple[str, str, str]] = {}
    refs: dict[int, str] = {}
    speakers: dict[int, str | None] = {}
    for utt, dataset, split, variant in utterances:
        if by is None:
            group_of[utt.utt_id] = (dataset, split, variant_label(variant))
        else:
            group_of[utt.utt_id] = (f"{by}={group_value(by, utt, dataset, split, variant or {})}", "", "")
        refs[utt.utt_id] = utt.ref_text
        speakers[utt.utt_id] = utt.speaker
    members: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for utt_id in common:
        members[group_of[utt_id]].append(utt_id)
    groups = sorted(members.items(), key=lambda kv: tuple(natural_key(str(k)) for k in kv[0]))
    if len(groups) > 1:
        groups.append(((ALL, ALL, ALL), common))
    out = []
    for key, ids in groups:
        in_group = set(ids) if key[0] != ALL else None
        only_a = sum(1 for u in hyps_a.keys() - hyps_b.keys() if in_group is None or group_of[u] == key)
        only_b = sum(1 for u in hyps_b.keys() - hyps_a.keys() if in_group is None or group_of[u] == key)
        out.append(
            _compare(key, ids, refs, speakers, hyps_a, hyps_b, normalizer, iterations, seed, only_a, only_b)
        )
    return out


def _compare(key, ids, refs, speakers, hyps_a, hyps_b, normalizer, iterations, seed, only_a, only_b) -> Comparison:
    ref = [normalizer(refs[u]) for u in ids]
    hyp_a = [normalizer(hyps_a[u]) for u in ids]
    hyp_b = [normalizer(hyps_b[u]) for u in ids]
    counts_a, counts_b = metrics.word_counts(ref, hyp_a), metrics.word_counts(ref, hyp_b)
    chars_a, chars_b = metrics.char_counts(ref, hyp_a), metrics.char_counts(ref, hyp_b)
    n = counts_a.ref_len
    spk = [speakers[u] for u in ids]
    rates_a = significance.speaker_rates(counts_a.errors, n, spk)
    rates_b = significance.speaker_rates(counts_b.errors, n, spk)
    tests = (
        significance.sign_test(rates_a, rates_b), significance.wilcoxon_test(rates_a, rates_b),
        significance.mcnemar(counts_a.errors, counts_b.errors),
        bootstrap.paired_bootstrap(chars_a.errors, chars_b.errors, chars_a.ref_len, iterations, seed),
    )
    return Comparison(
        *key, len(ids), only_a, only_b,
        SystemScore(counts_a.total(), bootstrap.rate_interval(counts_a.errors, n, iterations, seed)),
        SystemScore(counts_b.total(), bootstrap.rate_interval(counts_b.errors, n, iterations, seed)),
        bootstrap.paired_bootstrap(counts_a.errors, counts_b.errors, n, iterations, seed),
        bootstrap.mapsswe(metrics.word_alignments(ref, hyp_a), metrics.word_alignments(ref, hyp_b)),
        *tests,
    )
