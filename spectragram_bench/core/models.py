"""The database schema (SQLAlchemy 2 ORM), portable between SQLite and PostgreSQL.

Tables and keys follow the seed design. Additions beyond the seed, each for a reason:
prediction.status/error_kind/error_text/attempts (a failure is stored as a failure, never
as an empty transcript); utterance.speaker (speaker-level bootstrap); job_run.label and
model_revision (the provider's own model version); metric_summary.eval_version/normalizer
(numbers stay attributable to the normaliser that produced them).
The schema is created and changed only by the Alembic migrations in spectragram_bench/migrations.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from spectragram_bench.core.statuses import JobRunStatus, PredictionStatus, WorkItemState


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Provider(Base):
    __tablename__ = "provider"
    provider_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    sdk: Mapped[str | None] = mapped_column(String(200))
    sdk_version: Mapped[str | None] = mapped_column(String(100))
    extra_json: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Model(Base):
    __tablename__ = "model"
    __table_args__ = (UniqueConstraint("provider_id", "name", "params_hash", name="uq_model_identity"),)
    model_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("provider.provider_id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    revision: Mapped[str | None] = mapped_column(String(200))
    params_hash: Mapped[str] = mapped_column(String(64))
    params_json: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Dataset(Base):
    __tablename__ = "dataset"
    __table_args__ = (UniqueConstraint("name", "source", name="uq_dataset_name_source"),)
    dataset_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(1000))
    license: Mapped[str | None] = mapped_column(String(200))
    checksum: Mapped[str | None] = mapped_column(String(128))
    notes: Mapped[str | None] = mapped_column(Text)


class DatasetVariant(Base):
    __tablename__ = "dataset_variant"
    __table_args__ = (UniqueConstraint("dataset_id", "split", "variant_key", name="uq_variant_identity"),)
    variant_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("dataset.dataset_id"), index=True)
    split: Mapped[str] = mapped_column(String(200))
    variant_key: Mapped[str] = mapped_column(String(64))
    variant_json: Mapped[dict[str, Any]] = mapped_column(JSON)


class Utterance(Base):
    __tablename__ = "utterance"
    __table_args__ = (
        UniqueConstraint("dataset_id", "variant_id", "external_id", name="uq_utterance_identity"),
    )
    utt_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("dataset.dataset_id"), index=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("dataset_variant.variant_id"), index=True)
    external_id: Mapped[str] = mapped_column(String(500))
    audio_path: Mapped[str] = mapped_column(Text)
    ref_text: Mapped[str] = mapped_column(Text)
    duration_s: Mapped[float | None] = mapped_column(Float)
    speaker: Mapped[str | None] = mapped_column(String(200))
    meta_json: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Benchmark(Base):
    __tablename__ = "benchmark"
    benchmark_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    config_json: Mapped[dict[str, Any]] = mapped_column(JSON)
    notes: Mapped[str | None] = mapped_column(Text)


class JobRun(Base):
    __tablename__ = "job_run"
    job_run_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    benchmark_id: Mapped[int] = mapped_column(ForeignKey("benchmark.benchmark_id"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("provider.provider_id"))
    model_id: Mapped[int] = mapped_column(ForeignKey("model.model_id"))
    label: Mapped[str | None] = mapped_column(String(200))
    model_revision: Mapped[str | None] = mapped_column(String(200))
    eval_version: Mapped[str | None] = mapped_column(String(100))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(20), default=JobRunStatus.QUEUED)
    error_text: Mapped[str | None] = mapped_column(Text)
    env_json: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    host_info_json: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: the harness's own health during the run (worker/harness_health.py); harness_bound: its
    #: latency figures include the harness's queueing, not the vendor's time alone
    loop_lag_p99_ms: Mapped[float | None] = mapped_column(Float)
    harness_bound: Mapped[bool | None] = mapped_column(Boolean)
    #: unix time a process running it last said it was alive (core/liveness.py: stale runs)
    heartbeat_at: Mapped[float | None] = mapped_column(Float)
    #: the adapter's own version (Provider.adapter_version): a prediction is reused only from the same one
    adapter_version: Mapped[str | None] = mapped_column(String(50))


class Prediction(Base):
    __tablename__ = "prediction"
    __table_args__ = (UniqueConstraint("job_run_id", "utt_id", name="uq_prediction_job_utt"),)
    prediction_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_run_id: Mapped[int] = mapped_column(ForeignKey("job_run.job_run_id"), index=True)
    utt_id: Mapped[int] = mapped_column(ForeignKey("utterance.utt_id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default=PredictionStatus.OK)
    hyp_text: Mapped[str | None] = mapped_column(Text)
    words_json: Mapped[list[Any] | None] = mapped_column(JSON)
    usage_json: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error_kind: Mapped[str | None] = mapped_column(String(20))
    error_text: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: sha256 of the exact audio bytes sent (Provider.sent_audio); None for chunked recordings
    sent_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    #: the prediction this one was copied from (reuse_predictions): no request was made
    reused_from: Mapped[int | None] = mapped_column(Integer)


class LatencySample(Base):
    __tablename__ = "latency_sample"
    __table_args__ = (UniqueConstraint("job_run_id", "utt_id", name="uq_latency_job_utt"),)
    lat_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_run_id: Mapped[int] = mapped_column(ForeignKey("job_run.job_run_id"), index=True)
    utt_id: Mapped[int] = mapped_column(ForeignKey("utterance.utt_id"))
    api_time_ms: Mapped[float | None] = mapped_column(Float)  # the vendor's time (at the wire for HTTP)
    queue_ms: Mapped[float | None] = mapped_column(Float)  # waited inside the harness (connection, event loop)
    total_time_ms: Mapped[float | None] = mapped_column(Float)
    rtf: Mapped[float | None] = mapped_column(Float)
    meta_json: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class MetricSummary(Base):
    __tablename__ = "metric_summary"
    __table_args__ = (
        UniqueConstraint(
            "job_run_id", "dataset_id", "variant_id", "metric", "eval_version", name="uq_metric_identity"
        ),
    )
    summary_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_run_id: Mapped[int] = mapped_column(ForeignKey("job_run.job_run_id"), index=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("dataset.dataset_id"), index=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("dataset_variant.variant_id"))
    metric: Mapped[str] = mapped_column(String(100))
    value: Mapped[float | None] = mapped_column(Float)
    eval_version: Mapped[str] = mapped_column(String(100))
    normalizer: Mapped[str | None] = mapped_column(String(100))
    extra_json: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class BootstrapResult(Base):
    __tablename__ = "bootstrap_result"
    boot_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_run_id: Mapped[int] = mapped_column(ForeignKey("job_run.job_run_id"), index=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("dataset.dataset_id"), index=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("dataset_variant.variant_id"))
    metric: Mapped[str] = mapped_column(String(100))
    ci_low: Mapped[float | None] = mapped_column(Float)
    ci_high: Mapped[float | None] = mapped_column(Float)
    iterations: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(100))
    seed: Mapped[int] = mapped_column(Integer)
    eval_version: Mapped[str | None] = mapped_column(String(100))
    extra_json: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class UtteranceValue(Base):
    """One per-utterance value of one evaluation (migration 0004; was utterance_score's columns).

    Names are the metric registry's value names (`hits`, `substitutions`, `char_hits`, ...,
    evaluations/registry.py); every corpus number of that evaluation is a sum of these rows, and
    the `speaker_score` view sums the word and character counts per speaker.
    """

    __tablename__ = "utterance_value"
    __table_args__ = (
        UniqueConstraint("job_run_id", "utt_id", "eval_version", "name", name="uq_utterance_value_identity"),
        Index("ix_utterance_value_lookup", "job_run_id", "eval_version"),
    )
    value_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_run_id: Mapped[int] = mapped_column(ForeignKey("job_run.job_run_id"))
    utt_id: Mapped[int] = mapped_column(ForeignKey("utterance.utt_id"), index=True)
    eval_version: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(100))
    value: Mapped[float | None] = mapped_column(Float)


class Evaluation(Base):
    """One evaluation of a job run: its eval version, a label a reader understands, and what it computed."""

    __tablename__ = "evaluation"
    __table_args__ = (UniqueConstraint("job_run_id", "eval_version", name="uq_evaluation_identity"),)
    evaluation_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_run_id: Mapped[int] = mapped_column(ForeignKey("job_run.job_run_id"), index=True)
    eval_version: Mapped[str] = mapped_column(String(100))
    label: Mapped[str] = mapped_column(Text)
    spec_json: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=utcnow)


class CostSummary(Base):
    __tablename__ = "cost_summary"
    cost_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_run_id: Mapped[int] = mapped_column(ForeignKey("job_run.job_run_id"), unique=True)
    seconds_billed: Mapped[float] = mapped_column(Float)
    price_usd: Mapped[float] = mapped_column(Float)
    extra_json: Mapped[dict[str, Any] | None] = mapped_column(JSON)


Index("ix_metric_summary_benchmark_lookup", MetricSummary.job_run_id, MetricSummary.eval_version)


class WorkItemRow(Base):
    """One (job run, utterance) to transcribe, leased by the process that runs it.

    state: pending -> leased (lease_owner, lease_expires_at) -> done (its prediction, ok or
    failed, committed in the same transaction). A lease whose owner died expires and the
    item is leased again; the work-item logic lives in worker/work_items.py.
    """

    __tablename__ = "work_item"
    job_run_id: Mapped[int] = mapped_column(ForeignKey("job_run.job_run_id"), primary_key=True)
    utt_id: Mapped[int] = mapped_column(ForeignKey("utterance.utt_id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(10), default=WorkItemState.PENDING)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[float | None] = mapped_column(Float)  # unix time; workers need synced clocks
    leases: Mapped[int] = mapped_column(Integer, default=0)


class RatePacer(Base):
    """A job run's rate-limit schedule shared by every worker (GCRA theoretical arrival times)."""

    __tablename__ = "rate_pacer"
    job_run_id: Mapped[int] = mapped_column(ForeignKey("job_run.job_run_id"), primary_key=True)
    tat_requests: Mapped[float] = mapped_column(Float, default=0.0)
    tat_audio: Mapped[float] = mapped_column(Float, default=0.0)


Index("ix_work_item_state", WorkItemRow.job_run_id, WorkItemRow.state)


class AudioProbe(Base):
    """What planning found in one audio source (worker/probes.py), valid while the file keeps
    its size and mtime: a rerun, a resume or a dry run reads this instead of decoding again."""

    __tablename__ = "audio_probe"
    probe_key: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the source's identity
    path: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    duration_s: Mapped[float | None] = mapped_column(Float)
    sample_rate: Mapped[int | None] = mapped_column(Integer)
    decodable: Mapped[bool] = mapped_column(Boolean)
    silent: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text)  # the utterance's input failure, when there is one
    probed_at: Mapped[float] = mapped_column(Float)  # unix time


class PlanScan(Base):
    """The columns planning reads from a loader's rows (worker/scan_cache.py), valid while the
    files the loader reads its rows from keep their sizes and mtimes: planning an unchanged
    dataset again reads this instead of parsing its transcripts or manifests."""

    __tablename__ = "plan_scan"
    scan_key: Mapped[str] = mapped_column(String(64), primary_key=True)  # loader, root, subsets, options, input files' states
    ident: Mapped[str] = mapped_column(String(64), index=True)  # the same without the files' states: one row kept per ident
    loader: Mapped[str] = mapped_column(String(100))
    root: Mapped[str] = mapped_column(Text)
    n_rows: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)  # zlib-compressed column batches, worker/scan_cache.py
    created_at: Mapped[float] = mapped_column(Float)  # unix time
