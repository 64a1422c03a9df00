"""Harness overhead: the 0 ms mock provider end to end (dataset -> plan -> database -> executor
-> single writer -> evaluation) into SQLite and PostgreSQL, against a sequential baseline
(one request at a time, as most peer harnesses run) measured in the same run.

    python bench/bench_overhead.py            # 5,000 utterances
    python bench/bench_overhead.py --smoke    # 300 utterances (CI)

Each case runs --repeat times (default 3) and the median run is reported.
"""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import machine, make_corpus, parser, timed_run  # noqa: E402

TARGET_UTT_S = 1000.0


def run_once(corpus: Path, db_kind: str, n: int, concurrency: int, workdir: Path) -> dict:
    wall, exec_s = timed_run(corpus, [{"name": "mock", "concurrency": concurrency}], "overhead", n, db_kind, workdir)
    return {"wall_s": wall, "exec_s": exec_s, "n": n}


def main() -> int:
    p = parser(__doc__)
    p.add_argument("--repeat", type=int, default=3, help="runs per case; the median is reported (default 3)")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    n = 300 if args.smoke else 5000
    n_seq = 100 if args.smoke else 1000
    corpus = make_corpus(n)
    workdir = Path(tempfile.mkdtemp(prefix="spectragram-overhead-"))
    print(f"harness overhead, 0 ms mock provider, median of {args.repeat} runs; {machine()}")
    print(f"{'database':<11}{'mode':<14}{'utterances':>11}{'end-to-end s':>14}{'utt/s e2e':>11}{'exec utt/s':>12}{'vs target':>11}")
    for db_kind in ("sqlite", "postgresql"):
        results = {}
        for mode, conc, count in (("sequential", 1, n_seq), ("concurrent", 64, n)):
            runs = sorted((run_once(corpus, db_kind, count, conc, workdir) for _ in range(args.repeat)), key=lambda r: r["wall_s"])
            r = runs[len(runs) // 2]  # the median run: a shared machine's noise goes both ways
            results[mode] = r
            rate = r["n"] / r["wall_s"]
            print(
                f"{db_kind:<11}{mode + f' (c={conc})':<14}{r['n']:>11}{r['wall_s']:>14.2f}{rate:>11.0f}"
                f"{r['n'] / r['exec_s']:>12.0f}{rate / TARGET_UTT_S:>10.2f}x"
            )
        speedup = (results["concurrent"]["n"] / results["concurrent"]["wall_s"]) / (
            results["sequential"]["n"] / results["sequential"]["wall_s"]
        )
        print(f"{db_kind:<11}speed-up of concurrent over sequential, end to end: {speedup:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
