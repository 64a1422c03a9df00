"""A fake Soniox async API (REST /v1): files, transcriptions, status, transcript, deletions.

What it reproduces (the official SDK soniox 2.x: api/files.py, api/stt.py, types/api.py, errors.py;
soniox_examples speech_to_text/python/soniox_async.py; soniox.com/docs/api-reference/errors):
`Authorization: Bearer <key>` (else 401 {"status_code", "error_type": "unauthenticated",
"message", "validation_errors", "request_id"}); POST /v1/files multipart `file` answered
{"id", "filename", "size", "created_at"}; POST /v1/transcriptions JSON {model, file_id | audio_url,
...} answered with the transcription {"id", "status": "queued", "model", "filename", ...};
GET /v1/transcriptions/{id} queued, processing, then completed with `audio_duration_ms`, or error
with `error_type` and `error_message`; GET .../transcript {"id", "text", "tokens"} with word-piece
tokens (start_ms, end_ms, confidence, speaker when diarized), 409 before completion;
DELETE /v1/transcriptions/{id} 204 (409 while queued or processing) and DELETE /v1/files/{id}
204. Beyond `max_active_jobs` a create gets 429 limit_exceeded.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from .jobs import FakeJob, JobFakeServer, raw_reply
from .server import spread_words

MODELS = {"stt-async-v4", "stt-async-v5", "stt-async-preview"}
NOW = "2026-12-01T20:00:00Z"
ERRORS = {400: ("invalid_request", "Invalid request."),
          401: ("unauthenticated", "Incorrect API key provided. You can get an API key at https://console.soniox.com"),
          402: ("payment_required", "Your organization has run out of credit."),
          403: ("permission_denied", "The API key does not have permission for this request."),
          404: ("not_found", "Not found."),
          409: ("invalid_state", "The transcription is not in a state that allows this request."),
          429: ("limit_exceeded", "Requests per minute limit has been exceeded for your project."),
          500: ("internal_error", "The server encountered an error. Please try again."),
          503: ("service_unavailable", "Service temporarily unavailable.")}


def word_pieces(text: str, duration: float, diarized: bool) -> list[dict[str, Any]]:
    """Tokens as Soniox returns them: words of more than three letters in two pieces, each word
    after the first starting with a space, a final "." on the last word."""
    tokens: list[dict[str, Any]] = []
    for i, (w, s, e) in enumerate(spread_words(text, duration)):
        cut = len(w) // 2 if len(w) > 3 else len(w)
        mid = s + (e - s) * cut / len(w)
        lead = " " if i else ""
        pieces = [(lead + w[:cut], s, mid, 0.98), (w[cut:], mid, e, 0.91)] if cut < len(w) else [(lead + w, s, e, 0.95)]
        for piece, a, b, conf in pieces:
            token = {"text": piece, "start_ms": int(a * 1000), "end_ms": int(b * 1000), "confidence": conf}
            if diarized:
                token["speaker"] = "1"
            tokens.append(token)
    if tokens:
        tokens.append({**tokens[-1], "text": ".", "start_ms": tokens[-1]["end_ms"], "confidence": 0.99})
    return tokens


class FakeSoniox(JobFakeServer):
    pending_states = ("queued", "processing")
    undecodable_error = "Audio file could not be decoded."

    def __init__(self, api_key: str = "soniox-test-0123456789abcdef") -> None:
        super().__init__(api_key)
        self.files: dict[str, dict[str, Any]] = {}

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/files", self.handle_upload)
        app.router.add_delete("/v1/files/{id}", self.handle_delete_file)
        app.router.add_post("/v1/transcriptions", self.handle_create)
        app.router.add_get("/v1/transcriptions/{id}", self.handle_get)
        app.router.add_get("/v1/transcriptions/{id}/transcript", self.handle_transcript)
        app.router.add_delete("/v1/transcriptions/{id}", self.handle_delete)

    def error_response(self, status: int, message: str | None = None, headers: dict[str, str] | None = None,
                       body: Any = None) -> web.Response:
        if body is not None:
            return raw_reply(status, body, headers)
        kind, default = ERRORS.get(status, ("error", "Error."))
        return web.json_response({"status_code": status, "error_type": kind, "message": message or default,
                                  "validation_errors": [], "request_id": str(uuid.uuid4()),
                                  "more_info": f"https://soniox.com/docs/api-reference/errors#{kind.replace('_', '-')}"},
                                 status=status, headers=headers or {})

    def _refuse(self, rec: Any, status: int, message: str | None = None) -> web.Response:
        rec.status = status
        return self.error_response(status, message)

    async def handle_upload(self, request: web.Request) -> web.Response:
        rec, reply = await self.begin(request, "upload")
        if reply is not None:
            return reply
        _form, part = await self.form_file(request, rec, "file")
        if part is None:
            return self._refuse(rec, 400, "Missing file.")
        data = part.file.read()
        file_id = self.upload(data)
        self.files[file_id] = {"id": file_id, "filename": part.filename or "upload.bin", "size": len(data),
                               "created_at": NOW, "client_reference_id": None}
        rec.status = 201
        return web.json_response(self.files[file_id], status=201)

    async def handle_create(self, request: web.Request) -> web.Response:
        rec, body, reply = await self.begin_json(request, "submit", "Request body is not valid JSON.")
        if reply is not None:
            return reply
        if body.get("model") not in MODELS:
            return self._refuse(rec, 400, f"Invalid model: {body.get('model')!r}.")
        if bool(body.get("file_id")) == bool(body.get("audio_url")):
            return self._refuse(rec, 400, "Exactly one of audio_url or file_id must be provided.")
        if body.get("file_id") and body["file_id"] not in self.files:
            return self._refuse(rec, 404, "File not found.")
        if self.over_limit():
            rec.status = 429
            return self.error_response(429, "Too many pending transcriptions.")
        job = self.create_job(self.uploads.get(body.get("file_id") or "", b""), body)
        rec.status = 201
        return web.json_response(self.view(job, "queued"), status=201)

    def view(self, job: FakeJob, status: str) -> dict[str, Any]:
        req = job.request
        out = {"id": job.id, "status": status, "created_at": NOW, "model": req["model"], "audio_url": req.get("audio_url"),
               "file_id": req.get("file_id"), "filename": self.files.get(req.get("file_id") or "", {}).get("filename", "audio"),
               "language_hints": req.get("language_hints"),
               "enable_speaker_diarization": bool(req.get("enable_speaker_diarization")),
               "enable_language_identification": bool(req.get("enable_language_identification")),
               "audio_duration_ms": None, "error_type": None, "error_message": None, "webhook_url": None,
               "webhook_auth_header_name": None, "webhook_auth_header_value": None, "webhook_status_code": None,
               "client_reference_id": req.get("client_reference_id")}
        if status != "queued" and job.duration is not None:
            out["audio_duration_ms"] = int(job.duration * 1000)
        if status == "error":
            out.update(error_type="audio_decode_error", error_message=job.error)
        return out

    async def handle_get(self, request: web.Request) -> web.Response:
        _rec, job, reply = await self.job_request(request, "poll")
        if reply is not None:
            return reply
        state = self.advance(job)
        return web.json_response(self.view(job, {"done": "completed", "failed": "error"}.get(state, state)))

    async def handle_transcript(self, request: web.Request) -> web.Response:
        rec, job, reply = await self.job_request(request, "fetch")
        if reply is not None:
            return reply
        if job.state != "done":
            return self._refuse(rec, 409, "Transcription is not completed.")
        tokens = word_pieces(job.text, job.duration or 0.0, bool(job.request.get("enable_speaker_diarization")))
        return web.json_response({"id": job.id, "text": "".join(t["text"] for t in tokens), "tokens": tokens})

    async def handle_delete(self, request: web.Request) -> web.Response:
        rec, job, reply = await self.job_request(request, "delete")
        if reply is not None:
            return reply
        if job.state == "pending":
            return self._refuse(rec, 409, "Transcription cannot be deleted while it is queued or processing.")
        job.deleted = True
        rec.status = 204
        return web.Response(status=204)

    async def handle_delete_file(self, request: web.Request) -> web.Response:
        rec, reply = await self.begin(request, "delete_file")
        if reply is not None:
            return reply
        file_id = request.match_info["id"]
        if self.files.pop(file_id, None) is None:
            return self._refuse(rec, 404, "File not found.")
        self.uploads.pop(file_id, None)
        rec.status = 204
        return web.Response(status=204)
