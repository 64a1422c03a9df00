"""`spectragram-bench run --config JOB.json`: run a benchmark and print its summary.

`--dry-run` prints the plan and exits without calling a provider or writing anything;
`--resume ID` continues benchmark ID (items with a prediction are never requested again).
"""

from __future__ import annotations

import shlex
import sys

from spectragram_bench.app import add_db_option
from spectragram_bench.core.defaults import DEFAULT_GRACE_S
from spectragram_bench.core.errors import ConfigError


def add_parser(sub):
    p = sub.add_parser("run", help="run a benchmark job (or resume one)")
    p.add_argument("--config", metavar="JOB.json", help="job file (optional with --resume)")
    p.add_argument("--max-utt", type=int, default=None, metavar="N", help="utterances per job run (seeded selection)")
    p.add_argument("--max-per-subset", type=int, default=None, metavar="N", help="utterances per dataset subset")
    p.add_argument("--notes", default=None, help="free text stored with the benchmark")
    p.add_argument("--report", default=None, metavar="FILE.html", help="where to write the HTML report (default: DB-benchmark-ID-report.html beside the SQLite file DB.db, else in ./runs/)")
    p.add_argument("--no-report", action="store_true", help="do not write the HTML report at the end")
    p.add_argument("--dry-run", action="store_true", help="print the plan (items, audio hours, cost, duration) and exit")
    p.add_argument("--resume", type=int, default=None, metavar="BENCHMARK_ID", help="continue an interrupted or partial benchmark")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.add_argument("--reuse", action="store_true",
                   help="reuse ok predictions in this database made from the same sent audio, provider, model, params "
                        "and adapter version (no request, no cost; as \"reuse_predictions\": true)")
    p.add_argument("--wide", action="store_true", help="every leaderboard column, whatever the terminal width")
    p.add_argument(
        "--grace-s", type=float, default=DEFAULT_GRACE_S, metavar="S",
        help=f"after a first Ctrl-C, how long in-flight requests may finish (default {DEFAULT_GRACE_S:g})",
    )
    add_db_option(p)
    return p


def positive(name: str, value: int | None) -> int | None:
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


def print_outcome(db, outcome, *, wide: bool) -> None:
    """The leaderboard (PARTIAL, over the done items, after an interruption), then why items
    failed, on stderr: a fatal job run's one line is an error message, not part of the results."""
    from spectragram_bench.reporting.failures import print_failures
    from spectragram_bench.reporting.leaderboard import print_summary
    from spectragram_bench.reporting.partial import print_partial_leaderboard
    from spectragram_bench.reporting.summary import wide_console

    console = wide_console()
    if outcome.interrupted:
        print_partial_leaderboard(db, outcome.benchmark_id, console, wide=wide)
    else:
        print_summary(db, outcome.benchmark_id, console=console, wide=wide)
    with db.session() as s:
        print_failures(s, outcome.benchmark_id, wide_console(stderr=True))


def resume_command(args, benchmark_id: int, db_display: str | None) -> str:
    parts = ["spectragram-bench", "run", "--resume", str(benchmark_id)]
    if args.config:
        parts += ["--config", args.config]
    if db_display:
        parts += ["--db", db_display]
    return shlex.join(parts)


def dry_run(args, config, max_utt: int | None, max_per_subset: int | None) -> int:
    """The real run's checks, all reported, nothing called or paid: every bad name (non-zero exit)
    and every input problem the run would record as a failure."""
    from spectragram_bench.core.persistence import resolve_db_url
    from spectragram_bench.worker.plan import build_plan, print_plan
    from spectragram_bench.worker.preflight import name_problems, problem_lines
    from spectragram_bench.worker.probes import dry_run_store

    problems = name_problems(config)
    if not any(p.startswith("$.datasets") for p in problems):  # the plan needs every dataset
        probes = dry_run_store(resolve_db_url(args.db, config.database_url))
        try:
            plan = build_plan(config, max_utt, max_per_subset, probes)
        finally:
            if probes is not None:
                probes.db.dispose()
        print_plan(plan)
        for line in problem_lines(plan):
            print(line)
    if problems:
        print(f"error: {len(problems)} problem(s) the run would stop on, before any request:", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 2
    return 0


def run(args) -> int:
    from spectragram_bench.core.config import load_config
    from spectragram_bench.core.persistence import open_database, resolve_db_url
    from spectragram_bench.worker.job_runs import run_benchmark
    from spectragram_bench.worker.progress import choose_mode
    from spectragram_bench.worker.resume import resume_benchmark
    max_utt = positive("--max-utt", args.max_utt)
    max_per_subset = positive("--max-per-subset", args.max_per_subset)
    if args.config is None and args.resume is None:
        raise ConfigError("run needs --config JOB.json (or --resume BENCHMARK_ID)")
    if args.resume is not None and (max_utt is not None or max_per_subset is not None):
        raise ConfigError("--max-utt/--max-per-subset cannot change on --resume: the benchmark keeps its selection")
    config = load_config(args.config) if args.config else None
    if config is not None and args.reuse:
        config = config.model_copy(update={"reuse_predictions": True})
    if args.dry_run and args.resume is None:
        return dry_run(args, config, max_utt, max_per_subset)
    db = open_database(resolve_db_url(args.db, config.database_url if config else None))
    try:
        if args.resume is not None:
            from spectragram_bench.worker.resume import config_for_resume

            if args.dry_run:
                from spectragram_bench.worker.plan import print_remaining

                print_remaining(db, args.resume, config_for_resume(db, args.resume, config))
                return 0
            outcome = resume_benchmark(db, args.resume, config, progress=choose_mode(args.quiet), grace_s=args.grace_s,
                                       reuse=args.reuse)
        else:
            outcome = run_benchmark(
                config, db, max_utt=max_utt, max_per_subset=max_per_subset, notes=args.notes,
                progress=choose_mode(args.quiet), grace_s=args.grace_s,
            )
        if outcome.database_error is not None:  # the database may still be away: no summary, no report
            hint = resume_command(args, outcome.benchmark_id, db.display_url if args.db else None)
            lost = (f"; {outcome.unsaved} finished results could not be stored and will be requested again"
                    if outcome.unsaved else "; every finished result is stored")
            print(f"interrupted: {outcome.database_error}{lost}; benchmark {outcome.benchmark_id} is incomplete; "
                  f"resume with: {hint}", file=sys.stderr)
            return outcome.exit_code
        print_outcome(db, outcome, wide=args.wide)
        if outcome.interrupted:
            hint = resume_command(args, outcome.benchmark_id, db.display_url if args.db else None)
            print(f"interrupted: benchmark {outcome.benchmark_id} is incomplete; resume with: {hint}", file=sys.stderr)
        if not args.no_report:
            write_run_report(db, outcome.benchmark_id, args.report)
        print(f"database: {db.location}  (benchmark {outcome.benchmark_id})")
        return outcome.exit_code
    finally:
        db.dispose()
