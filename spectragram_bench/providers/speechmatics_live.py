"""Speechmatics real-time (`"name": "speechmatics", "mode": "streaming"`).

`wss://eu2.rt.speechmatics.com/v2` (another region: base_url), `Authorization: Bearer <key>`.
StartRecognition {audio_format raw pcm_s16le, transcription_config} first; audio (binary AddAudio)
only after RecognitionStarted, as the official SDK does (connect_ms includes that wait); at the
end EndOfStream {last_seq_no = frames sent}. AddPartialTranscript / AddTranscript carry
metadata.transcript and word results; EndOfTranscript ends the transcript. Error messages
(`{"message": "Error", "type", "reason"}`): not_authorised and insufficient_funds are fatal,
quota_exceeded is the concurrency quota (rate limited), invalid_* and data_error fail the
utterance, the rest are retried.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from spectragram_bench.core.records import WorkItem
from spectragram_bench.providers.base import ErrorKind
from spectragram_bench.providers.streaming import StreamingProvider, StreamingSession

FATAL_TYPES = frozenset({"not_authorised", "insufficient_funds", "not_allowed"})
RATE_LIMITED_TYPES = frozenset({"quota_exceeded"})
UTTERANCE_TYPES = frozenset({"invalid_message", "invalid_model", "invalid_config", "invalid_audio_type",
                             "data_error", "unsupported_language"})


class SpeechmaticsLive(StreamingProvider):
    name: ClassVar[str] = "speechmatics"
    vendor: ClassVar[str] = "Speechmatics"
    default_base_url: ClassVar[str] = "https://eu2.rt.speechmatics.com"
    default_key_env: ClassVar[str | None] = "SPEECHMATICS_API_KEY"
    example_model: ClassVar[str] = "enhanced"
    waits_for_ready: ClassVar[bool] = True

    def connect_url(self, item: WorkItem) -> str:
        return self.ws_url("/v2")

    def connect_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def start_messages(self, item: WorkItem) -> list[str]:
        config: dict[str, Any] = {"language": getattr(item, "language", None) or "en", "operating_point": self.model,
                                  "enable_partials": True, **self.vendor_params}
        return [json.dumps({
            "message": "StartRecognition",
            "audio_format": {"type": "raw", "encoding": "pcm_s16le", "sample_rate": self.rate},
            "transcription_config": config,
        })]

    def audio_message(self, frame: bytes, session: StreamingSession) -> bytes:
        session.state["seq_no"] = session.state.get("seq_no", 0) + 1
        return frame

    def end_messages(self, session: StreamingSession) -> list[str]:
        return [json.dumps({"message": "EndOfStream", "last_seq_no": session.state.get("seq_no", 0)})]

    def on_message(self, message: Any, session: StreamingSession) -> None:
        kind = message.get("message") if isinstance(message, dict) else None
        if kind in ("AddPartialTranscript", "AddTranscript"):
            text = " ".join(str((message.get("metadata") or {}).get("transcript") or "").split())
            results = [r for r in message.get("results") or [] if isinstance(r, dict)]
            ends = [float(r["end_time"]) * 1000 for r in results
                    if r.get("type") == "word" and isinstance(r.get("end_time"), (int, float))]
            if kind == "AddPartialTranscript":
                session.partial(text, ends)
                return
            words = [{"word": (r.get("alternatives") or [{}])[0].get("content"), "start": r.get("start_time"),
                      "end": r.get("end_time"), "confidence": (r.get("alternatives") or [{}])[0].get("confidence")}
                     for r in results if r.get("type") == "word"]
            session.final(text, words, ends)
        elif kind == "RecognitionStarted":
            session.meta["session_id"] = message.get("id")
            session.clock.connected()  # the session is usable only now
            session.ready.set()
        elif kind == "EndOfTranscript":
            session.done()
        elif kind == "Error":
            error_type = str(message.get("type") or "")
            kind_ = (ErrorKind.FATAL if error_type in FATAL_TYPES else ErrorKind.RATE_LIMITED
                     if error_type in RATE_LIMITED_TYPES else ErrorKind.UTTERANCE if error_type in UTTERANCE_TYPES
                     else ErrorKind.RETRYABLE)
            raise session.fail(kind_, f"{error_type}: {message.get('reason') or ''}")
