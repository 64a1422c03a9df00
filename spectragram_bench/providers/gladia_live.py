"""Gladia live v2 (`"name": "gladia", "mode": "streaming"`).

`POST /v2/live` (header `x-gladia-key`, JSON {encoding wav/pcm, bit_depth 16, sample_rate,
channels 1, messages_config.receive_partial_transcripts}) answers {id, url}; the websocket at that
url (its token authorises it; both steps are inside connect_ms) takes binary PCM and, at the end,
{"type": "stop_recording"}. Server: transcript {data: {is_final, utterance: {text, words}}}
(partials and finals), speech_start / speech_end, then post-processing messages and end_session;
the stream is complete at end_session or at a normal close after stop_recording. The POST is an
HTTP call (CloudProvider.request, classified like every HTTP reply: 401 fatal, 429 rate limited).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar
from urllib.parse import urlsplit

from spectragram_bench.core.records import WorkItem
from spectragram_bench.providers.base import ErrorKind, ProviderError
from spectragram_bench.providers.http_errors import (
    bad_reply,
    error_for_exception,
    error_for_response,
    reply_json,
)
from spectragram_bench.providers.streaming import StreamingProvider, StreamingSession


class GladiaLive(StreamingProvider):
    name: ClassVar[str] = "gladia"
    vendor: ClassVar[str] = "Gladia"
    default_base_url: ClassVar[str] = "https://api.gladia.io"
    default_key_env: ClassVar[str | None] = "GLADIA_API_KEY"
    example_model: ClassVar[str] = "solaria-1"
    complete_on_normal_close: ClassVar[bool] = True

    def init_body(self, item: WorkItem) -> dict[str, Any]:
        body: dict[str, Any] = {"encoding": "wav/pcm", "bit_depth": 16, "sample_rate": self.rate, "channels": 1,
                                "model": self.model, "messages_config": {"receive_partial_transcripts": True}}
        language = getattr(item, "language", None)
        if language and "language_config" not in self.vendor_params:
            body["language_config"] = {"languages": [language]}
        body.update(self.vendor_params)
        return body

    async def open_session(self, item: WorkItem) -> str:
        headers = {"x-gladia-key": self.api_key or "", "Content-Type": "application/json"}
        try:
            response = await self.request("POST", f"{self.base_url}/v2/live", content=json.dumps(self.init_body(item)),
                                          headers=headers)
        except Exception as exc:
            raise error_for_exception(exc, secrets=self.secrets) from None
        if response.status_code >= 300:
            raise error_for_response(response, request_id_header="x-request-id", secrets=self.secrets)
        reply = reply_json(response.content, what="Gladia live session reply")
        url = reply.get("url") if isinstance(reply, dict) else None
        if not isinstance(url, str) or urlsplit(url).scheme not in ("ws", "wss"):
            raise bad_reply("no websocket url in the Gladia POST /v2/live reply")
        self._session_id = reply.get("id")
        return url

    def end_messages(self, session: StreamingSession) -> list[str]:
        session.meta["session_id"] = getattr(self, "_session_id", None)
        return [json.dumps({"type": "stop_recording"})]

    def on_message(self, message: Any, session: StreamingSession) -> None:
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "transcript":
            data = message.get("data") or {}
            utterance = data.get("utterance") or {}
            text = str(utterance.get("text") or "").strip()
            words = [w for w in utterance.get("words") or [] if isinstance(w, dict)]
            ends = [float(w["end"]) * 1000 for w in words if isinstance(w.get("end"), (int, float))]
            if data.get("is_final"):
                session.final(text, [{"word": str(w.get("word") or "").strip(), "start": w.get("start"), "end": w.get("end"),
                                      "confidence": w.get("confidence")} for w in words], ends)
            else:
                session.partial(text, ends)
        elif kind == "end_session":
            session.done()
        elif kind == "error" or (isinstance(message, dict) and message.get("error")):
            raise ProviderError(ErrorKind.RETRYABLE, f"Gladia stream error: {str(message.get('error') or message)[:200]}")
