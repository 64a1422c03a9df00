"""Rate limiter accuracy: achieved rate / configured rate (target 0.95..1.0).

1. the in-process pacer, 64 tasks competing, requests/min;
2. the same under an audio-seconds/min limit with utterances of 0.5..3 s;
3. end to end: the mock provider (0 ms) through the executor with a requests/min limit,
   request times taken where the provider is called;
4. the shared pacer on PostgreSQL, 3 processes x 16 tasks, one schedule in the database.

    python bench/bench_rate_limiter.py            # ~10 s per case
    python bench/bench_rate_limiter.py --smoke    # ~1 s per case (CI)
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from common import database, job, machine, make_corpus, parser  # noqa: E402

from spectragram_bench.core.config import RateLimit, parse_config  # noqa: E402
from spectragram_bench.core.persistence import open_database  # noqa: E402
from spectragram_bench.core.registry import PROVIDERS  # noqa: E402
from spectragram_bench.providers.mock_provider import MockProvider  # noqa: E402
from spectragram_bench.worker.limits import Pacer, SharedPacer  # noqa: E402

RPS = 100.0
AUDIO_PER_S = 60.0


def achieved(times: list[float], costs: list[float] | None = None) -> float:
    """The sustained rate: slope of a least-squares line through (start time, work paid for
    by the requests before it). Unlike count/(last - first) it is not moved by the scheduling
    jitter of the first or last request alone."""
    order = sorted(range(len(times)), key=times.__getitem__)
    t = np.array([times[i] for i in order])
    step = np.ones(len(t)) if costs is None else np.array([costs[i] for i in order])
    work = np.concatenate([[0.0], np.cumsum(step[:-1])])  # request k starts once k-1 were paid for
    return float(np.polyfit(t - t[0], work, 1)[0])


async def hammer(pacer: Pacer, n: int, tasks: int, durations: list[float] | None = None) -> tuple[list[float], list[float]]:
    times: list[float] = []
    costs: list[float] = []
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            d = durations[i] if durations else None
            await pacer.acquire(d)
            times.append(time.time())
            costs.append(d or 0.0)

    await asyncio.gather(*(worker() for _ in range(tasks)))
    return times, costs


class TimedMock(MockProvider):
    """The mock provider, noting when each request is made."""

    calls: list[float] = []

    async def transcribe(self, audio, item):
        TimedMock.calls.append(time.time())
        return await super().transcribe(audio, item)


def _shared_worker(url: str, job_run_id: int, n: int, tasks: int, out, ready, go) -> None:
    db = open_database(url, upgrade=False)
    pacer = SharedPacer(RateLimit(requests_per_minute=RPS * 60), db, job_run_id)
    with db.engine.connect():
        pass  # connect before the start line, like a worker already running
    ready.release()
    go.wait()  # all processes start together: a late starter would not be the limiter's doing
    times, _ = asyncio.run(hammer(pacer, n, tasks))
    db.dispose()
    out.put(times)


def shared_case(n: int, workdir: Path) -> tuple[float, int]:
    from spectragram_bench.worker.plan import build_plan
    from spectragram_bench.worker.registration import build_providers, materialise

    corpus = make_corpus(100)
    config = parse_config(job(corpus, [{"name": "mock", "rate_limit": {"requests_per_minute": RPS * 60}}]))
    with database("postgresql", workdir) as url:
        db = open_database(url)
        _bid, (jr,), _runtime = materialise(db, build_plan(config, 10), build_providers(config))
        db.dispose()
        ctx = multiprocessing.get_context("spawn")
        out, ready, go = ctx.Queue(), ctx.Semaphore(0), ctx.Event()
        procs = [ctx.Process(target=_shared_worker, args=(url, jr, n // 3, 16, out, ready, go)) for _ in range(3)]
        for p in procs:
            p.start()
        for _ in procs:
            ready.acquire()
        go.set()
        times = [t for _ in procs for t in out.get()]
        for p in procs:
            p.join()
    return achieved(times), len(times)


def executor_case(n: int, workdir: Path) -> float:
    from spectragram_bench.worker.job_runs import run_benchmark

    PROVIDERS.register("timed_mock", TimedMock)
    corpus = make_corpus(max(n, 100))
    TimedMock.calls = []
    provider = {"name": "timed_mock", "concurrency": 32, "rate_limit": {"requests_per_minute": RPS * 60}}
    config = parse_config(job(corpus, [provider], name="rate"))
    with database("sqlite", workdir) as url:
        db = open_database(url)
        run_benchmark(config, db, max_utt=n, progress="none")
        db.dispose()
    return achieved(TimedMock.calls)


def main() -> int:
    args = parser(__doc__).parse_args()
    logging.basicConfig(level=logging.WARNING)
    seconds = 1.0 if args.smoke else 10.0
    n = int(RPS * seconds) + 1
    workdir = Path(tempfile.mkdtemp(prefix="spectragram-rate-"))
    print(f"rate limiter, achieved / configured (target 0.95..1.0); {machine()}")

    times, _ = asyncio.run(hammer(Pacer(RateLimit(requests_per_minute=RPS * 60), clock=time.time), n, 64))
    r = achieved(times)
    print(f"pacer, requests/min, 64 tasks:            {n:>5} requests  {r:8.2f}/s of {RPS:g}/s  ratio {r / RPS:.4f}")

    rng = random.Random(0)
    durations = [rng.uniform(0.5, 3.0) for _ in range(int(AUDIO_PER_S * seconds / 1.75) + 1)]
    pacer = Pacer(RateLimit(audio_seconds_per_minute=AUDIO_PER_S * 60), clock=time.time)
    times, costs = asyncio.run(hammer(pacer, len(durations), 64, durations))
    r = achieved(times, costs)
    print(f"pacer, audio s/min, 64 tasks:             {len(durations):>5} requests  {r:8.2f} audio s/s of {AUDIO_PER_S:g}  ratio {r / AUDIO_PER_S:.4f}")

    r = executor_case(n, workdir)
    print(f"executor + mock provider, requests/min:   {n:>5} requests  {r:8.2f}/s of {RPS:g}/s  ratio {r / RPS:.4f}")

    r, count = shared_case(n, workdir)
    print(f"shared pacer on PostgreSQL, 3 processes:  {count:>5} requests  {r:8.2f}/s of {RPS:g}/s  ratio {r / RPS:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
