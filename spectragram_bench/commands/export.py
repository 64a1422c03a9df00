"""`spectragram-bench export BENCHMARK_ID --format csv|parquet|json --out DIR`: the benchmark's rows as files."""

from __future__ import annotations

from spectragram_bench.app import add_db_option
from spectragram_bench.core.defaults import EXPORT_FORMATS


def add_parser(sub):
    p = sub.add_parser(
        "export", help="export predictions (with per-utterance errors), latency samples and summaries as files"
    )
    p.add_argument("benchmark_id", type=int, metavar="BENCHMARK_ID")
    p.add_argument("--format", choices=sorted(EXPORT_FORMATS), default="csv", help="file format (json = JSON Lines)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created; files in it are replaced)")
    p.add_argument("--eval-version", default=None, metavar="VERSION",
                   help="only this evaluation's rows (and its per-utterance scores); default: all, scores of the latest")
    add_db_option(p)
    return p


def run(args) -> int:
    from rich.table import Table

    from spectragram_bench.core.persistence import open_database, resolve_db_url
    from spectragram_bench.reporting.export import export_benchmark
    from spectragram_bench.reporting.summary import wide_console
    db = open_database(resolve_db_url(args.db, None))
    try:
        manifest = export_benchmark(db, args.benchmark_id, args.format, args.out, args.eval_version)
    finally:
        db.dispose()
    table = Table(title=f"benchmark {args.benchmark_id} exported as {args.format} to {args.out}")
    table.add_column("table")
    table.add_column("file")
    table.add_column("rows", justify="right")
    for name, t in manifest["tables"].items():
        table.add_row(name, t["file"], f"{t['rows']:,}")
    wide_console().print(table)
    return 0
