"""Adaptive concurrency climbs back after a burst of 429s: measured by the in-flight count a
real fake server sees, through the real OpenAI adapter and executor."""

from __future__ import annotations

import asyncio

from conftest import DEMO_ROOT
from fakes import Fault

from spectragram_bench.core.config import ProviderConfig
from spectragram_bench.core.records import PredictionResult, WorkItem
from spectragram_bench.providers.openai_whisper import OpenAIProvider
from spectragram_bench.worker.exec_infer import Executor, RetryPolicy

CONCURRENCY = 8


def items(n: int) -> list[WorkItem]:
    flacs = sorted(DEMO_ROOT.rglob("*.flac"))
    return [WorkItem(i + 1, i + 1, f"u{i}", str(flacs[i % len(flacs)]), None) for i in range(n)]


def test_concurrency_returns_to_the_limit_after_a_429_burst(fake_openai):
    fake_openai.latency_s = 0.2  # well above the CPU cost of a request on a busy machine
    fake_openai.inject(*[Fault.http(429, retry_after_ms="20") for _ in range(CONCURRENCY)])
    provider = OpenAIProvider(ProviderConfig(name="openai", model="whisper-1", base_url=fake_openai.base_url,
                                             concurrency=CONCURRENCY))
    provider._api_key, provider._key_checked = fake_openai.api_key, True
    results: list[PredictionResult] = []

    async def go() -> Executor:
        ex = Executor(provider, results.append, concurrency=CONCURRENCY, timeout_s=30,
                      retry=RetryPolicy(base_delay_s=0.01))
        try:
            await ex.run(items(96))
        finally:
            ex.close()
            await provider.aclose()
        return ex

    ex = asyncio.run(go())
    assert len(results) == 96 and all(r.ok for r in results)
    assert ex.slots.decreases == 1, "one burst halves the limit once"
    assert ex.slots.size == CONCURRENCY, "the limit climbed back to the configured concurrency"
    seen = fake_openai.requests
    last_429 = max(i for i, r in enumerate(seen) if r.status == 429)
    after = [r.in_flight for r in seen[last_429 + 1 :]]
    assert max(after) == CONCURRENCY, f"in flight after the burst peaked at {max(after)}, not {CONCURRENCY}"
    # and stays there: most requests in the middle of the rest run with the limit in full use
    middle = after[len(after) // 4 : 3 * len(after) // 4]
    # (a halved limit would keep it at 4; a busy machine may leave one slot briefly empty)
    assert sorted(middle)[len(middle) // 2] >= CONCURRENCY - 1, f"in flight {middle}, limit {CONCURRENCY}"


def run(fake_openai, n: int, retry: RetryPolicy) -> tuple[Executor, list[PredictionResult]]:
    provider = OpenAIProvider(ProviderConfig(name="openai", model="whisper-1", base_url=fake_openai.base_url,
                                             concurrency=CONCURRENCY))
    provider._api_key, provider._key_checked = fake_openai.api_key, True
    results: list[PredictionResult] = []

    async def go() -> Executor:
        ex = Executor(provider, results.append, concurrency=CONCURRENCY, timeout_s=30, retry=retry)
        try:
            await ex.run(items(n))
        finally:
            ex.close()
            await provider.aclose()
        return ex

    return asyncio.run(go()), results


def test_other_items_use_the_slots_while_a_burst_of_429s_backs_off(fake_openai):
    """Mid-run, every item in flight is answered 429 with a 1.5 s retry-after: while those items
    sleep, others are sent, and the in-flight count is back at the limit before they retry."""
    fake_openai.latency_s = 0.2
    fake_openai.inject_after(5 * CONCURRENCY, *[Fault.http(429, retry_after_ms="1500") for _ in range(CONCURRENCY)])
    ex, results = run(fake_openai, 120, RetryPolicy())
    assert len(results) == 120 and all(r.ok for r in results)
    assert sum(r.attempts == 2 for r in results) == CONCURRENCY
    seen = fake_openai.requests
    last_429 = max(r.at for r in seen if r.status == 429)
    # the rate-limited items retry 1.5 s after their 429 at the earliest; until then, the others
    during = [r for r in seen if last_429 < r.at < last_429 + 1.4]
    assert all(r.status == 200 for r in during)
    # items holding their workers through the backoff would leave none answered in this window; a
    # halved limit on an idle machine answers about 4 x 7; a machine at load 5 was seen at 20
    assert len(during) >= 2 * CONCURRENCY, f"{len(during)} requests answered while the burst backed off"
    assert max(r.in_flight for r in during) == CONCURRENCY, [r.in_flight for r in during]
    assert ex.slots.size == CONCURRENCY
