"""`spectragram-bench import BENCHMARK_ID --system NAME --hyp FILE`: predictions made elsewhere as a job run.

FILE: an Open ASR Leaderboard JSON-lines manifest (`pred_text`), sclite trn or Kaldi text,
with the benchmark's utterance ids (evaluations/importing.py). The new job run is evaluated like
the others, so `report` and `compare` show it beside them.
"""

from __future__ import annotations

from pathlib import Path

from spectragram_bench.app import add_db_option
from spectragram_bench.evaluations.transcripts import FORMATS


def add_parser(sub):
    p = sub.add_parser("import", help="store predictions made elsewhere (JSONL manifest, trn, Kaldi text) as a job run")
    p.add_argument("benchmark_id", type=int, metavar="BENCHMARK_ID", help="the benchmark whose utterances they transcribe")
    p.add_argument("--system", required=True, metavar="PROVIDER/MODEL", help="the name the job run is shown under")
    p.add_argument("--hyp", required=True, metavar="FILE", help="the predictions, keyed by utterance id")
    p.add_argument("--format", choices=FORMATS, default=None, help="default: by file extension")
    p.add_argument("--dataset", default=None, metavar="NAME", help="only this dataset's utterances (when ids repeat)")
    add_db_option(p)
    return p


def run(args) -> int:
    from spectragram_bench.core.persistence import open_database, resolve_db_url
    from spectragram_bench.evaluations.importing import import_predictions
    from spectragram_bench.evaluations.transcripts import read_transcripts

    transcripts = read_transcripts(args.hyp, args.format, hypothesis=True)
    db = open_database(resolve_db_url(args.db, None))
    try:
        with db.transaction() as s:
            out = import_predictions(s, args.benchmark_id, args.system, transcripts, Path(args.hyp), args.dataset)
        print(f"imported {out.matched} prediction(s) as job run {out.job_run_id} ({args.system}) of benchmark "
              f"{args.benchmark_id}, evaluated under {out.eval_version}"
              + (f"; {out.missing} utterance(s) without a line in {args.hyp} recorded as failed" if out.missing else ""))
        return 0
    finally:
        db.dispose()
