"""Why items failed: per job run, the failed predictions counted by error kind, each kind with
one example message, so "2 of 40 items failed" never stands without its reasons."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import Console
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from spectragram_bench.core.models import JobRun, Model, Prediction, Utterance, WorkItemRow
from spectragram_bench.core.models import Provider as ProviderRow
from spectragram_bench.core.statuses import PredictionStatus
from spectragram_bench.reporting.display import clip

EXAMPLE_CHARS = 200  # an example message is cut here (bodies can be long); the database keeps it whole


@dataclass
class FailureKind:
    kind: str
    count: int
    example_utt: str
    example: str


@dataclass
class JobRunFailures:
    job_run_id: int
    system: str
    status: str
    error_text: str | None
    total: int
    failed: int
    kinds: list[FailureKind] = field(default_factory=list)


def failure_summary(session: Session, benchmark_id: int) -> list[JobRunFailures]:
    """Job runs of the benchmark with failed items or a run error, with their failures by kind."""
    runs = session.execute(
        select(JobRun, ProviderRow.name, Model.name)
        .join(ProviderRow, ProviderRow.provider_id == JobRun.provider_id)
        .join(Model, Model.model_id == JobRun.model_id)
        .where(JobRun.benchmark_id == benchmark_id)
        .order_by(JobRun.job_run_id)
    ).all()
    out = []
    for run, provider, model in runs:
        total = session.execute(
            select(func.count()).select_from(WorkItemRow).where(WorkItemRow.job_run_id == run.job_run_id)
        ).scalar_one()
        failed = (
            session.execute(
                select(Prediction.error_kind, Prediction.error_text, Utterance.external_id)
                .join(Utterance, Utterance.utt_id == Prediction.utt_id)
                .where(Prediction.job_run_id == run.job_run_id, Prediction.status != PredictionStatus.OK)
                .order_by(Prediction.prediction_id)
            )
        ).all()
        if not failed and not run.error_text:
            continue
        kinds: dict[str, FailureKind] = {}
        for kind, text, external_id in failed:
            key = kind or "unknown"
            if key not in kinds:
                kinds[key] = FailureKind(key, 0, external_id, clip(text or "(no message)", EXAMPLE_CHARS))
            kinds[key].count += 1
        ordered = sorted(kinds.values(), key=lambda k: (-k.count, k.kind))
        out.append(JobRunFailures(run.job_run_id, run.label or f"{provider}/{model}", run.status, run.error_text,
                                  total, len(failed), ordered))
    return out


def reasons_text(r: JobRunFailures | None, error_text: str | None) -> str:
    """A job run's error with its failures by kind (the report's "Run error" cell)."""
    kinds = "; ".join(f"{k.kind} {k.count} (e.g. {k.example_utt}: {k.example})" for k in (r.kinds if r else []))
    return " — ".join(t for t in (error_text, kinds) if t)


def failure_lines(summary: list[JobRunFailures]) -> list[str]:
    lines = []
    for r in summary:
        head = f"job run {r.job_run_id} ({r.system}) {r.status}"
        lines.append(f"{head}: {r.error_text}" if r.error_text else f"{head}: {r.failed} of {r.total} items failed")
        width = max((len(k.kind) for k in r.kinds), default=0)
        for k in r.kinds:  # a fatal reply's message is the job run's own line: not printed twice
            example = "(the message above)" if r.error_text and k.example == clip(r.error_text, EXAMPLE_CHARS) else k.example
            lines.append(f"  {k.kind:<{width}}  {k.count:>5}  e.g. {k.example_utt}: {example}")
    return lines


def print_failures(session: Session, benchmark_id: int, console: Console) -> list[JobRunFailures]:
    """The failure summary printed after the leaderboard (nothing when nothing failed)."""
    summary = failure_summary(session, benchmark_id)
    if summary:
        console.print("failures by kind (one example each; `report` lists every one):", highlight=False)
        for line in failure_lines(summary):
            console.print(line, markup=False, highlight=False, soft_wrap=True)
    return summary
