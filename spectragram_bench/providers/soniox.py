"""Soniox async speech-to-text (REST /v1), a job-based provider.

    upload   POST /v1/files   multipart `file` -> {"id", "filename", "size", "created_at"}
    submit   POST /v1/transcriptions   JSON {"model", "file_id", "language_hints", ...params} -> {"id", "status"}
    poll     GET  /v1/transcriptions/{id}   status queued | processing | completed | error
             ("error_type", "error_message"), "model", "audio_duration_ms"
    fetch    GET  /v1/transcriptions/{id}/transcript   {"id", "text", "tokens"}
    cleanup  DELETE /v1/transcriptions/{id}, then DELETE /v1/files/{file_id} (Soniox keeps both
             until deleted; its docs ask clients to delete files themselves)

As the official SDK (soniox 2.x, api/files.py, api/stt.py, types/api.py) sends it:
`Authorization: Bearer <key>`; `model` is the async model (stt-async-v4, stt-async-v5, ...);
the dataset's language goes in `language_hints` unless params set them. `base_url` replaces
https://api.soniox.com (a regional host likewise). Errors are {"status_code", "error_type",
"message", "request_id"}: 401/402/403 stop the run, 400/404/413 fail the utterance, 409 (a
transcription not completed yet) and 5xx are retried, 429 (`limit_exceeded`: requests per
minute, or the 100 pending transcriptions) is rate limited. Tokens are word pieces, joined into
words by providers/soniox_tokens.py (seconds, the lowest piece confidence, speaker when
diarized). The poll's `model` is the revision; Soniox states no billed duration, so cost uses the
audio duration.
"""

from __future__ import annotations

from typing import Any, ClassVar

from spectragram_bench.core.audio import AudioClip
from spectragram_bench.core.records import WorkItem
from spectragram_bench.providers.base import ErrorKind, ProviderError, Transcript
from spectragram_bench.providers.http_client import Reply
from spectragram_bench.providers.http_errors import MAX_MESSAGE_CHARS, bad_reply, reply_json
from spectragram_bench.providers.jobs import (
    Job,
    JobProvider,
    JobStatus,
    StatusWords,
    delete_request,
    reply_field,
)
from spectragram_bench.providers.one_request import send_checked
from spectragram_bench.providers.soniox_tokens import tokens_text, tokens_words, transcript_tokens

FILES_PATH = "/v1/files"
TRANSCRIPTIONS_PATH = "/v1/transcriptions"
#: the SDK's TranscriptionStatus; the errors page calls a failed job "failed", so both count
STATUS = StatusWords(done="completed", pending=("queued", "processing"), failed=("error", "failed"))
SET = "is set by the adapter (\"model\" is the model)"
WEBHOOK = "is for webhooks; the adapter polls"


def error_type(response: Reply, error: ProviderError) -> ProviderError:
    """Soniox's stable `error_type` beside its message (the message wording may change); a 404
    is a missing file or transcription (this utterance's), never an unknown endpoint or model."""
    try:
        body = response.json()
    except ValueError:
        body = None
    kind = body.get("error_type") if isinstance(body, dict) else None
    message = f"{kind}: {error.message}" if isinstance(kind, str) and kind not in error.message else error.message
    return error.reworded(message[:MAX_MESSAGE_CHARS], ErrorKind.UTTERANCE if error.status == 404 else None)


class SonioxProvider(JobProvider):
    name: ClassVar[str] = "soniox"
    default_base_url: ClassVar[str] = "https://api.soniox.com"
    default_key_env: ClassVar[str | None] = "SONIOX_API_KEY"
    example_model: ClassVar[str] = "stt-async-v4"
    default_poll_interval_s: ClassVar[float] = 1.0
    reserved_params: ClassVar[dict[str, str]] = {"model": SET, "file_id": SET, "audio_url": SET, "webhook_url": WEBHOOK,
                                                 "webhook_auth_header_name": WEBHOOK, "webhook_auth_header_value": WEBHOOK}

    def model_params(self) -> dict[str, Any]:
        return {"model": self.model, **self.params, **self.endpoint_params()}

    async def _send(self, method: str, path: str, **kw: Any) -> Reply:
        return await send_checked(self, method, f"{self.base_url}{path}", request_id_header="x-request-id",
                                  refine=error_type, headers={"Authorization": f"Bearer {self.api_key or ''}"}, **kw)

    async def upload(self, audio: AudioClip, item: WorkItem, job: Job) -> None:
        body, mime, name = audio.file_bytes()
        response = await self._send("POST", FILES_PATH, files={"file": (name, body, mime)})
        job.upload = reply_field(response.content, "id", what="file upload reply")

    def request_body(self, item: WorkItem, file_id: str) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "file_id": file_id, **self.params}
        language = getattr(item, "language", None)
        if language and "language_hints" not in body:
            body["language_hints"] = [language]
        return body

    async def submit(self, audio: AudioClip, item: WorkItem, job: Job) -> None:
        response = await self._send("POST", TRANSCRIPTIONS_PATH, json=self.request_body(item, job.upload))
        job.job_id = reply_field(response.content, "id", what="transcription creation reply")

    async def poll(self, job: Job) -> JobStatus:
        reply = reply_json((await self._send("GET", f"{TRANSCRIPTIONS_PATH}/{job.job_id}")).content,
                           what="transcription status")
        if not isinstance(reply, dict):
            raise bad_reply("the transcription status is not an object")
        for key in ("model", "audio_duration_ms"):
            if reply.get(key) is not None:
                job.data[key] = reply[key]
        reason = ": ".join(str(reply[k]) for k in ("error_type", "error_message") if reply.get(k))
        return STATUS.read(reply.get("status"), message=lambda: reason)

    async def fetch(self, job: Job, status: JobStatus) -> Transcript:
        reply = reply_json((await self._send("GET", f"{TRANSCRIPTIONS_PATH}/{job.job_id}/transcript")).content,
                           what="transcript")
        if not isinstance(reply, dict) or not isinstance(reply.get("tokens"), list):
            raise bad_reply("no \"tokens\" in the transcript")
        tokens = transcript_tokens(reply["tokens"])
        text = reply["text"].strip() if isinstance(reply.get("text"), str) else tokens_text(tokens)
        return Transcript(text=text, words=tokens_words(tokens) or None, model_revision=job.data.get("model") or self.model,
                          meta={"audio_duration_ms": job.data.get("audio_duration_ms")})

    async def cleanup(self, job: Job) -> str | None:
        """Delete the transcription, then the uploaded file (a job that never existed: the file only)."""
        if job.job_id is not None:  # still processing: 409, and the file stays with it
            kept = await delete_request(self._send("DELETE", f"{TRANSCRIPTIONS_PATH}/{job.job_id}"),
                                        kept={409: "Soniox refused the deletion"})
            if kept:
                return kept
        if job.upload is not None:
            return await delete_request(self._send("DELETE", f"{FILES_PATH}/{job.upload}"))
        return None
