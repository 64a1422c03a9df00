"""ElevenLabs Scribe speech-to-text: POST /v1/speech-to-text, synchronous multipart.

Fields as the official SDK sends them (elevenlabs-python speech_to_text/raw_client.py): the
audio in `file`, `model_id` (scribe_v1, scribe_v2, ...) and the documented options as form
fields (booleans true/false, `keyterms` as a JSON list), `enable_logging` as a query parameter;
the key in the `xi-api-key` header. The reply's `words` mix types word / spacing / audio_event;
the stored words are the `word` entries, in seconds, with `logprob`, its probability as
`confidence`, and `speaker_id` when diarized.

Errors (ElevenLabs help center, "API error code 400 or 401" and "429"): 401 invalid_api_key or
quota_exceeded and 403 stop the run; 400/413/422 fail the utterance; 429
too_many_concurrent_requests is the plan's concurrency limit (rate limited), 429 system_busy is
the service's load (retried without lowering concurrency); 5xx retried.
"""

from __future__ import annotations

import json
import math
from typing import Any, ClassVar

from spectragram_bench.core.audio import AudioClip
from spectragram_bench.core.config import ProviderConfig
from spectragram_bench.core.errors import ConfigError
from spectragram_bench.core.records import WorkItem
from spectragram_bench.providers.base import ErrorKind, ProviderError, Transcript
from spectragram_bench.providers.cloud import CloudProvider
from spectragram_bench.providers.http_errors import bad_reply, reply_json
from spectragram_bench.providers.one_request import item_language, send_checked
from spectragram_bench.providers.openai_whisper import form_value

SPEECH_TO_TEXT_PATH = "/v1/speech-to-text"
REQUEST_ID_HEADER = "request-id"
#: reply headers with the plan's concurrency in use and allowed ("concurrency and priority" docs)
CONCURRENCY_HEADERS = ("current-concurrent-requests", "maximum-concurrent-requests")
#: form fields of POST /v1/speech-to-text that change a transcript of an uploaded file
FORM_FIELDS = frozenset(
    """language_code tag_audio_events num_speakers timestamps_granularity diarize diarization_threshold
    file_format temperature seed use_multi_channel multichannel_output_style no_verbatim keyterms
    entity_detection entity_redaction entity_redaction_mode detect_speaker_roles use_speaker_library""".split()
)
JSON_FIELDS = frozenset({"keyterms", "entity_detection", "entity_redaction"})
QUERY_FIELDS = frozenset({"enable_logging"})
#: fields that make the reply something other than this utterance's transcript
REFUSED_FIELDS = {
    "webhook": "the transcript would go to a webhook, not the reply",
    "webhook_id": "the transcript would go to a webhook, not the reply",
    "webhook_metadata": "the transcript would go to a webhook, not the reply",
    "source_url": "the adapter uploads the utterance's audio itself",
    "cloud_storage_url": "the adapter uploads the utterance's audio itself",
    "additional_formats": "exports (srt, docx, ...) carry nothing a benchmark scores",
}


class ElevenLabsProvider(CloudProvider):
    name: ClassVar[str] = "elevenlabs"
    default_base_url: ClassVar[str] = "https://api.elevenlabs.io"
    default_key_env: ClassVar[str | None] = "ELEVENLABS_API_KEY"
    example_model: ClassVar[str] = "scribe_v2"

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        if config.mode == "streaming":
            raise ConfigError(f"{self.where}: the ElevenLabs adapter sends whole files (\"mode\": \"batch\")")
        params = dict(self.params)
        for key in ("model_id", "file"):
            if key in params:
                raise ConfigError(f"{self.where}: set the model in \"model\"; the adapter sends the audio as \"file\" (remove params.{key})")
        for key, why in REFUSED_FIELDS.items():
            if key in params:
                raise ConfigError(f"{self.where}: params.{key} is not supported: {why}")
        unknown = sorted(set(params) - FORM_FIELDS - QUERY_FIELDS)
        if unknown:
            raise ConfigError(f"{self.where}: params {unknown} are not ElevenLabs speech-to-text fields; known: {sorted(FORM_FIELDS | QUERY_FIELDS)}")
        self.fields = params

    def model_params(self) -> dict[str, Any]:
        return {**self.fields, **self.endpoint_params()}

    def headers(self) -> dict[str, str]:
        return {"xi-api-key": self.api_key or ""}

    def form(self, item: WorkItem) -> dict[str, str]:
        fields = {k: v for k, v in self.fields.items() if k in FORM_FIELDS}
        fields["language_code"] = item_language(self.fields, "language_code", item)
        out = {"model_id": self.model}
        for name, value in fields.items():
            if value is None:
                continue
            out[name] = json.dumps(value) if name in JSON_FIELDS else form_value(value)
        return out

    async def transcribe(self, audio: AudioClip, item: WorkItem) -> Transcript:
        body, mime, file_name = audio.file_bytes()
        query = {k: form_value(v) for k, v in self.fields.items() if k in QUERY_FIELDS}
        try:
            response = await send_checked(
                self, "POST", f"{self.base_url}{SPEECH_TO_TEXT_PATH}", request_id_header=REQUEST_ID_HEADER,
                params=query, data=self.form(item), files={"file": (file_name, body, mime)}, headers=self.headers(),
            )
        except ProviderError as exc:
            raise classify_busy(exc) from None
        transcript = self.parse_reply(reply_json(response.content, what="ElevenLabs reply"), response.headers.get(REQUEST_ID_HEADER))
        concurrency = {h: response.headers[h] for h in CONCURRENCY_HEADERS if h in response.headers}
        if concurrency:
            transcript.meta["concurrency"] = concurrency
        return transcript

    def parse_reply(self, reply: Any, header_request_id: str | None = None) -> Transcript:
        if not isinstance(reply, dict):
            raise bad_reply("the ElevenLabs reply is not a JSON object")
        chunks = reply.get("transcripts") if isinstance(reply.get("transcripts"), list) else [reply]
        texts, words = [], []
        for chunk in chunks:  # one per channel with use_multi_channel, else the reply itself
            if not isinstance(chunk, dict) or not isinstance(chunk.get("text"), str):
                raise bad_reply("no \"text\" string in the ElevenLabs reply")
            texts.append(chunk["text"].strip())
            words.extend(scribe_words(chunk.get("words"), chunk.get("channel_index")))
        first = chunks[0] if chunks else {}
        meta: dict[str, Any] = {"request_id": reply.get("transcription_id") or first.get("transcription_id") or header_request_id}
        for key in ("language_code", "language_probability", "audio_duration_secs"):
            if first.get(key) is not None:
                meta[key] = first[key]
        return Transcript(text=" ".join(t for t in texts if t), words=words or None, model_revision=self.model, meta=meta)


def scribe_words(entries: Any, channel: Any = None) -> list[dict[str, Any]]:
    """The `word` entries of a Scribe reply as {word, start, end, confidence, logprob, speaker}."""
    out: list[dict[str, Any]] = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or entry.get("type", "word") != "word":
            continue  # spacing and audio_event entries are not words
        word: dict[str, Any] = {"word": entry.get("text"), "start": entry.get("start"), "end": entry.get("end")}
        logprob = entry.get("logprob")
        if isinstance(logprob, (int, float)):
            word["logprob"] = logprob
            word["confidence"] = round(math.exp(min(0.0, logprob)), 6)
        if entry.get("speaker_id") is not None:
            word["speaker"] = entry["speaker_id"]
        if channel is not None or entry.get("channel_index") is not None:
            word["channel"] = entry.get("channel_index", channel)
        out.append(word)
    return out


def classify_busy(error: ProviderError) -> ProviderError:
    """429 system_busy is the service's load, not the plan's limit: retried, concurrency kept."""
    if error.status == 429 and "system_busy" in error.message:
        error.kind = ErrorKind.RETRYABLE
    return error
