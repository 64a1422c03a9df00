"""The executor against a real HTTP server that injects faults: every utterance ends scored or
recorded failed with its reason, and attempts match exactly what was injected."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from conftest import DEMO_ROOT
from fault_fake import FaultServer, FaultyProvider
from sqlalchemy import select

from spectragram_bench.core.config import ProviderConfig, RateLimit, parse_config
from spectragram_bench.core.models import JobRun, LatencySample, MetricSummary, Prediction, Utterance
from spectragram_bench.core.persistence import open_database
from spectragram_bench.core.records import PredictionResult, WorkItem
from spectragram_bench.core.registry import PROVIDERS
from spectragram_bench.worker.exec_infer import Executor, RetryPolicy
from spectragram_bench.worker.limits import AdaptiveConcurrency, Pacer

PROVIDERS.register("faulty", FaultyProvider)


def demo_items(n: int | None = None) -> list[WorkItem]:
    items = []
    for trans in sorted(DEMO_ROOT.glob("demo-clean/*/*/*.trans.txt")):
        for line in trans.read_text().splitlines():
            ext, _, ref = line.partition(" ")
            items.append(WorkItem(len(items) + 1, len(items) + 1, ext, str(trans.parent / f"{ext}.flac"), None, ref))
    return items[:n] if n else items


def run_executor(provider, items, **kw) -> tuple[list[PredictionResult], Executor]:
    results: list[PredictionResult] = []

    async def go():
        ex = Executor(provider, results.append, **kw)
        try:
            await ex.run(items)
        finally:
            ex.close()
            await provider.aclose()
        return ex

    ex = asyncio.run(go())
    return results, ex


# (script of faults, expected outcome, expected attempts)
SCRIPTS = {
    0: (["429", "500"], "ok", 3),
    1: (["503"] * 5, "retryable", 5),
    2: (["reset"], "ok", 2),
    3: (["timeout"], "ok", 2),
    4: (["truncated"], "ok", 2),
    5: (["slow"], "ok", 1),
    6: (["400"], "utterance", 1),
    7: (["reset", "timeout", "500", "503", "truncated"], "retryable", 5),
    8: (["429", "429", "429"], "ok", 4),
}


def test_every_fault_class_ends_scored_or_failed_with_its_reason():
    items = demo_items(16)
    script = {items[i].external_id: faults for i, (faults, _, _) in SCRIPTS.items()}
    with FaultServer(script=script) as srv:
        provider = FaultyProvider(ProviderConfig(name="faulty", base_url=srv.url))
        results, ex = run_executor(
            provider, items, concurrency=4, timeout_s=0.5, retry=RetryPolicy(max_attempts=5, base_delay_s=0.01)
        )
        sent = {it.external_id: srv.state.requests_for(it.external_id) for it in items}
    by_utt = {r.utt_id: r for r in results}
    assert sorted(by_utt) == [it.utt_id for it in items], "every item has exactly one outcome"
    assert len(results) == len(items)
    for i, item in enumerate(items):
        faults, outcome, attempts = SCRIPTS.get(i, ([], "ok", 1))
        r = by_utt[item.utt_id]
        assert r.attempts == attempts, (i, r)
        assert sent[item.external_id] == attempts, "the server saw exactly the attempts the executor counted"
        logged = [a.get("error") for a in r.latency_meta["attempt_log"]]
        if outcome == "ok":
            assert r.ok and r.hyp_text == item.ref_text
            expected = ["rate_limited" if f.startswith("429") else "retryable" for f in faults if f != "slow"]
            assert logged[:-1] == expected
            assert logged[-1] is None
            assert r.api_time_ms is not None and r.api_time_ms < r.total_time_ms
        else:
            assert not r.ok and r.hyp_text is None and r.error_kind == outcome
            assert r.error_text
    assert "HTTP 503" in by_utt[items[1].utt_id].error_text and "gave up after 5 attempts" in by_utt[items[1].utt_id].error_text
    assert "malformed JSON" in by_utt[items[7].utt_id].error_text
    assert "HTTP 400" in by_utt[items[6].utt_id].error_text
    assert ex.stats.done == len(items) - 3 and ex.stats.failed == 3
    assert ex.stats.errors_by_kind == {"retryable": 2, "utterance": 1}
    assert ex.stats.rate_limited == 4
    assert ex.stats.retries == sum(a - 1 for _, _, a in SCRIPTS.values())  # every extra attempt was a retry
    assert ex.slots.decreases >= 1, "429s lowered the concurrency limit"


def test_retry_after_is_honoured_and_recorded():
    items = demo_items(2)
    with FaultServer(script={items[0].external_id: ["429s"]}) as srv:
        provider = FaultyProvider(ProviderConfig(name="faulty", base_url=srv.url))
        results, _ = run_executor(provider, items, concurrency=2, timeout_s=5, retry=RetryPolicy(base_delay_s=0.001))
        times = [r.at for r in srv.state.log if r.utt == items[0].external_id]
    r = next(r for r in results if r.utt_id == items[0].utt_id)
    assert r.ok and r.attempts == 2
    assert r.latency_meta["attempt_log"][0]["retry_after_s"] == 1.0
    assert times[1] - times[0] >= 1.0, "the retry waited at least what Retry-After asked"


def test_fatal_error_stops_the_job_run_after_the_first_reply():
    items = demo_items(30)
    with FaultServer(script={it.external_id: ["401"] for it in items}) as srv:
        provider = FaultyProvider(ProviderConfig(name="faulty", base_url=srv.url))
        results, ex = run_executor(provider, items, concurrency=1, timeout_s=5, retry=RetryPolicy())
        n_requests = len(srv.state.log)
    assert n_requests == 1
    assert ex.stats.fatal_error and "HTTP 401" in ex.stats.fatal_error
    assert len(results) == 1 and results[0].error_kind == "fatal"
    assert ex.stats.done == 0  # the other items were never attempted: unrecorded, left for a resume


def test_backoff_is_full_jitter_and_never_below_the_hint():
    import random

    policy = RetryPolicy(base_delay_s=0.5, max_delay_s=8)
    rng = random.Random(1)
    delays = [policy.delay(3, None, rng) for _ in range(2000)]
    assert 0 <= min(delays) < 0.4 and 3.6 < max(delays) <= 4.0  # uniform over [0, 0.5 * 2^3]
    assert all(policy.delay(0, 2.5, rng) >= 2.5 for _ in range(100))
    assert all(policy.delay(10, None, rng) <= 8 for _ in range(100))


def test_aimd_halves_once_per_burst_and_recovers():
    async def go():
        slots = AdaptiveConcurrency(16)
        gens = [await slots.acquire() for _ in range(16)]
        for g in gens:  # a burst of 429s from requests sent in the same generation
            slots.on_rate_limited(g)
        assert slots.size == 8 and slots.decreases == 1
        for _ in range(16):
            slots.release()
        gen = await slots.acquire()
        slots.on_rate_limited(gen)
        assert slots.size == 4 and slots.decreases == 2
        slots.release()
        # recovery: successes while the limit is fully used add one slot each
        for _ in range(200):
            held = [await slots.acquire() for _ in range(slots.size)]
            slots.on_success()
            for _ in held:
                slots.release()
        assert slots.size == 16
        return slots

    asyncio.run(go())


def test_aimd_halves_at_most_once_per_round_trip():
    """A limiter that answers 429 at once rejects the requests sent just after a decrease too:
    within a round trip (successful attempts' duration) of the decrease that is the same burst;
    a 429 after it halves again."""
    now = [100.0]

    async def go():
        slots = AdaptiveConcurrency(16, clock=lambda: now[0])

        async def rejected() -> None:
            slots.on_rate_limited(await slots.acquire())
            slots.release()

        await slots.acquire()
        slots.release(succeeded=True, seconds=0.2)
        await rejected()
        assert slots.size == 8
        now[0] += 0.01
        await rejected()  # sent after the decrease, but answered 10 ms after it
        assert slots.size == 8 and slots.decreases == 1
        now[0] += 0.2
        await rejected()
        assert slots.size == 4 and slots.decreases == 2

    asyncio.run(go())


def test_aimd_bunched_successes_each_add_a_slot():
    """Replies that arrive together (one event-loop pass) each find the limit in full use: a slot
    freed is handed to a waiter and counted in use at once, so the limit doubles per round trip
    (counted only once the waiter ran, a bunch of replies added one slot)."""
    async def go():
        slots = AdaptiveConcurrency(8)
        gens = [await slots.acquire() for _ in range(4)]
        slots.on_rate_limited(gens[0])
        assert slots.size == 4
        waiters = [asyncio.ensure_future(slots.acquire()) for _ in range(10)]
        await asyncio.sleep(0)
        for _ in gens:  # four successes in a row, before any woken waiter runs
            slots.release(succeeded=True)
        assert slots.size == 8 and slots.in_use == 8
        await asyncio.sleep(0)
        assert sum(w.done() for w in waiters) == 8
        # a waiter handed a slot but cancelled before it ran passes the slot on
        slots.release()
        handed, last = waiters[8], waiters[9]
        handed.cancel()
        for _ in range(3):
            await asyncio.sleep(0)
        assert handed.cancelled() and last.done() and slots.in_use == 8

    asyncio.run(go())


def test_aimd_blocks_beyond_the_limit():
    async def go():
        slots = AdaptiveConcurrency(2)
        await slots.acquire()
        await slots.acquire()
        waiter = asyncio.ensure_future(slots.acquire())
        await asyncio.sleep(0)
        assert not waiter.done()
        slots.release()
        await asyncio.wait_for(waiter, 1)
        assert slots.in_use == 2

    asyncio.run(go())


def test_pacer_schedule_is_exact_under_both_limits():
    now = [100.0]
    pacer = Pacer(RateLimit(requests_per_minute=600, audio_seconds_per_minute=1200), clock=lambda: now[0])

    async def go():
        waits = [await pacer.reserve(audio_s=1.0) for _ in range(10)]  # audio: 1 s of audio = 0.05 s of schedule
        assert waits == pytest.approx([0.1 * i for i in range(10)])  # requests (0.1 s each) bind
        long_wait = await pacer.reserve(audio_s=20.0)  # 20 s of audio occupies 1 s
        assert long_wait == pytest.approx(1.0)
        assert await pacer.reserve(audio_s=0.0) == pytest.approx(2.0)

    asyncio.run(go())


class Boom(Exception):
    pass


def test_unclassified_adapter_error_is_recorded_on_the_item():
    class Broken(FaultyProvider):
        async def transcribe(self, audio, item):
            raise Boom("adapter bug")

    items = demo_items(3)
    results, ex = run_executor(Broken(ProviderConfig(name="faulty", base_url="http://127.0.0.1:9")), items,
                               concurrency=2, timeout_s=1, retry=RetryPolicy())
    assert len(results) == 3 and all(r.error_kind == "internal" and "Boom" in r.error_text for r in results)


def test_missing_audio_is_an_input_failure_not_a_request(tmp_path: Path):
    item = WorkItem(1, 1, "x", str(tmp_path / "missing.flac"), None, "hello")
    with FaultServer() as srv:
        results, _ = run_executor(FaultyProvider(ProviderConfig(name="faulty", base_url=srv.url)), [item],
                                  concurrency=1, timeout_s=1, retry=RetryPolicy())
        assert srv.state.log == []
    assert results[0].error_kind == "input" and "not found" in results[0].error_text


def test_process_pool_engine_runs_in_other_processes_and_keeps_error_kinds():
    import os

    from fault_fake import ProcessEcho

    items = demo_items(6)
    provider = ProcessEcho(ProviderConfig(name="process_echo", params={"bad": [items[2].external_id]}))
    results, ex = run_executor(provider, items, concurrency=2, timeout_s=60, retry=RetryPolicy())
    by_utt = {r.utt_id: r for r in results}
    assert len(results) == 6 and ex.stats.failed == 1
    bad = by_utt[items[2].utt_id]
    assert bad.error_kind == "utterance" and bad.attempts == 1 and "cannot decode" in bad.error_text
    pids = {r.latency_meta["pid"] for r in results if r.ok}
    assert pids and os.getpid() not in pids


@pytest.mark.slow
def test_end_to_end_with_faults_into_the_database(db_url, tmp_path):
    script = {"1001-100-0000": ["429", "503"], "1001-100-0001": ["400"], "1002-200-0003": ["reset", "truncated"]}
    with FaultServer(script=script) as srv:
        config = parse_config(
            {
                "name": "faults",
                "providers": [{"name": "faulty", "base_url": srv.url, "concurrency": 8, "timeout_s": 5, "max_attempts": 4}],
                "datasets": [{"name": "librispeech", "root": str(DEMO_ROOT), "subsets": ["demo-clean"]}],
                "evaluation": {"normalizer": "basic"},
            }
        )
        from spectragram_bench.worker.job_runs import run_benchmark

        db = open_database(db_url)
        outcome = run_benchmark(config, db, progress="none")
    assert outcome.exit_code == 0
    with db.session() as s:
        run = s.execute(select(JobRun)).scalar_one()
        assert run.status == "partial" and run.ended_at is not None and "1 of 40" in run.error_text
        preds = {ext: p for p, ext in s.execute(select(Prediction, Utterance.external_id).join(Utterance))}
        assert len(preds) == 40
        assert preds["1001-100-0000"].status == "ok" and preds["1001-100-0000"].attempts == 3
        assert preds["1001-100-0001"].status == "failed" and preds["1001-100-0001"].error_kind == "utterance"
        assert preds["1002-200-0003"].attempts == 3
        lat = s.execute(
            select(LatencySample.meta_json).join(Utterance, Utterance.utt_id == LatencySample.utt_id)
            .where(Utterance.external_id == "1001-100-0000")
        ).scalar_one()
        assert [a.get("error") for a in lat["attempt_log"]] == ["rate_limited", "retryable", None]
        metrics = dict(s.execute(select(MetricSummary.metric, MetricSummary.value)).all())
        assert metrics["n_failed"] == 1 and metrics["n_utterances"] == 39 and metrics["wer"] == 0.0
    db.dispose()
    json.dumps(outcome.benchmark_id)
