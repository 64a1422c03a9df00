"""Rev.ai asynchronous speech-to-text (/speechtotext/v1), a job-based provider.

    submit   POST /speechtotext/v1/jobs   multipart: `media` (the audio) + `options` (JSON text)
    poll     GET  /speechtotext/v1/jobs/{id}   status in_progress | transcribed | failed
             (`failure`, `failure_detail`), `duration_seconds`
    fetch    GET  /speechtotext/v1/jobs/{id}/transcript   Accept: application/vnd.rev.transcript.v1.0+json
    cleanup  DELETE /speechtotext/v1/jobs/{id}   removes the media and the transcript (204)

As the official SDK (revai-python-sdk apiclient.py) sends it: `Authorization: Bearer <token>`;
`model` is the `transcriber` option (machine, low_cost, fusion), the other params are options as
named by the API (language, skip_diarization, ...). `base_url` replaces https://api.rev.ai (the
EU deployment is https://ec1.api.rev.ai). Errors are problem JSON {"type", "title", "status",
"detail"}: 401 and 403 stop the run, 429 and 5xx are retried, a 409 (invalid job state: not
transcribed yet) is retried, other 4xx are the utterance's. The transcript's monologues hold
elements {type text | punct, value, ts, end_ts (seconds), confidence}; the monologue's speaker is
each word's speaker. `duration_seconds` is the media duration Rev.ai measured (it states no
separate billed duration).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from spectragram_bench.core.audio import AudioClip
from spectragram_bench.core.config import ProviderConfig
from spectragram_bench.core.records import WorkItem
from spectragram_bench.providers.base import ProviderError, Transcript
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
from spectragram_bench.providers.one_request import item_language, send_checked

JOBS_PATH = "/speechtotext/v1/jobs"
TRANSCRIPT_TYPE = "application/vnd.rev.transcript.v1.0+json"
STATUS = StatusWords(done="transcribed", pending=("in_progress",), failed=("failed",))


def problem_message(response: Reply, error: ProviderError) -> ProviderError:
    """Rev.ai's problem JSON {"title", "detail"} as the error's message."""
    try:
        body = response.json()
    except ValueError:
        return error
    if not isinstance(body, dict) or not (body.get("title") or body.get("detail")):
        return error
    message = ": ".join(str(body[k]) for k in ("title", "detail") if body.get(k))[:MAX_MESSAGE_CHARS]
    return error.reworded(message)


class RevAIProvider(JobProvider):
    name: ClassVar[str] = "revai"
    default_base_url: ClassVar[str] = "https://api.rev.ai"
    default_key_env: ClassVar[str | None] = "REVAI_ACCESS_TOKEN"
    example_model: ClassVar[str] = "machine"
    default_poll_interval_s: ClassVar[float] = 1.0
    reserved_params: ClassVar[dict[str, str]] = {"transcriber": "is set from \"model\""}

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        self.base_url = self.base_url.removesuffix("/speechtotext/v1")  # the SDK's form of the same host

    def model_params(self) -> dict[str, Any]:
        return {"transcriber": self.model, **self.params, **self.endpoint_params()}

    def options(self, item: WorkItem) -> dict[str, Any]:
        options = {"transcriber": self.model, **self.params}
        language = item_language(self.params, "language", item)
        if language:
            options["language"] = language
        return options

    async def _send(self, method: str, path: str, headers: dict[str, str] | None = None, **kw: Any) -> Reply:
        return await send_checked(self, method, f"{self.base_url}{JOBS_PATH}{path}", request_id_header="x-rev-request-id",
                                  refine=problem_message,
                                  headers={"Authorization": f"Bearer {self.api_key or ''}", **(headers or {})}, **kw)

    async def submit(self, audio: AudioClip, item: WorkItem, job: Job) -> None:
        body, mime, name = audio.file_bytes()
        response = await self._send("POST", "", files={"media": (name, body, mime),
                                                       "options": (None, json.dumps(self.options(item), sort_keys=True))})
        job.job_id = reply_field(response.content, "id", what="job creation reply")

    async def poll(self, job: Job) -> JobStatus:
        reply = reply_json((await self._send("GET", f"/{job.job_id}")).content, what="job details")
        if not isinstance(reply, dict):
            raise bad_reply("the job details are not an object")
        job.data["duration_seconds"] = reply.get("duration_seconds")
        reason = ": ".join(str(reply[k]) for k in ("failure", "failure_detail") if reply.get(k))
        return STATUS.read(reply.get("status"), message=lambda: reason or "no reason given")

    async def fetch(self, job: Job, status: JobStatus) -> Transcript:
        response = await self._send("GET", f"/{job.job_id}/transcript", headers={"Accept": TRANSCRIPT_TYPE})
        reply = reply_json(response.content, what="transcript")
        if not isinstance(reply, dict) or not isinstance(reply.get("monologues"), list):
            raise bad_reply("no \"monologues\" in the transcript")
        words, text = monologue_words(reply["monologues"])
        return Transcript(text=text, words=words or None, model_revision=self.model,
                          meta={"duration_seconds": job.data.get("duration_seconds")})

    async def cleanup(self, job: Job) -> str | None:
        if job.job_id is None:
            return "no job was created"
        return await delete_request(self._send("DELETE", f"/{job.job_id}"))


def monologue_words(monologues: list[Any]) -> tuple[list[dict[str, Any]], str]:
    """Words (seconds, confidence, the monologue's speaker) and the text: every element's value
    in order (punct elements carry the spaces and punctuation), monologues joined by a space."""
    words: list[dict[str, Any]] = []
    texts: list[str] = []
    for mono in monologues:
        if not isinstance(mono, dict):
            continue
        parts: list[str] = []
        for el in mono.get("elements") or []:
            if not isinstance(el, dict):
                continue
            parts.append(str(el.get("value", "")))
            if el.get("type") == "text":
                word = {"word": el.get("value"), "start": el.get("ts"), "end": el.get("end_ts"), "confidence": el.get("confidence")}
                if mono.get("speaker") is not None:
                    word["speaker"] = mono["speaker"]
                words.append(word)
        texts.append("".join(parts).strip())
    return words, " ".join(t for t in texts if t)
