"""Provider limits the executor stays under: a rate pacer and an adaptive concurrency limit.

Rate limits (requests per minute, audio seconds per minute) use GCRA, the generic cell rate
algorithm behind most API gateways' token buckets: each request reserves the next free
start time on every limited dimension at once, and sleeps until it. There is no burst, so
requests reach the provider evenly spaced and the long-run rate is exactly the configured
one (a late wake-up does not shift the schedule). The same algorithm runs as one SQL UPDATE
on the `rate_pacer` row of a job run, so workers on several machines share one schedule
(`SharedPacer`); a single process keeps it in memory (`Pacer`).

aiolimiter was considered: its leaky bucket allows a burst of the whole per-period budget,
hands capacity to the smallest request first (long utterances starve under an audio-seconds
limit), and cannot share state between processes.

Concurrency follows AIMD (as TCP congestion control and Netflix's concurrency-limits AIMDLimit):
a burst of 429s halves the limit once (429s from requests sent before the decrease do not count
again, nor those answered within a round trip of it, the successful attempts' smoothed duration:
a limiter answering 429 at once would otherwise see a few requests sent after each decrease
and halve again, 64 -> 1 within milliseconds), and each success while the limit is in full use adds one slot, up to the configured
concurrency: the limit doubles per round trip, as after a TCP slow start, so a short burst of
429s costs a few round trips, not the rest of the run (+1/limit per success would take 128
round trips to climb from 128 back to 256). "In full use" is judged when the successful
attempt hands its slot back, with that slot still counted (`release(succeeded=True)`), and a
freed slot is handed to a waiter and counted in use at once: replies arrive in bunches (one
event-loop pass), and counted only once its waiter ran, a bunch raised the limit by one slot,
so it climbed back one slot per round trip.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

from sqlalchemy import func, update

from spectragram_bench.core.config import RateLimit
from spectragram_bench.core.errors import DatabaseUnavailable
from spectragram_bench.core.models import RatePacer


class Pacer:
    """In-process GCRA over requests/min and audio seconds/min."""

    def __init__(self, limit: RateLimit | None, clock: Callable[[], float] = time.monotonic) -> None:
        rpm = limit.requests_per_minute if limit else None
        aspm = limit.audio_seconds_per_minute if limit else None
        self.request_cost_s = 60.0 / rpm if rpm else 0.0  # schedule time one request occupies
        self.audio_cost_s = 60.0 / aspm if aspm else 0.0  # schedule time one audio second occupies
        self.clock = clock
        self._tat_requests = 0.0
        self._tat_audio = 0.0

    @property
    def active(self) -> bool:
        return bool(self.request_cost_s or self.audio_cost_s)

    def costs(self, audio_s: float | None) -> tuple[float, float]:
        return self.request_cost_s, (audio_s or 0.0) * self.audio_cost_s

    async def reserve(self, audio_s: float | None) -> float:
        """Reserve the next start time; returns how long to wait for it (seconds)."""
        c_req, c_audio = self.costs(audio_s)
        now = self.clock()
        start = max(now, self._tat_requests, self._tat_audio)
        self._tat_requests = start + c_req
        self._tat_audio = start + c_audio
        return start - now

    async def acquire(self, audio_s: float | None) -> float:
        """Wait for this request's slot; returns the time waited."""
        if not self.active:
            return 0.0
        delay = await self.reserve(audio_s)
        if delay > 0:
            await asyncio.sleep(delay)
        return max(0.0, delay)


class SharedPacer(Pacer):
    """The same schedule kept in the job run's `rate_pacer` row, shared by every worker.

    One UPDATE per request (a few ms round trip, negligible next to a paid API call); the row
    lock serialises reservations across machines. Times are unix seconds: worker clocks must
    be NTP-synchronised, as for leases. A database outage is retried for `db.retry_s`; past
    that `on_unavailable` is told and DatabaseUnavailable raised (the executor abandons the
    item unrecorded: the database's failure is never the provider's).
    """

    def __init__(
        self, limit: RateLimit | None, db, job_run_id: int,
        on_unavailable: Callable[[DatabaseUnavailable], None] | None = None,
    ) -> None:
        super().__init__(limit, clock=time.time)
        self.db = db
        self.job_run_id = job_run_id
        self.on_unavailable = on_unavailable

    def _reserve_sync(self, audio_s: float | None) -> float:
        try:
            return self.db.retrying(self._reserve_once, audio_s, what="rate pacer")
        except DatabaseUnavailable as exc:
            if self.on_unavailable is not None:
                self.on_unavailable(exc)
            raise

    def _reserve_once(self, audio_s: float | None) -> float:
        c_req, c_audio = self.costs(audio_s)
        greatest = func.greatest if self.db.dialect == "postgresql" else func.max
        now = self.clock()
        start = greatest(RatePacer.tat_requests, RatePacer.tat_audio, now)
        stmt = (
            update(RatePacer)
            .where(RatePacer.job_run_id == self.job_run_id)
            .values(tat_requests=start + c_req, tat_audio=start + c_audio)
            .returning(RatePacer.tat_requests)
        )
        with self.db.begin() as conn:
            new_tat = conn.execute(stmt).scalar_one()
        return (new_tat - c_req) - self.clock()

    async def reserve(self, audio_s: float | None) -> float:
        return await asyncio.to_thread(self._reserve_sync, audio_s)


class AdaptiveConcurrency:
    """A semaphore whose size follows AIMD between 1 and `maximum`."""

    def __init__(self, maximum: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.maximum = maximum
        self.limit = float(maximum)
        self.in_use = 0
        self.generation = 0  # bumped on each decrease; attempts remember the one they started in
        self.decreases = 0
        self.round_trip_s: float | None = None  # successful attempts' duration (moving average)
        self.clock = clock
        self._decreased_at = float("-inf")
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def size(self) -> int:
        return max(1, int(self.limit))

    async def acquire(self) -> int:
        """Take a slot; returns the generation to hand back to `on_rate_limited`. A waiter is
        handed its slot when one frees (`_wake` counts it in use at once), so successes that
        arrive before the woken waiters run still see the limit in full use."""
        if self.in_use < self.size and not self._waiters:
            self.in_use += 1
            return self.generation
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():  # handed a slot, then cancelled: give it on
                self.in_use -= 1
            elif fut in self._waiters:
                self._waiters.remove(fut)
            self._wake()
            raise
        return self.generation

    def release(self, succeeded: bool = False, seconds: float | None = None) -> None:
        """Hand a slot back; a successful attempt (that took `seconds`) first counts towards the
        additive increase, while its own slot is still in use (after the decrement the limit
        never looks full)."""
        if succeeded:
            self.on_success(seconds)
        self.in_use -= 1
        self._wake()

    def on_success(self, seconds: float | None = None) -> None:
        """Additive increase, only while the current limit is what holds requests back (call it
        before releasing the successful attempt's slot); `seconds` updates the round trip."""
        if seconds is not None:
            rtt = self.round_trip_s
            self.round_trip_s = seconds if rtt is None else 0.875 * rtt + 0.125 * seconds  # as TCP's SRTT
        if self.limit < self.maximum and self.in_use >= self.size:
            self.limit = min(float(self.maximum), self.limit + 1.0)

    def on_rate_limited(self, generation: int) -> None:
        """Multiplicative decrease, once per burst: a 429 to a request sent before the last
        decrease was already accounted for, and so is one within a round trip of it (a limiter
        answering 429 at once would otherwise halve the limit again for every few requests sent
        after a decrease, down to 1 within milliseconds; TCP cannot see a loss sooner)."""
        if generation != self.generation:
            return
        now = self.clock()
        if self.round_trip_s is not None and now - self._decreased_at < self.round_trip_s:
            return
        self._decreased_at = now
        self.limit = max(1.0, self.limit / 2.0)
        self.generation += 1
        self.decreases += 1

    def _wake(self) -> None:
        """Hand free slots to the waiters, oldest first."""
        while self.in_use < self.size and self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                self.in_use += 1
