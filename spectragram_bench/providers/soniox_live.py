"""Soniox real-time (`"name": "soniox", "mode": "streaming"`).

`wss://stt-rt.soniox.com/transcribe-websocket`. The key goes in the Authorization header
(`Bearer`) only: the official SDK (soniox 2.10, realtime/_utils.py) says the config message no
longer carries it and that sending it in both places is rejected. The first message, a JSON
config, names the model, audio_format pcm_s16le, sample_rate,
num_channels and enable_endpoint_detection. Audio is binary; an empty text frame ends the stream.
Each response holds `tokens` [{text, start_ms, end_ms, is_final}]: final tokens are sent once
(the final segments), non-final ones are the partial after them; the markers <end> and <fin> are
not text. Tokens are pieces of words and one word may span two responses, so the transcript and
its words are made from all final tokens at the end (providers/soniox_tokens.py); each response's
finals still stamp the latency clock when they arrive. `finished: true` ends the transcript. Errors are {"error_code", "error_message"} then a
close: 401/402/403 are fatal, 429 rate limited, 400/413 the utterance's, 408/5xx retried.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from spectragram_bench.core.records import WorkItem
from spectragram_bench.providers.http_errors import kind_for_status
from spectragram_bench.providers.soniox_tokens import tokens_text, tokens_words, transcript_tokens
from spectragram_bench.providers.streaming import StreamingProvider, StreamingSession


def word_ends_ms(tokens: list[dict[str, Any]]) -> list[float]:
    """When each word in `tokens` ends (the latency clock counts words, not word pieces)."""
    return [w["end"] * 1000 for w in tokens_words(tokens) if w["end"] is not None]


class SonioxLive(StreamingProvider):
    name: ClassVar[str] = "soniox"
    vendor: ClassVar[str] = "Soniox"
    default_base_url: ClassVar[str] = "https://stt-rt.soniox.com"
    default_key_env: ClassVar[str | None] = "SONIOX_API_KEY"
    example_model: ClassVar[str] = "stt-rt-v3"

    def connect_url(self, item: WorkItem) -> str:
        return self.ws_url("/transcribe-websocket")

    def connect_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def start_messages(self, item: WorkItem) -> list[str]:
        config: dict[str, Any] = {"model": self.model, "audio_format": "pcm_s16le",
                                  "sample_rate": self.rate, "num_channels": 1, "enable_endpoint_detection": True}
        language = getattr(item, "language", None)
        if language and "language_hints" not in self.vendor_params:
            config["language_hints"] = [language]
        config.update(self.vendor_params)
        return [json.dumps(config)]

    def end_messages(self, session: StreamingSession) -> list[str]:
        return [""]

    def on_message(self, message: Any, session: StreamingSession) -> None:
        if not isinstance(message, dict):
            return
        if message.get("error_code") is not None:
            code = message.get("error_code")
            status = code if isinstance(code, int) else 500
            raise session.fail(kind_for_status(status), f"{code}: {message.get('error_message') or ''}")
        tokens = transcript_tokens(message.get("tokens") or [])
        finals = [t for t in tokens if t.get("is_final")]
        partial = [t for t in tokens if not t.get("is_final")]
        if finals:
            session.state.setdefault("final_tokens", []).extend(finals)
            session.final(tokens_text(finals), None, word_ends_ms(finals))
        if partial or (tokens and not finals):
            session.partial(tokens_text(partial), word_ends_ms(partial))
        if message.get("finished"):
            if isinstance(message.get("total_audio_proc_ms"), (int, float)):
                session.billed_seconds = message["total_audio_proc_ms"] / 1000
                session.usage = {"type": "duration", "seconds": session.billed_seconds}
            all_finals = session.state.get("final_tokens", [])
            session.finals = [tokens_text(all_finals)] if all_finals else []  # one word may span two responses
            session.words = tokens_words(all_finals)
            session.done()
