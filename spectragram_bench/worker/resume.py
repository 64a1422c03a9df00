"""Resume: the config a resume runs with (checked against what was stored), and the job runs
of a benchmark reopened with the work they have left."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from spectragram_bench.core.config import JobConfig, ProviderConfig, parse_config
from spectragram_bench.core.errors import BenchError, ConfigError
from spectragram_bench.core.liveness import shown_status, stale_age
from spectragram_bench.core.models import Benchmark, JobRun
from spectragram_bench.core.persistence import Database
from spectragram_bench.core.redaction import REDACTED, redact
from spectragram_bench.core.statuses import FINAL_STATUSES, JobRunStatus, WorkItemState
from spectragram_bench.worker import job_run_status, leases
from spectragram_bench.worker.job_runs import DEFAULT_GRACE_S, BenchmarkOutcome, closer, execute
from spectragram_bench.worker.preflight import check_names
from spectragram_bench.worker.registration import VariantResolver, build_providers, normalizer_for

log = logging.getLogger(__name__)



# --- resume ----------------------------------------------------------------------------------


def redacted_paths(value: Any, path: str = "$") -> list[str]:
    if value == REDACTED or (isinstance(value, str) and "***" in value and "@" in value):
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in redacted_paths(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in redacted_paths(v, f"{path}[{i}]")]
    return []


WORK_IDENTITY_PROVIDER_KEYS = ("name", "model", "label", "mode", "params")


def work_identity(stored: dict[str, Any]) -> dict[str, Any]:
    """What decides which requests a benchmark makes; everything else (concurrency, limits,
    timeouts, base_url, the database) may change between a run and its resume."""
    return {
        "providers": [
            # chunking cuts long recordings into other requests; a config stored before it existed had none
            {**{k: p.get(k) for k in WORK_IDENTITY_PROVIDER_KEYS}, "chunking": p.get("chunking") or {"max_s": None}}
            for p in stored.get("providers", [])
        ],
        "datasets": stored.get("datasets"),
        "selection_seed": stored.get("selection_seed"),
        "selection": stored.get("selection"),
    }


def _differences(a: Any, b: Any, path: str = "$") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in _differences(a.get(k), b.get(k), f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in _differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} was stored, {b!r} given"]


def config_for_resume(db: Database, benchmark_id: int, given: JobConfig | None) -> JobConfig:
    """The job config a resume runs with.

    Without --config it is rebuilt from the benchmark's stored config (keys always come from
    the environment, so nothing is missing unless a secret had to be redacted from params or a
    URL; then --config is required). With --config, what decides the requests (providers'
    identity, datasets, selection) must match what was stored; concurrency, rate limits,
    timeouts and base_url may differ and the new values apply.
    """
    with db.session() as s:
        bench = s.get(Benchmark, benchmark_id)
        if bench is None:
            raise BenchError(f"no benchmark {benchmark_id} in {db.location}")
        stored = dict(bench.config_json)
    if given is None:
        redacted = redacted_paths({k: v for k, v in stored.items() if k != "database_url"})
        if redacted:
            raise ConfigError(
                f"benchmark {benchmark_id}'s stored config has redacted secrets at {', '.join(redacted)}; "
                "pass the job file with --config"
            )
        return parse_config({k: v for k, v in stored.items() if k != "selection"}, f"benchmark {benchmark_id} config")
    given_stored = redact(given.model_dump(mode="json"))
    given_stored["selection"] = stored.get("selection")
    diffs = _differences(work_identity(stored), work_identity(given_stored))
    if diffs:
        raise ConfigError(f"the job file does not match benchmark {benchmark_id}: " + "; ".join(diffs[:5]))
    return given


def reopen_benchmark(db: Database, benchmark_id: int, config: JobConfig) -> list[tuple[int, ProviderConfig]]:
    """Job runs of the benchmark with work left, made runnable again, with their provider config.

    A job run whose items are all done but which was never closed (its process died between
    the last commit and the evaluation) is evaluated and closed here, without any request.
    """
    by_label = {pc.display: pc for pc in config.providers}
    out, to_close = [], []
    with db.transaction() as s:
        runs = s.execute(select(JobRun).where(JobRun.benchmark_id == benchmark_id).order_by(JobRun.job_run_id)).scalars().all()
        for run in runs:
            if run.label not in by_label:
                raise ConfigError(f"job run {run.job_run_id} ({run.label}) has no provider with that label in the config")
            stale = stale_age(run.status, run.heartbeat_at, run.started_at)
            if stale is not None:  # its processes are gone, wherever they ran: their leases are void
                taken = leases.take_over(s, run.job_run_id)
                log.warning("job run %d (%s) is %s: taking it over (%d leased items released)",
                            run.job_run_id, run.label, shown_status(run.status, run.heartbeat_at, run.started_at), taken)
            elif run.status == JobRunStatus.RUNNING and not _all_leases_dead(s, run.job_run_id):
                log.warning("job run %d (%s) is running elsewhere; this process joins it", run.job_run_id, run.label)
            was_final = run.status in FINAL_STATUSES
            if job_run_status.reopen(s, run.job_run_id):
                out.append((run.job_run_id, by_label[run.label]))
            elif not was_final:
                to_close.append((run.job_run_id, by_label[run.label]))
    normalizer = normalizer_for(config)
    for job_run_id, pc in to_close:
        status = job_run_status.finalize(db, job_run_id, evaluate=closer(normalizer, pc))
        log.info("job run %d had no work left: %s, evaluated", job_run_id, status)
    return out


def _all_leases_dead(session: Session, job_run_id: int) -> bool:
    from spectragram_bench.core.models import WorkItemRow

    owners = session.execute(
        select(WorkItemRow.lease_owner).where(WorkItemRow.job_run_id == job_run_id, WorkItemRow.state == WorkItemState.LEASED).distinct()
    ).scalars().all()
    return all(leases.owner_dead_here(o) for o in owners if o)



def resume_benchmark(
    db: Database, benchmark_id: int, config: JobConfig | None = None, *, progress: str = "log",
    grace_s: float = DEFAULT_GRACE_S, reuse: bool = False,
) -> BenchmarkOutcome:
    """Continue a benchmark: items with a prediction are skipped, failed items retried
    (`reuse`: from matching earlier predictions where there are some, as reuse_predictions)."""
    config = config_for_resume(db, benchmark_id, config)
    if reuse:
        config = config.model_copy(update={"reuse_predictions": True})
    check_names(config)
    leases.reclaim_dead_leases(db)
    open_runs = reopen_benchmark(db, benchmark_id, config)
    providers = {pc.display: p for pc, p in zip(config.providers, build_providers(config), strict=True)}
    if not open_runs:
        log.info("benchmark %d: nothing left to do", benchmark_id)
    runs = [(jr, providers[pc.display]) for jr, pc in open_runs]
    return execute(db, benchmark_id, runs, config, VariantResolver(db, config), progress=progress, grace_s=grace_s)


