"""What every fake job-based vendor shares: jobs that move through the vendor's pending states
one poll at a time (e.g. queued -> processing -> completed), a job that ends in the vendor's
error, an account limit on jobs in flight (the vendor's 429 beyond it), a record of the
deletions seen, and the request plumbing every route repeats (record, scripted fault, key check,
the job a path names, a multipart body's file). A vendor fake subclasses JobFakeServer and adds
its routes and shapes.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .server import FakeServer, RecordedRequest, decode_duration


@dataclass
class FakeJob:
    id: str
    audio: bytes
    duration: float | None  # None: the audio does not decode (the job will end in error)
    text: str
    request: dict[str, Any] = field(default_factory=dict)
    polls: int = 0
    state: str = "pending"  # pending | done | failed
    error: str | None = None
    deleted: bool = False


class JobFakeServer(FakeServer):
    """Base of the fake job APIs: `pending_states` are the vendor's words a job shows on its first
    polls; the next poll shows it done (or failed)."""

    pending_states: tuple[str, ...] = ("queued", "processing")
    undecodable_error = "the audio could not be decoded"
    auth_error: str | None = None  # the vendor's 401 message (None: error_response's default)
    deleted_is_gone = True  # a deleted job answers 404 (AssemblyAI keeps showing it instead)

    def __init__(self, api_key: str | None = "test-key-0123456789abcdef") -> None:
        super().__init__(api_key)
        self.jobs: dict[str, FakeJob] = {}
        self.uploads: dict[str, bytes] = {}
        self.max_active_jobs: int | None = None  # account limit on jobs in flight
        self.rejected_over_limit = 0  # 429s answered because of max_active_jobs
        self.peak_active_jobs = 0
        self.fail_jobs: list[str] = []  # the next jobs created end in error with these messages
        self._jobs_lock = threading.Lock()

    @property
    def active_jobs(self) -> int:
        return sum(1 for j in self.jobs.values() if j.state == "pending" and not j.deleted)

    def over_limit(self) -> bool:
        """True (and counted) when one more job would exceed the account's limit."""
        with self._jobs_lock:
            if self.max_active_jobs is not None and self.active_jobs >= self.max_active_jobs:
                self.rejected_over_limit += 1
                return True
            return False

    def create_job(self, audio: bytes, request: dict[str, Any] | None = None, job_id: str | None = None) -> FakeJob:
        duration = decode_duration(audio)
        job = FakeJob(job_id or str(uuid.uuid4()), audio, duration, self.transcript_for(audio), dict(request or {}))
        with self._jobs_lock:
            if self.fail_jobs:
                job.error = self.fail_jobs.pop(0)
            elif duration is None:
                job.error = self.undecodable_error
            self.jobs[job.id] = job
            self.peak_active_jobs = max(self.peak_active_jobs, self.active_jobs)
        return job

    def advance(self, job: FakeJob) -> str:
        """One poll: the job's vendor state word after it (a pending word, or 'done'/'failed')."""
        with self._jobs_lock:
            if job.state != "pending":
                return job.state
            job.polls += 1
            if job.polls <= len(self.pending_states):
                return self.pending_states[job.polls - 1]
            job.state = "failed" if job.error else "done"
            return job.state

    def upload(self, data: bytes) -> str:
        upload_id = uuid.uuid4().hex
        with self._jobs_lock:
            self.uploads[upload_id] = data
        return upload_id

    def deletions(self, kind: str = "") -> list[str]:
        """Paths of the DELETE requests answered 2xx (`kind` filters by a path fragment)."""
        return [r.path for r in self.requests if r.method == "DELETE" and r.status is not None
                and 200 <= r.status < 300 and kind in r.path]

    # -- request plumbing shared by the vendors' routes ----------------------------------------

    async def begin(self, request: web.Request, route: str, body_bytes: int | None = None
                    ) -> tuple[RecordedRequest, web.StreamResponse | None]:
        """Record the request, apply a scripted fault for `route`, check the key: (record, the
        reply that ends it early or None)."""
        rec = self.record(request, body_bytes=request.content_length or 0 if body_bytes is None else body_bytes)
        reply = await self.faulted(request, rec, self.next_fault(route))
        if reply is None and not self.authorized(request):
            rec.status = 401
            reply = self.error_response(401, self.auth_error)
        return rec, reply

    async def begin_json(self, request: web.Request, route: str, bad_json: str
                         ) -> tuple[RecordedRequest, dict[str, Any], web.StreamResponse | None]:
        """`begin`, then the JSON body (its fields recorded as JSON texts); a body that is not a
        JSON object is the vendor's 400 with the words `bad_json`."""
        rec, reply = await self.begin(request, route)
        if reply is not None:
            return rec, {}, reply
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            rec.status = 400
            return rec, {}, self.error_response(400, bad_json)
        rec.fields = {k: [json.dumps(v)] for k, v in body.items()}
        return rec, body, None

    async def job_request(self, request: web.Request, route: str
                          ) -> tuple[RecordedRequest, FakeJob | None, web.StreamResponse | None]:
        """`begin`, then the job the path's {id} names: (record, job, error reply or None)."""
        rec, reply = await self.begin(request, route)
        if reply is not None:
            return rec, None, reply
        job = self.jobs.get(request.match_info["id"])
        if job is None or (job.deleted and self.deleted_is_gone):
            rec.status = 404
            return rec, None, self.error_response(404)
        rec.status = 200
        return rec, job, None

    @staticmethod
    async def form_file(request: web.Request, rec: RecordedRequest, part: str) -> tuple[Any, web.FileField | None]:
        """A multipart body's fields and its `part` file (None when absent or not multipart);
        plain fields go to rec.fields, the file's name to rec.file_name."""
        if not request.headers.get("Content-Type", "").startswith("multipart/form-data"):
            return {}, None
        form = await request.post()
        rec.fields = {k: [str(v)] for k, v in form.items() if not isinstance(v, web.FileField)}
        audio = form.get(part)
        if isinstance(audio, web.FileField):
            rec.file_name = audio.filename
            return form, audio
        return form, None


def raw_reply(status: int, body: bytes | str | dict, headers: dict[str, str] | None = None) -> web.Response:
    """A scripted Fault's replacement body, sent as given (a dict as JSON)."""
    raw = json.dumps(body).encode() if isinstance(body, dict) else (body.encode() if isinstance(body, str) else body)
    return web.Response(body=raw, status=status, headers=headers or {}, content_type="application/json")
