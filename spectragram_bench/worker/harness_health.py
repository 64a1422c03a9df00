"""Was the harness itself the bottleneck of a job run? Then its latency figures are not the
vendor's alone, and the report must say so.

Two signals, both measured during every run:

- event-loop lag: a task asks to wake every `LAG_INTERVAL_S` and notes how late it woke. A
  saturated loop (or a starved process) reads replies late, which inflates every client-side
  clock, the wire clocks included;
- queueing: the wire clocks' `queue_ms`, the time requests waited inside the harness before
  their first byte was written, as a share of the vendor's time.

A job run is harness-bound when the loop lag's p99 exceeds `LAG_SHARE` of the median vendor
time (and at least `LAG_FLOOR_MS`, a tenth of a typical 200 ms API call: below it, lag is noise),
or queueing exceeds `QUEUE_SHARE` of the vendor's time. Fewer than `MIN_ATTEMPTS` timed attempts
(a job run stopped by its first reply, say) give no verdict: there are no latency figures to judge.
"""

from __future__ import annotations

import asyncio
from array import array
from dataclasses import dataclass, field

import numpy as np

from spectragram_bench.core.models import JobRun
from spectragram_bench.core.persistence import Database

LAG_INTERVAL_S = 0.05
LAG_FLOOR_MS = 20.0
LAG_SHARE = 0.10
QUEUE_SHARE = 0.10
MIN_ATTEMPTS = 10


@dataclass
class HarnessHealth:
    """What one executor measured: loop lags, vendor times, queue times (ms)."""

    lags_ms: array = field(default_factory=lambda: array("d"))
    vendor_ms: array = field(default_factory=lambda: array("d"))
    queue_ms_total: float = 0.0

    def add_attempt(self, vendor_ms: float, queue_ms: float | None) -> None:
        self.vendor_ms.append(vendor_ms)
        self.queue_ms_total += queue_ms or 0.0

    @property
    def lag_p99_ms(self) -> float | None:
        return round(float(np.percentile(self.lags_ms, 99)), 3) if len(self.lags_ms) else None

    @property
    def queue_share(self) -> float | None:
        total = float(np.sum(self.vendor_ms)) if len(self.vendor_ms) else 0.0
        return self.queue_ms_total / total if total > 0 else None

    def bound_reasons(self) -> list[str]:
        """Why the run's latency figures are the harness's as much as the vendor's (empty: they are not)."""
        reasons: list[str] = []
        if len(self.vendor_ms) < MIN_ATTEMPTS:
            return reasons
        lag = self.lag_p99_ms
        median = float(np.median(self.vendor_ms)) if len(self.vendor_ms) else 0.0
        if lag is not None and lag > max(LAG_FLOOR_MS, LAG_SHARE * median):
            reasons.append(f"event-loop lag p99 {lag:.0f} ms against a median vendor time of {median:.0f} ms")
        share = self.queue_share
        if share is not None and share > QUEUE_SHARE:
            reasons.append(f"requests queued in the harness for {share:.0%} of the vendor's time")
        return reasons

    @property
    def harness_bound(self) -> bool:
        return bool(self.bound_reasons())


async def watch_loop_lag(health: HarnessHealth, interval_s: float = LAG_INTERVAL_S) -> None:
    """Until cancelled: how late the loop wakes this task, in ms, every `interval_s`."""
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + interval_s
        await asyncio.sleep(interval_s)
        health.lags_ms.append(max(0.0, (loop.time() - due) * 1000.0))



def record_harness_health(db: Database, job_run_id: int, health: HarnessHealth) -> None:
    """Store this process's verdict on the job run; with several workers the worst one stands
    (the highest lag p99; harness-bound if any worker was), under a row lock."""
    if not len(health.lags_ms) and not len(health.vendor_ms):
        return
    with db.transaction() as session:
        run = session.get(JobRun, job_run_id, with_for_update=True)
        lag = health.lag_p99_ms
        if lag is not None:
            run.loop_lag_p99_ms = max(lag, run.loop_lag_p99_ms or 0.0)
        run.harness_bound = bool(run.harness_bound) or health.harness_bound
