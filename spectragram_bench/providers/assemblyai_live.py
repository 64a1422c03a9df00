"""AssemblyAI Universal Streaming v3 (`"name": "assemblyai", "mode": "streaming"`).

`wss://streaming.assemblyai.com/v3/ws?sample_rate=16000&encoding=pcm_s16le&speech_model=...`,
header `Authorization: <key>` (no scheme), binary PCM frames (50-1000 ms each, the service's
rule), then ForceEndpoint and Terminate. Server: Begin, Turn (end_of_turn false = a partial,
true = the turn's final; with format_turns the formatted Turn is the final), Termination ends
the transcript. Close codes as the official SDK lists them: 4001/4002/4003 (not authorised, no
funds, paid feature) are fatal, 3009/4102 (too many concurrent sessions) rate limited, 3006/3007
and 4032-4034 the utterance's input, the rest retried.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from spectragram_bench.core.records import WorkItem
from spectragram_bench.providers.base import ErrorKind
from spectragram_bench.providers.streaming import StreamingProvider, StreamingSession


class AssemblyAILive(StreamingProvider):
    name: ClassVar[str] = "assemblyai"
    vendor: ClassVar[str] = "AssemblyAI"
    default_base_url: ClassVar[str] = "https://streaming.assemblyai.com"
    default_key_env: ClassVar[str | None] = "ASSEMBLYAI_API_KEY"
    example_model: ClassVar[str] = "universal-streaming-english"
    fatal_close_codes: ClassVar[frozenset[int]] = frozenset({4001, 4002, 4003})
    rate_limited_close_codes: ClassVar[frozenset[int]] = frozenset({3009, 4102})
    utterance_close_codes: ClassVar[frozenset[int]] = frozenset({3006, 3007, 4032, 4033, 4034, 1003, 1007, 1009})

    def connect_url(self, item: WorkItem) -> str:
        query: dict[str, Any] = {"sample_rate": self.rate, "encoding": "pcm_s16le", "speech_model": self.model}
        language = getattr(item, "language", None)
        if language and "language_codes" not in self.vendor_params and "language_code" not in self.vendor_params:
            query["language_codes"] = json.dumps([language])
        for key, value in self.vendor_params.items():
            query[key] = json.dumps(value) if isinstance(value, (list, dict)) else (
                str(value).lower() if isinstance(value, bool) else value)
        return self.ws_url("/v3/ws", query)

    def connect_headers(self) -> dict[str, str]:
        return {"Authorization": self.api_key} if self.api_key else {}

    def end_messages(self, session: StreamingSession) -> list[str]:
        return [json.dumps({"type": "ForceEndpoint"}), json.dumps({"type": "Terminate"})]

    def on_message(self, message: Any, session: StreamingSession) -> None:
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "Turn":
            text = (message.get("transcript") or "").strip()
            words = [w for w in message.get("words") or [] if isinstance(w, dict)]
            ends = [float(w["end"]) for w in words if isinstance(w.get("end"), (int, float))]
            formatted_wanted = bool(self.vendor_params.get("format_turns"))
            if message.get("end_of_turn") and (message.get("turn_is_formatted") or not formatted_wanted):
                session.final(text, [{"word": w.get("text"), "start": w.get("start", 0) / 1000,
                                      "end": w.get("end", 0) / 1000, "confidence": w.get("confidence")}
                                     for w in words], ends)
            else:
                session.partial(text, ends)
        elif kind == "Begin":
            session.meta["session_id"] = message.get("id")
        elif kind == "Termination":
            seconds = message.get("audio_duration_seconds")
            if isinstance(seconds, (int, float)):
                session.usage = {"type": "duration", "seconds": seconds}
                session.billed_seconds = float(seconds)
            session.done()
        elif kind == "Error":
            raise session.fail(ErrorKind.RETRYABLE, str(message.get("error") or message))
