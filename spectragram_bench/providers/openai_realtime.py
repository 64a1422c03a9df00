"""OpenAI Realtime transcription (`"name": "openai_realtime", "mode": "streaming"`).

`wss://api.openai.com/v1/realtime?intent=transcription`, `Authorization: Bearer <key>`. A
session.update sets a transcription session (audio/pcm at 24 kHz, the only PCM rate the API
takes; the model, e.g. gpt-4o-transcribe; server_vad turn detection unless params say otherwise);
audio goes as input_audio_buffer.append {audio: base64 pcm16}; the end is input_audio_buffer.commit.
The server commits turns itself (input_audio_buffer.committed {item_id}); each item's text
arrives as ...input_audio_transcription.delta (partials, appended) and .completed (its final).
There is no end-of-transcript message: the transcript is complete once our commit is answered
(committed, or the error input_audio_buffer_commit_empty when VAD had committed everything) and
every committed item has completed. error events: invalid_api_key / insufficient_quota are
fatal, rate_limit_exceeded is rate limited, invalid_request_error fails the utterance.
"""

from __future__ import annotations

import base64
import json
from typing import Any, ClassVar

from spectragram_bench.core.records import WorkItem
from spectragram_bench.providers.base import ErrorKind
from spectragram_bench.providers.streaming import StreamingProvider, StreamingSession

FATAL_CODES = frozenset({"invalid_api_key", "insufficient_quota", "model_not_found"})
COMMIT_EMPTY = "input_audio_buffer_commit_empty"


class OpenAIRealtime(StreamingProvider):
    name: ClassVar[str] = "openai_realtime"
    vendor: ClassVar[str] = "OpenAI Realtime"
    default_base_url: ClassVar[str] = "https://api.openai.com"
    default_key_env: ClassVar[str | None] = "OPENAI_API_KEY"
    example_model: ClassVar[str] = "gpt-4o-transcribe"
    sample_rate: ClassVar[int] = 24000

    def connect_url(self, item: WorkItem) -> str:
        return self.ws_url("/v1/realtime", {"intent": "transcription"})

    def connect_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def start_messages(self, item: WorkItem) -> list[str]:
        params = dict(self.vendor_params)
        transcription: dict[str, Any] = {"model": self.model}
        language = params.pop("language", None) or getattr(item, "language", None)
        if language:
            transcription["language"] = language
        if "prompt" in params:
            transcription["prompt"] = params.pop("prompt")
        audio_input: dict[str, Any] = {
            "format": {"type": "audio/pcm", "rate": self.rate},
            "transcription": transcription,
            "turn_detection": params.pop("turn_detection", {"type": "server_vad"}),
        }
        audio_input.update(params)
        return [json.dumps({"type": "session.update", "session": {"type": "transcription", "audio": {"input": audio_input}}})]

    def audio_message(self, frame: bytes, session: StreamingSession) -> str:
        return json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(frame).decode("ascii")})

    def end_messages(self, session: StreamingSession) -> list[str]:
        session.state["commit_sent"] = True
        return [json.dumps({"type": "input_audio_buffer.commit"})]

    def _maybe_done(self, session: StreamingSession) -> None:
        state = session.state
        if state.get("commit_answered") and not (state.setdefault("pending", set())):
            session.done()

    def on_message(self, message: Any, session: StreamingSession) -> None:
        kind = message.get("type") if isinstance(message, dict) else None
        state = session.state
        pending: set = state.setdefault("pending", set())
        if kind == "input_audio_buffer.committed":
            pending.add(message.get("item_id"))
            if state.get("commit_sent"):
                state["commit_answered"] = True
        elif kind == "conversation.item.input_audio_transcription.delta":
            texts = state.setdefault("deltas", {})
            item_id = message.get("item_id")
            texts[item_id] = texts.get(item_id, "") + str(message.get("delta") or "")
            session.partial(texts[item_id].strip())
        elif kind == "conversation.item.input_audio_transcription.completed":
            pending.discard(message.get("item_id"))
            usage = message.get("usage")
            if isinstance(usage, dict):
                session.usage = usage
                if usage.get("type") == "duration" and isinstance(usage.get("seconds"), (int, float)):
                    session.billed_seconds = (session.billed_seconds or 0.0) + float(usage["seconds"])
            session.final(str(message.get("transcript") or "").strip())
            self._maybe_done(session)
        elif kind == "conversation.item.input_audio_transcription.failed":
            error = message.get("error") or {}
            raise session.fail(ErrorKind.RETRYABLE, f"transcription failed: {error.get('message') or error}")
        elif kind == "session.created":
            session.meta["session_id"] = (message.get("session") or {}).get("id")
        elif kind == "error":
            error = message.get("error") or {}
            code = str(error.get("code") or "")
            if code == COMMIT_EMPTY and state.get("commit_sent"):
                state["commit_answered"] = True  # the server's VAD had committed all the audio already
                self._maybe_done(session)
                return
            error_type = str(error.get("type") or "")
            kind_ = (ErrorKind.FATAL if code in FATAL_CODES or error_type == "authentication_error"
                     else ErrorKind.RATE_LIMITED if code == "rate_limit_exceeded"
                     else ErrorKind.UTTERANCE if error_type == "invalid_request_error" else ErrorKind.RETRYABLE)
            raise session.fail(kind_, f"{error.get('message') or error} ({code or error_type})")
