"""`spectragram-bench import [BENCHMARK_ID] --system NAME --hyp FILE ...`: predictions made elsewhere as job runs.

FILE: an Open ASR Leaderboard JSON-lines manifest (`pred_text`), sclite trn or Kaldi text, keyed
by utterance id (evaluations/importing.py). `--system`/`--hyp` pairs may repeat: one job run each.
With BENCHMARK_ID the predictions fill that benchmark's utterances. Without it a new benchmark is
created from `--refs` (a JSON-lines or CSV manifest, or trn / Kaldi text; default: the first
`--hyp` file when it is a manifest that also holds the reference `text`), evaluated with
`--normalizer` and `--metrics` (evaluations/import_benchmark.py). Every job run is evaluated like
a run's, so `report` and `compare` show them side by side.
"""

from __future__ import annotations

from pathlib import Path

from spectragram_bench.app import add_db_option
from spectragram_bench.evaluations.transcripts import FORMATS


def add_parser(sub):
    p = sub.add_parser("import", help="store predictions made elsewhere (JSONL manifest, trn, Kaldi text) as job runs, "
                                      "of an existing benchmark or of a new one made from a manifest")
    p.add_argument("benchmark_id", type=int, nargs="?", default=None, metavar="BENCHMARK_ID",
                   help="the benchmark whose utterances they transcribe; omit it to create a benchmark from --refs")
    p.add_argument("--system", required=True, action="append", metavar="PROVIDER/MODEL",
                   help="the name the job run is shown under (repeat, one per --hyp)")
    p.add_argument("--hyp", required=True, action="append", metavar="FILE",
                   help="the predictions, keyed by utterance id (repeat, one per --system)")
    p.add_argument("--format", choices=FORMATS, default=None, help="of the --hyp files; default: by file extension")
    p.add_argument("--dataset", default=None, metavar="NAME", help="only this dataset's utterances (when ids repeat)")
    new = p.add_argument_group("a new benchmark (no BENCHMARK_ID)")
    new.add_argument("--refs", default=None, metavar="FILE",
                     help="the references: a JSON-lines or CSV manifest, or trn / Kaldi text; "
                          "default: the first --hyp file, when it is a manifest holding `text` too")
    new.add_argument("--refs-format", choices=FORMATS, default=None, help="default: by file extension")
    new.add_argument("--name", default=None, help="the benchmark's name; default: the references' file name")
    new.add_argument("--normalizer", default="whisper_english", metavar="NAME", help="default: whisper_english")
    new.add_argument("--metrics", default=None, metavar="M,M", help="the metrics to compute; default: the built-in set")
    add_db_option(p)
    return p


def _evaluation(args):
    from pydantic import ValidationError

    from spectragram_bench.core.config import EvaluationConfig, format_validation_error

    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    try:
        return EvaluationConfig(normalizer=args.normalizer, metrics=metrics)
    except ValidationError as exc:
        from spectragram_bench.core.errors import ConfigError

        raise ConfigError(format_validation_error("import --normalizer/--metrics", exc)) from None


def run(args) -> int:
    from spectragram_bench.core.errors import BenchError
    from spectragram_bench.core.persistence import open_database, resolve_db_url
    from spectragram_bench.evaluations.importing import import_predictions
    from spectragram_bench.evaluations.transcripts import detect_format, read_transcripts

    if len(args.system) != len(args.hyp):
        raise BenchError(f"import: {len(args.system)} --system for {len(args.hyp)} --hyp; give one --system per --hyp file")
    if args.benchmark_id is not None and args.refs is not None:
        raise BenchError("import: --refs makes a new benchmark; leave out BENCHMARK_ID, or leave out --refs")
    files = [(system, Path(hyp), read_transcripts(hyp, args.format, hypothesis=True)) for system, hyp in zip(args.system, args.hyp, strict=True)]
    refs = Path(args.refs) if args.refs else Path(args.hyp[0])
    if args.benchmark_id is None and args.refs is None and (args.format or detect_format(refs)) != "jsonl":
        raise BenchError(f"import: no BENCHMARK_ID and no --refs; {refs} is not a JSON-lines manifest that could hold the references")
    evaluation = _evaluation(args) if args.benchmark_id is None else None
    db = open_database(resolve_db_url(args.db, None))
    try:
        with db.transaction() as s:
            known, bench_id = None, args.benchmark_id
            if bench_id is None:
                from spectragram_bench.evaluations.import_benchmark import create_benchmark

                made = create_benchmark(s, args.name or refs.stem, refs, args.refs_format, evaluation)
                bench_id, known = made.benchmark_id, made.utterances
                print(f"created benchmark {bench_id} ({args.name or refs.stem}) from {refs}: {len(known)} utterance(s)"
                      + (f"; {len(made.problems)} with an input problem, e.g. {made.problems[0]}" if made.problems else ""))
            for system, hyp, transcripts in files:
                out = import_predictions(s, bench_id, system, transcripts, hyp, args.dataset, known)
                print(f"imported {out.matched} prediction(s) as job run {out.job_run_id} ({system}) of benchmark "
                      f"{bench_id}, evaluated under {out.eval_version}"
                      + (f"; {out.missing} utterance(s) without a line in {hyp} recorded as failed" if out.missing else ""))
        if args.benchmark_id is None:
            print(f"next: spectragram-bench report {bench_id}   (database: {db.location})")
        return 0
    finally:
        db.dispose()
