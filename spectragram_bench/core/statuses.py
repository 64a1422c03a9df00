"""Every status and error kind the database stores, as one StrEnum each.

Values are the strings the rows have always held, so a member compares equal to (and is
stored as) its string and existing databases need no migration. Code names a member, never a
literal, so a typo is an AttributeError instead of a silent mismatch.
"""

from __future__ import annotations

import enum


class JobRunStatus(enum.StrEnum):
    """job_run.status: queued -> running -> completed | partial | failed | interrupted."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"  # every item has an ok prediction
    PARTIAL = "partial"  # every item is done, some failed
    FAILED = "failed"  # every item failed, or a fatal error stopped the run
    INTERRUPTED = "interrupted"  # stopped (Ctrl-C, SIGTERM, database outage) with items left; resumable


#: a job run whose open work items a worker may lease
LEASABLE_STATUSES = (JobRunStatus.QUEUED, JobRunStatus.RUNNING)
#: a job run that has nothing left to do
FINAL_STATUSES = (JobRunStatus.COMPLETED, JobRunStatus.PARTIAL, JobRunStatus.FAILED)


class WorkItemState(enum.StrEnum):
    """work_item.state: pending -> leased -> done (its prediction committed in the same transaction)."""

    PENDING = "pending"
    LEASED = "leased"
    DONE = "done"


class PredictionStatus(enum.StrEnum):
    """prediction.status: a failure is stored as a failure, never as an empty transcript."""

    OK = "ok"
    FAILED = "failed"


class ErrorKind(enum.StrEnum):
    """Why an attempt failed, and so how the executor reacts; prediction.error_kind stores it."""

    RETRYABLE = "retryable"  # transient: 408/409/5xx, timeouts, connection resets
    RATE_LIMITED = "rate_limited"  # 429: retry after the hinted delay and lower concurrency
    UTTERANCE = "utterance"  # this utterance can never succeed (corrupt audio, too large)
    FATAL = "fatal"  # the whole job run cannot succeed (bad key, no credit, unknown model)
    INPUT = "input"  # the harness could not read or prepare the audio: nothing was sent
    INTERNAL = "internal"  # the harness or an adapter raised something unexpected (a bug)
