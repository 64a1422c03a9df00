"""Wire clocks and harness health end to end: what a run stores (api_time_ms = the vendor's time,
queue_ms apart, the event-loop lag p99 per job run) and how a harness-bound run is marked in the
terminal table and the HTML report. Real HTTP against the fake OpenAI server."""

from __future__ import annotations

import io
import time

import pytest
from conftest import DEMO_ROOT
from rich.console import Console
from sqlalchemy import select

from spectragram_bench.core.config import parse_config
from spectragram_bench.core.models import JobRun, LatencySample
from spectragram_bench.core.persistence import open_database
from spectragram_bench.core.registry import PROVIDERS
from spectragram_bench.providers.openai_whisper import OpenAICompatibleProvider
from spectragram_bench.reporting.html import render_report
from spectragram_bench.reporting.leaderboard import print_leaderboard
from spectragram_bench.worker.harness_health import MIN_ATTEMPTS, HarnessHealth
from spectragram_bench.worker.job_runs import run_benchmark

LATENCY_S = 0.2


class LoopHogProvider(OpenAICompatibleProvider):
    """The OpenAI-compatible adapter, then 80 ms of blocking work on the event loop per reply:
    a harness that cannot keep up with its own requests."""

    name = "loop_hog"

    async def transcribe(self, audio, item):
        transcript = await super().transcribe(audio, item)
        time.sleep(0.08)
        return transcript


PROVIDERS.register("loop_hog", LoopHogProvider)


def run(fake_openai, db_url: str, name: str, n: int, concurrency: int):
    fake_openai.latency_s = LATENCY_S
    fake_openai.api_key = None  # a self-hosted server without authentication
    config = parse_config({
        "name": "wire",
        "providers": [{"name": name, "model": "whisper-1", "base_url": fake_openai.base_url, "concurrency": concurrency}],
        "datasets": [{"name": "librispeech", "root": str(DEMO_ROOT), "subsets": ["demo-clean"]}],
        "evaluation": {"normalizer": "basic", "bootstrap_iterations": 0},
    })
    db = open_database(db_url)
    outcome = run_benchmark(config, db, max_utt=n, progress="none")
    assert outcome.exit_code == 0
    return db, outcome.benchmark_id


def test_vendor_time_queue_time_and_loop_lag_are_stored(fake_openai, db_url):
    db, _ = run(fake_openai, db_url, "openai_compatible", 16, 4)
    with db.session() as s:
        job = s.execute(select(JobRun)).scalar_one()
        samples = s.execute(select(LatencySample)).scalars().all()
    db.dispose()
    assert len(samples) == 16
    for sample in samples:
        assert LATENCY_S * 1000 <= sample.api_time_ms < sample.total_time_ms
        assert sample.queue_ms is not None and sample.queue_ms >= 0
        wire = sample.meta_json["wire"]
        assert wire["requests"] == 1 and wire["wait_ms"] >= LATENCY_S * 1000 * 0.99
        assert sample.meta_json["attempt_log"][-1]["queue_ms"] == pytest.approx(sample.queue_ms, abs=0.01)
    assert job.loop_lag_p99_ms is not None and job.loop_lag_p99_ms >= 0
    assert job.harness_bound is not None


def test_a_harness_bound_run_is_marked_in_the_table_and_the_report(fake_openai, sqlite_url, tmp_path):
    db, bid = run(fake_openai, sqlite_url, "loop_hog", 12, 4)
    with db.session() as s:
        job = s.execute(select(JobRun)).scalar_one()
        assert job.harness_bound is True and job.loop_lag_p99_ms >= 50
        out = io.StringIO()
        print_leaderboard(s, bid, console=Console(file=out, width=250))
        html = render_report(s, bid, tmp_path)
    db.dispose()
    table = out.getvalue()
    assert "* harness-bound: loop_hog/whisper-1 (event-loop lag p99" in table
    row = next(line for line in table.splitlines() if "loop_hog" in line and "demo" in line)
    assert row.count("*") == 2, "p50 and p95 carry the mark"
    assert "harness-bound: loop_hog/whisper-1" in html


def test_harness_bound_rules():
    h = HarnessHealth()
    for _ in range(100):
        h.add_attempt(200.0, 1.0)
        h.lags_ms.append(2.0)
    assert not h.harness_bound  # 2 ms lag, 0.5% queueing
    h.lags_ms.extend([30.0] * 5)  # p99 30 ms > 10% of 200 ms and > the 20 ms floor
    assert h.harness_bound and "event-loop lag p99 30 ms" in h.bound_reasons()[0]
    fast = HarnessHealth()
    for _ in range(MIN_ATTEMPTS):
        fast.add_attempt(5.0, 0.0)
    fast.lags_ms.extend([15.0] * 10)  # 3x a 5 ms local call, but under the floor
    assert not fast.harness_bound
    q = HarnessHealth()
    for _ in range(10):
        q.add_attempt(200.0, 40.0)  # queued 20% of the vendor's time
    assert q.bound_reasons() == ["requests queued in the harness for 20% of the vendor's time"]
    slow = HarnessHealth()
    for _ in range(MIN_ATTEMPTS):
        slow.add_attempt(3000.0, 0.0)
    slow.lags_ms.extend([30.0] * 10)  # 30 ms next to 3 s is noise
    assert not slow.harness_bound


def test_too_few_attempts_give_no_verdict():
    """A job run stopped by its first reply (a 401 in 0 ms) has no latency figures to judge."""
    one = HarnessHealth()
    one.add_attempt(0.0, 0.0)
    one.lags_ms.extend([30.0] * 10)
    assert not one.harness_bound
    for _ in range(MIN_ATTEMPTS):
        one.add_attempt(0.0, 0.0)
    assert one.harness_bound  # enough attempts: the same lag is a verdict
