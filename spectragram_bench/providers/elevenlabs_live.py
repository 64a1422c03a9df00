"""ElevenLabs Scribe realtime (`"name": "elevenlabs", "mode": "streaming"`).

`wss://api.elevenlabs.io/v1/speech-to-text/realtime?model_id=...&audio_format=pcm_16000&
commit_strategy=vad`, header `xi-api-key`. Audio as {"message_type": "input_audio_chunk",
"audio_base_64", "commit": false, "sample_rate"}; the end is an empty chunk with commit true (as
the official SDK's commit()). Server: session_started, partial_transcript {text},
committed_transcript {text} (a final segment; with include_timestamps the
committed_transcript_with_timestamps that follows adds its words). No end-of-transcript message
exists: the transcript is complete at the first committed transcript after our commit. Errors
arrive as messages: auth_error and quota_exceeded are fatal, rate_limited / resource_exhausted /
queue_overflow rate limited, input_error / chunk_size_exceeded / insufficient_audio_activity the
utterance's, the rest retried.
"""

from __future__ import annotations

import base64
import json
from typing import Any, ClassVar

from spectragram_bench.core.records import WorkItem
from spectragram_bench.providers.base import ErrorKind
from spectragram_bench.providers.streaming import StreamingProvider, StreamingSession

FATAL = frozenset({"auth_error", "quota_exceeded", "unaccepted_terms_error"})
RATE_LIMITED = frozenset({"rate_limited", "resource_exhausted", "queue_overflow", "commit_throttled"})
UTTERANCE = frozenset({"input_error", "chunk_size_exceeded", "insufficient_audio_activity", "session_time_limit_exceeded"})
RETRYABLE = frozenset({"error", "transcriber_error"})


class ElevenLabsLive(StreamingProvider):
    name: ClassVar[str] = "elevenlabs"
    vendor: ClassVar[str] = "ElevenLabs"
    default_base_url: ClassVar[str] = "https://api.elevenlabs.io"
    default_key_env: ClassVar[str | None] = "ELEVENLABS_API_KEY"
    example_model: ClassVar[str] = "scribe_v2_realtime"

    def connect_url(self, item: WorkItem) -> str:
        query: dict[str, Any] = {"model_id": self.model, "audio_format": f"pcm_{self.rate}", "commit_strategy": "vad"}
        language = getattr(item, "language", None)
        if language and "language_code" not in self.vendor_params:
            query["language_code"] = language
        for key, value in self.vendor_params.items():
            query[key] = str(value).lower() if isinstance(value, bool) else value
        return self.ws_url("/v1/speech-to-text/realtime", query)

    def connect_headers(self) -> dict[str, str]:
        return {"xi-api-key": self.api_key} if self.api_key else {}

    def chunk(self, audio: bytes, commit: bool) -> str:
        return json.dumps({"message_type": "input_audio_chunk", "audio_base_64": base64.b64encode(audio).decode("ascii"),
                           "commit": commit, "sample_rate": self.rate})

    def audio_message(self, frame: bytes, session: StreamingSession) -> str:
        return self.chunk(frame, False)

    def end_messages(self, session: StreamingSession) -> list[str]:
        session.state["commit_sent"] = True
        return [self.chunk(b"", True)]

    def on_message(self, message: Any, session: StreamingSession) -> None:
        kind = message.get("message_type") if isinstance(message, dict) else None
        with_timestamps = str(self.vendor_params.get("include_timestamps", "")).lower() == "true"
        if kind == "partial_transcript":
            session.partial(str(message.get("text") or "").strip())
        elif kind == "committed_transcript":
            session.final(str(message.get("text") or "").strip())
            if session.state.get("commit_sent") and not with_timestamps:
                session.done()
        elif kind == "committed_transcript_with_timestamps":
            words = [w for w in message.get("words") or [] if isinstance(w, dict) and w.get("type", "word") == "word"]
            session.words.extend({"word": w.get("text"), "start": w.get("start"), "end": w.get("end")} for w in words)
            if session.state.get("commit_sent"):
                session.done()
        elif kind == "session_started":
            session.meta["session_id"] = message.get("session_id")
        elif kind in FATAL | RATE_LIMITED | UTTERANCE | RETRYABLE or (kind or "").endswith("error"):
            kind_ = (ErrorKind.FATAL if kind in FATAL else ErrorKind.RATE_LIMITED if kind in RATE_LIMITED
                     else ErrorKind.UTTERANCE if kind in UTTERANCE else ErrorKind.RETRYABLE)
            raise session.fail(kind_, f"{kind}: {message.get('error') or message.get('message') or ''}")
