"""The benchmark summary: one row per job run x dataset x variant, from metric_summary."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session

from spectragram_bench.core.bootstrap import UTTERANCE
from spectragram_bench.core.liveness import shown_status
from spectragram_bench.core.models import (
    BootstrapResult,
    Dataset,
    DatasetVariant,
    JobRun,
    MetricSummary,
    Model,
)
from spectragram_bench.core.models import Provider as ProviderRow
from spectragram_bench.datasets.variants import variant_label


@dataclass
class SummaryRow:
    job_run_id: int
    system: str
    provider: str
    model: str
    dataset: str
    split: str
    variant: str
    eval_version: str
    status: str
    metrics: dict[str, float | None] = field(default_factory=dict)
    dataset_id: int | None = None
    variant_id: int | None = None
    variant_json: dict | None = None


def summary_rows(session: Session, benchmark_id: int, eval_version: str | None = None) -> list[SummaryRow]:
    """Metrics of each job run's current eval version (or `eval_version`), grouped per dataset split/variant."""
    q = (
        select(MetricSummary, JobRun, ProviderRow.name, Model.name, Dataset.name, DatasetVariant)
        .join(JobRun, JobRun.job_run_id == MetricSummary.job_run_id)
        .join(ProviderRow, ProviderRow.provider_id == JobRun.provider_id)
        .join(Model, Model.model_id == JobRun.model_id)
        .join(Dataset, Dataset.dataset_id == MetricSummary.dataset_id)
        .join(DatasetVariant, DatasetVariant.variant_id == MetricSummary.variant_id)
        .where(JobRun.benchmark_id == benchmark_id)
        .order_by(JobRun.job_run_id, MetricSummary.dataset_id, MetricSummary.variant_id, MetricSummary.summary_id)
    )
    if eval_version is None:
        q = q.where(MetricSummary.eval_version == JobRun.eval_version)
    else:
        q = q.where(MetricSummary.eval_version == eval_version)
    rows: dict[tuple[int, int, int], SummaryRow] = {}
    for ms, jr, pname, mname, dname, var in session.execute(q):
        key = (jr.job_run_id, ms.dataset_id, ms.variant_id)
        if key not in rows:
            rows[key] = SummaryRow(
                jr.job_run_id, jr.label or f"{pname}/{mname}", pname, mname, dname, var.split,
                variant_label(var.variant_json), ms.eval_version, shown_status(jr.status, jr.heartbeat_at, jr.started_at),
                dataset_id=ms.dataset_id, variant_id=ms.variant_id, variant_json=var.variant_json,
            )
        rows[key].metrics[ms.metric] = ms.value
    add_wer_intervals(session, rows)
    return list(rows.values())


def add_wer_intervals(session: Session, rows: dict[tuple[int, int, int], SummaryRow]) -> None:
    """The utterance-level 95% bootstrap interval of WER as metrics wer_ci_low / wer_ci_high."""
    if not rows:
        return
    q = select(BootstrapResult).where(
        BootstrapResult.job_run_id.in_({k[0] for k in rows}),
        BootstrapResult.metric == "wer",
        BootstrapResult.method == UTTERANCE,
    )
    for b in session.execute(q).scalars():
        row = rows.get((b.job_run_id, b.dataset_id, b.variant_id))
        if row is not None and b.eval_version == row.eval_version:
            row.metrics["wer_ci_low"], row.metrics["wer_ci_high"] = b.ci_low, b.ci_high


class PipeConsole(Console):
    """rich exits with status 1 when its reader goes away (`report | head`); raising instead lets
    app.main end every command the same quiet way (status 141, as for SIGPIPE)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError


def wide_console(stderr: bool = False) -> Console:
    """A terminal's own width; 250 columns when piped, so logs keep whole names and numbers."""
    stream = sys.stderr if stderr else sys.stdout
    return PipeConsole(stderr=stderr) if stream.isatty() else PipeConsole(stderr=stderr, width=250)
