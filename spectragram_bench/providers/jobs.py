"""The job-based provider contract: for vendors that take an upload, return a job id and must
be polled (AssemblyAI, Speechmatics, Rev.ai, Gladia, Soniox, ...).

As with the single-request contract (providers/base.py), every method is ONE classified
attempt: one HTTP request (two at most where the vendor's step needs them), no sleeping, no
retrying, no timing. The executor (worker/job_lifecycle.py) owns the lifecycle, modelled on
inspect_ai's Batcher (`_create_batch` / `_check_batch` / `_handle_batch_result`):

    upload   (optional) send the audio, keep the vendor's reference in `job.upload`
    submit   create the job, keep its id in `job.job_id`
    poll     one status request -> JobStatus(pending | done | failed, vendor message, hint)
    fetch    the result of a done job -> Transcript (may reuse `status.reply`: no request)
    cleanup  delete what the vendor keeps (uploaded audio, transcript); `"cleanup": false`
             in the job config keeps it

Each step is retried on its own (a failed submit does not upload again), polls are spaced by
`poll_interval_s` growing by `POLL_BACKOFF` up to `MAX_POLL_INTERVAL_S` unless the vendor
hints otherwise (`JobStatus.poll_after_s`), and `job_timeout_s` bounds the whole job.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from spectragram_bench.core.audio import AudioClip
from spectragram_bench.core.config import ProviderConfig
from spectragram_bench.core.errors import ConfigError
from spectragram_bench.core.records import WorkItem
from spectragram_bench.providers.base import ErrorKind, ProviderError, Transcript
from spectragram_bench.providers.cloud import CloudProvider
from spectragram_bench.providers.http_errors import bad_reply, reply_json

#: each pending poll waits this much longer than the one before, up to MAX_POLL_INTERVAL_S
POLL_BACKOFF = 1.5
MAX_POLL_INTERVAL_S = 15.0


class JobState(enum.StrEnum):
    PENDING = "pending"  # queued or processing: poll again
    DONE = "done"  # the result can be fetched
    FAILED = "failed"  # the vendor gave up on this job (its message is the utterance's failure)


@dataclass
class Job:
    """What the executor keeps of one utterance's job between steps; the adapter fills it."""

    upload: Any = None  # upload(): the vendor's reference to the audio (URL, file id)
    job_id: str | None = None  # submit(): the job's id
    data: dict[str, Any] = field(default_factory=dict)  # anything else a later step needs

    @property
    def exists(self) -> bool:
        """True when the vendor holds something of this job that cleanup should delete."""
        return self.upload is not None or self.job_id is not None


@dataclass(frozen=True)
class JobStatus:
    """One poll's answer."""

    state: JobState
    vendor_status: str = ""  # the vendor's own word (queued, processing, running, ...)
    message: str | None = None  # FAILED: the vendor's reason, stored as the utterance's error
    kind: ErrorKind = ErrorKind.UTTERANCE  # FAILED: how the failure counts (a vendor-side
    #: internal error the vendor says to resubmit could be RETRYABLE: the job is then resubmitted)
    poll_after_s: float | None = None  # PENDING: the vendor's hint for the next poll
    reply: Any = None  # the parsed poll reply, for a fetch that needs no request of its own


@dataclass(frozen=True)
class StatusWords:
    """A vendor's job status words, read into a JobStatus in one place (every job adapter's
    poll): `done` (one word), the `pending` words, the `failed` words. A word outside them is an
    unexpected reply naming the known ones, never taken as pending forever."""

    done: str
    pending: Iterable[str]
    failed: Iterable[str]

    def read(self, status: Any, *, message: Callable[[], str | None] = lambda: None, reply: Any = None,
             kind: ErrorKind = ErrorKind.UTTERANCE, poll_after_s: float | None = None) -> JobStatus:
        """`message` is called for a failed job only (the vendor's reason); `reply` is kept on a
        done status for a fetch that reads it."""
        if status == self.done:
            return JobStatus(JobState.DONE, status, reply=reply)
        if status in tuple(self.pending):
            return JobStatus(JobState.PENDING, status, poll_after_s=poll_after_s)
        if status in tuple(self.failed):
            return JobStatus(JobState.FAILED, status, message=message() or f"job {status}", kind=kind)
        known = ", ".join([*self.pending, self.done, *self.failed])
        raise bad_reply(f"job status {status!r} is none of {known}")


class JobProvider(CloudProvider):
    """Base of job-based adapters. `transcribe` is not used: the executor drives the steps."""

    job_based: ClassVar[bool] = True
    #: params the adapter sets itself or refuses, with why: refused when the adapter is built
    reserved_params: ClassVar[Mapping[str, str]] = {}
    #: first wait between submit and the first poll (and between polls before backoff)
    default_poll_interval_s: ClassVar[float] = 1.0
    #: False when `fetch` reads the last poll's reply (no request, so no rate-limit slot)
    fetch_sends_request: ClassVar[bool] = True

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        for key, why in self.reserved_params.items():
            if key in self.params:
                raise ConfigError(f"{self.where}: params.{key} {why}; remove it")

    async def upload(self, audio: AudioClip, item: WorkItem, job: Job) -> None:
        """Send the audio where the vendor has a separate upload (sets job.upload). Default:
        nothing; the vendor takes the audio with the job (multipart submit)."""

    async def submit(self, audio: AudioClip, item: WorkItem, job: Job) -> None:
        """Create the job (sets job.job_id). Raises ProviderError."""
        raise NotImplementedError

    async def poll(self, job: Job) -> JobStatus:
        """One status request. Raises ProviderError for a failed request (not a failed job)."""
        raise NotImplementedError

    async def fetch(self, job: Job, status: JobStatus) -> Transcript:
        """The result of a job `poll` said is DONE. Raises ProviderError."""
        raise NotImplementedError

    async def cleanup(self, job: Job) -> str | None:
        """Delete whatever of `job` the vendor keeps (it may be partial: an upload without a
        job when submit failed). Returns None when deleted, else what was left and why.
        Raises ProviderError; a 404 should count as already gone."""
        return None

    async def transcribe(self, audio: AudioClip, item: WorkItem) -> Transcript:
        raise NotImplementedError(f"{type(self).__name__} is job-based: the executor runs upload/submit/poll/fetch")

    def poll_interval_s(self) -> float:
        return self.config.poll_interval_s if self.config.poll_interval_s is not None else self.default_poll_interval_s


def reply_field(content: bytes, key: str, *, what: str) -> str:
    """The string `key` of a JSON reply (a job or upload id), else an unexpected reply."""
    reply = reply_json(content, what=what)
    if not isinstance(reply, dict) or not isinstance(reply.get(key), str):
        raise bad_reply(f"no {key!r} in the {what}")
    return reply[key]


async def delete_request(call: Awaitable[Any], kept: Mapping[int, str] | None = None) -> str | None:
    """Await one deletion request: None when deleted or already gone (404); a status in `kept` (the
    vendor refuses to delete yet, e.g. a job still running) returns "kept: <why> (<reply>)";
    anything else raises."""
    try:
        await call
    except ProviderError as exc:
        if exc.status == 404:
            return None
        if kept and exc.status in kept:
            return f"kept: {kept[exc.status]} ({exc})"
        raise
    return None


def is_job_based(provider: object) -> bool:
    return bool(getattr(provider, "job_based", False))
