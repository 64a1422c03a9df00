"""OpenAI speech-to-text (POST /v1/audio/transcriptions) and the many servers that copy it.

One multipart request per utterance: `file`, `model` and the provider params as form fields
(lists in the bracket form `timestamp_granularities[]`, booleans true/false). whisper-1 gets
verbose_json with word timestamps by default, every other model json (the gpt-4o models accept
nothing else). `"mode": "streaming"` sends stream=true and reads the server-sent events,
recording time to the first non-empty delta and to transcript.text.done, both from the start of
the request (upload included), with or without a trailing `data: [DONE]`.

Files over the 25 MiB upload limit are re-encoded to FLAC when that brings them under, and are
otherwise failed here, before upload, instead of being sent to fail remotely.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import PurePath
from typing import Any, ClassVar
from urllib.parse import urlsplit

from spectragram_bench.core.audio import AudioClip
from spectragram_bench.core.config import ProviderConfig
from spectragram_bench.core.errors import ConfigError
from spectragram_bench.core.records import WorkItem
from spectragram_bench.providers.base import ErrorKind, ProviderError, Transcript
from spectragram_bench.providers.cloud import CloudProvider, elapsed_ms
from spectragram_bench.providers.http_client import Reply, StreamReply, multipart_body
from spectragram_bench.providers.http_errors import (
    bad_reply,
    error_for_exception,
    error_for_response,
    error_message,
    reply_json,
)

log = logging.getLogger(__name__)

TRANSCRIPTIONS_PATH = "/v1/audio/transcriptions"
REQUEST_ID_HEADER = "x-request-id"
MAX_UPLOAD_BYTES = 25 * 1024 * 1024  # 26,214,400: OpenAI's documented file limit
RESPONSE_FORMATS = ("json", "verbose_json", "text")  # srt/vtt carry nothing a benchmark scores
#: form fields OpenAI documents; list-valued ones are sent as `name[]`
KNOWN_FIELDS = frozenset(
    {"language", "prompt", "temperature", "response_format", "timestamp_granularities", "include",
     "chunking_strategy", "known_speaker_names", "known_speaker_references"}
)
#: adapter settings, never sent
ADAPTER_SETTINGS = ("max_upload_mb",)
WORD_TIMESTAMP_MODELS = ("whisper-1",)


def form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def endpoint_url(given: str, endpoint_path: str, suffix: str = "/audio/transcriptions") -> str:
    """The request URL for base_url `given`, read as the OpenAI SDK reads it: the endpoint is
    appended to what is given, so https://host/v1/openai posts to .../v1/openai/audio/transcriptions.
    A bare host, or a host with a leading part of the API's own root (https://host/v1 for /v1;
    https://host/openai for Groq's /openai/v1), names the server: the documented path is used."""
    given = given.rstrip("/")
    path = urlsplit(given).path.rstrip("/")
    host = given[: len(given) - len(path)] if path else given
    root = [p for p in endpoint_path.removesuffix(suffix).split("/") if p]
    segments = [p for p in path.split("/") if p]
    if root[: len(segments)] == segments:
        return f"{host}{endpoint_path}"
    return f"{given}{suffix}"


def form_fields(fields: dict[str, Any]) -> dict[str, str | list[str]]:
    """Multipart fields as the official SDK encodes them (openai-python `_serialize_multipartform`:
    qs with array_format="brackets"): a list becomes repeated `name[]` fields, an object one
    field per key, `name[key]` (nested: `name[key][sub]`), booleans true/false, None is left
    out (httpx sends a list value as repeated fields)."""
    out: dict[str, str | list[str]] = {}

    def add(name: str, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, dict):
            for key, sub in value.items():
                add(f"{name}[{key}]", sub)
        elif isinstance(value, (list, tuple)):
            key = name if name.endswith("[]") else f"{name}[]"
            out.setdefault(key, [])
            out[key].extend(form_value(v) for v in value if v is not None)  # type: ignore[union-attr]
        else:
            out[name] = form_value(value)

    for name, value in fields.items():
        add(name, value)
    return out


async def sse_events(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    """The `data` payloads of a text/event-stream, one per event (multi-line data joined)."""
    data: list[str] = []
    async for line in lines:
        if line == "":
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if field == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if data:
        yield "\n".join(data)


class OpenAIProvider(CloudProvider):
    name: ClassVar[str] = "openai"
    default_base_url: ClassVar[str] = "https://api.openai.com"
    default_key_env: ClassVar[str | None] = "OPENAI_API_KEY"
    example_model: ClassVar[str] = "whisper-1"
    language_param: ClassVar[str | None] = "language"
    #: the official API: warn about undocumented fields and streaming with whisper-1
    strict_fields: ClassVar[bool] = True
    #: the endpoint under the host (a subclass for a server that mounts the API elsewhere changes it)
    transcriptions_path: ClassVar[str] = TRANSCRIPTIONS_PATH
    #: models answered with verbose_json and word timestamps unless params say otherwise
    word_timestamp_models: ClassVar[tuple[str, ...]] = WORD_TIMESTAMP_MODELS

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        self.transcriptions_url = endpoint_url(config.base_url or self.default_base_url, self.transcriptions_path)
        params = dict(self.params)
        if "model" in params or "file" in params:
            raise ConfigError(f"{self.where}: \"model\" is the provider's model field and \"file\" is the audio; remove them from params")
        if "stream" in params:
            raise ConfigError(f"{self.where}: set \"mode\": \"streaming\" instead of params.stream")
        try:
            limit_mb = float(params.pop("max_upload_mb", MAX_UPLOAD_BYTES / 2**20))
        except (TypeError, ValueError):
            raise ConfigError(f"{self.where}: params.max_upload_mb must be a number") from None
        if limit_mb <= 0:
            raise ConfigError(f"{self.where}: params.max_upload_mb must be > 0")
        self.max_upload_mb = limit_mb
        self.max_upload_bytes = int(limit_mb * 2**20)
        self.streaming = config.mode == "streaming"
        default_format = "verbose_json" if self.model in self.word_timestamp_models and not self.streaming else "json"
        fields: dict[str, Any] = {"response_format": default_format, **params}
        if fields["response_format"] not in RESPONSE_FORMATS:
            raise ConfigError(f"{self.where}: params.response_format must be one of {list(RESPONSE_FORMATS)}")
        if fields["response_format"] == "verbose_json":
            fields.setdefault("timestamp_granularities", ["word"])
        elif "timestamp_granularities" in fields:
            raise ConfigError(f"{self.where}: params.timestamp_granularities needs response_format verbose_json")
        if self.strict_fields:
            if self.streaming and self.model in WORD_TIMESTAMP_MODELS:
                raise ConfigError(
                    f"{self.where}: {self.model} does not stream (it ignores stream=true); "
                    "use gpt-4o-transcribe or gpt-4o-mini-transcribe, or \"mode\": \"batch\""
                )
            if self.model.startswith("gpt-4o") and fields["response_format"] not in ("json", "text"):
                raise ConfigError(f"{self.where}: {self.model} answers response_format json or text only")
            unknown = sorted(set(fields) - KNOWN_FIELDS)
            if unknown:
                log.warning("%s: params %s are not documented transcription fields; sent as given", self.where, unknown)
        self.fields = fields

    def model_params(self) -> dict[str, Any]:
        return {
            **self.fields,
            "stream": self.streaming,
            "max_upload_mb": self.max_upload_mb,
            **self.endpoint_params(),
        }

    def headers(self) -> dict[str, str]:
        key = self.api_key
        return {"Authorization": f"Bearer {key}"} if key else {}

    @staticmethod
    def form_overhead(data: dict[str, Any], name: str, mime: str) -> int:
        """Bytes the multipart request adds around the file: its fields, boundaries and part
        headers (the boundary's length is fixed, so an empty file measures it exactly)."""
        return len(multipart_body(data, {"file": (name, b"", mime)})[0])  # exactly what http_client sends

    def upload(self, audio: AudioClip, data: dict[str, Any]) -> tuple[bytes, str, str]:
        """(bytes, mime, file name) such that the whole request body is within the upload
        limit (re-encoded to FLAC when that brings it under), or an UTTERANCE error (not sent)."""
        body, mime, name = audio.file_bytes()
        if len(body) + self.form_overhead(data, name, mime) <= self.max_upload_bytes:
            return body, mime, name
        flac, flac_name = audio.encode("FLAC"), f"{PurePath(name).stem}.flac"
        overhead = self.form_overhead(data, flac_name, "audio/flac")
        if len(flac) + overhead <= self.max_upload_bytes:
            return flac, "audio/flac", flac_name
        raise ProviderError(
            ErrorKind.UTTERANCE,
            f"the request would be {(len(body) + overhead) / 2**20:.3g} MiB ({(len(flac) + overhead) / 2**20:.3g} MiB "
            f"with the audio as FLAC), over the {self.max_upload_mb:g} MiB upload limit; not sent "
            "(split the recording into shorter segments)",
        )

    def request_parts(self, audio: AudioClip, language: str | None = None) -> dict[str, Any]:
        extra = {**({"language": language} if language else {}), **({"stream": True} if self.streaming else {})}
        data = form_fields({"model": self.model, **self.fields, **extra})
        body, mime, name = self.upload(audio, data)
        return {
            "url": self.transcriptions_url,
            "data": data,
            "files": {"file": (name, body, mime)},
            "headers": self.headers(),
        }

    async def transcribe(self, audio: AudioClip, item: WorkItem) -> Transcript:
        parts = self.request_parts(audio, self.language_for(item))
        started = time.perf_counter()
        try:
            if self.streaming:
                return await self._transcribe_streaming(parts, started)
            response = await self.request("POST", parts["url"], data=parts["data"], files=parts["files"], headers=parts["headers"])
        except ProviderError:
            raise
        except Exception as exc:
            raise error_for_exception(exc, secrets=self.secrets) from None
        if response.status_code >= 300:
            raise error_for_response(response, request_id_header=REQUEST_ID_HEADER, secrets=self.secrets)
        return self.parse_reply(response)

    def parse_reply(self, response: Reply) -> Transcript:
        meta = self.reply_meta(response)
        if self.fields["response_format"] == "text" and "json" not in response.headers.get("content-type", ""):
            return Transcript(text=response.text.strip(), model_revision=self.revision(response, {}), meta=meta)
        reply = reply_json(response.content, what="transcription reply")
        if not isinstance(reply, dict) or not isinstance(reply.get("text"), str):
            raise bad_reply("no \"text\" string in the transcription reply")
        usage = reply.get("usage") if isinstance(reply.get("usage"), dict) else None
        for key in ("language", "duration"):
            if reply.get(key) is not None:
                meta[key] = reply[key]
        return Transcript(
            text=reply["text"],
            words=reply.get("words") if isinstance(reply.get("words"), list) else None,
            usage=usage,
            model_revision=self.revision(response, reply),
            billed_seconds=billed_seconds(usage, reply.get("duration")),
            meta=meta,
        )

    def revision(self, response: Reply, reply: dict[str, Any]) -> str:
        """The model that answered as the server names it, else the model requested."""
        return response.headers.get("openai-model") or (reply.get("model") if isinstance(reply.get("model"), str) else None) or self.model

    @staticmethod
    def reply_meta(response: Reply) -> dict[str, Any]:
        meta: dict[str, Any] = {"request_id": response.headers.get(REQUEST_ID_HEADER)}
        processing = response.headers.get("openai-processing-ms")
        if processing is not None:
            try:
                meta["processing_ms"] = float(processing)
            except ValueError:
                pass
        return meta

    async def _transcribe_streaming(self, parts: dict[str, Any], started: float) -> Transcript:
        async with self.stream("POST", parts["url"], data=parts["data"], files=parts["files"], headers=parts["headers"]) as response:
            headers_at = time.perf_counter()
            if response.status_code >= 300:
                await response.aread()
                raise error_for_response(response, request_id_header=REQUEST_ID_HEADER, secrets=self.secrets)
            if "text/event-stream" not in response.headers.get("content-type", ""):
                await response.aread()  # a server that ignores stream=true answers in one piece
                transcript = self.parse_reply(response)
                transcript.meta.update(stream_ignored=True, time_to_final_ms=elapsed_ms(started, time.perf_counter()))
                return transcript
            return await self._read_events(response, started, headers_at)

    async def _read_events(self, response: StreamReply, started: float, headers_at: float) -> Transcript:
        deltas: list[str] = []
        first_delta_at: float | None = None
        done: dict[str, Any] | None = None
        done_at: float | None = None
        saw_done_marker = False
        async for data in sse_events(response.aiter_lines()):
            if data.strip() == "[DONE]":
                saw_done_marker = True
                break
            try:
                event = json.loads(data)
            except json.JSONDecodeError:
                raise ProviderError(ErrorKind.RETRYABLE, f"malformed JSON in a stream event: {data[:80]!r}") from None
            if not isinstance(event, dict):
                continue
            kind = event.get("type")
            if kind == "error" or "error" in event:
                raise ProviderError(ErrorKind.RETRYABLE, f"stream error event: {error_message(event) or data[:200]}")
            if kind == "transcript.text.delta":
                delta = event.get("delta") or ""
                if delta.strip() and first_delta_at is None:
                    first_delta_at = time.perf_counter()
                deltas.append(delta)
            elif kind == "transcript.text.done":
                done, done_at = event, time.perf_counter()
        if done is None:
            raise ProviderError(ErrorKind.RETRYABLE, f"the event stream ended before transcript.text.done ({len(deltas)} deltas received)")
        usage = done.get("usage") if isinstance(done.get("usage"), dict) else None
        text = done.get("text") if isinstance(done.get("text"), str) else "".join(deltas)
        meta = self.reply_meta(response)
        meta.update(
            time_to_first_token_ms=elapsed_ms(started, first_delta_at),
            time_to_final_ms=elapsed_ms(started, done_at),
            time_to_headers_ms=elapsed_ms(started, headers_at),
            deltas=len(deltas),
            done_marker=saw_done_marker,
        )
        return Transcript(
            text=text,
            usage=usage,
            model_revision=self.revision(response, done),
            billed_seconds=billed_seconds(usage, None),
            meta=meta,
        )


class OpenAICompatibleProvider(OpenAIProvider):
    """A self-hosted or third-party server speaking /v1/audio/transcriptions (faster-whisper
    servers, vLLM, whisper.cpp, ...). base_url is required; a key only if api_key_env is set."""

    name: ClassVar[str] = "openai_compatible"
    default_key_env: ClassVar[str | None] = None
    strict_fields: ClassVar[bool] = False

    def __init__(self, config: ProviderConfig) -> None:
        if not config.base_url:
            raise ConfigError(f"provider {config.display!r}: openai_compatible needs \"base_url\" (e.g. http://localhost:8000)")
        self.key_required = bool(config.api_key_env)
        super().__init__(config)


def billed_seconds(usage: dict[str, Any] | None, duration: Any) -> float | None:
    """Seconds the provider says it billed: usage {type: duration, seconds}, else the
    verbose_json duration; None for token-billed usage (priced by audio minutes instead)."""
    if usage and usage.get("type") == "duration" and isinstance(usage.get("seconds"), (int, float)):
        return float(usage["seconds"])
    if usage is None and isinstance(duration, (int, float)):
        return float(duration)
    return None
