"""The lifecycle of one utterance through a job-based provider (providers/jobs.py): upload,
submit, poll until done, fetch, clean up, each step one classified attempt at a time.

The executor's machinery applies to every request of a job: each is paced by the rate limits
(`requests_per_minute` counts uploads, submits, polls, fetches and deletions alike; the
audio-seconds limit is charged once, at submit), timed out after `timeout_s`, retried on its
own with the executor's backoff and retry-after hints (`max_attempts` per step: a poll that
fails twice in a row is two attempts of that poll, not of the job), and a run-fatal reply
stops the job run. The job holds one concurrency slot from its upload to its cleanup, so
`concurrency` bounds the jobs in flight at the vendor. `job_timeout_s` bounds upload to
result; a job the vendor fails is the utterance's failure with the vendor's message.

Timing kept in latency_sample.meta_json: upload_ms, submit_ms, submit_to_done_ms (from the
start of the successful submit to the poll that saw the job done), fetch_ms, polls and the
cleanup outcome. api_time_ms is submit to result (submit start to fetched transcript), so
RTFx is audio seconds over the vendor's processing time as the client sees it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from spectragram_bench.core.audio import AudioClip
from spectragram_bench.core.errors import AudioError, DatabaseUnavailable
from spectragram_bench.core.records import WorkItem
from spectragram_bench.providers.base import ErrorKind, ProviderError, Transcript
from spectragram_bench.providers.jobs import (
    MAX_POLL_INTERVAL_S,
    POLL_BACKOFF,
    Job,
    JobProvider,
    JobState,
    JobStatus,
)
from spectragram_bench.worker.accounts import token_of

if TYPE_CHECKING:
    from spectragram_bench.worker.exec_infer import Executor

log = logging.getLogger(__name__)


class StepGaveUp(Exception):
    """A step failed for good: a non-retryable error, or its attempts ran out."""

    def __init__(self, error: ProviderError, reason: str) -> None:
        super().__init__(reason)
        self.error = error
        self.reason = reason


class Abandoned(Exception):
    """The run was interrupted before the job existed: the item stays unfinished, unrecorded."""


class JobRun:
    """One work item's job: the steps, their attempt log and their clocks."""

    def __init__(self, ex: Executor, item: WorkItem, clip: AudioClip, generation: int) -> None:
        self.ex = ex
        self.provider: JobProvider = ex.provider  # type: ignore[assignment]
        self.item = item
        self.clip = clip
        self.generation = generation
        self.job = Job()
        self.token = token_of(item)
        self.attempt_log: list[dict[str, Any]] = []
        self.retries = 0
        self.attempts: dict[str, int] = {}  # per step
        self.last_status = "not submitted"

    async def step(self, name: str, call: Callable[[], Awaitable[Any]], *, audio_s: float | None = None,
                   interruptible: bool = False, paced: bool = True) -> tuple[Any, float, float]:
        """Run one step until it succeeds: (its value, start and end of the successful attempt).
        `paced=False` for a step that sends no request (a fetch reading the last poll's reply)."""
        ex = self.ex
        attempts = 0
        while True:
            attempts += 1
            self.attempts[name] = self.attempts.get(name, 0) + 1
            ok, value, t0, t1, waited = await ex.timed_call(call, audio_s, paced=paced, token=self.token)
            entry: dict[str, Any] = {"step": name, "ms": round((t1 - t0) * 1000, 2)}
            if waited > 0.0005:
                entry["rate_wait_ms"] = round(waited * 1000, 2)
            if ok:
                self.attempt_log.append(entry)
                return value, t0, t1
            exc: ProviderError = value
            entry.update(error=exc.kind.value, status=exc.status, retry_after_s=exc.retry_after_s)
            self.attempt_log.append(entry)
            ex.note_failed_attempt(exc, self.generation)
            retryable = exc.kind in (ErrorKind.RETRYABLE, ErrorKind.RATE_LIMITED)
            if exc.kind == ErrorKind.FATAL or not retryable:
                raise StepGaveUp(exc, f"{name}: {exc}")
            if attempts >= ex.retry.max_attempts:
                raise StepGaveUp(exc, f"{name}: {exc} (gave up after {attempts} attempts)")
            if interruptible and ex.stop.is_set():
                raise Abandoned
            self.retries += 1
            ex.stats.retries += 1
            delay = ex.retry.delay(attempts - 1, exc.retry_after_s, ex.rng)
            if interruptible:
                try:
                    await asyncio.wait_for(ex.stop.wait(), delay)
                    raise Abandoned
                except TimeoutError:
                    pass
            else:  # the job exists at the vendor: see it through, even while stopping
                await asyncio.sleep(delay)

    async def until_result(self) -> tuple[Transcript, dict[str, Any], float]:
        """upload, submit, poll, fetch: (transcript, timing meta, api seconds)."""
        p, job = self.provider, self.job
        meta: dict[str, Any] = {}
        _, up0, up1 = await self.step("upload", lambda: p.upload(self.clip, self.item, job), interruptible=True)
        if job.upload is not None:
            meta["upload_ms"] = round((up1 - up0) * 1000, 3)
        _, submitted_at, sub1 = await self.step(
            "submit", lambda: p.submit(self.clip, self.item, job), audio_s=self.clip.duration_s, interruptible=True
        )
        meta["submit_ms"] = round((sub1 - submitted_at) * 1000, 3)
        meta["job_id"] = job.job_id
        self.last_status = "submitted"
        wait, interval, polls = p.poll_interval_s(), p.poll_interval_s(), 0
        while True:
            await asyncio.sleep(wait)
            status, _, polled_at = await self.step("poll", lambda: p.poll(job))
            polls += 1
            self.last_status = status.vendor_status or status.state.value
            if status.state == JobState.DONE:
                break
            if status.state == JobState.FAILED:
                raise JobFailed(status)
            interval = min(MAX_POLL_INTERVAL_S, interval * POLL_BACKOFF)
            wait = status.poll_after_s if status.poll_after_s is not None and status.poll_after_s >= 0 else interval
        meta.update(submit_to_done_ms=round((polled_at - submitted_at) * 1000, 3), polls=polls)
        transcript, f0, fetched_at = await self.step("fetch", lambda: p.fetch(job, status), paced=p.fetch_sends_request)
        meta["fetch_ms"] = round((fetched_at - f0) * 1000, 3)
        return transcript, meta, fetched_at - submitted_at

    async def clean_up(self) -> str:
        """Delete what the vendor keeps; never fails the utterance (the outcome goes to meta)."""
        if not self.job.exists:
            return "nothing to delete"
        if not self.provider.config.cleanup:
            return "kept (cleanup: false)"
        try:
            left, _, _ = await self.step("cleanup", lambda: self.provider.cleanup(self.job))
        except StepGaveUp as exc:
            self.ex.stats.cleanup_failed += 1
            log.warning("%s: could not delete job %s of utterance %s: %s", self.provider.config.display,
                        self.job.job_id, self.item.external_id, exc.reason)
            return f"failed: {exc.reason}"
        return left or "deleted"


class JobFailed(Exception):
    def __init__(self, status: JobStatus) -> None:
        super().__init__(status.message)
        self.status = status


async def run_job_item(ex: Executor, item: WorkItem, clip: AudioClip, variant_facts: dict, started: float) -> None:
    """One utterance through a job-based provider, its result (or failure) handed to `ex.submit`."""
    await ex.gate.enter(token_of(item), ex.stop)  # before the slot, as for one request
    generation = await ex.slots.acquire()
    if ex.stop.is_set():  # the run stopped while this job waited for its slot: not submitted
        ex.slots.release()
        ex.stats.abandoned += 1
        return
    ex.stats.in_flight += 1
    run = JobRun(ex, item, clip, generation)
    timeout_s = ex.provider.config.job_timeout_s
    failure: tuple[str, str] | None = None
    transcript: Transcript | None = None
    try:
        try:
            async with asyncio.timeout(timeout_s):
                transcript, meta, api_s = await run.until_result()
        except StepGaveUp as exc:
            failure = (exc.error.kind.value, exc.reason)
            if exc.error.kind == ErrorKind.FATAL:
                ex.note_fatal(exc.error)
        except JobFailed as exc:
            st = exc.status
            failure = (st.kind.value, f"job {run.job.job_id} failed at the vendor ({st.vendor_status or 'error'}): "
                                      f"{st.message or 'no reason given'}")
            if st.kind == ErrorKind.FATAL:
                ex.note_fatal(ProviderError(st.kind, failure[1]))
        except TimeoutError:
            failure = (ErrorKind.RETRYABLE.value, f"job {run.job.job_id or '(not created)'} not finished within "
                                                  f"{timeout_s:g} s (job_timeout_s; last status: {run.last_status})")
        except Abandoned:
            cleanup = await run.clean_up()
            ex.stats.abandoned += 1
            log.debug("utterance %s abandoned before its job was created (%s)", item.external_id, cleanup)
            return
        except DatabaseUnavailable:  # the shared pacer lost its database: the run stops, the item stays to do
            cleanup = await run.clean_up() if run.job.exists else "nothing to delete"
            ex.stats.abandoned += 1
            log.debug("utterance %s abandoned: database unavailable (%s)", item.external_id, cleanup)
            return
        except AudioError as exc:  # a body that fails to decode inside a step: the input's fault
            failure = ("input", str(exc))
        except Exception as exc:  # an adapter bug must not kill the run: record it on the item
            log.exception("provider %s raised an unclassified error", ex.provider.name)
            failure = ("internal", f"{type(exc).__name__}: {exc}")
        if transcript is not None:
            ex.slots.on_success()
        cleanup = await run.clean_up()
    finally:
        ex.stats.in_flight -= 1
        ex.slots.release()
    attempts = 1 + run.retries
    common = {"job_id": run.job.job_id, "attempts_by_step": run.attempts, "cleanup": cleanup, "attempt_log": run.attempt_log}
    if failure is not None:
        ex.fail(item, failure[0], failure[1], attempts, started, run.attempt_log, meta={k: v for k, v in common.items()
                                                                                        if k != "attempt_log"})
        return
    assert transcript is not None
    ex.succeed(item, transcript, attempts=attempts, api_ms=api_s * 1000, started=started, duration=clip.duration_s,
               meta={**meta, **variant_facts, **common})

