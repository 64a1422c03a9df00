"""Mistral (Voxtral) transcription: POST /v1/audio/transcriptions, synchronous multipart.

Fields as the official SDK serialises them (client-python utils/forms.py): `file`, `model`,
`language`, `temperature`, `diarize`, and list fields (`timestamp_granularities`,
`context_bias`) as the same name repeated, without the OpenAI-style brackets; booleans
true/false; the key as `Authorization: Bearer`. The reply (TranscriptionResponse) carries
`model` (the dated model that answered, e.g. voxtral-mini-2507 for voxtral-mini-latest: stored
as the model revision), `text`, `segments[]{text, start, end, score?, speaker_id?}`, `language`
and `usage` whose `prompt_audio_seconds` is the audio Mistral counted: the billed seconds.
With `timestamp_granularities: ["word"]` each segment is one word and they are stored as words.

Errors: 401 (bad key) and 403 stop the run; 400 and 422 (HTTPValidationError) fail the
utterance; the SDK retries 429, 500, 502, 503, 504 and so does the executor.
"""

from __future__ import annotations

from typing import Any, ClassVar

from spectragram_bench.core.audio import AudioClip
from spectragram_bench.core.config import ProviderConfig
from spectragram_bench.core.errors import ConfigError
from spectragram_bench.core.records import WorkItem
from spectragram_bench.providers.base import Transcript
from spectragram_bench.providers.cloud import CloudProvider
from spectragram_bench.providers.http_errors import bad_reply, reply_json
from spectragram_bench.providers.one_request import item_language, send_checked
from spectragram_bench.providers.openai_whisper import form_value

TRANSCRIPTIONS_PATH = "/v1/audio/transcriptions"
REQUEST_ID_HEADER = "x-request-id"
#: AudioTranscriptionRequest fields that change the transcript of an uploaded file
FIELDS = frozenset({"language", "temperature", "diarize", "context_bias", "timestamp_granularities"})
GRANULARITIES = ("segment", "word")


class MistralProvider(CloudProvider):
    name: ClassVar[str] = "mistral"
    default_base_url: ClassVar[str] = "https://api.mistral.ai"
    default_key_env: ClassVar[str | None] = "MISTRAL_API_KEY"
    example_model: ClassVar[str] = "voxtral-mini-latest"

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        if config.mode == "streaming":
            raise ConfigError(f"{self.where}: the Mistral adapter sends whole files (\"mode\": \"batch\")")
        params = dict(self.params)
        for key in ("model", "file", "file_url", "file_id", "stream"):
            if key in params:
                raise ConfigError(f"{self.where}: params.{key} is set by the adapter (the model in \"model\", the audio as \"file\"); remove it")
        unknown = sorted(set(params) - FIELDS)
        if unknown:
            raise ConfigError(f"{self.where}: params {unknown} are not Mistral transcription fields; known: {sorted(FIELDS)}")
        granularities = params.get("timestamp_granularities", [])
        if isinstance(granularities, str):
            granularities = [granularities]
        if not isinstance(granularities, list) or any(g not in GRANULARITIES for g in granularities):
            raise ConfigError(f"{self.where}: params.timestamp_granularities must be a list of {list(GRANULARITIES)}")
        if granularities:
            params["timestamp_granularities"] = granularities
        self.fields = params

    def model_params(self) -> dict[str, Any]:
        return {**self.fields, **self.endpoint_params()}

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def form(self, item: WorkItem) -> dict[str, str | list[str]]:
        fields = {"model": self.model, **self.fields, "language": item_language(self.fields, "language", item)}
        out: dict[str, str | list[str]] = {}
        for name, value in fields.items():
            if value is None:
                continue
            out[name] = [form_value(v) for v in value] if isinstance(value, list) else form_value(value)
        return out

    async def transcribe(self, audio: AudioClip, item: WorkItem) -> Transcript:
        body, mime, file_name = audio.file_bytes()
        response = await send_checked(
            self, "POST", f"{self.base_url}{TRANSCRIPTIONS_PATH}", request_id_header=REQUEST_ID_HEADER,
            data=self.form(item), files={"file": (file_name, body, mime)}, headers=self.headers(),
        )
        return self.parse_reply(reply_json(response.content, what="Mistral reply"), response.headers.get(REQUEST_ID_HEADER))

    def parse_reply(self, reply: Any, request_id: str | None = None) -> Transcript:
        if not isinstance(reply, dict) or not isinstance(reply.get("text"), str):
            raise bad_reply("no \"text\" string in the Mistral transcription reply")
        usage = reply.get("usage") if isinstance(reply.get("usage"), dict) else None
        seconds = usage.get("prompt_audio_seconds") if usage else None
        segments = reply.get("segments") if isinstance(reply.get("segments"), list) else []
        words = None
        if "word" in self.fields.get("timestamp_granularities", []):
            words = [segment_word(s) for s in segments if isinstance(s, dict)]
        meta: dict[str, Any] = {"request_id": request_id}
        if reply.get("language") is not None:
            meta["language"] = reply["language"]
        if segments and words is None:
            meta["segments"] = len(segments)
        return Transcript(
            text=reply["text"].strip(),
            words=words,
            usage=usage,
            model_revision=reply.get("model") if isinstance(reply.get("model"), str) else self.model,
            billed_seconds=float(seconds) if isinstance(seconds, (int, float)) else None,
            meta=meta,
        )


def segment_word(segment: dict[str, Any]) -> dict[str, Any]:
    word: dict[str, Any] = {"word": (segment.get("text") or "").strip(), "start": segment.get("start"), "end": segment.get("end")}
    if segment.get("score") is not None:
        word["confidence"] = segment["score"]
    if segment.get("speaker_id") is not None:
        word["speaker"] = segment["speaker_id"]
    return word
