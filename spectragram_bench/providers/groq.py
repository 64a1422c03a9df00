"""Groq speech-to-text: OpenAI-compatible POST /openai/v1/audio/transcriptions, Bearer key.

The OpenAI adapter's request and reply code, with Groq's differences (console.groq.com docs,
groq-python): the API is mounted under /openai, so base_url is the host as the groq SDK takes
it (https://api.groq.com; the OpenAI-SDK habit https://api.groq.com/openai/v1 is accepted too);
every Whisper model answers verbose_json with word timestamps; there is no streaming; a
verbose_json reply names its request in `x_groq.id`. Groq bills the audio duration with a
10-second minimum per request, so billed seconds are max(10, duration). Every reply carries the
organisation's x-ratelimit-* headers (requests per day, tokens per minute, their remaining
counts and resets), kept in the latency record; a 429 carries retry-after, which the executor
honours before the reset headers.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

from spectragram_bench.core.audio import AudioClip
from spectragram_bench.core.config import ProviderConfig
from spectragram_bench.core.errors import ConfigError
from spectragram_bench.core.records import WorkItem
from spectragram_bench.providers.base import Transcript
from spectragram_bench.providers.http_client import Reply
from spectragram_bench.providers.one_request import rate_limit_headers
from spectragram_bench.providers.openai_whisper import OpenAIProvider

#: Groq's documented minimum billed duration per request
MIN_BILLED_SECONDS = 10.0


class GroqProvider(OpenAIProvider):
    name: ClassVar[str] = "groq"
    default_base_url: ClassVar[str] = "https://api.groq.com"
    default_key_env: ClassVar[str | None] = "GROQ_API_KEY"
    example_model: ClassVar[str] = "whisper-large-v3-turbo"
    strict_fields: ClassVar[bool] = False  # the OpenAI-only checks (gpt-4o formats) do not apply
    transcriptions_path: ClassVar[str] = "/openai/v1/audio/transcriptions"
    word_timestamp_models: ClassVar[tuple[str, ...]] = ("whisper-large-v3", "whisper-large-v3-turbo", "distil-whisper-large-v3-en")

    def __init__(self, config: ProviderConfig) -> None:
        if config.mode == "streaming":
            raise ConfigError(f"provider {config.display!r}: Groq transcriptions do not stream; use \"mode\": \"batch\"")
        super().__init__(config)
        self.base_url = self.base_url.removesuffix("/openai")  # CloudProvider already took off /v1

    async def transcribe(self, audio: AudioClip, item: WorkItem) -> Transcript:
        transcript = await super().transcribe(audio, item)
        duration = transcript.meta.get("duration")
        seconds = float(duration) if isinstance(duration, (int, float)) else audio.duration_s
        return replace(transcript, billed_seconds=max(MIN_BILLED_SECONDS, seconds))

    def parse_reply(self, response: Reply) -> Transcript:
        transcript = super().parse_reply(response)
        meta: dict[str, Any] = dict(transcript.meta)
        meta["ratelimit"] = rate_limit_headers(response.headers)
        meta["billing"] = f"audio duration, {MIN_BILLED_SECONDS:g} s minimum per request"
        try:
            groq_id = (response.json().get("x_groq") or {}).get("id")
        except (ValueError, AttributeError):
            groq_id = None
        if groq_id:
            meta["request_id"] = groq_id
        return replace(transcript, meta=meta)
