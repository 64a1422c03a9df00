"""Throughput: a fake provider answering in 200 ms, at concurrency 64, end to end through the
harness; ideal = 64 / 0.2 s = 320 utterances/s. The sequential baseline (one request at a time)
is measured in the same run.

    python bench/bench_throughput.py            # 3,200 utterances (10 s ideal)
    python bench/bench_throughput.py --smoke    # 320 utterances (CI)
"""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import machine, make_corpus, parser, timed_run  # noqa: E402

LATENCY_MS = 200.0


def run_once(corpus: Path, n: int, concurrency: int, workdir: Path, db_kind: str) -> tuple[float, float]:
    """(utt/s over the job run's execution, utt/s end to end including planning and evaluation)."""
    provider = {"name": "mock", "concurrency": concurrency, "params": {"latency_ms": LATENCY_MS}}
    wall, exec_s = timed_run(corpus, [provider], "throughput", n, db_kind, workdir)
    return n / exec_s, n / wall


def main() -> int:
    p = parser(__doc__)
    p.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    concurrency = 64
    n = 320 if args.smoke else 3200
    n_seq = 10 if args.smoke else 25
    ideal = concurrency / (LATENCY_MS / 1000)
    corpus = make_corpus(n)
    workdir = Path(tempfile.mkdtemp(prefix="spectragram-throughput-"))
    print(f"throughput, mock provider answering in {LATENCY_MS:g} ms, {args.db}; {machine()}")
    seq_exec, seq_e2e = run_once(corpus, n_seq, 1, workdir, args.db)
    con_exec, con_e2e = run_once(corpus, n, concurrency, workdir, args.db)
    print(f"sequential (c=1):   {n_seq:>5} utt  {seq_exec:7.1f} utt/s  (ideal {1000 / LATENCY_MS:.1f}, ratio {seq_exec / (1000 / LATENCY_MS):.3f})")
    print(f"concurrent (c={concurrency}): {n:>5} utt  {con_exec:7.1f} utt/s  (ideal {ideal:.0f}, achieved/ideal {con_exec / ideal:.3f}, target >= 0.9)")
    print(f"end to end incl. planning, database set-up and evaluation: {con_e2e:.1f} utt/s ({con_e2e / ideal:.3f} of ideal)")
    print(f"speed-up over the sequential baseline: {con_exec / seq_exec:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
