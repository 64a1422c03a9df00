"""`spectragram-bench list`: benchmarks and their job runs with status."""

from __future__ import annotations

from spectragram_bench.app import add_db_option


def add_parser(sub):
    p = sub.add_parser("list", help="list benchmarks and job runs")
    p.add_argument("--limit", type=int, default=20, help="newest N benchmarks")
    add_db_option(p)
    return p


def run(args) -> int:
    from rich.table import Table
    from sqlalchemy import func, select

    from spectragram_bench.core.liveness import shown_status
    from spectragram_bench.core.models import Benchmark, JobRun, Prediction
    from spectragram_bench.core.persistence import open_database, resolve_db_url
    from spectragram_bench.reporting.summary import wide_console
    db = open_database(resolve_db_url(args.db, None))
    table = Table(title=f"benchmarks in {db.location}")
    for col in ("benchmark", "created", "name", "job run", "system", "status", "ok", "failed", "ended", "eval"):
        table.add_column(col)
    with db.session() as s:
        benches = s.execute(select(Benchmark).order_by(Benchmark.benchmark_id.desc()).limit(args.limit)).scalars()
        for b in benches:
            runs = s.execute(select(JobRun).where(JobRun.benchmark_id == b.benchmark_id).order_by(JobRun.job_run_id)).scalars().all()
            # keyed in Python: SQL concat() is missing from SQLite before 3.44
            counts = {
                f"{jr_id}:{status}": n
                for jr_id, status, n in s.execute(
                    select(Prediction.job_run_id, Prediction.status, func.count())
                    .where(Prediction.job_run_id.in_([r.job_run_id for r in runs]))
                    .group_by(Prediction.job_run_id, Prediction.status)
                )
            }
            if not runs:
                table.add_row(str(b.benchmark_id), f"{b.created_at:%Y-%m-%d %H:%M}", b.name or "", "", "", "", "", "", "", "")
            for i, r in enumerate(runs):
                table.add_row(
                    str(b.benchmark_id) if i == 0 else "",
                    f"{b.created_at:%Y-%m-%d %H:%M}" if i == 0 else "",
                    (b.name or "") if i == 0 else "",
                    str(r.job_run_id), r.label or "", shown_status(r.status, r.heartbeat_at, r.started_at),
                    str(counts.get(f"{r.job_run_id}:ok", 0)), str(counts.get(f"{r.job_run_id}:failed", 0)),
                    f"{r.ended_at:%H:%M:%S}" if r.ended_at else "", r.eval_version or "",
                )
    wide_console().print(table)
    print("details: spectragram-bench report BENCHMARK_ID (HTML report and leaderboard)")
    db.dispose()
    return 0
