"""The executor's item tasks: `concurrency` of them awake, whatever is sleeping through a backoff.

An item task takes one work item at a time and sees it through its attempts. A retry's backoff
sleep holds no concurrency slot (worker/limits.py), but it holds its task: with one task per
slot, a burst of 429s put every task to sleep at once and no other item could use the slots
AIMD still allowed. So each backoff sleep (`asleep()`) starts one more task while fewer than
`target` are awake, and a task that finishes an item while more than `target` are awake ends
(`surplus()`): the tasks awake stay at `target`, and the slots keep bounding the attempts in
flight. Sleepers replaced at once are capped at `target` more tasks, so a provider answering
429 for minutes holds at most 2 x `target` items in backoff, not the whole run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager


class Crew:
    """Item tasks running `work()` (a loop that ends on its own), kept `target` awake."""

    def __init__(self, target: int, work: Callable[[Crew], Awaitable[None]], *, extra: int | None = None) -> None:
        self.target = target
        self.limit = target + (target if extra is None else extra)  # item tasks alive at most
        self.work = work
        self.alive = 0  # item tasks not yet ended
        self.sleeping = 0  # backoff sleeps in progress (a chunked item may have several)
        self.closed = False  # no task is started any more (the items ran out, or the run stops)
        self.tasks: set[asyncio.Task] = set()
        self.error: BaseException | None = None
        self._changed = asyncio.Event()

    @property
    def awake(self) -> int:
        return self.alive - self.sleeping

    def start(self, n: int = 1) -> None:
        for _ in range(n):
            self.alive += 1
            self.watch(asyncio.create_task(self._one()))

    def watch(self, task: asyncio.Task) -> None:
        """Follow `task` too (the feeder): `join` returns when it and every item task ended."""
        self.tasks.add(task)
        task.add_done_callback(self._done)

    async def _one(self) -> None:
        try:
            await self.work(self)
        finally:
            self.alive -= 1

    def _done(self, task: asyncio.Task) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None and self.error is None:
            self.error = task.exception()
        self._changed.set()

    @contextmanager
    def asleep(self) -> Iterator[None]:
        """Around a backoff sleep: another task takes an item meanwhile, if fewer than `target` are awake."""
        self.sleeping += 1
        if not self.closed and self.awake < self.target and self.alive < self.limit:
            self.start()
        try:
            yield
        finally:
            self.sleeping -= 1

    def surplus(self) -> bool:
        """After an item: more than `target` tasks are awake, so this one ends."""
        return self.awake > self.target

    async def join(self) -> None:
        """Until every followed task ended; the first one's error is raised (the rest are left
        to the caller to cancel)."""
        while True:
            if self.error is not None:
                raise self.error
            if not self.tasks:
                return
            self._changed.clear()
            await self._changed.wait()

    def cancel(self) -> None:
        self.closed = True
        for task in list(self.tasks):
            task.cancel()
