"""A fake Speechmatics batch API (v2): jobs, status, json-v2 transcript, delete.

What it reproduces (speechmatics-python batch_client.py and its recorded replies
tests/data/batch-job-status.json, batch-job-transcript.json; docs.speechmatics.com): `Authorization:
Bearer <key>`, else nginx's HTML "401 Authorization Required" page; POST /v2/jobs multipart with a
`config` JSON text (type transcription, transcription_config.language required) and `data_file`,
answered 201 {"id"}; GET /v2/jobs/{id} {"job": {"id", "status": running then done, or rejected
with "errors": [{"timestamp", "message"}], "duration", "data_name", "config", "created_at"}};
GET /v2/jobs/{id}/transcript?format=json-v2 (404 {"code", "error": "Job not found"} for an unknown
job, 404 "Transcription not ready" while running); DELETE /v2/jobs/{id} {"job": {... "status":
"deleted"}}. Errors are {"code", "error", "detail"}. Beyond `max_active_jobs` a POST gets 429.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .jobs import FakeJob, JobFakeServer, raw_reply
from .server import spread_words

NGINX_401 = ("<html>\r\n<head><title>401 Authorization Required</title></head>\r\n<body>\r\n<center><h1>401 "
             "Authorization Required</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
ERRORS = {400: "Bad Request", 402: "Payment Required", 403: "Forbidden", 404: "Job not found",
          429: "Rate limited", 500: "Internal Server Error", 503: "Service Unavailable"}
DETAILS = {403: "Entitlement check failed", 429: "Max concurrent running jobs exceeded"}


class FakeSpeechmatics(JobFakeServer):
    pending_states = ("running", "running")
    undecodable_error = "unable to decode audio: the file is not in a supported format"

    def __init__(self, api_key: str = "sm-test-0123456789abcdef") -> None:
        super().__init__(api_key)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v2/jobs", self.handle_create)
        app.router.add_get("/v2/jobs/{id}", self.handle_get)
        app.router.add_get("/v2/jobs/{id}/transcript", self.handle_transcript)
        app.router.add_delete("/v2/jobs/{id}", self.handle_delete)

    def error_response(self, status: int, message: str | None = None, headers: dict[str, str] | None = None,
                       body: Any = None) -> web.Response:
        if body is not None:
            return raw_reply(status, body, headers)
        if status == 401:
            return web.Response(text=NGINX_401, status=401, content_type="text/html", headers=headers or {})
        payload = {"code": status, "error": message or ERRORS.get(status, "Error")}
        if status in DETAILS and message is None:
            payload["detail"] = DETAILS[status]
        return web.json_response(payload, status=status, headers=headers or {})

    async def handle_create(self, request: web.Request) -> web.Response:
        rec, reply = await self.begin(request, "submit")
        if reply is not None:
            return reply
        form, audio = await self.form_file(request, rec, "data_file")
        if audio is None:
            rec.status = 400
            return self.error_response(400, "Missing data_file" if form else "Malformed request")
        try:
            config = json.loads(str(form.get("config", "")))
        except json.JSONDecodeError:
            rec.status = 400
            return self.error_response(400, "Malformed request")
        if config.get("type") != "transcription" or not (config.get("transcription_config") or {}).get("language"):
            rec.status = 400
            return self.error_response(400, "No language selected")
        if self.over_limit():
            rec.status = 429
            return self.error_response(429)
        job = self.create_job(audio.file.read(), {"config": config, "data_name": audio.filename})
        rec.status = 201
        return web.json_response({"id": job.id}, status=201)

    def details(self, job: FakeJob, status: str) -> dict[str, Any]:
        out = {"id": job.id, "status": status, "created_at": "2026-12-01T20:00:00.000Z",
               "data_name": job.request["data_name"], "config": job.request["config"]}
        if job.duration is not None:
            out["duration"] = int(job.duration)
        if status == "rejected":
            out["errors"] = [{"timestamp": "2026-12-01T20:00:01.000Z", "message": job.error}]
        return out

    async def handle_get(self, request: web.Request) -> web.Response:
        _rec, job, reply = await self.job_request(request, "poll")
        if reply is not None:
            return reply
        state = self.advance(job)
        status = {"done": "done", "failed": "rejected"}.get(state, state)
        return web.json_response({"job": self.details(job, status)})

    async def handle_transcript(self, request: web.Request) -> web.Response:
        rec, job, reply = await self.job_request(request, "fetch")
        if reply is not None:
            return reply
        if job.state != "done":
            rec.status = 404
            return self.error_response(404, "Transcription not ready")
        if request.query.get("format", "json-v2") != "json-v2":
            rec.status = 400
            return self.error_response(400, "Format Not Supported")
        results: list[dict[str, Any]] = []
        speaker = "S1" if job.request["config"]["transcription_config"].get("diarization") == "speaker" else "UU"
        timed = spread_words(job.text, job.duration or 0.0)
        for i, (word, start, end) in enumerate(timed):
            results.append({"type": "word", "start_time": start, "end_time": end,
                            "alternatives": [{"content": word, "confidence": 0.97, "language": "en", "speaker": speaker}]})
            if i == len(timed) - 1:
                results.append({"type": "punctuation", "start_time": end, "end_time": end, "attaches_to": "previous",
                                "is_eos": True, "alternatives": [{"content": ".", "confidence": 1.0, "language": "en",
                                                                  "speaker": speaker}]})
        return web.json_response({
            "format": "2.9",
            "job": {k: v for k, v in self.details(job, "done").items() if k not in ("status", "config")},
            "metadata": {"created_at": "2026-12-01T20:00:00.000Z", "type": "transcription",
                         "transcription_config": job.request["config"]["transcription_config"],
                         "language_pack_info": {"adapted": False, "itn": True, "language_description": "English",
                                                "word_delimiter": " ", "writing_direction": "left-to-right"}},
            "results": results,
        })

    async def handle_delete(self, request: web.Request) -> web.Response:
        _rec, job, reply = await self.job_request(request, "delete")
        if reply is not None:
            return reply
        job.deleted = True
        return web.json_response({"job": self.details(job, "deleted")})
