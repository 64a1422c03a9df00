"""Deepgram speech-to-text, pre-recorded: POST /v1/listen (live streaming: deepgram_live.py).

Uploads the audio file as it is (FLAC/WAV with its own content type) and sends the provider
params as query parameters (booleans as true/false, lists repeated).
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar
from urllib.parse import urlencode

from spectragram_bench.core.audio import AudioClip
from spectragram_bench.core.config import ProviderConfig
from spectragram_bench.core.errors import ConfigError
from spectragram_bench.core.records import WorkItem
from spectragram_bench.providers.base import Transcript
from spectragram_bench.providers.cloud import CloudProvider
from spectragram_bench.providers.http_errors import (
    bad_reply,
    error_for_exception,
    error_for_response,
    reply_json,
)

log = logging.getLogger(__name__)

LISTEN_PATH = "/v1/listen"
REQUEST_ID_HEADER = "dg-request-id"

#: params of the live adapter only (deepgram_live.py)
STREAM_ONLY_PARAMS = frozenset({"pace", "frame_ms", "keepalive_s", "end_timeout_s"})

#: Deepgram's documented /v1/listen query parameters; others are sent but warned about (typo?)
KNOWN_QUERY_PARAMS = frozenset(
    """model language detect_language smart_format punctuate profanity_filter redact diarize
    diarize_version multichannel alternatives numerals search replace keywords keyterm utterances
    utt_split paragraphs summarize topics intents sentiment detect_entities filler_words dictation
    measurements tag callback callback_method custom_topic custom_topic_mode custom_intent
    custom_intent_mode extra version tier mip_opt_out encoding sample_rate channels
    interim_results endpointing utterance_end_ms vad_events no_delay""".split()
)


def query_value(value: Any) -> str:
    """Deepgram's spelling of a query value: booleans true/false, numbers as written."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def query_string(params: dict[str, Any]) -> str:
    """url-encoded params; a list repeats the key (keyterm=a&keyterm=b), None is left out."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        if value is None:
            continue
        for v in value if isinstance(value, (list, tuple)) else [value]:
            pairs.append((key, query_value(v)))
    return urlencode(pairs)


def model_revision(metadata: dict[str, Any]) -> str | None:
    """'name/version' of the model that answered, from metadata.model_info (first model)."""
    info = metadata.get("model_info") or {}
    uuids = metadata.get("models") or list(info)
    for uuid in uuids:
        entry = info.get(uuid)
        if isinstance(entry, dict) and entry.get("name"):
            return f"{entry['name']}/{entry.get('version', '?')}"
    return None


def duration_usage(metadata: dict[str, Any]) -> tuple[dict[str, Any] | None, float | None]:
    """(usage record, billed seconds): Deepgram bills audio duration per channel."""
    duration = metadata.get("duration")
    if not isinstance(duration, (int, float)):
        return None, None
    channels = metadata.get("channels") or 1
    return {"type": "duration", "seconds": duration, "channels": channels}, float(duration) * int(channels)


class DeepgramProvider(CloudProvider):
    name: ClassVar[str] = "deepgram"
    default_base_url: ClassVar[str] = "https://api.deepgram.com"
    default_key_env: ClassVar[str | None] = "DEEPGRAM_API_KEY"
    example_model: ClassVar[str] = "nova-3"
    language_param: ClassVar[str | None] = "language"

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        params = dict(self.params)
        for key, value in params.items():
            if isinstance(value, dict):
                raise ConfigError(f"{self.where}: params.{key} must be a value or a list, not an object")
        if "model" in params:
            raise ConfigError(f"{self.where}: set the model in the provider's \"model\" field, not params.model")
        settings = sorted(k for k in params if k in STREAM_ONLY_PARAMS)
        if settings:
            raise ConfigError(f"{self.where}: params {settings} apply to \"mode\": \"streaming\" only")
        for key in ("encoding", "sample_rate"):
            if key in params:
                raise ConfigError(f"{self.where}: params.{key} is for streaming; batch mode uploads the audio file itself")
        self.query = {"model": self.model, **params}
        unknown = sorted(set(self.query) - KNOWN_QUERY_PARAMS)
        if unknown:
            log.warning("%s: params %s are not documented Deepgram query parameters; sent as given", self.where, unknown)

    def model_params(self) -> dict[str, Any]:
        return {**self.query, **self.endpoint_params()}

    def headers(self) -> dict[str, str]:
        key = self.api_key
        return {"Authorization": f"Token {key}"} if key else {}

    async def transcribe(self, audio: AudioClip, item: WorkItem) -> Transcript:
        language = self.language_for(item)
        query = {**self.query, "language": language} if language else self.query
        return await self.transcribe_prerecorded(audio, query)

    # -- pre-recorded ------------------------------------------------------------------------

    async def transcribe_prerecorded(self, audio: AudioClip, query: dict[str, Any] | None = None) -> Transcript:
        body, mime, _name = audio.file_bytes()
        url = f"{self.base_url}{LISTEN_PATH}?{query_string(query or self.query)}"
        try:
            response = await self.request("POST", url, content=body, headers={**self.headers(), "Content-Type": mime})
        except Exception as exc:
            raise error_for_exception(exc, secrets=self.secrets) from None
        if response.status_code >= 300:
            raise error_for_response(response, request_id_header=REQUEST_ID_HEADER, secrets=self.secrets)
        reply = reply_json(response.content, what="Deepgram reply")
        return self.parse_prerecorded(reply, response.headers.get(REQUEST_ID_HEADER))

    @staticmethod
    def parse_prerecorded(reply: Any, header_request_id: str | None = None) -> Transcript:
        if not isinstance(reply, dict):
            raise bad_reply("Deepgram reply is not a JSON object")
        metadata = reply.get("metadata") if isinstance(reply.get("metadata"), dict) else {}
        try:
            alt = reply["results"]["channels"][0]["alternatives"][0]
            text = alt["transcript"]
        except (KeyError, IndexError, TypeError):
            raise bad_reply("no results.channels[0].alternatives[0].transcript in the Deepgram reply") from None
        if not isinstance(text, str):
            raise bad_reply("results.channels[0].alternatives[0].transcript is not a string")
        usage, billed = duration_usage(metadata)
        meta = {"request_id": metadata.get("request_id") or header_request_id}
        if alt.get("confidence") is not None:
            meta["confidence"] = alt["confidence"]
        return Transcript(
            text=text,
            words=alt.get("words"),
            usage=usage,
            model_revision=model_revision(metadata),
            billed_seconds=billed,
            meta=meta,
        )
