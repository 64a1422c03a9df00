"""`spectragram-bench evaluate BENCHMARK_ID`: re-score stored predictions, no provider call.

With another normaliser (or `--failures-as-empty`) the numbers go under a new eval version
(`v2+<name>@<version>...`, evaluations/plan.py) beside the earlier ones, whose rows stay as they
were. The job runs' current eval version becomes the new one, so `report` shows it first and
lists the others ("also evaluated"); `--eval-version` picks any of them.
"""

from __future__ import annotations

from spectragram_bench.app import add_db_option
from spectragram_bench.core.errors import BenchError


def add_parser(sub):
    p = sub.add_parser("evaluate", help="re-score a benchmark's stored predictions (e.g. with another normaliser)")
    p.add_argument("benchmark_id", type=int, metavar="BENCHMARK_ID")
    p.add_argument("--normalizer", default=None, metavar="NAME",
                   help="registered normaliser (whisper_english, whisper_basic, librispeech, basic, none); "
                   "default: the benchmark's own")
    p.add_argument("--normalizer-steps", default=None, metavar="STEP,STEP,...",
                   help="compose the normaliser from these steps instead (see core/normalize.py STEPS)")
    p.add_argument("--failures-as-empty", action="store_true",
                   help="score failed predictions as empty transcripts (Kaldi --mode all), as its own eval version")
    p.add_argument("--wide", action="store_true", help="every leaderboard column, whatever the terminal width")
    add_db_option(p)
    return p


def run(args) -> int:
    from sqlalchemy import select

    from spectragram_bench.core.models import Benchmark, JobRun, Prediction
    from spectragram_bench.core.normalize import resolve
    from spectragram_bench.core.persistence import open_database, resolve_db_url
    from spectragram_bench.evaluations.v1.pipeline import evaluate_job_run, evaluation_config
    from spectragram_bench.reporting.leaderboard import print_summary
    db = open_database(resolve_db_url(args.db, None))
    try:
        with db.transaction() as s:
            bench = s.get(Benchmark, args.benchmark_id)
            if bench is None:
                raise BenchError(f"benchmark {args.benchmark_id} not found in {db.location}")
            job_runs = s.execute(
                select(JobRun.job_run_id).where(JobRun.benchmark_id == bench.benchmark_id).order_by(JobRun.job_run_id)
            ).scalars().all()
            evaluated = []
            for job_run_id in job_runs:
                if s.execute(select(Prediction.prediction_id).where(Prediction.job_run_id == job_run_id).limit(1)).first() is None:
                    continue
                config = evaluation_config(s, job_run_id)
                steps = args.normalizer_steps.split(",") if args.normalizer_steps else None
                if args.normalizer is None and steps is None:
                    normalizer = resolve(config.normalizer, config.normalizer_steps)
                else:
                    normalizer = resolve(args.normalizer or config.normalizer, steps)
                evaluated.append(evaluate_job_run(s, job_run_id, normalizer, evaluation=config,
                                                  failures_as_empty=args.failures_as_empty or None))
        print_summary(db, args.benchmark_id, wide=args.wide)
        if not evaluated:
            print(f"benchmark {args.benchmark_id} has no predictions to evaluate")
            return 1
        print(f"evaluated {len(evaluated)} job run(s) under {', '.join(sorted(set(evaluated)))}  (database: {db.location})")
        return 0
    finally:
        db.dispose()
