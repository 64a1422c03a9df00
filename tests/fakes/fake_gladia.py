"""A fake Gladia pre-recorded v2 API: upload, pre-recorded job, poll, delete.

What it reproduces (docs.gladia.io api-reference v2 upload / pre-recorded; the official SDK
gladiaio/sdk packages/sdk-python v2/prerecorded/client.py, generated_types.py and its e2e tests):
`x-gladia-key: <key>` (else 401); POST /v2/upload multipart with the file in `audio`, answered
{"audio_url", "audio_metadata"}; POST /v2/pre-recorded JSON (only the documented request fields:
an unknown one is a 400 with validation_errors, as the SDK's tests show) answered 201
{"id", "result_url"}; GET /v2/pre-recorded/{id} queued, processing, then done with
result {metadata {audio_duration, number_of_distinct_channels, billing_time, transcription_time},
transcription {full_transcript, languages, utterances [{start, end, confidence, channel, speaker,
words [{word, start, end, confidence}], text, language}]}} or error with `error_code`;
DELETE /v2/pre-recorded/{id} 202 once done or failed, 403 while queued or processing. Errors are
{"timestamp", "path", "request_id", "statusCode", "message"} (NestJS style). Beyond
`max_active_jobs` a create gets 429.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from .jobs import FakeJob, JobFakeServer, raw_reply
from .server import decode_duration, spread_words

#: the create body's fields (the SDK's PreRecordedV2InitTranscriptionRequest)
REQUEST_FIELDS = frozenset("""audio_url custom_vocabulary custom_vocabulary_config callback_url callback callback_config
    subtitles subtitles_config diarization diarization_config translation translation_config summarization
    summarization_config named_entity_recognition custom_spelling custom_spelling_config sentiment_analysis
    audio_to_llm audio_to_llm_config pii_redaction pii_redaction_config custom_metadata sentences
    punctuation_enhanced language_config""".split())
MESSAGES = {400: "Bad Request", 401: "Invalid or missing x-gladia-key", 402: "Payment Required",
            403: "Forbidden resource", 404: "Not Found", 429: "Too Many Requests", 500: "Internal server error",
            503: "Service Unavailable"}
NOW = "2026-12-01T20:00:00.000Z"


class FakeGladia(JobFakeServer):
    pending_states = ("queued", "processing")
    undecodable_error = "422"  # a failed job states only its error_code

    def __init__(self, api_key: str = "gladia-test-0123456789abcdef") -> None:
        super().__init__(api_key)
        self.job_error_code = 422  # the error_code of a job named in fail_jobs

    def authorized(self, request: web.Request) -> bool:
        return request.headers.get("x-gladia-key", "") == self.api_key

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v2/upload", self.handle_upload)
        app.router.add_post("/v2/pre-recorded", self.handle_create)
        app.router.add_get("/v2/pre-recorded/{id}", self.handle_get)
        app.router.add_delete("/v2/pre-recorded/{id}", self.handle_delete)

    def error_response(self, status: int, message: str | None = None, headers: dict[str, str] | None = None,
                       body: Any = None, validation_errors: list[str] | None = None) -> web.Response:
        if body is not None:
            return raw_reply(status, body, headers)
        payload: dict[str, Any] = {"timestamp": NOW, "request_id": f"G-{uuid.uuid4().hex[:8]}", "statusCode": status,
                                   "message": message or MESSAGES.get(status, "Error")}
        if validation_errors:
            payload["validation_errors"] = validation_errors
        return web.json_response(payload, status=status, headers=headers or {})

    def _refuse(self, rec: Any, status: int, message: str, errors: list[str] | None = None) -> web.Response:
        rec.status = status
        return self.error_response(status, message, validation_errors=errors)

    async def handle_upload(self, request: web.Request) -> web.Response:
        rec, reply = await self.begin(request, "upload")
        if reply is not None:
            return reply
        _form, audio = await self.form_file(request, rec, "audio")
        if audio is None:
            return self._refuse(rec, 400, "Invalid parameter(s). See validation_errors for more details.",
                                ["audio must be a file"])
        data = audio.file.read()
        upload_id = self.upload(data)
        rec.status = 200
        duration = round(decode_duration(data) or 0.0, 3)
        return web.json_response({"audio_url": f"https://api.gladia.io/file/{upload_id}", "audio_metadata": {
            "id": upload_id, "filename": audio.filename, "extension": (audio.filename or "").rsplit(".", 1)[-1],
            "size": len(data), "audio_duration": duration, "number_of_channels": 1}})

    async def handle_create(self, request: web.Request) -> web.Response:
        rec, body, reply = await self.begin_json(request, "submit", "Body must be JSON")
        if reply is not None:
            return reply
        unknown = sorted(set(body) - REQUEST_FIELDS)
        if unknown:
            return self._refuse(rec, 400, "Invalid parameter(s). See validation_errors for more details.",
                                [f"property {k} should not exist" for k in unknown])
        if not isinstance(body.get("audio_url"), str):
            return self._refuse(rec, 400, "Invalid parameter(s). See validation_errors for more details.",
                                ["audio_url must be a URL address"])
        if self.over_limit():
            rec.status = 429
            return self.error_response(429, "Max concurrent transcriptions reached", headers={"Retry-After": "1"})
        upload_id = body["audio_url"].rsplit("/", 1)[-1]
        job = self.create_job(self.uploads.get(upload_id, b""), body)
        rec.status = 201
        return web.json_response({"id": job.id, "result_url": f"https://api.gladia.io/v2/pre-recorded/{job.id}"},
                                 status=201)

    def job_view(self, job: FakeJob, status: str) -> dict[str, Any]:
        out: dict[str, Any] = {"id": job.id, "request_id": f"G-{job.id[:8]}", "version": 2, "status": status,
                               "created_at": NOW, "kind": "pre-recorded", "post_session_metadata": {},
                               "completed_at": NOW if status in ("done", "error") else None, "custom_metadata": None,
                               "error_code": None, "request_params": job.request}
        if status == "error":
            out["error_code"] = int(job.error) if (job.error or "").isdigit() else self.job_error_code
            return out
        duration = job.duration or 0.0
        out["file"] = {"id": job.request["audio_url"].rsplit("/", 1)[-1], "filename": "audio", "source": None,
                       "audio_duration": duration, "number_of_channels": 1}
        if status == "done":
            out["result"] = self.result(job, duration)
        return out

    def result(self, job: FakeJob, duration: float) -> dict[str, Any]:
        timed = spread_words(job.text, duration)
        speaker = 0 if job.request.get("diarization") else None
        languages = (job.request.get("language_config") or {}).get("languages") or ["en"]
        text = job.text[:1].upper() + job.text[1:] + "." if job.text else ""
        words = [{"word": (" " if i else "") + w, "start": s, "end": e, "confidence": 0.96}
                 for i, (w, s, e) in enumerate(timed)]
        utterance = {"start": timed[0][1] if timed else 0.0, "end": timed[-1][2] if timed else 0.0, "confidence": 0.96,
                     "channel": 0, "words": words, "text": text, "language": languages[0]}
        if speaker is not None:
            utterance["speaker"] = speaker
        return {"metadata": {"audio_duration": duration, "number_of_distinct_channels": 1, "billing_time": duration,
                             "transcription_time": 0.4},
                "transcription": {"full_transcript": text, "languages": languages[:1], "utterances": [utterance]}}

    async def handle_get(self, request: web.Request) -> web.Response:
        _rec, job, reply = await self.job_request(request, "poll")
        if reply is not None:
            return reply
        state = self.advance(job)
        return web.json_response(self.job_view(job, {"failed": "error"}.get(state, state)))

    async def handle_delete(self, request: web.Request) -> web.Response:
        rec, job, reply = await self.job_request(request, "delete")
        if reply is not None:
            return reply
        if job.state == "pending":
            return self._refuse(rec, 403, "Transcription can only be deleted when done or in error")
        job.deleted = True
        self.uploads.pop(job.request["audio_url"].rsplit("/", 1)[-1], None)
        rec.status = 202
        return web.Response(status=202)
