"""`spectragram-bench enqueue --config JOB.json --db URL`: write a benchmark's work items for
`spectragram-bench worker` processes (on any number of machines) to run."""

from __future__ import annotations

from spectragram_bench.app import add_db_option
from spectragram_bench.core.errors import ConfigError


def add_parser(sub):
    p = sub.add_parser("enqueue", help="queue a benchmark for worker processes (PostgreSQL for several machines)")
    p.add_argument("--config", metavar="JOB.json", help="job file (optional with --resume)")
    p.add_argument("--max-utt", type=int, default=None, metavar="N", help="utterances per job run (seeded selection)")
    p.add_argument("--max-per-subset", type=int, default=None, metavar="N", help="utterances per dataset subset")
    p.add_argument("--notes", default=None, help="free text stored with the benchmark")
    p.add_argument("--resume", type=int, default=None, metavar="BENCHMARK_ID", help="queue the unfinished work of a benchmark again")
    add_db_option(p)
    return p


def run(args) -> int:
    from spectragram_bench.commands.run import positive
    from spectragram_bench.core.config import load_config
    from spectragram_bench.core.persistence import open_database, resolve_db_url
    from spectragram_bench.worker.resume import config_for_resume, reopen_benchmark
    from spectragram_bench.worker.worker_loop import enqueue_benchmark
    max_utt = positive("--max-utt", args.max_utt)
    max_per_subset = positive("--max-per-subset", args.max_per_subset)
    if args.config is None and args.resume is None:
        raise ConfigError("enqueue needs --config JOB.json (or --resume BENCHMARK_ID)")
    config = load_config(args.config) if args.config else None
    db = open_database(resolve_db_url(args.db, config.database_url if config else None))
    try:
        if args.resume is not None:
            config = config_for_resume(db, args.resume, config)
            runs = reopen_benchmark(db, args.resume, config)
            print(f"benchmark {args.resume}: {len(runs)} job run(s) with work left queued again in {db.display_url}")
            benchmark_id = args.resume
        else:
            benchmark_id, job_run_ids, n_items = enqueue_benchmark(
                config, db, max_utt=max_utt, max_per_subset=max_per_subset, notes=args.notes
            )
            print(
                f"benchmark {benchmark_id} enqueued: {len(job_run_ids)} job run(s) x {n_items} work items "
                f"(job runs {', '.join(map(str, job_run_ids))}) in {db.display_url}"
            )
        if db.dialect != "postgresql":
            print("note: SQLite serves workers on this machine only; use PostgreSQL to spread work over machines")
        print(f"start workers with: spectragram-bench worker --db '{db.display_url}'  (benchmark {benchmark_id})")
        return 0
    finally:
        db.dispose()
