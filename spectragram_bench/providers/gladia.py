"""Gladia pre-recorded speech-to-text (v2), a job-based provider.

    upload   POST /v2/upload   multipart `audio` -> {"audio_url", "audio_metadata"}
    submit   POST /v2/pre-recorded   JSON {"audio_url", ...params} -> 201 {"id", "result_url"}
    poll     GET  /v2/pre-recorded/{id}   status queued | processing | done | error ("error_code")
    fetch    the done poll reply itself (no request): result.transcription.utterances[].words[]
    cleanup  DELETE /v2/pre-recorded/{id}   202; the job, its result and its file

As the official SDK (gladiaio/sdk, packages/sdk-python v2/prerecorded/client.py) sends it: header
`x-gladia-key: <key>`; the upload's file part is named `audio`; the create body is JSON with the
documented options (language_config {languages, code_switching}, diarization, ...). The
pre-recorded API takes no model parameter, so `model` only names the job run (solaria-1 is the
model Gladia serves). `base_url` replaces https://api.gladia.io. Errors are {"statusCode",
"message", "request_id", "validation_errors"}: 401 and 403 stop the run, 400/422 fail the
utterance, 429 and 5xx are retried. A job may be deleted only once done or failed (a queued
one answers 403; the SDK's e2e tests say so). A failed job states only `error_code`, the HTTP
status of its error: a 4xx is the utterance's, a 5xx Gladia's own (retryable). Words are in
seconds with confidence, the utterance's speaker when diarized; `result.metadata.billing_time`
is the billed duration (audio_duration x distinct channels).
"""

from __future__ import annotations

from typing import Any, ClassVar

from spectragram_bench.core.audio import AudioClip
from spectragram_bench.core.config import ProviderConfig
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

UPLOAD_PATH = "/v2/upload"
JOBS_PATH = "/v2/pre-recorded"
STATUS = StatusWords(done="done", pending=("queued", "processing"), failed=("error",))
ELSEWHERE = "sends the result elsewhere; the adapter polls"


def validation_detail(response: Reply, error: ProviderError) -> ProviderError:
    """Gladia's 400/422 carry `validation_errors` (strings or {loc, msg}): kept in the message."""
    try:
        body = response.json()
    except ValueError:
        return error
    details = body.get("validation_errors") if isinstance(body, dict) else None
    if not isinstance(details, list) or not details:
        return error
    parts = [d if isinstance(d, str) else f"{'.'.join(map(str, d.get('loc') or []))}: {d.get('msg')}"
             for d in details if isinstance(d, (str, dict))]
    message = f"{error.message}; {'; '.join(parts)}"[:MAX_MESSAGE_CHARS]
    return error.reworded(message)


class GladiaProvider(JobProvider):
    name: ClassVar[str] = "gladia"
    default_base_url: ClassVar[str] = "https://api.gladia.io"
    default_key_env: ClassVar[str | None] = "GLADIA_API_KEY"
    example_model: ClassVar[str] = "solaria-1"
    default_poll_interval_s: ClassVar[float] = 1.0
    fetch_sends_request: ClassVar[bool] = False  # the done poll reply holds the result
    reserved_params: ClassVar[dict[str, str]] = {"audio_url": "is set by the adapter", "callback": ELSEWHERE,
                                                 "callback_url": ELSEWHERE, "callback_config": ELSEWHERE}

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        self.base_url = self.base_url.removesuffix("/v2")

    def model_params(self) -> dict[str, Any]:
        return {"model": self.model, **self.params, **self.endpoint_params()}

    async def _send(self, method: str, path: str, **kw: Any) -> Reply:
        return await send_checked(self, method, f"{self.base_url}{path}", request_id_header="x-request-id",
                                  refine=validation_detail, headers={"x-gladia-key": self.api_key or ""}, **kw)

    async def upload(self, audio: AudioClip, item: WorkItem, job: Job) -> None:
        body, mime, name = audio.file_bytes()
        response = await self._send("POST", UPLOAD_PATH, files={"audio": (name, body, mime)})
        job.upload = reply_field(response.content, "audio_url", what="upload reply")

    def request_body(self, item: WorkItem, audio_url: str) -> dict[str, Any]:
        body: dict[str, Any] = {"audio_url": audio_url, **self.params}
        language = getattr(item, "language", None)
        if language and "language_config" not in body:
            body["language_config"] = {"languages": [language], "code_switching": False}
        return body

    async def submit(self, audio: AudioClip, item: WorkItem, job: Job) -> None:
        response = await self._send("POST", JOBS_PATH, json=self.request_body(item, job.upload))
        job.job_id = reply_field(response.content, "id", what="pre-recorded creation reply")

    async def poll(self, job: Job) -> JobStatus:
        reply = reply_json((await self._send("GET", f"{JOBS_PATH}/{job.job_id}")).content, what="pre-recorded job")
        status = reply.get("status") if isinstance(reply, dict) else None
        code = reply.get("error_code") if isinstance(reply, dict) else None
        kind = ErrorKind.RETRYABLE if isinstance(code, int) and code >= 500 else ErrorKind.UTTERANCE
        return STATUS.read(status, reply=reply, kind=kind,
                           message=lambda: f"error_code {code}" if code is not None else "no error_code given")

    async def fetch(self, job: Job, status: JobStatus) -> Transcript:
        result = status.reply.get("result")
        transcription = result.get("transcription") if isinstance(result, dict) else None
        if not isinstance(transcription, dict) or not isinstance(transcription.get("full_transcript"), str):
            raise bad_reply("no result.transcription.full_transcript in the done job")
        words = utterance_words(transcription.get("utterances") or [])
        metadata = result.get("metadata") if isinstance(result.get("metadata"), dict) else {}
        billed = metadata.get("billing_time")
        return Transcript(
            text=transcription["full_transcript"].strip(),
            words=words or None,
            usage=metadata or None,
            model_revision=self.model,
            billed_seconds=float(billed) if isinstance(billed, (int, float)) else None,
            meta={"audio_duration": metadata.get("audio_duration"), "languages": transcription.get("languages"),
                  "request_id": status.reply.get("request_id")},
        )

    async def cleanup(self, job: Job) -> str | None:
        if job.job_id is None:
            return "upload kept: Gladia documents no deletion of an upload without its job"
        # a queued or processing job answers 403: Gladia deletes done or failed jobs only
        return await delete_request(self._send("DELETE", f"{JOBS_PATH}/{job.job_id}"),
                                    kept={403: "Gladia refused the deletion"})


def utterance_words(utterances: list[Any]) -> list[dict[str, Any]]:
    """Every utterance's words (seconds, confidence), with the utterance's speaker when diarized."""
    words: list[dict[str, Any]] = []
    for utt in utterances:
        if not isinstance(utt, dict):
            continue
        for w in utt.get("words") or []:
            if not isinstance(w, dict) or not isinstance(w.get("start"), (int, float)):
                continue
            word = {"word": str(w.get("word") or "").strip(), "start": w["start"], "end": w.get("end"),
                    "confidence": w.get("confidence")}
            if utt.get("speaker") is not None:
                word["speaker"] = utt["speaker"]
            words.append(word)
    return words
