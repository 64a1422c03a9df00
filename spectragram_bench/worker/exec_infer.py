"""The machinery around a provider adapter: concurrency, rate limits, timeouts, retries, timing.

The adapter makes one attempt and classifies its failure (providers/base.py); here we decide:
retry transient failures and 429s with full-jitter exponential backoff (never sooner than the
provider's retry-after hint), give up on an utterance-fatal one, and stop the whole job run on
a run-fatal one (a bad key stops after the first reply, not after thousands of requests).

Each attempt holds a concurrency slot (AIMD, worker/limits.py) and a rate-limit slot, and
nothing else: backoff sleeps hold neither, nor do they hold up other items (while an item
sleeps, another item task takes the next one: worker/crew.py). An attempt's `api_time_ms` is the vendor's time at
the wire when its requests went through CloudProvider.request (providers/wire_clock.py), with
the time they waited inside the harness apart (`queue_ms`); otherwise the attempt's duration.
An event-loop lag monitor runs alongside (worker/harness_health.py). Blocking engines run in a
thread pool, or in a process pool when they hold the GIL (worker/engines.py), so the event
loop keeps dispatching; the backoff between attempts is worker/retry.py's.

An item is either finished (its PredictionResult handed to `submit`: a transcript, or a
failure with its reason) or abandoned unrecorded when the run stops (its lease is released
and a resume runs it again): an interruption is never recorded as a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from spectragram_bench.core.audio import AudioClip
from spectragram_bench.core.config import RateLimit
from spectragram_bench.core.errors import AudioError, DatabaseUnavailable
from spectragram_bench.core.records import PredictionResult, WorkItem
from spectragram_bench.datasets.variants import apply_variant
from spectragram_bench.providers.base import ErrorKind, Provider, ProviderError, Transcript
from spectragram_bench.providers.jobs import is_job_based
from spectragram_bench.providers.wire_clock import attempt_clock
from spectragram_bench.worker import chunking
from spectragram_bench.worker.accounts import AccountStopped, FirstAttemptGate, Interrupted, token_of
from spectragram_bench.worker.crew import Crew
from spectragram_bench.worker.engines import make_engine
from spectragram_bench.worker.harness_health import HarnessHealth, watch_loop_lag
from spectragram_bench.worker.job_lifecycle import run_job_item
from spectragram_bench.worker.limits import AdaptiveConcurrency, Pacer
from spectragram_bench.worker.prefetch import Prefetcher, PrefetchQueue, chunk_size
from spectragram_bench.worker.retry import RetryPolicy
from spectragram_bench.worker.reuse import ReuseIndex, sent_hash

log = logging.getLogger(__name__)


@dataclass
class ExecStats:
    """Counters of one executor; the progress display reads them live."""

    done: int = 0
    failed: int = 0
    retries: int = 0
    rate_limited: int = 0
    in_flight: int = 0
    abandoned: int = 0
    reused: int = 0  # filled from an earlier prediction (worker/reuse.py): no request
    fatal_error: str | None = None
    interrupted: bool = False
    errors_by_kind: dict[str, int] = field(default_factory=dict)
    cleanup_failed: int = 0  # job-based providers: deletions that failed (the vendor still holds the data)
    health: HarnessHealth = field(default_factory=HarnessHealth)


@dataclass(frozen=True)
class Timing:
    """An attempt's clocks: the vendor's time (ms), the harness's queueing (ms, None without
    wire clocks) and the wire breakdown kept in latency_sample.meta_json["wire"]."""

    api_ms: float
    queue_ms: float | None = None
    wire: dict[str, Any] = field(default_factory=dict)


def prepare_audio(item: WorkItem) -> tuple[AudioClip, dict]:
    """Open the item's audio (its header; samples decode on first use) and apply its variant
    (blocking; runs in a thread)."""
    clip = item.audio.open()
    return apply_variant(clip, item.variant, item)


@dataclass
class Settled:
    """How one clip's attempts ended: a transcript, a failure (kind, text), or neither (abandoned
    by a stop: not recorded). `api_ms` is the last attempt's."""

    transcript: Transcript | None
    attempts: int
    api_ms: float
    attempt_log: list[dict[str, Any]]
    failure: tuple[str, str] | None = None
    queue_ms: float | None = None  # the harness's queueing (wire clocks), None without them
    wire: dict[str, Any] = field(default_factory=dict)


class Executor:
    """Runs work items through one provider under its limits; results go to `submit`."""

    def __init__(
        self,
        provider: Provider,
        submit: Callable[[PredictionResult], None],
        *,
        concurrency: int,
        timeout_s: float,
        retry: RetryPolicy,
        rate_limit: RateLimit | None = None,
        pacer: Pacer | None = None,
        slots: AdaptiveConcurrency | None = None,
        gate: FirstAttemptGate | None = None,
        seed: int = 0,
        reuse: ReuseIndex | None = None,
    ) -> None:
        self.provider = provider
        self.submit = submit
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.retry = retry
        self.pacer = pacer or Pacer(rate_limit)
        self.slots = slots or AdaptiveConcurrency(concurrency)  # an account's, shared with its other job runs
        self.gate = gate or FirstAttemptGate(open_=True)
        self.rng = random.Random(seed)
        self.stats = ExecStats()
        self.stop = asyncio.Event()
        self.engine = make_engine(provider, concurrency)
        self.io_pool = ThreadPoolExecutor(max_workers=min(8, max(2, concurrency)), thread_name_prefix="audio")
        self.prefetcher = Prefetcher(self.io_pool, self._prepare, chunk_size(concurrency))
        self.model_revision: str | None = None
        self.reuse = reuse
        self.sent_hashes: dict[int, str | None] = {}  # utt_id -> sha256 of its sent audio, until recorded
        self.crew: Crew | None = None  # the item tasks of `run`

    def fail(self, item: WorkItem, kind: str, text: str, attempts: int, started: float, log_: list,
             meta: dict[str, Any] | None = None) -> None:
        """Record the item's failure with its reason."""
        account_error = self.gate.release(token_of(item), gave_up=True)
        if account_error is not None:
            self.note_fatal(account_error)
        self.stats.failed += 1
        self.stats.errors_by_kind[kind] = self.stats.errors_by_kind.get(kind, 0) + 1
        self.submit(
            PredictionResult(
                item.job_run_id, item.utt_id, None, error_kind=kind, error_text=text, attempts=attempts,
                total_time_ms=(time.perf_counter() - started) * 1000, latency_meta={**(meta or {}), "attempt_log": log_},
                sent_sha256=self.sent_hashes.pop(item.utt_id, None),
            )
        )

    def succeed(self, item: WorkItem, transcript: Transcript, *, attempts: int, api_ms: float, started: float,
                duration: float, meta: dict[str, Any], queue_ms: float | None = None) -> None:
        """Record the item's transcript with its timing (`meta` ends in latency_sample.meta_json)."""
        if transcript.model_revision:
            self.model_revision = transcript.model_revision
        self.stats.done += 1
        self.submit(
            PredictionResult(
                item.job_run_id, item.utt_id, transcript.text, words=transcript.words, usage=transcript.usage,
                attempts=attempts, api_time_ms=api_ms, queue_ms=queue_ms, total_time_ms=(time.perf_counter() - started) * 1000,
                rtf=(api_ms / 1000.0) / duration if duration > 0 else None, billed_seconds=transcript.billed_seconds,
                latency_meta={**transcript.meta, **meta, "audio_s": round(duration, 4)},
                sent_sha256=self.sent_hashes.pop(item.utt_id, None),
            )
        )

    def note_failed_attempt(self, exc: ProviderError, generation: int) -> None:
        """A 429 lowers the concurrency limit (once per burst)."""
        if exc.kind == ErrorKind.RATE_LIMITED:
            self.stats.rate_limited += 1
            self.slots.on_rate_limited(generation)

    def note_fatal(self, exc: ProviderError) -> None:
        """A run-fatal reply: the first one's text is the job run's error; nothing new starts."""
        if self.stats.fatal_error is None:
            self.stats.fatal_error = str(exc)
        self.stop.set()

    async def timed_call(self, call: Callable[[], Awaitable[Any]], audio_s: float | None,
                         paced: bool = True, token: Any = None) -> tuple[bool, Any, float, float, float]:
        """One request under the rate limits and `timeout_s`: (ok, value or ProviderError, start,
        end, seconds waited for the rate slot). The caller holds the concurrency slot and has
        passed the account's first-attempt gate with `token`."""
        waited = await self.pacer.acquire(audio_s) if paced else 0.0
        t0 = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout_s):  # no extra task per attempt, unlike wait_for
                value = await call()
            ok = True
        except TimeoutError:
            ok, value = False, ProviderError(ErrorKind.RETRYABLE, f"no reply within {self.timeout_s:g} s (timeout)")
        except ProviderError as exc:
            ok, value = False, exc
        self.gate.after(token, ok, None if ok else value)
        return ok, value, t0, time.perf_counter(), waited

    async def _one_attempt(self, clip: AudioClip, item: WorkItem) -> tuple[Transcript | ProviderError, Timing, int, float]:
        """One attempt inside a concurrency slot and a rate-limit slot: (outcome, timing, generation, waited s)."""
        token = token_of(item)
        await self.gate.enter(token, self.stop)  # before the slot: the probe's retry needs one
        generation = await self.slots.acquire()
        outcome: Transcript | ProviderError | None = None
        seconds: float | None = None
        try:
            if self.stop.is_set():  # the run stopped while this attempt waited for its slot
                raise Interrupted
            with attempt_clock() as wire:
                _, outcome, t0, t1, waited = await self.timed_call(
                    lambda: self.engine.attempt(clip, item), clip.duration_s, token=token
                )
            vendor_ms = wire.vendor_ms()
            timing = Timing((t1 - t0) * 1000 if vendor_ms is None else vendor_ms, wire.queue_ms(), wire.summary())
            seconds = t1 - t0
            return outcome, timing, generation, waited
        finally:
            self.slots.release(succeeded=isinstance(outcome, Transcript), seconds=seconds)

    def prefetch(self, item: WorkItem) -> asyncio.Future:
        """Start loading an item's audio now, so it is ready when a slot frees up."""
        return self.prefetcher.start(item)

    def _prepare(self, item: WorkItem) -> tuple[AudioClip, dict]:
        clip, facts = prepare_audio(item)
        self.provider.preprocess(clip, item)
        if getattr(self.provider, "uploads_source", False):
            clip.preload_file()
        if not chunking.needs_chunks(self.provider, clip):  # a chunked recording is several requests: no one hash
            self.sent_hashes[item.utt_id] = sent_hash(self.provider, clip, item)
        return clip, facts

    async def run_item(self, item: WorkItem, audio: asyncio.Future | None = None) -> None:
        try:
            await self._run_item(item, audio)
        except AccountStopped as exc:  # the account's first attempt failed for good: not tried
            self.note_fatal(exc.error)
            self.stats.abandoned += 1
        except Interrupted:
            self.stats.abandoned += 1
        finally:
            self.gate.release(token_of(item), gave_up=False)

    async def _run_item(self, item: WorkItem, audio: asyncio.Future | None) -> None:
        started = time.perf_counter()
        try:
            clip, variant_facts = await (audio if audio is not None else self.prefetch(item))
        except (AudioError, ValueError) as exc:
            self.fail(item, ErrorKind.INPUT, str(exc), 0, started, [])
            return
        if self.reuse is not None and (reused := self.reuse.result_for(item, self.sent_hashes.get(item.utt_id))):
            self.stats.done += 1
            self.stats.reused += 1
            self.sent_hashes.pop(item.utt_id, None)
            self.submit(reused)
            return
        if is_job_based(self.provider):
            await run_job_item(self, item, clip, variant_facts, started)
            return
        if chunking.needs_chunks(self.provider, clip):  # long-form: worker/chunking.py
            await chunking.run_chunked(self, item, clip, variant_facts, started)
            return
        settled = await self.settle(clip, item)
        if settled.transcript is not None:
            self.succeed_settled(item, clip, variant_facts, settled, started)
        elif settled.failure is not None:
            self.fail(item, *settled.failure, settled.attempts, started, settled.attempt_log)

    async def settle(self, clip: AudioClip, item: WorkItem) -> Settled:
        """Attempts at one clip until a transcript, a final failure, or a stop (abandoned)."""
        attempts = 0
        attempt_log: list[dict[str, Any]] = []
        while True:
            attempts += 1
            self.stats.in_flight += 1
            try:
                outcome, timing, generation, waited = await self._one_attempt(clip, item)
            except AudioError as exc:  # a body that fails to decode inside the attempt: the input's fault
                return Settled(None, attempts, 0.0, attempt_log, (ErrorKind.INPUT, str(exc)))
            except (AccountStopped, Interrupted):  # the attempt was not made
                raise
            except DatabaseUnavailable:  # the shared pacer lost its database: the run stops, the item stays to do
                self.stats.abandoned += 1
                return Settled(None, attempts, 0.0, attempt_log)
            except Exception as exc:  # an adapter bug must not kill the run: record it on the item
                log.exception("provider %s raised an unclassified error", self.provider.name)
                return Settled(None, attempts, 0.0, attempt_log, (ErrorKind.INTERNAL, f"{type(exc).__name__}: {exc}"))
            finally:
                self.stats.in_flight -= 1
            entry: dict[str, Any] = {"ms": round(timing.api_ms, 2)}
            if timing.queue_ms is not None:
                entry["queue_ms"] = round(timing.queue_ms, 2)
            if waited > 0.0005:
                entry["rate_wait_ms"] = round(waited * 1000, 2)
            if isinstance(outcome, Transcript):
                attempt_log.append(entry)
                self.stats.health.add_attempt(timing.api_ms, timing.queue_ms)
                return Settled(outcome, attempts, timing.api_ms, attempt_log, queue_ms=timing.queue_ms, wire=timing.wire)
            exc = outcome
            entry.update(error=exc.kind.value, status=exc.status, retry_after_s=exc.retry_after_s)
            attempt_log.append(entry)
            self.note_failed_attempt(exc, generation)
            if exc.kind == ErrorKind.FATAL:
                self.note_fatal(exc)
                return Settled(None, attempts, timing.api_ms, attempt_log, (exc.kind, str(exc)))
            retryable = exc.kind in (ErrorKind.RETRYABLE, ErrorKind.RATE_LIMITED)
            if not retryable or attempts >= self.retry.max_attempts:
                reason = str(exc) if not retryable else f"{exc} (gave up after {attempts} attempts)"
                return Settled(None, attempts, timing.api_ms, attempt_log, (exc.kind, reason))
            if self.stop.is_set():  # interrupted between attempts: unfinished, not failed
                self.stats.abandoned += 1
                return Settled(None, attempts, timing.api_ms, attempt_log)
            self.stats.retries += 1
            if await self.back_off(self.retry.delay(attempts - 1, exc.retry_after_s, self.rng)):
                self.stats.abandoned += 1  # stop requested during the backoff
                return Settled(None, attempts, timing.api_ms, attempt_log)

    async def back_off(self, delay: float) -> bool:
        """Sleep a retry's backoff (another item task takes an item meanwhile); True if the run
        stopped during it."""
        crew = self.crew
        with crew.asleep() if crew is not None else contextlib.nullcontext():
            try:
                await asyncio.wait_for(self.stop.wait(), delay)
                return True
            except TimeoutError:
                return False

    def succeed_settled(self, item: WorkItem, clip: AudioClip, variant_facts: dict, settled: Settled, started: float) -> None:
        """Record a settled clip's transcript (single request or stitched chunks)."""
        wire = {"wire": settled.wire} if settled.wire else {}
        self.succeed(item, settled.transcript, attempts=settled.attempts, api_ms=settled.api_ms, started=started,
                     duration=clip.duration_s, meta={**variant_facts, **wire, "attempt_log": settled.attempt_log},
                     queue_ms=settled.queue_ms)

    async def run(self, items: Iterable[WorkItem] | AsyncIterable[WorkItem]) -> ExecStats:
        """Process `items` with at most `concurrency` attempts in flight; returns when all are
        settled or, after `stop`, when the in-flight ones are."""
        queue = PrefetchQueue(self.prefetcher, self.concurrency)  # prefetch depth = concurrency

        async def feed() -> None:
            try:
                if isinstance(items, AsyncIterable):
                    async for item in items:
                        if self.stop.is_set():
                            break
                        await queue.put(item)
                else:
                    for item in items:
                        if self.stop.is_set():
                            break
                        await queue.put(item)
            finally:
                queue.put_end()  # the end: each item task puts it back for the next

        async def worker(crew: Crew) -> None:
            while True:
                entry = await queue.get()
                if entry is None:
                    crew.closed = True
                    queue.put_end()
                    return
                item, audio = entry
                if self.stop.is_set():
                    crew.closed = True
                    audio.cancel()
                    self.stats.abandoned += 1
                    continue
                await self.run_item(item, audio)
                if crew.surplus():  # started for an item in backoff, which is awake again
                    return

        self.crew = crew = Crew(self.concurrency, worker)
        crew.watch(asyncio.create_task(feed()))
        crew.start(self.concurrency)
        lag_monitor = asyncio.create_task(watch_loop_lag(self.stats.health))
        try:
            await crew.join()
        finally:
            crew.cancel()
            lag_monitor.cancel()
        return self.stats

    def close(self, wait: bool = True) -> None:
        self.engine.close(wait=wait)
        self.io_pool.shutdown(wait=wait, cancel_futures=True)
