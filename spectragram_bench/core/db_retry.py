"""Riding out database outages: transient errors (connection refused or reset, a restarted
server, SQLite's `database is locked`) are retried with backoff for a bounded time.

`db_retry_s` (job config, default 60 s) bounds how long one database operation keeps
trying; meanwhile finished results stay in the writer's memory and no request is recorded
as failed because of the database. Past the bound the operation raises
`DatabaseUnavailable`, and the run stops as interrupted with one line saying how to resume
(worker/job_runs.py). Other database errors (a constraint, a bug) are not retried.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError

from spectragram_bench.core.errors import DatabaseUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_DB_RETRY_S = 60.0
FIRST_DELAY_S = 0.05
MAX_DELAY_S = 1.0

#: what the drivers say when the server or the file is unavailable for a while (lower case)
TRANSIENT_MARKERS = (
    "database is locked",
    "database table is locked",
    "connection refused",
    "connection reset",
    "connection timed out",
    "timeout expired",
    "could not connect",
    "server closed the connection",
    "terminating connection",
    "connection is closed",
    "connection already closed",
    "the connection is lost",
    "consuming input failed",
    "no connection to the server",
    "server conn crashed",
    "ssl syscall error",
    "broken pipe",
    "network is unreachable",
    "the database system is starting up",
    "the database system is shutting down",
    "cannot connect now",
)


def reason(exc: BaseException) -> str:
    """The driver's first line, never the SQL statement SQLAlchemy appends."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, DisconnectionError):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, (OperationalError, InterfaceError)):
        text = str(exc.orig if exc.orig is not None else exc).lower()
        return any(marker in text for marker in TRANSIENT_MARKERS)
    return False


def retrying(
    fn: Callable[..., T], *args, budget_s: float, what: str, sleep: Callable[[float], None] = time.sleep, **kwargs
) -> T:
    """`fn(*args, **kwargs)`, retried on transient database errors for up to `budget_s`
    seconds in all (blocking; run it in a thread from async code)."""
    started = time.monotonic()
    delay = FIRST_DELAY_S
    warned = False
    while True:
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            if not is_transient(exc):
                raise
            waited = time.monotonic() - started
            if waited + delay > budget_s:
                raise DatabaseUnavailable(
                    f"the database was unavailable for {waited:.0f} s ({what}): {reason(exc)}"
                ) from None
            if not warned:
                log.warning("database unavailable (%s: %s); retrying for up to %g s", what, reason(exc), budget_s)
                warned = True
            sleep(delay)
            delay = min(delay * 2, MAX_DELAY_S)
            continue
        if warned:
            log.info("database available again after %.1f s (%s)", time.monotonic() - started, what)
        return result
