"""Speechmatics batch transcription (ASR REST API v2), a job-based provider.

    submit   POST /v2/jobs   multipart: `config` (JSON text) + `data_file` (the audio) -> {"id"}
    poll     GET  /v2/jobs/{id}   {"job": {"status": running | done | rejected | deleted | expired,
                                           "duration", "errors": [{"timestamp", "message"}]}}
    fetch    GET  /v2/jobs/{id}/transcript?format=json-v2
    cleanup  DELETE /v2/jobs/{id}   removes the job, its audio and its transcript

As the official SDK (speechmatics-python batch_client.py) sends it: `Authorization: Bearer <key>`;
config {"type": "transcription", "transcription_config": {"language", "operating_point": model,
...params}}. `base_url` replaces https://asr.api.speechmatics.com (regional hosts such as
https://eu1.asr.api.speechmatics.com; a key belongs to one region). Errors are {"code", "error",
"detail"}; a 401 may come as an nginx HTML page (no key, or a key of another region); 403
("Entitlement check failed") and 401 stop the run, 429 is retried (the docs ask for no more than
10 new jobs and 50 status requests per second), 5xx retried, other 4xx the utterance's. json-v2
words are in seconds with confidence and speaker; punctuation attaches to the word before it.
`job.duration` is the duration Speechmatics measured (whole seconds; it states no separate
billed duration), `metadata.language_pack_info` and `format` describe the model revision.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from spectragram_bench.core.audio import AudioClip
from spectragram_bench.core.config import ProviderConfig
from spectragram_bench.core.errors import ConfigError
from spectragram_bench.core.records import WorkItem
from spectragram_bench.providers.base import ProviderError, Transcript
from spectragram_bench.providers.http_client import Reply
from spectragram_bench.providers.http_errors import MAX_MESSAGE_CHARS, bad_reply, reply_json, scrub
from spectragram_bench.providers.jobs import (
    Job,
    JobProvider,
    JobStatus,
    StatusWords,
    delete_request,
    reply_field,
)
from spectragram_bench.providers.one_request import item_language, send_checked

JOBS_PATH = "/v2/jobs"
STATUS = StatusWords(done="done", pending=("running",), failed=("rejected", "deleted", "expired"))
OPERATING_POINTS = ("standard", "enhanced")


def error_text(response: Reply, secrets: tuple[str | None, ...]) -> str | None:
    """Speechmatics' {"error", "detail"} as one message; an HTML page (nginx's 401) by its title."""
    body = response.text.strip()
    if body.startswith("<"):
        title = body.split("<title>", 1)[-1].split("</title>", 1)[0] if "<title>" in body else "HTML error page"
        return f"{title.strip()} (an HTML reply: no key, or a key of another region's endpoint)"
    try:
        parsed = json.loads(body) if body else None
    except json.JSONDecodeError:
        return None
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), str):
        parts = [parsed["error"], parsed.get("detail")]
        return scrub(": ".join(str(p) for p in parts if p), secrets)[:MAX_MESSAGE_CHARS]
    return None


class SpeechmaticsProvider(JobProvider):
    name: ClassVar[str] = "speechmatics"
    default_base_url: ClassVar[str] = "https://asr.api.speechmatics.com"
    default_key_env: ClassVar[str | None] = "SPEECHMATICS_API_KEY"
    example_model: ClassVar[str] = "enhanced"
    default_poll_interval_s: ClassVar[float] = 1.0
    reserved_params: ClassVar[dict[str, str]] = {"operating_point": "is set from \"model\""}

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        self.base_url = self.base_url.removesuffix("/v2")  # the SDK's form of the same host
        if self.model not in OPERATING_POINTS:
            raise ConfigError(f"{self.where}: \"model\" is the operating point, one of {list(OPERATING_POINTS)}")

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key or ''}"}

    def model_params(self) -> dict[str, Any]:
        return {"operating_point": self.model, **self.params, **self.endpoint_params()}

    def job_config(self, item: WorkItem) -> dict[str, Any]:
        transcription = {"operating_point": self.model, **self.params}
        transcription["language"] = item_language(self.params, "language", item) or "en"
        return {"type": "transcription", "transcription_config": transcription}

    async def _send(self, method: str, path: str, **kw: Any) -> Reply:
        return await send_checked(self, method, f"{self.base_url}{path}", request_id_header="request-id",
                                  refine=self._refine, headers=self.headers(), **kw)

    def _refine(self, response: Reply, error: ProviderError) -> ProviderError:
        message = error_text(response, self.secrets)
        if not message:
            return error
        return error.reworded(message)

    async def submit(self, audio: AudioClip, item: WorkItem, job: Job) -> None:
        body, mime, name = audio.file_bytes()
        response = await self._send("POST", JOBS_PATH, data={"config": json.dumps(self.job_config(item))},
                                    files={"data_file": (name, body, mime)})
        job.job_id = reply_field(response.content, "id", what="job creation reply")

    async def poll(self, job: Job) -> JobStatus:
        reply = reply_json((await self._send("GET", f"{JOBS_PATH}/{job.job_id}")).content, what="job status")
        details = reply.get("job") if isinstance(reply, dict) else None
        if not isinstance(details, dict):
            raise bad_reply("no \"job\" object in the job status")
        job.data["duration"] = details.get("duration")
        errors = [e.get("message") for e in details.get("errors") or [] if isinstance(e, dict) and e.get("message")]
        return STATUS.read(details.get("status"), message=lambda: "; ".join(errors))

    async def fetch(self, job: Job, status: JobStatus) -> Transcript:
        response = await self._send("GET", f"{JOBS_PATH}/{job.job_id}/transcript", params={"format": "json-v2"})
        reply = reply_json(response.content, what="json-v2 transcript")
        if not isinstance(reply, dict) or not isinstance(reply.get("results"), list):
            raise bad_reply("no \"results\" list in the json-v2 transcript")
        words, text = json_v2_words(reply["results"])
        metadata = reply.get("metadata") if isinstance(reply.get("metadata"), dict) else {}
        pack = metadata.get("language_pack_info") if isinstance(metadata.get("language_pack_info"), dict) else {}
        revision = f"{self.model} (json-v2 {reply.get('format')}, {pack.get('language_description') or 'language pack'})"
        return Transcript(
            text=text, words=words or None, model_revision=revision,
            meta={"job_duration_s": job.data.get("duration"), "format": reply.get("format")},
        )

    async def cleanup(self, job: Job) -> str | None:
        if job.job_id is None:
            return "no job was created"
        return await delete_request(self._send("DELETE", f"{JOBS_PATH}/{job.job_id}", params={"force": "true"}))


def json_v2_words(results: list[Any]) -> tuple[list[dict[str, Any]], str]:
    """Words (seconds, confidence, speaker) and the text, punctuation attached to its word."""
    words: list[dict[str, Any]] = []
    pieces: list[str] = []
    for r in results:
        if not isinstance(r, dict) or not r.get("alternatives"):
            continue
        alt = r["alternatives"][0]
        content = alt.get("content", "")
        if r.get("type") == "punctuation":
            if pieces and r.get("attaches_to", "previous") == "previous":
                pieces[-1] += content
            else:
                pieces.append(content)
            continue
        pieces.append(content)
        word = {"word": content, "start": r.get("start_time"), "end": r.get("end_time"), "confidence": alt.get("confidence")}
        if alt.get("speaker") not in (None, "UU"):  # UU: speaker unknown (diarization off)
            word["speaker"] = alt["speaker"]
        words.append(word)
    return words, " ".join(pieces)
