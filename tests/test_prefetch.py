"""Audio prefetch in chunks (worker/prefetch.py): each item gets its own outcome, a partial
chunk goes to a thread as soon as its starter yields, and the queue never holds more than its
depth."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from spectragram_bench.core.errors import AudioError
from spectragram_bench.core.records import WorkItem
from spectragram_bench.worker.prefetch import Prefetcher, PrefetchQueue, chunk_size


def item(i: int) -> WorkItem:
    return WorkItem(1, i, f"u{i}", f"/nowhere/{i}.flac", None)


def prepare(it: WorkItem) -> tuple[int, str]:
    if it.utt_id % 3 == 0:
        raise AudioError(f"audio file not found: {it.audio_path}")
    return it.utt_id, threading.current_thread().name


def test_chunk_size_follows_the_depth():
    assert [chunk_size(d) for d in (1, 2, 7, 8, 64, 500)] == [1, 1, 1, 2, 16, 16]


def test_each_item_gets_its_own_result_or_error_and_chunks_share_a_thread_task():
    calls: list[list[int]] = []

    async def go():
        with ThreadPoolExecutor(2) as pool:
            pre = Prefetcher(pool, prepare, chunk=4)
            original = pre._prepare_chunk
            pre._prepare_chunk = lambda loop, chunk: (calls.append([it.utt_id for it, _ in chunk]), original(loop, chunk))
            futures = [pre.start(item(i)) for i in range(1, 11)]  # two full chunks, then 2 left open
            return await asyncio.gather(*futures, return_exceptions=True)

    out = asyncio.run(go())
    assert calls == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10]]  # the last two went when the caller yielded
    for i, value in enumerate(out, start=1):
        if i % 3 == 0:
            assert isinstance(value, AudioError) and f"/nowhere/{i}.flac" in str(value)
        else:
            assert value[0] == i


def test_the_queue_holds_at_most_its_depth_and_refills_by_chunks():
    async def go():
        with ThreadPoolExecutor(2) as pool:
            pre = Prefetcher(pool, lambda it: it.utt_id, chunk=2)
            queue = PrefetchQueue(pre, depth=4)
            seen_sizes: list[int] = []

            async def feed():
                for i in range(1, 10):
                    await queue.put(item(i))
                    seen_sizes.append(queue._queue.qsize())
                queue.put_end()

            task = asyncio.create_task(feed())
            got = []
            while (entry := await queue.get()) is not None:
                got.append(await entry[1])
            await task
            return got, seen_sizes

    got, sizes = asyncio.run(go())
    assert got == list(range(1, 10))
    assert max(sizes) <= 4


@pytest.mark.parametrize("cancel_first", [True, False])
def test_a_cancelled_item_is_skipped_and_the_rest_delivered(cancel_first):
    async def go():
        with ThreadPoolExecutor(1) as pool:
            pre = Prefetcher(pool, lambda it: it.utt_id, chunk=3)
            futures = [pre.start(item(i)) for i in (1, 2, 4)]
            futures[0 if cancel_first else 2].cancel()
            return await asyncio.gather(*futures, return_exceptions=True)

    out = asyncio.run(go())
    assert sum(isinstance(v, asyncio.CancelledError) for v in out) == 1
    assert [v for v in out if not isinstance(v, BaseException)] == ([2, 4] if cancel_first else [1, 2])
