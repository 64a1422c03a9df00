"""Blocking engines: PocketSphinx over the bundled demo corpus (40 utterances, concurrency 2)
in a thread pool and in a process pool. Decoding holds the GIL, so threads do not run in
parallel; processes do (each builds its own decoder).

    python bench/bench_engine_pool.py            # each pool twice, alternating
    python bench/bench_engine_pool.py --smoke    # 6 utterances, once each (CI)
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPO))

from common import machine, parser  # noqa: E402

from spectragram_bench.core.config import ProviderConfig  # noqa: E402
from spectragram_bench.core.records import WorkItem  # noqa: E402
from spectragram_bench.providers.pocketsphinx_provider import PocketSphinxProvider  # noqa: E402
from spectragram_bench.worker.exec_infer import Executor, RetryPolicy  # noqa: E402

DEMO = REPO / "data" / "demo_librispeech" / "LibriSpeech" / "demo-clean"


def demo_items() -> list[WorkItem]:
    items = []
    for trans in sorted(DEMO.glob("*/*/*.trans.txt")):
        for line in trans.read_text().splitlines():
            ext, _, ref = line.partition(" ")
            items.append(WorkItem(1, len(items) + 1, ext, str(trans.parent / f"{ext}.flac"), None, ref))
    return items


def run(pool: str, items: list[WorkItem]) -> float:
    PocketSphinxProvider.executor_pool = pool
    results = []

    async def go() -> None:
        ex = Executor(PocketSphinxProvider(ProviderConfig(name="pocketsphinx")), results.append,
                      concurrency=2, timeout_s=600, retry=RetryPolicy())
        try:
            await ex.run(items)
        finally:
            ex.close()

    t0 = time.perf_counter()
    asyncio.run(go())
    assert len(results) == len(items) and all(r.ok for r in results)
    return time.perf_counter() - t0


def main() -> int:
    args = parser(__doc__).parse_args()
    items = demo_items()[: 6 if args.smoke else None]
    rounds = 1 if args.smoke else 2
    print(f"PocketSphinx, {len(items)} utterances, concurrency 2, wall time incl. pool start-up; {machine()}")
    times: dict[str, list[float]] = {"thread": [], "process": []}
    for _ in range(rounds):
        for pool in ("thread", "process"):
            times[pool].append(run(pool, items))
    for pool, ts in times.items():
        print(f"{pool:>8} pool: {', '.join(f'{t:.1f} s' for t in ts)}")
    print(f"speed-up of the process pool: {min(times['thread']) / min(times['process']):.2f}x (best runs)")
    return 0


if __name__ == "__main__":  # required: the process pool spawns interpreters that import this file
    raise SystemExit(main())
