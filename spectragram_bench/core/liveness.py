"""Is a `running` job run still running? Its processes write job_run.heartbeat_at every
DEFAULT_LEASE_S / 3 seconds; one whose heartbeat is older than STALE_AFTER_S lost them all
(kill -9, a crash, a machine gone) and is shown as `interrupted (stale)` with the heartbeat's
age, and `run --resume` takes it over. The stored status stays `running`: only a process that
runs the job run again changes it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from spectragram_bench.core.defaults import STALE_AFTER_S
from spectragram_bench.core.statuses import JobRunStatus

STALE = "interrupted (stale)"


def fmt_age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


def last_sign_of_life(heartbeat_at: float | None, started_at: datetime | None) -> float | None:
    """The heartbeat, or for a run written before heartbeats existed, its start."""
    if heartbeat_at is not None:
        return heartbeat_at
    if started_at is None:
        return None
    return (started_at if started_at.tzinfo else started_at.replace(tzinfo=UTC)).timestamp()  # SQLite drops the zone


def stale_age(status: str, heartbeat_at: float | None, started_at: datetime | None = None, *,
              now: float | None = None, stale_after_s: float = STALE_AFTER_S) -> float | None:
    """Seconds since a `running` job run last showed life, when that is over `stale_after_s`; else None."""
    if status != JobRunStatus.RUNNING:
        return None
    seen = last_sign_of_life(heartbeat_at, started_at)
    age = (time.time() if now is None else now) - seen if seen is not None else float("inf")
    return age if age > stale_after_s else None


def shown_status(status: str, heartbeat_at: float | None, started_at: datetime | None = None, *,
                 now: float | None = None, stale_after_s: float = STALE_AFTER_S) -> str:
    """The status as `list` and `report` show it: `interrupted (stale, heartbeat 12m03s ago)` for a dead run."""
    age = stale_age(status, heartbeat_at, started_at, now=now, stale_after_s=stale_after_s)
    if age is None:
        return str(status)
    return f"{STALE[:-1]}, {'no heartbeat' if age == float('inf') else f'heartbeat {fmt_age(age)} ago'})"
