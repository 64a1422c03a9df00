"""Progress of the job runs in flight: a live bar per job run on a terminal, a plain log line
per job run every few seconds otherwise (CI logs stay readable), nothing with --quiet.

It only reads the executors' counters; it never slows or blocks the work.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from spectragram_bench.worker.exec_infer import ExecStats

log = logging.getLogger("spectragram_bench.progress")

LOG_INTERVAL_S = 10.0
RATE_WINDOW_S = 30.0


def choose_mode(quiet: bool, stream=None) -> str:
    if quiet:
        return "none"
    stream = stream or sys.stderr
    return "live" if stream.isatty() else "log"


@dataclass
class Tracked:
    label: str
    total: int
    already: int  # items settled before this process started (resume, other workers)
    stats: ExecStats
    started: float = field(default_factory=time.monotonic)
    samples: deque = field(default_factory=lambda: deque(maxlen=64))
    task_id: int | None = None
    finished: bool = False

    @property
    def settled(self) -> int:
        return self.already + self.stats.done + self.stats.failed

    def rate(self) -> float:
        """Items settled per second over the last RATE_WINDOW_S."""
        now = time.monotonic()
        self.samples.append((now, self.stats.done + self.stats.failed))
        while len(self.samples) > 2 and now - self.samples[0][0] > RATE_WINDOW_S:
            self.samples.popleft()
        t0, n0 = self.samples[0]
        if now - t0 < 1e-3:
            return 0.0
        return (self.samples[-1][1] - n0) / (now - t0)

    def eta(self, rate: float) -> str:
        left = self.total - self.settled
        if left <= 0:
            return "0s"
        if rate <= 0:
            return "?"
        seconds = int(left / rate)
        m, s = divmod(seconds, 60)
        h, m = divmod(m, 60)
        return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


class ProgressDisplay:
    def __init__(self, mode: str, interval_s: float = LOG_INTERVAL_S, console: Console | None = None) -> None:
        self.mode = mode
        self.interval_s = interval_s
        self.tracked: list[Tracked] = []
        self._task: asyncio.Task | None = None
        self._progress: Progress | None = None
        self._console = console or Console(stderr=True)
        self._handlers: list[tuple[logging.StreamHandler, object]] = []

    def add(self, label: str, total: int, already: int, stats: ExecStats) -> Tracked:
        t = Tracked(label, total, already, stats)
        t.samples.append((t.started, 0))  # the rate window starts with the job run
        self.tracked.append(t)
        if self._progress is not None:
            t.task_id = self._progress.add_task(label, total=total, completed=t.settled, failed=0, retries=0, rate="", eta="")
        return t

    def finish(self, t: Tracked) -> None:
        t.finished = True
        self._render(t, final=True)

    def start(self) -> None:
        if self.mode == "none":
            return
        if self.mode == "live":
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("failed {task.fields[failed]}  retries {task.fields[retries]}  {task.fields[rate]}  ETA {task.fields[eta]}"),
                TimeElapsedColumn(),
                console=self._console,
                refresh_per_second=4,
            )
            self._progress.start()
            self._redirect_logging()
            for t in self.tracked:
                t.task_id = self._progress.add_task(t.label, total=t.total, completed=t.settled, failed=0, retries=0, rate="", eta="")
        self._task = asyncio.get_running_loop().create_task(self._tick())

    async def _tick(self) -> None:
        period = 0.25 if self.mode == "live" else self.interval_s
        while True:
            await asyncio.sleep(period)
            for t in self.tracked:
                if not t.finished:
                    self._render(t)

    def _render(self, t: Tracked, final: bool = False) -> None:
        if self.mode == "none":
            return
        rate = t.rate()
        failed = t.stats.failed
        if self._progress is not None and t.task_id is not None:
            self._progress.update(
                t.task_id, completed=t.settled, failed=failed, retries=t.stats.retries,
                rate=f"{rate:.1f} utt/s", eta=t.eta(rate),
            )
        elif self.mode == "log":
            word = "finished" if final else "progress"
            log.info(
                "%s %s: %d/%d settled (%d failed, %d retries, %d in flight), %.1f utt/s, ETA %s",
                word, t.label, t.settled, t.total, failed, t.stats.retries, t.stats.in_flight, rate, t.eta(rate),
            )

    def _redirect_logging(self) -> None:
        """Log records print above the live bars instead of through them."""
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream in (sys.stderr, sys.__stderr__):
                self._handlers.append((handler, handler.stream))
                handler.setStream(_ConsoleWriter(self._console.print))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        for t in self.tracked:
            if not t.finished:
                self._render(t, final=True)
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        for handler, stream in self._handlers:
            handler.setStream(stream)
        self._handlers = []


class _ConsoleWriter:
    def __init__(self, emit: Callable[..., None]) -> None:
        self.emit = emit

    def write(self, text: str) -> int:
        if text.strip():
            self.emit(text.rstrip("\n"), markup=False, highlight=False)
        return len(text)

    def flush(self) -> None:
        pass
