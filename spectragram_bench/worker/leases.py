"""Leases on work items: who holds an item, until when, and taking back a dead holder's.

A lease owner id names its host and pid, so a restart on the same host recognises the leases
of its own dead processes and releases them at once instead of waiting for them to expire.
Leasing is one statement (see `lease`) so two processes never take the same rows.
"""

from __future__ import annotations

import os
import socket
import time
import uuid

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from spectragram_bench.core.models import JobRun, WorkItemRow
from spectragram_bench.core.persistence import Database
from spectragram_bench.core.statuses import LEASABLE_STATUSES, WorkItemState


def new_owner() -> str:
    """A lease owner id: host, pid (to recognise our own dead processes) and a random tag."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_dead_here(owner: str) -> bool:
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def reclaim_dead_leases(db: Database) -> int:
    """Release the leases of processes on this host that no longer exist (killed, crashed)."""
    with db.transaction() as s:
        owners = s.execute(select(WorkItemRow.lease_owner).where(WorkItemRow.state == WorkItemState.LEASED).distinct()).scalars().all()
        dead = [o for o in owners if o and owner_dead_here(o)]
        if not dead:
            return 0
        result = s.execute(
            update(WorkItemRow)
            .where(WorkItemRow.state == WorkItemState.LEASED, WorkItemRow.lease_owner.in_(dead))
            .values(state=WorkItemState.PENDING, lease_owner=None, lease_expires_at=None)
        )
        return result.rowcount or 0


def lease(db: Database, job_run_id: int, owner: str, n: int, lease_s: float, after: int = 0) -> list[int]:
    """Lease up to `n` runnable items of a job run (pending, or leased by someone whose lease expired),
    in utt_id order from just past `after` (the last id this caller leased), then from the start
    for what is left (items released or expired behind the cursor).

    Each pass is one statement, `WITH picked AS MATERIALIZED (SELECT ... LIMIT n FOR UPDATE SKIP
    LOCKED) UPDATE ... FROM picked RETURNING`: atomic on both databases (SQLite runs one statement
    under its write lock; a SELECT then an UPDATE would hand the same rows to two processes).
    The materialised CTE matters: PostgreSQL may re-run a `WHERE utt_id IN (SELECT ... LIMIT n
    ... SKIP LOCKED)` subquery per row and update far more than n rows. The cursor matters at
    scale: scanning from the start walks every finished item first, holding SQLite's write lock
    for it (12 ms per lease with 80k done), so a run's leasing grew with the square of its size.
    """
    ids = _lease_from(db, job_run_id, owner, n, lease_s, after) if after else []
    if len(ids) < n:
        ids += _lease_from(db, job_run_id, owner, n - len(ids), lease_s, 0)
    return sorted(ids)


def _lease_from(db: Database, job_run_id: int, owner: str, n: int, lease_s: float, after: int) -> list[int]:
    now = time.time()
    w, jr = WorkItemRow.__table__.c, JobRun.__table__.c  # Core: the ORM's bulk-update bookkeeping cost more than the UPDATE
    candidates = (
        select(w.utt_id)
        .join(JobRun.__table__, jr.job_run_id == w.job_run_id)
        .where(
            w.job_run_id == job_run_id,
            w.utt_id > after,
            jr.status.in_(LEASABLE_STATUSES),
            (w.state == WorkItemState.PENDING) | ((w.state == WorkItemState.LEASED) & (w.lease_expires_at < now)),
        )
        .order_by(w.utt_id)
        .limit(n)
        .with_for_update(of=WorkItemRow.__table__, skip_locked=True)
    )
    picked = candidates.cte("picked").prefix_with("MATERIALIZED")
    stmt = (
        update(WorkItemRow.__table__)
        .where(w.job_run_id == job_run_id, w.utt_id == picked.c.utt_id)
        .values(state=WorkItemState.LEASED, lease_owner=owner, lease_expires_at=now + lease_s, leases=w.leases + 1)
        .returning(w.utt_id)
    )
    with db.begin() as conn:
        return list(conn.execute(stmt).scalars().all())


def renew(db: Database, owner: str, lease_s: float) -> int:
    with db.transaction() as s:
        result = s.execute(
            update(WorkItemRow)
            .where(WorkItemRow.lease_owner == owner, WorkItemRow.state == WorkItemState.LEASED)
            .values(lease_expires_at=time.time() + lease_s)
        )
        return result.rowcount or 0


def release(db: Database, owner: str) -> int:
    """Give back every item this owner leased but did not finish (stop, interrupt)."""
    with db.transaction() as s:
        result = s.execute(
            update(WorkItemRow)
            .where(WorkItemRow.lease_owner == owner, WorkItemRow.state == WorkItemState.LEASED)
            .values(state=WorkItemState.PENDING, lease_owner=None, lease_expires_at=None)
        )
        return result.rowcount or 0


def take_over(session: Session, job_run_id: int) -> int:
    """Release every lease of a stale job run (core/liveness.py), whoever held it: the holders
    stopped beating long ago, on this host or another."""
    result = session.execute(
        update(WorkItemRow)
        .where(WorkItemRow.job_run_id == job_run_id, WorkItemRow.state == WorkItemState.LEASED)
        .values(state=WorkItemState.PENDING, lease_owner=None, lease_expires_at=None)
    )
    return result.rowcount or 0
