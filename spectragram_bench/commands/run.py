"""`spectragram-bench run --config JOB.json`: run a benchmark and print its summary."""

from __future__ import annotations

import sys

from spectragram_bench.app import add_db_option
from spectragram_bench.core.config import load_config
from spectragram_bench.core.persistence import open_database, resolve_db_url
from spectragram_bench.reporting.summary import print_summary
from spectragram_bench.worker.runner import run_benchmark


def add_parser(sub):
    p = sub.add_parser("run", help="run a benchmark job")
    p.add_argument("--config", required=True, metavar="JOB.json", help="job file")
    p.add_argument("--max-utt", type=int, default=None, metavar="N", help="utterances per job run (seeded selection)")
    p.add_argument("--max-per-subset", type=int, default=None, metavar="N", help="utterances per dataset subset")
    p.add_argument("--notes", default=None, help="free text stored with the benchmark")
    p.add_argument("--report", default=None, metavar="FILE.html", help="where to write the HTML report (default: benchmark-ID-report.html beside the SQLite file, else in ./runs/)")
    p.add_argument("--no-report", action="store_true", help="do not write the HTML report at the end")
    add_db_option(p)
    return p


def positive(name: str, value: int | None) -> int | None:
    from spectragram_bench.core.errors import ConfigError

    if value is not None and value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value}")
    return value


def write_run_report(db, benchmark_id: int, out: str | None) -> None:
    """The HTML report after a run; a report that cannot be written costs no result (all are stored)."""
    from spectragram_bench.core.errors import BenchError
    from spectragram_bench.reporting.html import write_report

    try:
        path = write_report(db, benchmark_id, out)
    except BenchError as exc:
        print(f"report not written: {exc} (retry with `spectragram-bench report {benchmark_id}`)", file=sys.stderr)
        return
    print(f"report: {path.resolve()}")


def run(args) -> int:
    max_utt = positive("--max-utt", args.max_utt)
    max_per_subset = positive("--max-per-subset", args.max_per_subset)
    config = load_config(args.config)
    db = open_database(resolve_db_url(args.db, config.database_url))
    try:
        outcome = run_benchmark(config, db, max_utt=max_utt, max_per_subset=max_per_subset, notes=args.notes)
        print_summary(db, outcome.benchmark_id)
        for jr in outcome.job_runs:
            if jr.error_text:
                print(f"job run {jr.job_run_id} ({jr.label}) {jr.status}: {jr.error_text}", file=sys.stderr)
        if outcome.interrupted:
            print(f"interrupted: benchmark {outcome.benchmark_id} is incomplete", file=sys.stderr)
        if not args.no_report:
            write_run_report(db, outcome.benchmark_id, args.report)
        print(f"database: {db.location}  (benchmark {outcome.benchmark_id})")
        return outcome.exit_code
    finally:
        db.dispose()
