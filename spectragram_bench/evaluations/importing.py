"""Predictions made elsewhere, stored as one more job run of a benchmark.

The benchmark's utterances (its clean variant: imported text cannot have heard a degraded one)
are matched to the file's ids by their external id. Each match becomes an ok prediction of a new
job run named after the system; an utterance the file has no line for becomes a failed
prediction (error kind `utterance`, "no prediction in FILE"), never an empty transcript. The
job run is then evaluated with the benchmark's own evaluation, so `report` and `compare` treat it
like any other run. It has no latency or cost: those columns stay '-'.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from spectragram_bench.core.errors import BenchError
from spectragram_bench.core.models import (
    Benchmark,
    Dataset,
    DatasetVariant,
    JobRun,
    Model,
    Prediction,
    Utterance,
    WorkItemRow,
)
from spectragram_bench.core.models import Provider as ProviderRow
from spectragram_bench.core.normalize import resolve
from spectragram_bench.core.persistence import upsert
from spectragram_bench.core.statuses import ErrorKind, JobRunStatus, PredictionStatus
from spectragram_bench.evaluations.transcripts import Transcript
from spectragram_bench.evaluations.v1.pipeline import evaluate_job_run, evaluation_config

IMPORTED_SDK = "imported"


@dataclass(frozen=True)
class ImportOutcome:
    job_run_id: int
    matched: int
    missing: int  # benchmark utterances without a line in the file
    eval_version: str


def _benchmark_utterances(session: Session, benchmark_id: int, dataset: str | None) -> dict[str, int]:
    """external id -> utt_id over the benchmark's clean-variant utterances."""
    runs = select(JobRun.job_run_id).where(JobRun.benchmark_id == benchmark_id)
    utts = select(WorkItemRow.utt_id).where(WorkItemRow.job_run_id.in_(runs)).union(
        select(Prediction.utt_id).where(Prediction.job_run_id.in_(runs))
    )
    q = (
        select(Utterance.utt_id, Utterance.external_id, Dataset.name, DatasetVariant.variant_json)
        .join(Dataset, Dataset.dataset_id == Utterance.dataset_id)
        .join(DatasetVariant, DatasetVariant.variant_id == Utterance.variant_id)
        .where(Utterance.utt_id.in_(utts))
        .order_by(Utterance.utt_id)
    )
    out: dict[str, int] = {}
    for utt_id, ext, dname, vjson in session.execute(q):
        if (vjson or {}).get("kind", "clean") != "clean" or (dataset is not None and dname != dataset):
            continue
        if ext in out:
            raise BenchError(f"benchmark {benchmark_id}: utterance id {ext!r} is in two datasets; name one with --dataset")
        out[ext] = utt_id
    return out


def import_predictions(
    session: Session, benchmark_id: int, system: str, transcripts: dict[str, Transcript], source: Path,
    dataset: str | None = None, known: dict[str, int] | None = None,
) -> ImportOutcome:
    """`known`: external id -> utt_id of the utterances to fill (default: the benchmark's clean ones)."""
    if session.get(Benchmark, benchmark_id) is None:
        raise BenchError(f"benchmark {benchmark_id} not found")
    if known is None:
        known = _benchmark_utterances(session, benchmark_id, dataset)
    if not known:
        raise BenchError(f"benchmark {benchmark_id} has no utterances to import predictions for")
    unknown = [u for u in transcripts if u not in known]
    if unknown:
        raise BenchError(f"{source}: {len(unknown)} id(s) are not utterances of benchmark {benchmark_id}, e.g. {unknown[0]!r}")
    provider, _, model = system.partition("/")
    if not model:
        provider, model = "imported", system
    prow = upsert(session, ProviderRow, {"name": provider, "sdk": IMPORTED_SDK, "sdk_version": None}, ["name"])
    params = {"imported_from": source.name, "mode": "batch"}
    mrow = upsert(session, Model, {"provider_id": prow.provider_id, "name": model, "params_hash": f"imported:{source.name}",
                                   "params_json": params}, ["provider_id", "name", "params_hash"])
    now = datetime.now(UTC)
    run = JobRun(benchmark_id=benchmark_id, provider_id=prow.provider_id, model_id=mrow.model_id, label=system,
                 status=JobRunStatus.COMPLETED, started_at=now, ended_at=now, env_json={"imported_from": str(source)})
    session.add(run)
    session.flush()
    missing = 0
    flagged = {
        utt_id: meta["load_error"]
        for utt_id, meta in session.execute(select(Utterance.utt_id, Utterance.meta_json).where(Utterance.utt_id.in_(known.values())))
        if meta and meta.get("load_error")
    }
    for ext, utt_id in known.items():
        t = transcripts.get(ext)
        if utt_id in flagged:  # the reference itself is unusable: the input failure a run records too
            session.add(Prediction(job_run_id=run.job_run_id, utt_id=utt_id, status=PredictionStatus.FAILED,
                                   error_kind=ErrorKind.INPUT, error_text=flagged[utt_id], attempts=0))
        elif t is None:
            missing += 1
            session.add(Prediction(job_run_id=run.job_run_id, utt_id=utt_id, status=PredictionStatus.FAILED, error_kind=ErrorKind.UTTERANCE,
                                   error_text=f"no prediction in {source.name}", attempts=0))
        else:
            session.add(Prediction(job_run_id=run.job_run_id, utt_id=utt_id, status=PredictionStatus.OK, hyp_text=t.text, attempts=0))
    if missing or flagged:
        run.status = JobRunStatus.PARTIAL if len(known) > missing + len(flagged) else JobRunStatus.FAILED
    session.flush()
    config = evaluation_config(session, run.job_run_id)
    version = evaluate_job_run(session, run.job_run_id, resolve(config.normalizer, config.normalizer_steps), evaluation=config)
    return ImportOutcome(run.job_run_id, len(known) - missing - len(flagged), missing, version)
