"""`spectragram-bench report BENCHMARK_ID`: the leaderboard in the terminal and the HTML report."""

from __future__ import annotations

import shlex

from spectragram_bench.app import add_db_option


def add_parser(sub):
    p = sub.add_parser("report", help="write a benchmark's self-contained HTML report and print its leaderboard")
    p.add_argument("benchmark_id", type=int, metavar="BENCHMARK_ID")
    p.add_argument(
        "--out", metavar="FILE.html", default=None,
        help="where to write the report (default: DB-benchmark-ID-report.html beside the SQLite file DB.db, else in ./runs/); audio links are relative to it",
    )
    p.add_argument("--eval-version", default=None, metavar="VERSION", help="which evaluation (see `report`'s 'also evaluated' lines); default: each job run's latest")
    p.add_argument("--wide", action="store_true", help="every leaderboard column, whatever the terminal width")
    p.add_argument("--variant-audio", action="store_true",
                   help="write each degraded utterance (noise, telephony, speed) as the model heard it beside the report, and link it")
    add_db_option(p)
    return p


def run(args) -> int:
    from spectragram_bench.core.persistence import open_database, resolve_db_url
    from spectragram_bench.reporting.html import write_report
    from spectragram_bench.reporting.leaderboard import print_leaderboard
    from spectragram_bench.reporting.partial import unfinished_lines
    db = open_database(resolve_db_url(args.db, None))
    try:
        path = write_report(db, args.benchmark_id, args.out, args.eval_version, variant_audio=args.variant_audio)
        with db.session() as s:
            print_leaderboard(s, args.benchmark_id, wide=args.wide, eval_version=args.eval_version)
            hint = shlex.join(["spectragram-bench", "run", "--resume", str(args.benchmark_id), *(["--db", args.db] if args.db else [])])
            for line in unfinished_lines(s, args.benchmark_id, hint):
                print(line)
        print(f"report: {path.resolve()}")
        return 0
    finally:
        db.dispose()
