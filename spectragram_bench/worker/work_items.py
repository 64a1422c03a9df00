"""The work-item table: what each job run still has to do, and who is doing it.

Every run, single-process or on many machines, goes through the same table. A process
leases a batch of items (`SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL, so concurrent
workers never take the same rows; SQLite serialises writers and has no row locks), keeps its
leases alive with a heartbeat, and marks an item done in the same transaction that commits
its prediction. A process that dies stops renewing: its leases expire and other workers
take the items again; a restart on the same host reclaims the leases of its dead processes at
once. The last process to finish a job run's items evaluates it, exactly once, under a lock
on the job_run row.

Here: the items themselves (queue, load, mark done, count, feed); leases live in
worker/leases.py and the job run's status transitions in worker/job_run_status.py.

Exactly-once, precisely: an item whose prediction is committed is never requested again. A
reply that arrived but was not yet committed when a process was killed is lost and requested
again; a worker stalled past its lease expiry may race the one that took its items over (the
database's unique keys then absorb the duplicate write).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from spectragram_bench.core.audio_source import META_KEY, AudioSource
from spectragram_bench.core.defaults import DEFAULT_LEASE_S  # noqa: F401  (re-exported)
from spectragram_bench.core.errors import DatabaseUnavailable
from spectragram_bench.core.models import (
    DatasetVariant,
    JobRun,
    Prediction,
    RatePacer,
    Utterance,
    WorkItemRow,
)
from spectragram_bench.core.persistence import Database, insert_for
from spectragram_bench.core.records import PredictionResult, WorkItem
from spectragram_bench.core.speech_spans import alignment_bounds
from spectragram_bench.core.statuses import (
    LEASABLE_STATUSES,
    ErrorKind,
    PredictionStatus,
    WorkItemState,
)
from spectragram_bench.worker import leases


def add_work_items(session: Session, job_run_id: int, utt_ids: Iterable[int]) -> None:
    """Queue the items of a job run (idempotent) and its shared rate-limit schedule."""
    insert = insert_for(session.bind.dialect.name)
    rows = [{"job_run_id": job_run_id, "utt_id": u, "state": WorkItemState.PENDING, "leases": 0} for u in utt_ids]
    if rows:
        stmt = insert(WorkItemRow).on_conflict_do_nothing(index_elements=["job_run_id", "utt_id"])
        session.connection().execute(stmt, rows)
    pacer = insert(RatePacer).values(job_run_id=job_run_id, tat_requests=0.0, tat_audio=0.0)
    session.execute(pacer.on_conflict_do_nothing(index_elements=["job_run_id"]))


def mark_done(session: Session, results: Sequence[PredictionResult]) -> None:
    """The writer's companion statement: items are done in the transaction that commits their results."""
    by_run: dict[int, list[int]] = defaultdict(list)
    for r in results:
        by_run[r.job_run_id].append(r.utt_id)
    t = WorkItemRow.__table__.c
    for job_run_id, utt_ids in by_run.items():
        session.connection().execute(  # Core: the ORM's bulk-update bookkeeping cost more than the UPDATE
            update(WorkItemRow.__table__)
            .where(t.job_run_id == job_run_id, t.utt_id.in_(utt_ids))
            .values(state=WorkItemState.DONE, lease_owner=None, lease_expires_at=None)
        )


def load_items(
    session: Session, job_run_id: int, utt_ids: Sequence[int],
    variants: Callable[[int, dict], dict] = lambda _dataset_id, spec: spec,
) -> tuple[list[WorkItem], dict[int, str]]:
    """Work items rebuilt from the database alone (a worker on another machine has no dataset
    loader), and the input errors the dataset loader noted for some of them (never sent)."""
    rows = session.execute(  # plain columns, not ORM objects: this runs for every batch leased
        select(
            Utterance.utt_id, Utterance.dataset_id, Utterance.external_id, Utterance.audio_path,
            Utterance.duration_s, Utterance.ref_text, Utterance.meta_json, Utterance.variant_id,
        )
        .where(Utterance.utt_id.in_(utt_ids))
        .order_by(Utterance.utt_id)
    ).all()
    # a batch has few variants: each one's spec read and resolved once, not once per item
    specs = dict(session.execute(
        select(DatasetVariant.variant_id, DatasetVariant.variant_json).where(DatasetVariant.variant_id.in_({r[7] for r in rows}))
    ).all()) if rows else {}
    resolved: dict[tuple[int, int], dict] = {}
    items = []
    broken: dict[int, str] = {}
    for utt_id, dataset_id, external_id, audio_path, duration_s, ref_text, meta, variant_id in rows:
        meta = meta or {}
        variant = resolved.get((dataset_id, variant_id))
        if variant is None:
            variant = resolved[(dataset_id, variant_id)] = variants(dataset_id, specs[variant_id] or {})
        if meta.get("load_error"):
            broken[utt_id] = str(meta["load_error"])
        items.append(
            WorkItem(
                job_run_id=job_run_id,
                utt_id=utt_id,
                external_id=external_id,
                audio_path=audio_path,
                duration_s=duration_s,
                ref_text=ref_text,
                offset_s=float(meta.get("offset_s", 0.0) or 0.0),
                segment_s=meta.get("segment_s"),
                variant=variant,
                source=AudioSource.restore(audio_path, meta) if META_KEY in meta else None,
                language=meta.get("language"),
                word_span=alignment_bounds(meta.get("words")),
                alignment_note=meta.get("alignment_error"),
            )
        )
    return items, broken


@dataclass
class ItemCounts:
    total: int = 0
    ok: int = 0
    failed: int = 0
    open: int = 0  # not done: pending or leased


def counts(session: Session, job_run_id: int) -> ItemCounts:
    c = ItemCounts()
    for state, n in session.execute(
        select(WorkItemRow.state, func.count()).where(WorkItemRow.job_run_id == job_run_id).group_by(WorkItemRow.state)
    ):
        c.total += n
        if state != WorkItemState.DONE:
            c.open += n
    for status, n in session.execute(
        select(Prediction.status, func.count())
        .join(WorkItemRow, and_(WorkItemRow.job_run_id == Prediction.job_run_id, WorkItemRow.utt_id == Prediction.utt_id))
        .where(Prediction.job_run_id == job_run_id)
        .group_by(Prediction.status)
    ):
        if status == PredictionStatus.OK:
            c.ok += n
        else:
            c.failed += n
    return c


class LeaseFeeder:
    """Yields a job run's items as they are leased, in batches, until none are left (or the
    database stays unavailable past its retry budget: then `on_unavailable` is told)."""

    def __init__(
        self, db: Database, job_run_id: int, owner: str, *, batch: int, lease_s: float,
        on_broken: Callable[[PredictionResult], None], variants: Callable[[int, dict], dict],
        on_unavailable: Callable[[DatabaseUnavailable], None] | None = None,
    ) -> None:
        self.db = db
        self.on_unavailable = on_unavailable
        self.variants = variants
        self.on_broken = on_broken
        self.job_run_id = job_run_id
        self.owner = owner
        self.batch = batch
        self.lease_s = lease_s
        self.leased = 0
        self.after = 0  # the last utt_id leased: the next lease starts past it (see leases.lease)

    async def __aiter__(self) -> AsyncIterator[WorkItem]:
        import asyncio

        while True:
            try:
                ids = await asyncio.to_thread(
                    self.db.retrying, leases.lease, self.db, self.job_run_id, self.owner, self.batch, self.lease_s, self.after,
                    what="leasing items",
                )
                if not ids:
                    return
                self.after = ids[-1]
                self.leased += len(ids)
                items, broken = await asyncio.to_thread(self.db.retrying, self._load, ids, what="loading items")
            except DatabaseUnavailable as exc:
                if self.on_unavailable is not None:
                    self.on_unavailable(exc)
                return
            for item in items:
                if item.utt_id in broken:
                    self.on_broken(
                        PredictionResult(item.job_run_id, item.utt_id, None, error_kind=ErrorKind.INPUT, error_text=broken[item.utt_id], attempts=0)
                    )
                    continue
                yield item

    def _load(self, ids: Sequence[int]) -> tuple[list[WorkItem], dict[int, str]]:
        with self.db.session() as s:
            return load_items(s, self.job_run_id, ids, self.variants)


def runnable_job_runs(db: Database) -> list[int]:
    """Job runs with items a worker could lease now."""
    now = time.time()
    with db.session() as s:
        return list(
            s.execute(
                select(WorkItemRow.job_run_id)
                .join(JobRun, JobRun.job_run_id == WorkItemRow.job_run_id)
                .where(
                    JobRun.status.in_(LEASABLE_STATUSES),
                    (WorkItemRow.state == WorkItemState.PENDING) | ((WorkItemRow.state == WorkItemState.LEASED) & (WorkItemRow.lease_expires_at < now)),
                )
                .distinct()
                .order_by(WorkItemRow.job_run_id)
            ).scalars()
        )


def open_job_runs(db: Database) -> list[int]:
    """Job runs still open with items not done, leasable now or held by a lease that may expire."""
    with db.session() as s:
        return list(
            s.execute(
                select(WorkItemRow.job_run_id)
                .join(JobRun, JobRun.job_run_id == WorkItemRow.job_run_id)
                .where(JobRun.status.in_(LEASABLE_STATUSES), WorkItemRow.state != WorkItemState.DONE)
                .distinct()
            ).scalars()
        )


def unclosed_job_runs(db: Database) -> list[int]:
    """Open job runs whose items are all done: their last process died before evaluating them."""
    with db.session() as s:
        not_done = select(WorkItemRow.job_run_id).where(WorkItemRow.state != WorkItemState.DONE)
        has_items = select(WorkItemRow.job_run_id)
        return list(
            s.execute(
                select(JobRun.job_run_id).where(
                    JobRun.status.in_(LEASABLE_STATUSES), JobRun.job_run_id.not_in(not_done), JobRun.job_run_id.in_(has_items)
                )
            ).scalars()
        )
