"""Which HTTP client path keeps its cost per request flat as concurrency grows? The candidates
side by side, through real HTTP to bench/latency_server.py (its own process, a fixed latency),
each sending the same multipart upload the OpenAI adapter sends (a 0.5 s FLAC + form fields).

Candidates:
  httpx-1pool        one httpx.AsyncClient, max_connections = concurrency (the old path)
  httpx-pools16      several httpx clients of at most 16 connections each, worker i on pool i % k
  httpx-2threads     two event loops in two threads, one httpx client each, half the workers each
  httpx-2procs       two processes, one httpx client each, half the workers each
  aiohttp            one aiohttp.ClientSession (TCPConnector limit = concurrency)
  aiohttp-trace      the same with a TraceConfig timing each request at the wire

For each: throughput as a ratio of the ideal (concurrency / latency), CPU ms per request (the
client process(es) only: user + system), and the latency each request recorded around its call,
p50/p95, against the server's fixed latency. The load average is printed with the figures.

    python bench/bench_http_clients.py                      # concurrency 8, 64, 256
    python bench/bench_http_clients.py --only aiohttp,httpx-1pool --concurrency 64
    python bench/bench_http_clients.py --smoke
"""

from __future__ import annotations

import asyncio
import io
import math
import multiprocessing
import os
import resource
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
from common import machine, parser  # noqa: E402
from server_process import LatencyServer  # noqa: E402

LATENCY_MS = 200.0
FIELDS = {"model": "whisper-1", "response_format": "json", "language": "en"}


def flac_body(seconds: float = 0.5) -> bytes:
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    sf.write(buf, (rng.standard_normal(int(16000 * seconds)) * 0.01).astype(np.float32), 16000, format="FLAC")
    return buf.getvalue()


AUDIO = flac_body()


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# --- one client: (setup, post, close) in the running loop ------------------------------------


def httpx_client(connections: int):
    import httpx

    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(limits=limits, timeout=60.0)


async def httpx_post(client, url: str) -> None:
    r = await client.post(url, data=FIELDS, files={"file": ("a.flac", AUDIO, "audio/flac")})
    r.raise_for_status()
    r.json()


def aiohttp_session(connections: int, trace: bool = False):
    import aiohttp

    traces = []
    if trace:
        tc = aiohttp.TraceConfig()

        async def mark(session, ctx, params, key):
            ctx.marks = getattr(ctx, "marks", {})
            ctx.marks[key] = time.perf_counter()

        for hook, key in ((tc.on_request_start, "start"), (tc.on_connection_create_end, "conn"),
                          (tc.on_request_headers_sent, "sent"), (tc.on_request_chunk_sent, "chunk"),
                          (tc.on_response_chunk_received, "first"), (tc.on_request_end, "end")):
            hook.append(lambda s, c, p, k=key: mark(s, c, p, k))
        traces.append(tc)
    connector = aiohttp.TCPConnector(limit=connections, limit_per_host=0, force_close=False)
    return aiohttp.ClientSession(connector=connector, trace_configs=traces, timeout=aiohttp.ClientTimeout(total=60))


async def aiohttp_post(session, url: str) -> None:
    import aiohttp

    form = aiohttp.FormData()
    for k, v in FIELDS.items():
        form.add_field(k, v)
    form.add_field("file", AUDIO, filename="a.flac", content_type="audio/flac")
    async with session.post(url, data=form) as r:
        body = await r.read()
        if r.status >= 300:
            raise RuntimeError(f"HTTP {r.status}")
    import json

    json.loads(body)


# --- running n requests with `workers` workers on one loop -----------------------------------


async def drive(make_posts: Callable[[int], list], n: int, workers: int, url: str) -> list[float]:
    """`workers` tasks, each taking the next request number until n: recorded latencies (s)."""
    posts, close = make_posts(workers)
    counter = iter(range(n))
    latencies: list[float] = []

    async def worker(i: int) -> None:
        post = posts[i]
        for _ in counter:
            t0 = time.perf_counter()
            await post(url)
            latencies.append(time.perf_counter() - t0)

    try:
        await asyncio.gather(*(worker(i) for i in range(workers)))
    finally:
        await close()
    return latencies


def httpx_pools(pool_size: int):
    def make(workers: int):
        k = max(1, math.ceil(workers / pool_size))
        clients = [httpx_client(math.ceil(workers / k)) for _ in range(k)]

        async def close():
            for c in clients:
                await c.aclose()

        return [lambda url, c=clients[i % k]: httpx_post(c, url) for i in range(workers)], close

    return make


def aiohttp_pool(trace: bool):
    def make(workers: int):
        session = aiohttp_session(workers, trace)
        return [lambda url: aiohttp_post(session, url)] * workers, session.close

    return make


def in_threads(make, n: int, workers: int, url: str, parts: int = 2) -> list[float]:
    out: list[list[float]] = [[] for _ in range(parts)]

    def run(i: int) -> None:
        share = n // parts + (1 if i < n % parts else 0)
        out[i] = asyncio.run(drive(make, share, workers // parts, url))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(parts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [x for part in out for x in part]


def _proc_main(n: int, workers: int, url: str, q, go) -> None:
    go.wait()
    c0 = cpu_s()
    lat = asyncio.run(drive(httpx_pools(10**9), n, workers, url))
    q.put((lat, cpu_s() - c0))


def in_processes(n: int, workers: int, url: str, parts: int = 2) -> tuple[list[float], float, float]:
    """(latencies, children's cpu seconds, wall seconds) of `parts` processes."""
    ctx = multiprocessing.get_context("spawn")
    q, go = ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=_proc_main, args=(n // parts, workers // parts, url, q, go)) for _ in range(parts)]
    for p in procs:
        p.start()
    time.sleep(2.0)  # let them import; the clock starts at `go`
    t0 = time.perf_counter()
    go.set()
    results = [q.get() for _ in procs]
    wall = time.perf_counter() - t0
    for p in procs:
        p.join()
    return [x for lat, _ in results for x in lat], sum(c for _, c in results), wall


CANDIDATES = {
    "httpx-1pool": ("loop", httpx_pools(10**9)),
    "httpx-pools16": ("loop", httpx_pools(16)),
    "httpx-2threads": ("threads", httpx_pools(10**9)),
    "httpx-2procs": ("procs", None),
    "aiohttp": ("loop", aiohttp_pool(False)),
    "aiohttp-trace": ("loop", aiohttp_pool(True)),
}


def measure(name: str, n: int, concurrency: int, server: LatencyServer) -> dict:
    kind, make = CANDIDATES[name]
    url = f"{server.url}/v1/audio/transcriptions"
    server.reset()
    if kind == "procs":
        lat, cpu, wall = in_processes(n, concurrency, url)
    else:
        c0, t0 = cpu_s(), time.perf_counter()
        lat = asyncio.run(drive(make, n, concurrency, url)) if kind == "loop" else in_threads(make, n, concurrency, url)
        wall, cpu = time.perf_counter() - t0, cpu_s() - c0
    stats = server.stats()
    ideal = concurrency / (LATENCY_MS / 1000)
    ms = sorted(x * 1000 for x in lat)
    return {
        "name": name, "c": concurrency, "n": len(lat), "ratio": (len(lat) / wall) / ideal,
        "cpu_ms": cpu * 1000 / len(lat), "p50": statistics.median(ms), "p95": ms[int(0.95 * (len(ms) - 1))],
        "server_late_p95": stats["late_p95_ms"],
    }


def main() -> int:
    p = parser(__doc__)
    p.add_argument("--concurrency", default=None, help="comma-separated levels (default 8,64,256; 8,64 with --smoke)")
    p.add_argument("--only", default=",".join(CANDIDATES), help="comma-separated candidates")
    p.add_argument("--rounds", type=int, default=20, help="requests per worker (default 20: 4 s ideal per case)")
    args = p.parse_args()
    levels = [int(c) for c in (args.concurrency or ("8,64" if args.smoke else "8,64,256")).split(",")]
    names = args.only.split(",")
    rounds = 3 if args.smoke else args.rounds
    print(f"HTTP client candidates vs a {LATENCY_MS:g} ms server in its own process; {machine()}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'candidate':<15} {'c':>4} {'requests':>8} {'x ideal':>8} {'CPU ms/req':>10} "
          f"{'p50 ms':>8} {'p95 ms':>8} {'server late p95':>15}")
    with LatencyServer(LATENCY_MS) as server:
        for c in levels:
            for name in names:
                r = measure(name, c * rounds, c, server)
                print(f"{r['name']:<15} {r['c']:>4} {r['n']:>8} {r['ratio']:>8.3f} {r['cpu_ms']:>10.2f} "
                      f"{r['p50']:>8.1f} {r['p95']:>8.1f} {r['server_late_p95']:>15}", flush=True)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
