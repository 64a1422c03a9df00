"""The harness through real HTTP: the OpenAI-compatible adapter end to end (dataset, plan,
database, executor, HTTP client, writer, evaluation) against bench/latency_server.py, a server
in its own process that answers every request exactly 200 ms after it arrived. At each
concurrency: throughput as a ratio of the ideal (concurrency / 200 ms, the server's view), CPU ms per utterance
(this process: while the job run executes and is evaluated, and in all), the latency the
harness recorded (p50/p95 of latency_sample.api_time_ms) against the server's true 200 ms, the
time queued inside the harness and the event-loop lag; then the same run with a burst of 429s once a quarter of the utterances were answered (as many
as the concurrency, retry-after-ms 100): its throughput against the unthrottled run's, and how
long after the last 429 the server saw full concurrency again.

    python bench/bench_http.py                          # concurrency 8 (400 utt), 64 and 256 (3,200 utt)
    python bench/bench_http.py --concurrency 64 --n 3200
    python bench/bench_http.py --smoke                  # small sizes (CI)
    python bench/bench_http.py --workers 2              # the same through `enqueue` + 2 `worker` processes
"""

from __future__ import annotations

import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from common import database, job, machine, make_corpus, parser  # noqa: E402
from server_process import LatencyServer  # noqa: E402
from sqlalchemy import select  # noqa: E402

from spectragram_bench.core.config import parse_config  # noqa: E402
from spectragram_bench.core.models import JobRun, LatencySample  # noqa: E402
from spectragram_bench.core.persistence import open_database  # noqa: E402
from spectragram_bench.worker import job_runs  # noqa: E402

LATENCY_MS = 200.0
BURST_RETRY_MS = 100


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class ExecutionCPU:
    """CPU seconds spent in job_runs.execute (the job runs and their evaluation, not planning
    or writing the plan): a timing wrapper around the harness's own function."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._execute = job_runs.execute
        job_runs.execute = self

    def __call__(self, *args, **kwargs):
        c0 = cpu_s()
        try:
            return self._execute(*args, **kwargs)
        finally:
            self.seconds += cpu_s() - c0


EXECUTION_CPU = ExecutionCPU()


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def one_run(server: LatencyServer, corpus: Path, n: int, concurrency: int, workdir: Path, burst: bool,
            workers: int = 1) -> dict:
    """One benchmark at `concurrency` in all: in this process, or (workers > 1) enqueued and run
    by that many `worker` processes, each with its share of the concurrency (it is per worker)."""
    share = concurrency // workers
    provider = {"name": "openai_compatible", "model": "whisper-1", "base_url": server.url,
                "concurrency": share, "timeout_s": 60, "max_attempts": 10}
    raw = job(corpus, [provider], name="http")
    server.reset()
    if burst:  # a quarter of the way in, as many 429s as requests in flight
        server.burst(concurrency, BURST_RETRY_MS, concurrency, after=n // 4)
    load_before = load()
    with database("sqlite", workdir) as url:
        c0, t0, e0 = cpu_s(), time.perf_counter(), EXECUTION_CPU.seconds
        if workers == 1:
            db = open_database(url)
            outcome = job_runs.run_benchmark(parse_config(raw), db, max_utt=n, progress="none")
            assert outcome.job_runs[0].status == "completed", outcome
            exec_cpu = EXECUTION_CPU.seconds - e0
        else:
            exec_cpu = in_workers(raw, url, n, workers, workdir)
            db = open_database(url)
        wall, cpu = time.perf_counter() - t0, cpu_s() - c0 + (exec_cpu if workers > 1 else 0.0)
        with db.session() as s:
            run = s.execute(select(JobRun)).scalar_one()
            assert run.status == "completed", run.status
            api = np.array(s.execute(select(LatencySample.api_time_ms)).scalars().all(), dtype=float)
            queue = [q or 0.0 for q in s.execute(select(LatencySample.queue_ms)).scalars()]
            exec_s = (run.ended_at - run.started_at).total_seconds()
            lag, bound = run.loop_lag_p99_ms, run.harness_bound
        db.dispose()
    stats = server.stats()
    ideal = concurrency / (LATENCY_MS / 1000)
    # the server's view, as the issue measured it: answered requests over first arrival to last reply
    return {
        "c": concurrency, "n": n, "burst": burst, "run_ratio": (n / exec_s) / ideal,
        "utt_s": stats["answered"] / (stats["last_at"] - stats["first_at"]),
        "e2e_utt_s": n / wall, "cpu_ms": cpu * 1000 / n, "exec_cpu_ms": exec_cpu * 1000 / n, "p50": float(np.median(api)),
        "p95": float(np.percentile(api, 95)), "queue_p95": float(np.percentile(queue, 95)),
        "lag_p99": lag, "bound": bound, "server_late_p95": stats["late_p95_ms"], "limited": stats["limited"],
        "recovered_ms": stats["recovered_after_ms"], "load": f"{load_before} -> {load()}",
    }


def in_workers(raw: dict, url: str, n: int, workers: int, workdir: Path) -> float:
    """`enqueue` the job, then `workers` worker processes run it; returns their CPU seconds."""
    config_path = workdir / "job.json"
    config_path.write_text(json.dumps(raw))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cli = [sys.executable, str(ROOT / "app.py")]
    subprocess.run([*cli, "enqueue", "--config", str(config_path), "--db", url, "--max-utt", str(n)],
                   check=True, env=env, capture_output=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    procs = [subprocess.Popen([*cli, "worker", "--db", url, "--quiet"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE) for _ in range(workers)]
    for proc in procs:
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"worker exited {proc.returncode}: {err.decode(errors='replace')[-500:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def fmt(v, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def main() -> int:
    p = parser(__doc__)
    p.add_argument("--concurrency", default=None, help="comma-separated levels (default 8,64,256; 8,64 with --smoke)")
    p.add_argument("--n", type=int, default=None, help="utterances per run (default 400 at c<=8, else 3,200)")
    p.add_argument("--no-burst", action="store_true", help="skip the 429-burst runs")
    p.add_argument("--workers", type=int, default=1,
                   help="run each benchmark in this many `worker` processes (concurrency split between them)")
    args = p.parse_args()
    logging.basicConfig(level=logging.ERROR)
    levels = [int(c) for c in (args.concurrency or ("8,64" if args.smoke else "8,64,256")).split(",")]
    sizes = {c: (c * 4 if args.smoke else args.n or (400 if c <= 8 else 3200)) for c in levels}
    corpus = make_corpus(max(sizes.values()))
    workdir = Path(tempfile.mkdtemp(prefix="spectragram-http-"))
    where = "this process" if args.workers == 1 else f"{args.workers} worker processes"
    print(f"harness through real HTTP ({where}), OpenAI-compatible adapter vs a {LATENCY_MS:g} ms server in its own "
          f"process; {machine()}")
    print(f"{'c':>4} {'utt':>5} {'429 burst':>9} {'x ideal':>8} {'utt/s':>7} {'(run)':>6} {'CPU ms/utt':>10} {'(all)':>6} {'p50 ms':>7} {'p95 ms':>7} "
          f"{'p95/true':>8} {'queue p95':>9} {'lag p99':>7} {'bound':>5} {'srv late p95':>12} {'back at c':>9}  load avg")
    with LatencyServer(LATENCY_MS) as server:
        for c in levels:
            base = None
            for burst in (False, True) if not args.no_burst else (False,):
                r = one_run(server, corpus, sizes[c], c, workdir, burst, args.workers)
                base = base or r
                burst_col = f"{r['limited']}x429" if burst else "-"
                back = f"{r['recovered_ms']:.0f} ms" if burst and r["recovered_ms"] is not None else ("never" if burst else "-")
                ideal = c / (LATENCY_MS / 1000)
                ratio = f"{r['utt_s'] / ideal:.3f}" + (f" ({r['utt_s'] / base['utt_s']:.2f}x)" if burst else "")
                print(f"{c:>4} {r['n']:>5} {burst_col:>9} {ratio:>8} {r['utt_s']:>7.1f} {r['run_ratio']:>6.3f} "
                      f"{r['exec_cpu_ms']:>10.2f} {r['cpu_ms']:>6.2f} {r['p50']:>7.1f} "
                      f"{r['p95']:>7.1f} {r['p95'] / LATENCY_MS:>8.3f} {fmt(r['queue_p95'], '9.1f'):>9} "
                      f"{fmt(r['lag_p99'], '7.1f'):>7} {str(r['bound']):>5} {fmt(r['server_late_p95'], '12.1f'):>12} "
                      f"{back:>9}  {r['load']}", flush=True)
    print("x ideal: the server's view, requests answered per second from the first arrival to the last reply / "
          "(concurrency / 200 ms); with a burst, (..x) is its rate over the unthrottled run's. (run): the same over "
          "the job run's start to end, its evaluation included. CPU ms/utt: this process while the job run executes and is evaluated; "
          "(all): planning and database set-up included (with --workers: the worker processes, their start-up included). p95/true: recorded p95 over the server's fixed latency.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
