"""The benchmarks in bench/ run (small sizes): CI's smoke run. They print figures and assert
nothing about speed; here only that they complete and print their ratios."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import REPO


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize(
    "script, expect",
    [
        ("bench_throughput.py", "achieved/ideal"),
        ("bench_rate_limiter.py", "shared pacer on PostgreSQL"),
        ("bench_overhead.py", "postgresql concurrent"),
        ("bench_engine_pool.py", "speed-up of the process pool"),
        ("bench_http.py", "p95/true"),
        ("bench_http_clients.py", "aiohttp-trace"),
        ("bench_streaming.py", "fake's own D"),
        ("bench_dataset_memory.py", "(target <= 1.5)"),
    ],
)
def test_benchmark_smoke_run(script, expect):
    res = subprocess.run(
        [sys.executable, str(REPO / "bench" / script), "--smoke", *(["--repeat", "1"] if script == "bench_overhead.py" else [])],
        capture_output=True, text=True, cwd=REPO, timeout=540, check=False,  # under pytest-timeout's 600 s: a loaded machine runs the HTTP benches slowly
    )
    assert res.returncode == 0, res.stderr
    assert expect in res.stdout
    print(res.stdout)
