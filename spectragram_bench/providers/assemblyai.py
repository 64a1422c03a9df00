"""AssemblyAI pre-recorded speech-to-text (v2), a job-based provider.

    upload   POST /v2/upload          raw file bytes -> {"upload_url"}
    submit   POST /v2/transcript      {"audio_url", "speech_models": [model], ...params} -> {"id", "status"}
    poll     GET  /v2/transcript/{id} status queued | processing | completed | error ("error": reason)
    fetch    the completed poll reply itself (no request)
    cleanup  DELETE /v2/transcript/{id}: removes the transcript and the uploaded audio

Header `Authorization: <key>` (no scheme). `base_url` replaces https://api.assemblyai.com (the
EU region is https://api.eu.assemblyai.com). Errors are {"error": "..."}; 400 fails the
utterance, 401 (bad key) and 403 stop the run, 429 is retried after Retry-After or
X-RateLimit-Reset (seconds until the window resets), 5xx retried. Words come in milliseconds
with confidence and speaker (when speaker_labels is set); the reply's `speech_model_used` is
the model revision, `audio_duration` its measured duration (AssemblyAI states no separate
billed duration, so cost uses the audio duration).
"""

from __future__ import annotations

from typing import Any, ClassVar

from spectragram_bench.core.audio import AudioClip
from spectragram_bench.core.records import WorkItem
from spectragram_bench.providers.base import ProviderError, Transcript
from spectragram_bench.providers.http_client import Reply
from spectragram_bench.providers.http_errors import bad_reply, reply_json
from spectragram_bench.providers.jobs import (
    Job,
    JobProvider,
    JobStatus,
    StatusWords,
    delete_request,
    reply_field,
)
from spectragram_bench.providers.one_request import item_language, send_checked

UPLOAD_PATH = "/v2/upload"
TRANSCRIPT_PATH = "/v2/transcript"
STATUS = StatusWords(done="completed", pending=("queued", "processing"), failed=("error",))
SET = "is set by the adapter (\"model\" is the speech model)"


def rate_limit_reset(response: Reply, error: ProviderError) -> ProviderError:
    """AssemblyAI's X-RateLimit-Reset is seconds until the window resets: the hint for a 429
    that carries no Retry-After."""
    if error.status == 429 and error.retry_after_s is None:
        try:
            error.retry_after_s = max(0.0, float(response.headers.get("x-ratelimit-reset", "")))
        except ValueError:
            pass
    return error


class AssemblyAIProvider(JobProvider):
    name: ClassVar[str] = "assemblyai"
    default_base_url: ClassVar[str] = "https://api.assemblyai.com"
    default_key_env: ClassVar[str | None] = "ASSEMBLYAI_API_KEY"
    example_model: ClassVar[str] = "universal-3-pro"
    default_poll_interval_s: ClassVar[float] = 1.0
    fetch_sends_request: ClassVar[bool] = False  # the completed poll reply is the transcript
    reserved_params: ClassVar[dict[str, str]] = {"audio_url": SET, "speech_model": SET, "speech_models": SET}

    def headers(self) -> dict[str, str]:
        return {"Authorization": self.api_key or ""}

    def model_params(self) -> dict[str, Any]:
        return {"speech_models": [self.model], **self.params, **self.endpoint_params()}

    async def _send(self, method: str, path: str, **kw: Any) -> Reply:
        """One request; a non-2xx reply or a transport failure raised as a ProviderError."""
        return await send_checked(self, method, f"{self.base_url}{path}", request_id_header="x-request-id",
                                  refine=rate_limit_reset, headers=self.headers() | kw.pop("headers", {}), **kw)

    async def upload(self, audio: AudioClip, item: WorkItem, job: Job) -> None:
        body, _mime, _name = audio.file_bytes()
        response = await self._send("POST", UPLOAD_PATH, content=body, headers={"Content-Type": "application/octet-stream"})
        job.upload = reply_field(response.content, "upload_url", what="upload reply")

    def request_body(self, item: WorkItem, audio_url: str) -> dict[str, Any]:
        body: dict[str, Any] = {"audio_url": audio_url, "speech_models": [self.model], **self.params}
        language = item_language(self.params, "language_code", item)
        if language and not body.get("language_detection"):
            body["language_code"] = language
        return body

    async def submit(self, audio: AudioClip, item: WorkItem, job: Job) -> None:
        response = await self._send("POST", TRANSCRIPT_PATH, json=self.request_body(item, job.upload))
        job.job_id = reply_field(response.content, "id", what="transcript creation reply")

    async def poll(self, job: Job) -> JobStatus:
        response = await self._send("GET", f"{TRANSCRIPT_PATH}/{job.job_id}")
        reply = reply_json(response.content, what="transcript status")
        if not isinstance(reply, dict):
            raise bad_reply("the transcript status is not an object")
        return STATUS.read(reply.get("status"), reply=reply, message=lambda: str(reply.get("error") or "no reason given"))

    async def fetch(self, job: Job, status: JobStatus) -> Transcript:
        reply = status.reply
        if not isinstance(reply.get("text"), str):
            raise bad_reply("no \"text\" in the completed transcript")
        words = [
            {"word": w.get("text"), "start": w["start"] / 1000.0, "end": w["end"] / 1000.0,
             "confidence": w.get("confidence"), **({"speaker": w["speaker"]} if w.get("speaker") is not None else {})}
            for w in reply.get("words") or []
            if isinstance(w, dict) and isinstance(w.get("start"), (int, float)) and isinstance(w.get("end"), (int, float))
        ]
        meta = {key: reply[key] for key in ("id", "audio_duration", "confidence", "language_code") if reply.get(key) is not None}
        return Transcript(
            text=reply["text"],
            words=words or None,
            model_revision=reply.get("speech_model_used") or self.model,
            meta=meta,
        )

    async def cleanup(self, job: Job) -> str | None:
        """DELETE the transcript (its uploaded audio goes with it). An upload without a
        transcript cannot be deleted through the API: AssemblyAI removes it within 48 hours."""
        if job.job_id is None:
            return "upload kept: AssemblyAI has no API to delete it (it expires within 48 h)"
        return await delete_request(self._send("DELETE", f"{TRANSCRIPT_PATH}/{job.job_id}"))
