"""Deepgram speech-to-text: pre-recorded (POST /v1/listen) and live streaming (websocket).

Pre-recorded uploads the audio file as it is (FLAC/WAV with its own content type) and sends
the provider params as query parameters (booleans as true/false, lists repeated). Streaming
sends linear16 PCM frames paced at `pace` x real time (1.0 = real time, the honest setting;
0 = as fast as possible), sends KeepAlive whenever no audio has gone out for `keepalive_s`
(a slow pace), ends with CloseStream, and measures time to first token (first audio frame sent -> first Results with a
non-empty transcript) and time to final (last audio frame sent -> last is_final Results).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, ClassVar
from urllib.parse import urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import connect as ws_connect

from spectragram_bench.core.audio import AudioClip
from spectragram_bench.core.config import ProviderConfig
from spectragram_bench.core.errors import ConfigError
from spectragram_bench.core.records import WorkItem
from spectragram_bench.providers.base import ErrorKind, ProviderError, Transcript
from spectragram_bench.providers.cloud import USER_AGENT, CloudProvider, elapsed_ms
from spectragram_bench.providers.http_errors import (
    bad_reply,
    error_for_exception,
    error_for_response,
    reply_json,
)

log = logging.getLogger(__name__)

LISTEN_PATH = "/v1/listen"
REQUEST_ID_HEADER = "dg-request-id"

#: adapter settings for streaming, never sent to Deepgram
STREAM_SETTINGS = {"pace": 1.0, "frame_ms": 100, "keepalive_s": 4.0}
#: query parameters the streaming adapter sets itself (it produces linear16 mono PCM)
STREAM_DEFAULTS = {"encoding": "linear16", "sample_rate": 16000, "channels": 1, "interim_results": True}

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
        self.streaming = config.mode == "streaming"
        settings = {k: params.pop(k) for k in list(params) if k in STREAM_SETTINGS}
        if self.streaming:
            self.settings = {**STREAM_SETTINGS, **settings}
            self._check_settings()
            self.query = {"model": self.model, **STREAM_DEFAULTS, **params}
            if self.query["encoding"] != "linear16":
                raise ConfigError(f"{self.where}: params.encoding must be linear16 (the adapter streams 16-bit PCM)")
            if str(self.query["channels"]) != "1":
                raise ConfigError(f"{self.where}: params.channels must be 1 (the adapter streams mono)")
            rate = self.query["sample_rate"]
            if not isinstance(rate, int) or isinstance(rate, bool) or not 8000 <= rate <= 48000:
                raise ConfigError(f"{self.where}: params.sample_rate must be an integer from 8000 to 48000 (Hz)")
        else:
            if settings:
                raise ConfigError(f"{self.where}: params {sorted(settings)} apply to \"mode\": \"streaming\" only")
            for key in ("encoding", "sample_rate"):
                if key in params:
                    raise ConfigError(f"{self.where}: params.{key} is for streaming; batch mode uploads the audio file itself")
            self.settings = {}
            self.query = {"model": self.model, **params}
        unknown = sorted(set(self.query) - KNOWN_QUERY_PARAMS)
        if unknown:
            log.warning("%s: params %s are not documented Deepgram query parameters; sent as given", self.where, unknown)

    def _check_settings(self) -> None:
        s = self.settings
        try:
            s["pace"], s["frame_ms"], s["keepalive_s"] = float(s["pace"]), int(s["frame_ms"]), float(s["keepalive_s"])
        except (TypeError, ValueError):
            raise ConfigError(f"{self.where}: params.pace, frame_ms and keepalive_s must be numbers") from None
        if s["pace"] < 0 or not 10 <= s["frame_ms"] <= 1000 or s["keepalive_s"] <= 0:
            raise ConfigError(f"{self.where}: need params.pace >= 0, 10 <= frame_ms <= 1000, keepalive_s > 0")

    def model_params(self) -> dict[str, Any]:
        return {**self.query, **self.settings, **self.endpoint_params()}

    def headers(self) -> dict[str, str]:
        key = self.api_key
        return {"Authorization": f"Token {key}"} if key else {}

    async def transcribe(self, audio: AudioClip, item: WorkItem) -> Transcript:
        language = self.language_for(item)
        query = {**self.query, "language": language} if language else self.query
        if self.streaming:
            return await self.transcribe_streaming(audio, query)
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

    # -- live streaming ----------------------------------------------------------------------

    def stream_url(self, query: dict[str, Any] | None = None) -> str:
        parts = urlsplit(self.base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return urlunsplit((scheme, parts.netloc, parts.path + LISTEN_PATH, query_string(query or self.query), ""))

    async def transcribe_streaming(self, audio: AudioClip, query: dict[str, Any] | None = None) -> Transcript:
        sample_rate = self.query["sample_rate"]
        pcm = audio.resampled(sample_rate).pcm16()
        session = StreamSession(
            pcm,
            bytes_per_second=2 * sample_rate,
            frame_ms=self.settings["frame_ms"],
            pace=self.settings["pace"],
            keepalive_s=self.settings["keepalive_s"],
        )
        try:
            async with ws_connect(
                self.stream_url(query),
                additional_headers=self.headers(),
                user_agent_header=USER_AGENT,
                open_timeout=min(30.0, self.config.timeout_s),
                max_size=2**24,
            ) as ws:
                return await session.run(ws)
        except ProviderError:
            raise
        except Exception as exc:
            raise error_for_exception(exc, secrets=self.secrets) from None


class StreamSession:
    """One utterance over one websocket: a sender (paced audio, KeepAlive, CloseStream) and a
    receiver (Results, Metadata) running together, with the timestamps TTFT needs."""

    def __init__(self, pcm: bytes, *, bytes_per_second: int, frame_ms: int, pace: float, keepalive_s: float) -> None:
        step = bytes_per_second * frame_ms // 1000
        step -= step % 2  # whole 16-bit samples
        self.frames = [pcm[i : i + step] for i in range(0, len(pcm), step)] or [b""]
        self.bytes_per_second = bytes_per_second
        self.pace = pace
        self.keepalive_s = keepalive_s
        self.first_frame_at: float | None = None
        self.last_frame_at: float | None = None
        self.first_token_at: float | None = None
        self.last_final_at: float | None = None
        self.last_send_at = time.perf_counter()
        self.keepalives = 0
        self.close_sent = False
        self.finals: list[str] = []
        self.words: list[dict[str, Any]] = []
        self.metadata: dict[str, Any] = {}
        self.error: str | None = None

    async def _send(self, ws, message: bytes | str) -> None:
        await ws.send(message)
        self.last_send_at = time.perf_counter()

    async def sender(self, ws) -> None:
        """Like a live microphone: each frame goes out once its last sample has been "recorded"
        (at `pace` x real time), so the server never has audio ahead of the clock."""
        start = time.perf_counter()
        recorded = 0
        for frame in self.frames:
            recorded += len(frame)
            if self.pace > 0:
                due = start + recorded / self.bytes_per_second / self.pace
                while (wait := due - time.perf_counter()) > 0:
                    idle = time.perf_counter() - self.last_send_at
                    if idle >= self.keepalive_s:
                        await self._send(ws, json.dumps({"type": "KeepAlive"}))
                        self.keepalives += 1
                        continue
                    await asyncio.sleep(min(wait, self.keepalive_s - idle))
            if frame:
                await self._send(ws, frame)
            now = time.perf_counter()
            if self.first_frame_at is None:
                self.first_frame_at = now
            self.last_frame_at = now
        await self._send(ws, json.dumps({"type": "CloseStream"}))
        self.close_sent = True

    def on_message(self, raw: str | bytes) -> None:
        try:
            msg = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ProviderError(ErrorKind.RETRYABLE, f"malformed JSON in a Deepgram stream message: {str(raw)[:80]!r}") from None
        if not isinstance(msg, dict):
            return
        kind = msg.get("type")
        now = time.perf_counter()
        if kind == "Results":
            try:
                alt = msg["channel"]["alternatives"][0]
            except (KeyError, IndexError, TypeError):
                raise bad_reply("a Deepgram Results message without channel.alternatives[0]") from None
            text = (alt.get("transcript") or "").strip()
            if text and self.first_token_at is None:
                self.first_token_at = now
            if msg.get("is_final"):
                self.last_final_at = now
                if text:
                    self.finals.append(text)
                self.words.extend(alt.get("words") or [])
        elif kind == "Metadata":
            self.metadata = msg
        elif kind == "Error":
            self.error = str(msg.get("description") or msg.get("message") or msg)

    async def run(self, ws) -> Transcript:
        send_task = asyncio.create_task(self.sender(ws))
        try:
            async for raw in ws:  # ends when the server closes normally (after Metadata)
                self.on_message(raw)
        finally:
            send_task.cancel()  # a no-op once it has finished
            (sent,) = await asyncio.gather(send_task, return_exceptions=True)
        if self.error:
            raise ProviderError(ErrorKind.RETRYABLE, f"Deepgram stream error: {self.error}")
        if not self.close_sent:
            if isinstance(sent, Exception):
                raise error_for_exception(sent)
            raise ProviderError(ErrorKind.RETRYABLE, "Deepgram closed the stream before all audio was sent")
        return self.transcript()

    def transcript(self) -> Transcript:
        usage, billed = duration_usage(self.metadata)
        meta: dict[str, Any] = {
            "request_id": self.metadata.get("request_id"),
            "time_to_first_token_ms": elapsed_ms(self.first_frame_at, self.first_token_at),
            "time_to_final_ms": elapsed_ms(self.last_frame_at, self.last_final_at),
            "frames_sent": len(self.frames),
            "keepalives_sent": self.keepalives,
            "pace": self.pace,
        }
        return Transcript(
            text=" ".join(self.finals),
            words=self.words,
            usage=usage,
            model_revision=model_revision(self.metadata),
            billed_seconds=billed,
            meta=meta,
        )

