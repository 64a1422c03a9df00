"""The machinery around a provider adapter: concurrency, timeouts, retries, timing.

The adapter makes one attempt and classifies its failure (providers/base.py); here we decide:
retry transient failures with jittered exponential backoff (honouring the provider's
retry-after hint), give up on an utterance-fatal one, and stop the whole job run on a
run-fatal one (a bad key stops after the first reply, not after thousands of requests).
Blocking engines run in worker threads so the event loop keeps dispatching.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from spectragram_bench.core.audio import AudioClip, load_audio
from spectragram_bench.core.errors import AudioError
from spectragram_bench.core.records import PredictionResult, WorkItem
from spectragram_bench.datasets.variants import apply_variant
from spectragram_bench.providers.base import ErrorKind, Provider, ProviderError, Transcript

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 60.0

    def delay(self, attempt: int, retry_after_s: float | None, rng: random.Random) -> float:
        """Full jitter (uniform in [0, base * 2^attempt]), but never sooner than the server asked."""
        backoff = rng.uniform(0, min(self.max_delay_s, self.base_delay_s * (2**attempt)))
        if retry_after_s is not None:
            return min(self.max_delay_s, max(backoff, retry_after_s))
        return backoff


@dataclass
class ExecStats:
    done: int = 0
    failed: int = 0
    retries: int = 0
    fatal_error: str | None = None
    interrupted: bool = False
    errors_by_kind: dict[str, int] = field(default_factory=dict)


def prepare_audio(item: WorkItem) -> tuple[AudioClip, dict]:
    """Load the item's audio and apply its variant (blocking; runs in a thread)."""
    clip = load_audio(item.audio_path, item.offset_s, item.segment_s)
    return apply_variant(clip, item.variant, item)


class Executor:
    def __init__(
        self,
        provider: Provider,
        submit: Callable[[PredictionResult], None],
        *,
        concurrency: int,
        timeout_s: float,
        retry: RetryPolicy,
        seed: int = 0,
    ) -> None:
        self.provider = provider
        self.submit = submit
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.retry = retry
        self.rng = random.Random(seed)
        self.stats = ExecStats()
        self.stop = asyncio.Event()
        self.pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix=f"stt-{provider.name}")
        self.model_revision: str | None = None

    async def _attempt(self, clip: AudioClip, item: WorkItem) -> Transcript:
        if self.provider.blocking:
            loop = asyncio.get_running_loop()
            call = loop.run_in_executor(self.pool, self.provider.transcribe_blocking, clip, item)
        else:
            call = self.provider.transcribe(clip, item)
        try:
            return await asyncio.wait_for(call, self.timeout_s)
        except TimeoutError:
            raise ProviderError(ErrorKind.RETRYABLE, f"no reply within {self.timeout_s:g} s (timeout)") from None

    def _fail(self, item: WorkItem, kind: str, text: str, attempts: int, started: float) -> None:
        self.stats.failed += 1
        self.stats.errors_by_kind[kind] = self.stats.errors_by_kind.get(kind, 0) + 1
        self.submit(
            PredictionResult(
                item.job_run_id,
                item.utt_id,
                None,
                error_kind=kind,
                error_text=text,
                attempts=attempts,
                total_time_ms=(time.perf_counter() - started) * 1000,
            )
        )

    async def run_item(self, item: WorkItem) -> None:
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        try:
            clip, variant_facts = await loop.run_in_executor(self.pool, prepare_audio, item)
        except AudioError as exc:
            self._fail(item, "input", str(exc), 0, started)
            return
        attempts = 0
        while True:
            attempts += 1
            t0 = time.perf_counter()
            try:
                transcript = await self._attempt(clip, item)
            except ProviderError as exc:
                if exc.kind == ErrorKind.FATAL:
                    self.stats.fatal_error = str(exc)
                    self.stop.set()
                    self._fail(item, exc.kind.value, str(exc), attempts, started)
                    return
                retryable = exc.kind in (ErrorKind.RETRYABLE, ErrorKind.RATE_LIMITED)
                if not retryable or attempts >= self.retry.max_attempts or self.stop.is_set():
                    reason = str(exc) if not retryable else f"{exc} (gave up after {attempts} attempts)"
                    self._fail(item, exc.kind.value, reason, attempts, started)
                    return
                self.stats.retries += 1
                await asyncio.sleep(self.retry.delay(attempts - 1, exc.retry_after_s, self.rng))
                continue
            except Exception as exc:  # an adapter bug must not kill the run: record it on the item
                log.exception("provider %s raised an unclassified error", self.provider.name)
                self._fail(item, "internal", f"{type(exc).__name__}: {exc}", attempts, started)
                return
            api_ms = (time.perf_counter() - t0) * 1000
            break
        total_ms = (time.perf_counter() - started) * 1000
        duration = clip.duration_s
        if transcript.model_revision:
            self.model_revision = transcript.model_revision
        self.stats.done += 1
        self.submit(
            PredictionResult(
                item.job_run_id,
                item.utt_id,
                transcript.text,
                words=transcript.words,
                usage=transcript.usage,
                attempts=attempts,
                api_time_ms=api_ms,
                total_time_ms=total_ms,
                rtf=(api_ms / 1000.0) / duration if duration > 0 else None,
                billed_seconds=transcript.billed_seconds,
                latency_meta={**transcript.meta, **variant_facts, "audio_s": round(duration, 4)},
            )
        )

    async def run(self, items: Sequence[WorkItem]) -> ExecStats:
        """Process `items` with at most `concurrency` in flight; returns when all are settled."""
        queue: asyncio.Queue[WorkItem] = asyncio.Queue()
        for item in items:
            queue.put_nowait(item)

        async def worker() -> None:
            while not self.stop.is_set():
                try:
                    item = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                await self.run_item(item)

        try:
            await asyncio.gather(*(worker() for _ in range(min(self.concurrency, max(1, len(items))))))
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)
        return self.stats
