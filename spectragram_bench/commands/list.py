"""`spectragram-bench list`: benchmarks and their job runs with status."""

from __future__ import annotations

from spectragram_bench.app import add_db_option


def add_parser(sub):
    p = sub.add_parser("list", help="list benchmarks and job runs")
    p.add_argument("--limit", type=int, default=20, help="newest N benchmarks")
    p.add_argument("--wide", action="store_true", help="a table whatever the terminal width")
    add_db_option(p)
    return p


COLUMNS = ("benchmark", "created", "name", "job run", "system", "status", "ok", "failed", "ended", "eval")


def run(args) -> int:
    from rich.table import Table

    from spectragram_bench.core.persistence import open_database, resolve_db_url
    from spectragram_bench.reporting.summary import wide_console
    db = open_database(resolve_db_url(args.db, None))
    try:
        benches = listed_benchmarks(db, args.limit)
    finally:
        db.dispose()
    title = f"benchmarks in {db.location}"
    table = Table(title=title)
    for col in COLUMNS:
        table.add_column(col, no_wrap=True)
    for bench, runs in benches:
        for i, r in enumerate(runs or [dict.fromkeys(COLUMNS[3:], "")]):
            table.add_row(*(bench[c] if i == 0 else "" for c in COLUMNS[:3]), *(r[c] for c in COLUMNS[3:]))
    console = wide_console()
    if args.wide or natural_width(benches) <= console.width:
        console.print(table)
    else:  # never a truncated name: one block per benchmark, one line per job run
        console.print(title, style="bold", highlight=False)
        for bench, runs in benches:
            console.print(f"benchmark {bench['benchmark']}  {bench['name']}  created {bench['created']}",
                          style="bold", highlight=False, soft_wrap=True)
            for r in runs:
                console.print(f"  job run {r['job run']}  {r['system']}  {r['status']}  ok {r['ok']}  failed "
                              f"{r['failed']}  ended {r['ended'] or '-'}  eval {r['eval'] or '-'}",
                              highlight=False, soft_wrap=True)
    print("details: spectragram-bench report BENCHMARK_ID (HTML report and leaderboard)")
    return 0


def natural_width(benches: list[tuple[dict, list[dict]]]) -> int:
    """The table's width with no cell cut: each column's widest cell, plus padding and borders."""
    cells = {c: [len(c)] for c in COLUMNS}
    for bench, runs in benches:
        for c in COLUMNS[:3]:
            cells[c].append(len(bench[c]))
        for r in runs:
            for c in COLUMNS[3:]:
                cells[c].append(len(r[c]))
    return sum(max(v) + 3 for v in cells.values()) + 1


def listed_benchmarks(db, limit: int) -> list[tuple[dict, list[dict]]]:
    """The newest `limit` benchmarks, each with its job runs' rows (all cells as text)."""
    from sqlalchemy import func, select

    from spectragram_bench.core.liveness import shown_status
    from spectragram_bench.core.models import Benchmark, JobRun, Prediction
    out = []
    with db.session() as s:
        benches = s.execute(select(Benchmark).order_by(Benchmark.benchmark_id.desc()).limit(limit)).scalars()
        for b in benches:
            runs = s.execute(select(JobRun).where(JobRun.benchmark_id == b.benchmark_id).order_by(JobRun.job_run_id)).scalars().all()
            # keyed in Python: SQL concat() is missing from SQLite before 3.44
            counts = {
                (jr_id, status): n
                for jr_id, status, n in s.execute(
                    select(Prediction.job_run_id, Prediction.status, func.count())
                    .where(Prediction.job_run_id.in_([r.job_run_id for r in runs]))
                    .group_by(Prediction.job_run_id, Prediction.status)
                )
            }
            bench = {"benchmark": str(b.benchmark_id), "created": f"{b.created_at:%Y-%m-%d %H:%M}", "name": b.name or ""}
            out.append((bench, [{
                "job run": str(r.job_run_id), "system": r.label or "",
                "status": shown_status(r.status, r.heartbeat_at, r.started_at),
                "ok": str(counts.get((r.job_run_id, "ok"), 0)), "failed": str(counts.get((r.job_run_id, "failed"), 0)),
                "ended": f"{r.ended_at:%H:%M:%S}" if r.ended_at else "", "eval": r.eval_version or "",
            } for r in runs]))
    return out
