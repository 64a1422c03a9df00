"""A fake Rev.ai asynchronous API (/speechtotext/v1): jobs, job details, transcript, delete.

What it reproduces (revai-python-sdk apiclient.py, models/asynchronous/*, tests/helpers/errors.py):
`Authorization: Bearer <token>` (else 401 {"title": "Authorization has been denied for this
request", "status": 401}); POST /speechtotext/v1/jobs multipart with `media` and `options` (JSON
text) answered {"id", "created_on", "status": "in_progress", ...}; GET /jobs/{id} in_progress,
then transcribed with `duration_seconds`, or failed with `failure` and `failure_detail`;
GET /jobs/{id}/transcript only with Accept application/vnd.rev.transcript.v1.0+json (else 406),
409 invalid-job-state while not transcribed; DELETE /jobs/{id} 204. Errors are problem JSON
{"type", "title", "status", "detail"}. Beyond `max_active_jobs` a POST gets 429.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .jobs import FakeJob, JobFakeServer, raw_reply
from .server import spread_words

TRANSCRIPT_TYPE = "application/vnd.rev.transcript.v1.0+json"
PROBLEMS = {
    400: ("https://www.rev.ai/api/v1/errors/invalid-parameters", "Your request parameters did not validate"),
    401: (None, "Authorization has been denied for this request"),
    402: (None, "Insufficient balance"),
    403: (None, "The client is forbidden to submit that request"),
    404: ("https://www.rev.ai/api/v1/errors/job-not-found", "could not find job"),
    406: (None, "Not Acceptable"),
    409: ("https://rev.ai/api/v1/errors/invalid-job-state", "Job is in invalid state"),
    429: (None, "Too Many Requests"),
    500: (None, "Internal Server Error"),
    503: (None, "Service Unavailable"),
}
BASE = "/speechtotext/v1/jobs"


class FakeRevAI(JobFakeServer):
    pending_states = ("in_progress", "in_progress")
    undecodable_error = "The media file could not be processed"

    def __init__(self, api_key: str = "revai-test-0123456789abcdef") -> None:
        super().__init__(api_key)

    def routes(self, app: web.Application) -> None:
        app.router.add_post(BASE, self.handle_create)
        app.router.add_get(BASE + "/{id}", self.handle_get)
        app.router.add_get(BASE + "/{id}/transcript", self.handle_transcript)
        app.router.add_delete(BASE + "/{id}", self.handle_delete)

    def error_response(self, status: int, message: str | None = None, headers: dict[str, str] | None = None,
                       body: Any = None) -> web.Response:
        if body is not None:
            return raw_reply(status, body, headers)
        kind, title = PROBLEMS.get(status, (None, "Error"))
        payload: dict[str, Any] = {"title": title, "status": status}
        if kind:
            payload["type"] = kind
        if message:
            payload["detail"] = message
        return web.json_response(payload, status=status, headers=headers or {}, content_type="application/problem+json")

    def details(self, job: FakeJob, status: str) -> dict[str, Any]:
        out: dict[str, Any] = {"id": job.id, "created_on": "2026-12-01T20:00:00.000Z", "status": status,
                               "name": job.request["name"], "type": "async", "language": job.request["options"].get("language", "en"),
                               "transcriber": job.request["options"].get("transcriber", "machine")}
        if status == "transcribed":
            out.update(completed_on="2026-12-01T20:00:02.000Z", duration_seconds=job.duration)
        if status == "failed":
            out.update(failure="processing_failed", failure_detail=job.error)
        return out

    async def handle_create(self, request: web.Request) -> web.Response:
        rec, reply = await self.begin(request, "submit")
        if reply is not None:
            return reply
        form, media = await self.form_file(request, rec, "media")
        if media is None:
            rec.status = 400
            return self.error_response(400, "Expected a multipart body with media and options")
        try:
            options = json.loads(str(form.get("options", "{}")))
        except json.JSONDecodeError:
            rec.status = 400
            return self.error_response(400, "options must be JSON")
        if options.get("transcriber", "machine") not in ("machine", "low_cost", "fusion"):
            rec.status = 400
            return self.error_response(400, f"transcriber {options.get('transcriber')!r} is not supported")
        if self.over_limit():
            rec.status = 429
            return self.error_response(429, headers={"Retry-After": "1"})
        job = self.create_job(media.file.read(), {"options": options, "name": media.filename})
        rec.status = 200
        return web.json_response(self.details(job, "in_progress"))

    async def handle_get(self, request: web.Request) -> web.Response:
        _rec, job, reply = await self.job_request(request, "poll")
        if reply is not None:
            return reply
        state = self.advance(job)
        return web.json_response(self.details(job, {"done": "transcribed"}.get(state, state)))

    async def handle_transcript(self, request: web.Request) -> web.Response:
        rec, job, reply = await self.job_request(request, "fetch")
        if reply is not None:
            return reply
        if request.headers.get("Accept") != TRANSCRIPT_TYPE:
            rec.status = 406
            return self.error_response(406, f"Accept {TRANSCRIPT_TYPE} or text/plain")
        if job.state != "done":
            rec.status = 409
            return self.error_response(409, "Job is in invalid state to obtain the transcript")
        elements: list[dict[str, Any]] = []
        timed = spread_words(job.text, job.duration or 0.0)
        for i, (word, start, end) in enumerate(timed):
            elements.append({"type": "text", "value": word, "ts": start, "end_ts": end, "confidence": 0.95})
            elements.append({"type": "punct", "value": " " if i < len(timed) - 1 else "."})
        speaker = 0 if not job.request["options"].get("skip_diarization") else None
        return web.json_response({"monologues": [{"speaker": speaker, "elements": elements}]},
                                 content_type=TRANSCRIPT_TYPE)

    async def handle_delete(self, request: web.Request) -> web.Response:
        rec, job, reply = await self.job_request(request, "delete")
        if reply is not None:
            return reply
        if job.state == "pending":
            rec.status = 409
            return self.error_response(409, "Job is in invalid state to be deleted")
        job.deleted = True
        rec.status = 204
        return web.Response(status=204)
