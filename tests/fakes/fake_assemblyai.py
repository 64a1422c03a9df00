"""A fake AssemblyAI v2 pre-recorded API: upload, transcript, poll, delete.

Documented behaviour it reproduces (assemblyai.com/docs/api-reference, the official Python SDK's
api.py and types.py): `Authorization: <key>` with no scheme (else 401 {"error": "Authentication
error, API token missing/invalid"}); POST /v2/upload takes the raw bytes and answers
{"upload_url"}; POST /v2/transcript takes JSON with audio_url and speech_models and answers the
transcript object with status "queued"; GET /v2/transcript/{id} shows queued, processing, then
completed (words in ms with confidence, speaker when speaker_labels) or error with an `error`
message (undecodable audio: "Transcoding failed..."); DELETE /v2/transcript/{id} answers the
transcript with its text replaced by "Deleted by user.". Replies carry X-RateLimit-Limit /
-Remaining / -Reset (seconds). Beyond `max_active_jobs` a submit is refused with 429.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .jobs import FakeJob, JobFakeServer, raw_reply
from .server import spread_words

MODELS = {"universal-3-pro", "universal-2", "universal-3-5-pro", "slam-1"}
AUTH_ERROR = "Authentication error, API token missing/invalid"
ERROR_MESSAGES = {
    400: "Invalid request",
    402: "Your current account balance is negative. Please top up to continue using the API.",
    403: "Forbidden",
    404: "Transcript not found",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


class FakeAssemblyAI(JobFakeServer):
    pending_states = ("queued", "processing")
    auth_error = AUTH_ERROR
    deleted_is_gone = False  # a deleted transcript still answers, as "Deleted by user."
    undecodable_error = ("Transcoding failed. File does not appear to contain audio. File type is "
                         "application/octet-stream (data).")

    def __init__(self, api_key: str = "aai-test-0123456789abcdef") -> None:
        super().__init__(api_key)
        self.rate_limit = 100

    def authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization", "") == self.api_key

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v2/upload", self.handle_upload)
        app.router.add_post("/v2/transcript", self.handle_create)
        app.router.add_get("/v2/transcript/{id}", self.handle_get)
        app.router.add_delete("/v2/transcript/{id}", self.handle_delete)

    def rate_headers(self) -> dict[str, str]:
        return {"X-RateLimit-Limit": str(self.rate_limit), "X-RateLimit-Remaining": str(self.rate_limit - 1),
                "X-RateLimit-Reset": "60"}

    def error_response(self, status: int, message: str | None = None, headers: dict[str, str] | None = None,
                       body: Any = None) -> web.Response:
        hdrs = {**self.rate_headers(), **(headers or {})}
        if status == 429:
            hdrs["X-RateLimit-Remaining"] = "0"
        if body is not None:
            return raw_reply(status, body, hdrs)
        return web.json_response({"error": message or ERROR_MESSAGES.get(status, "Error")}, status=status, headers=hdrs)

    def _ok(self, rec, payload: dict[str, Any]) -> web.Response:
        rec.status = 200
        return web.json_response(payload, headers=self.rate_headers())

    async def handle_upload(self, request: web.Request) -> web.Response:
        data = await request.read()
        rec, reply = await self.begin(request, "upload", len(data))
        if reply is not None:
            return reply
        if not data:
            rec.status = 400
            return self.error_response(400, "Upload body is empty")
        return self._ok(rec, {"upload_url": f"https://cdn.assemblyai.com/upload/{self.upload(data)}"})

    async def handle_create(self, request: web.Request) -> web.Response:
        rec, body, reply = await self.begin_json(request, "submit", "Request body is not valid JSON")
        if reply is not None:
            return reply
        models = body.get("speech_models")
        if not isinstance(body.get("audio_url"), str):
            rec.status = 400
            return self.error_response(400, "audio_url is required")
        if not isinstance(models, list) or not models or any(m not in MODELS for m in models):
            rec.status = 400
            return self.error_response(400, f"Invalid speech_models: {models!r}")
        if self.over_limit():
            rec.status = 429
            return self.error_response(429, "Too many concurrent transcripts", headers={"Retry-After": "1"})
        upload_id = body["audio_url"].rsplit("/", 1)[-1]
        audio = self.uploads.get(upload_id, b"")
        job = self.create_job(audio, body)
        if upload_id not in self.uploads:
            job.error = f"Download error, unable to access file at {body['audio_url']}"
        return self._ok(rec, self.transcript(job, "queued"))

    def transcript(self, job: FakeJob, status: str) -> dict[str, Any]:
        req = job.request
        out: dict[str, Any] = {
            "id": job.id, "status": status, "audio_url": req.get("audio_url"), "speech_models": req.get("speech_models"),
            "language_code": req.get("language_code", "en_us"), "speaker_labels": bool(req.get("speaker_labels")),
            "text": None, "words": None, "utterances": None, "confidence": None, "audio_duration": None,
            "error": None, "webhook_url": None, "speech_model_used": None,
        }
        if status == "error":
            out["error"] = job.error
        if status == "completed":
            duration = job.duration or 0.0
            speaker = "A" if req.get("speaker_labels") else None
            out.update(
                text=job.text[:1].upper() + job.text[1:] + "." if job.text else "",
                words=[{"text": w, "start": int(s * 1000), "end": int(e * 1000), "confidence": 0.93, "speaker": speaker}
                       for w, s, e in spread_words(job.text, duration)],
                confidence=0.93, audio_duration=int(round(duration)), speech_model_used=req["speech_models"][0],
            )
        return out

    def deleted_view(self, job: FakeJob) -> dict[str, Any]:
        return {**self.transcript(job, "completed"), "text": "Deleted by user.", "words": None,
                "audio_url": "http://deleted_by_user"}

    async def handle_get(self, request: web.Request) -> web.Response:
        rec, job, reply = await self.job_request(request, "poll")
        if reply is not None:
            return reply
        if job.deleted:
            return self._ok(rec, self.deleted_view(job))
        state = self.advance(job)
        status = {"done": "completed", "failed": "error"}.get(state, state)
        return self._ok(rec, self.transcript(job, status))

    async def handle_delete(self, request: web.Request) -> web.Response:
        rec, job, reply = await self.job_request(request, "delete")
        if reply is not None:
            return reply
        job.deleted = True
        self.uploads.pop(job.request.get("audio_url", "").rsplit("/", 1)[-1], None)
        return self._ok(rec, self.deleted_view(job))
