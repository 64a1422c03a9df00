"""Audio prefetch in chunks: items' audio is prepared in the I/O threads a chunk at a time.

One thread task and one wake-up of the event loop per chunk of items, not per item: with fast
providers the per-item hand-offs (a concurrent future, a worker thread woken, a self-pipe write
and an epoll wake-up of the loop) cost more CPU, fighting for the GIL, than opening the audio.
A chunk goes to a thread when it is full or as soon as the code that started it yields to the
event loop, so a lone item never waits for company.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from spectragram_bench.core.records import WorkItem


def chunk_size(depth: int) -> int:
    """Items per chunk for a prefetch depth: a quarter of it, at most 16 (at least 1)."""
    return max(1, min(16, depth // 4))


class Prefetcher:
    """`start(item)` returns an asyncio future of `prepare(item)`, run in `pool` with the items
    started around it."""

    def __init__(self, pool: Executor, prepare: Callable[[WorkItem], Any], chunk: int) -> None:
        self.pool = pool
        self.prepare = prepare
        self.chunk = chunk
        self._open: list[tuple[WorkItem, asyncio.Future]] = []
        self._pending_flush: asyncio.Handle | None = None

    def start(self, item: WorkItem) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._open.append((item, future))
        if len(self._open) >= self.chunk:
            self.flush()
        elif self._pending_flush is None:
            self._pending_flush = loop.call_soon(self.flush)
        return future

    def flush(self) -> None:
        """Hand the open chunk to a thread."""
        if self._pending_flush is not None:
            self._pending_flush.cancel()
            self._pending_flush = None
        chunk, self._open = self._open, []
        if chunk:
            self.pool.submit(self._prepare_chunk, asyncio.get_running_loop(), chunk)

    def _prepare_chunk(self, loop: asyncio.AbstractEventLoop, chunk: list[tuple[WorkItem, asyncio.Future]]) -> None:
        outcomes: list[tuple[bool, Any]] = []
        for item, future in chunk:
            if future.cancelled():  # abandoned meanwhile (a stop): not worth opening
                outcomes.append((False, None))
                continue
            try:
                outcomes.append((True, self.prepare(item)))
            except Exception as exc:  # the item's own failure, raised where its audio is awaited
                outcomes.append((False, exc))
        try:
            loop.call_soon_threadsafe(_deliver, chunk, outcomes)
        except RuntimeError:  # the event loop is gone (a hard stop): nobody waits for these
            pass


def _deliver(chunk: list[tuple[WorkItem, asyncio.Future]], outcomes: list[tuple[bool, Any]]) -> None:
    for (_, future), (ok, value) in zip(chunk, outcomes, strict=True):
        if future.done():
            continue
        if ok:
            future.set_result(value)
        elif value is not None:
            future.set_exception(value)
        else:
            future.cancel()


class PrefetchQueue:
    """Items waiting for an item task, their audio already loading: at most `depth` of them, and
    a full queue is topped up once a chunk's worth was taken (so chunks stay whole). None is
    the end."""

    def __init__(self, prefetcher: Prefetcher, depth: int) -> None:
        self.prefetcher = prefetcher
        self.depth = depth
        self.low = depth - prefetcher.chunk
        self._queue: asyncio.Queue[tuple[WorkItem, asyncio.Future] | None] = asyncio.Queue()
        self._room = asyncio.Event()

    async def put(self, item: WorkItem) -> None:
        while self._queue.qsize() >= self.depth:
            self._room.clear()
            await self._room.wait()
        self._queue.put_nowait((item, self.prefetcher.start(item)))

    def put_end(self) -> None:
        self._queue.put_nowait(None)

    async def get(self) -> tuple[WorkItem, asyncio.Future] | None:
        entry = await self._queue.get()
        if self._queue.qsize() <= self.low:
            self._room.set()
        return entry
