"""The single writer: workers `submit` results to a queue and one thread commits them in
batches (see core/persistence.py for why one writer), riding out database outages.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from spectragram_bench.core.db_retry import reason
from spectragram_bench.core.errors import DatabaseError, DatabaseUnavailable
from spectragram_bench.core.persistence import Database, write_results
from spectragram_bench.core.records import PredictionResult
from spectragram_bench.core.statuses import ErrorKind
from spectragram_bench.core.storable import storable_result

log = logging.getLogger(__name__)

_STOP = object()


class ResultWriter:
    """The single writer: one thread, one session, batched commits.

    `submit` never blocks on the database. A transient database error (core/db_retry.py) is
    retried for up to `db.retry_s` with the batch held in memory and results still accepted;
    past that `on_unavailable` is told (the run then stops as interrupted) and the writer
    keeps the batch and tries again until `close`. `close` (also on Ctrl-C, via the runner's
    finally) drains the queue, so every result that was handed over is committed, unless the
    database never came back: then `unsaved` counts what was lost (those items are not done
    and a resume requests them again).
    """

    def __init__(
        self, db: Database, batch_size: int = 200, max_delay_s: float = 0.5,
        also: Callable[[Session, list[PredictionResult]], None] | None = None,
        on_unavailable: Callable[[DatabaseUnavailable], None] | None = None,
    ) -> None:
        self.db = db
        self.also = also  # a companion write in the same transaction (work items marked done)
        self.on_unavailable = on_unavailable
        self.batch_size = batch_size
        self.max_delay_s = max_delay_s
        # a plain deque and a wake-up per batch, not a queue.Queue: waking the writer for every
        # result cost a GIL hand-off per result, taken from the event loop and the audio threads
        self._inbox: deque = deque()
        self._wake = threading.Event()
        self._want = batch_size  # inbox length that wakes the writer (it holds a part of a batch)
        self._error: BaseException | None = None
        self.unavailable: DatabaseUnavailable | None = None  # set while a batch cannot be written
        self.backlog = 0  # results held in memory, not yet committed
        self.unsaved = 0  # results given up on at close (the database never came back)
        self.written = 0
        self._thread = threading.Thread(target=self._loop, name="spectragram-writer", daemon=True)
        self._thread.start()

    def submit(self, result: PredictionResult) -> None:
        if self._error is not None:
            raise DatabaseError(f"database writer stopped: {self._error}")
        self._inbox.append(result)
        if len(self._inbox) >= self._want:
            self._wake.set()

    def _tell(self, message: object) -> None:
        """A control message (flush, stop): the writer wakes at once."""
        self._inbox.append(message)
        self._wake.set()

    def flush(self) -> None:
        """Block until everything submitted so far is committed (or the database gave up)."""
        done = threading.Event()
        self._tell(done)
        while not done.wait(0.1):
            if not self._thread.is_alive():
                break
        self._raise_if_failed()

    def close(self) -> None:
        if self._thread.is_alive():
            self._tell(_STOP)
            self._thread.join()
        self._raise_if_failed()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            if isinstance(self._error, DatabaseUnavailable):
                raise self._error
            raise DatabaseError(f"database writer failed: {self._error}")
        if self.unavailable is not None and self.backlog:
            raise self.unavailable

    def _collect(self, pending: list[PredictionResult], waiters: list[threading.Event]) -> bool:
        """Take results off the queue for one batch; True once close() asked to stop."""
        deadline = time.monotonic() + self.max_delay_s
        while len(pending) < self.batch_size:
            try:
                item = self._inbox.popleft()
            except IndexError:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._want = self.batch_size - len(pending)
                self._wake.wait(left)
                self._wake.clear()  # the inbox is looked at again after this: no wake-up is lost
                continue
            if item is _STOP:
                return True
            if isinstance(item, threading.Event):
                waiters.append(item)
                return False
            pending.append(storable_result(item))  # no secret, nothing a database refuses
        return False

    def _commit(self, pending: list[PredictionResult]) -> None:
        with self.db.transaction() as session:
            write_results(session, pending)
            if self.also is not None:
                self.also(session, pending)

    def _write(self, pending: list[PredictionResult]) -> bool:
        """Commit the batch, retrying a database outage; False if it is still held (or lost)."""
        self.backlog = len(pending)
        try:
            try:
                self.db.retrying(self._commit, pending, what=f"writing {len(pending)} results")
            except DBAPIError as exc:  # a value the database refuses: find the result(s) it is about
                log.error("the database refused a batch of %d results (%s); writing them one at a time", len(pending), reason(exc))
                while pending:
                    self._commit_or_refuse(pending[0])
                    pending.pop(0)
                    self.written += 1
        except DatabaseUnavailable as exc:
            first = self.unavailable is None
            self.unavailable = exc
            if first:
                log.error("%s; %d results held in memory", exc, len(pending))
                if self.on_unavailable is not None:
                    self.on_unavailable(exc)
            return False
        except BaseException as exc:  # keep the reason; submit/flush/close re-raise it
            log.error("database write failed for %d results: %s", len(pending), exc)
            self._error = exc
            pending.clear()
            return False
        self.written += len(pending)
        self.unavailable = None
        pending.clear()
        self.backlog = 0
        return True

    def _commit_or_refuse(self, result: PredictionResult) -> None:
        """One result alone; if the database still refuses it, its item is recorded as an
        `internal` failure naming the reason (a resume retries it), so one bad value never
        stops the run or loses the rest of the batch."""
        try:
            self.db.retrying(self._commit, [result], what="writing a result")
        except DBAPIError as exc:
            refused = dataclasses.replace(
                result, hyp_text=None, words=None, usage=None, error_kind=ErrorKind.INTERNAL,
                error_text=f"the database refused this result: {reason(exc)}"[:1000],
                latency_meta={"attempt_log": result.latency_meta.get("attempt_log", [])},
            )
            try:
                self.db.retrying(self._commit, [refused], what="writing a refused result")
            except DBAPIError as again:  # not even the failure can be stored (an unknown item): only logged
                log.error("result for job run %d, utterance %d dropped: %s", result.job_run_id, result.utt_id, reason(again))

    def _loop(self) -> None:
        pending: list[PredictionResult] = []
        waiters: list[threading.Event] = []
        stop = False
        while self._error is None:
            if not stop:
                stop = self._collect(pending, waiters)
            if pending and not self._write(pending) and stop:
                self._error = self.unavailable  # asked to stop and the database is still away
            for w in waiters:
                w.set()
            waiters = []
            if stop and not pending:
                break
        # whatever is left (after an error): counted as not stored; nothing blocks on the queue forever
        self.unsaved = len(pending)
        while True:
            try:
                item = self._inbox.popleft()
            except IndexError:
                break
            if isinstance(item, threading.Event):
                item.set()
            elif isinstance(item, PredictionResult):
                self.unsaved += 1
        self.backlog = self.unsaved
