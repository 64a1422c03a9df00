"""Where one attempt runs: on the event loop (network adapters), in a thread pool (blocking
engines that release the GIL) or in a process pool (engines that hold it, `Provider.executor_pool
== "process"`), so the event loop keeps dispatching whatever the engine."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
from concurrent.futures import Executor as PoolExecutor
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

from spectragram_bench.core.audio import AudioClip
from spectragram_bench.core.records import WorkItem
from spectragram_bench.providers.base import ErrorKind, Provider, ProviderError, Transcript


class AsyncEngine:
    """Network adapters: the attempt is a coroutine on the event loop."""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider

    async def attempt(self, clip: AudioClip, item: WorkItem) -> Transcript:
        return await self.provider.transcribe(clip, item)

    def close(self, wait: bool = True) -> None:
        pass


class ThreadEngine(AsyncEngine):
    """Blocking engines that release the GIL (or share one big model): a thread pool."""

    def __init__(self, provider: Provider, workers: int) -> None:
        super().__init__(provider)
        self.pool: PoolExecutor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"stt-{provider.name}")

    async def attempt(self, clip: AudioClip, item: WorkItem) -> Transcript:
        return await asyncio.get_running_loop().run_in_executor(self.pool, self.provider.transcribe_blocking, clip, item)

    def close(self, wait: bool = True) -> None:
        self.pool.shutdown(wait=wait, cancel_futures=True)


_CHILD_PROVIDER: Provider | None = None


def _child_init(provider_cls: type[Provider], config) -> None:
    """Each pool process builds its own adapter; Ctrl-C is the parent's to handle."""
    global _CHILD_PROVIDER
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _CHILD_PROVIDER = provider_cls(config)


def _child_transcribe(clip: AudioClip, item: WorkItem) -> tuple[str, Any]:
    assert _CHILD_PROVIDER is not None
    try:
        return "ok", _CHILD_PROVIDER.transcribe_blocking(clip, item)
    except ProviderError as exc:  # sent back as fields: the exception's keyword arguments do not pickle
        return "error", (exc.kind, exc.message, exc.status, exc.retry_after_s, exc.request_id)


class ProcessEngine(AsyncEngine):
    """Blocking engines that hold the GIL (pocketsphinx): one adapter per process."""

    def __init__(self, provider: Provider, workers: int) -> None:
        super().__init__(provider)
        ctx = multiprocessing.get_context("spawn")  # never fork a process that has threads
        self.pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=ctx, initializer=_child_init, initargs=(type(provider), provider.config)
        )

    async def attempt(self, clip: AudioClip, item: WorkItem) -> Transcript:
        status, value = await asyncio.get_running_loop().run_in_executor(self.pool, _child_transcribe, clip, item)
        if status == "error":
            kind, message, code, retry_after, request_id = value
            raise ProviderError(ErrorKind(kind), message, status=code, retry_after_s=retry_after, request_id=request_id)
        return value

    def close(self, wait: bool = True) -> None:
        if not wait:
            for proc in list(getattr(self.pool, "_processes", {}).values()):
                proc.kill()  # a second Ctrl-C: do not wait for a decode to finish
        self.pool.shutdown(wait=wait, cancel_futures=True)


def make_engine(provider: Provider, concurrency: int) -> AsyncEngine:
    if not provider.blocking:
        return AsyncEngine(provider)
    if getattr(provider, "executor_pool", "thread") == "process":
        return ProcessEngine(provider, max(1, min(concurrency, os.cpu_count() or 1)))
    return ThreadEngine(provider, max(1, concurrency))
