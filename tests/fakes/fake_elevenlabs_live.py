"""A fake ElevenLabs Scribe realtime websocket (/v1/speech-to-text/realtime): session_started,
input_audio_chunk (base64) in, partial_transcript and committed_transcript out; the client's
commit chunk is answered with the committed transcript. A wrong xi-api-key is accepted at the
upgrade and answered with an auth_error message, then close 1008."""

from __future__ import annotations

import base64
import json

from .live_base import LiveFake, LiveSession


class FakeElevenLabsLive(LiveFake):
    path = "/v1/speech-to-text/realtime"

    def authorized(self, request) -> bool:
        return request.headers.get("xi-api-key") == self.api_key

    def rejects_handshake(self, request) -> bool:
        return False

    async def opened(self, session: LiveSession) -> None:
        if not self.authorized(session.request):
            await session.ws.send_str(json.dumps({"message_type": "auth_error", "error": "Invalid API key"}))
            await session.ws.close(code=1008, message=b"auth")
            return
        q = session.request.query
        await session.ws.send_str(json.dumps({"message_type": "session_started", "session_id": "sess-fake",
                                              "config": {"model_id": q.get("model_id"), "audio_format": q.get("audio_format")}}))

    def parse(self, session: LiveSession, msg):
        body = json.loads(msg.data)
        if body.get("message_type") != "input_audio_chunk":
            return "other", body.get("message_type")
        if body.get("commit"):
            return "end", None
        return "audio", base64.b64decode(body.get("audio_base_64") or "")

    def partial_messages(self, session, words):
        return [json.dumps({"message_type": "partial_transcript", "text": " ".join(w for w, _, _ in words)})]

    def final_messages(self, session, words):
        session.state["final_words"] = words
        return [json.dumps({"message_type": "committed_transcript", "text": " ".join(w for w, _, _ in words)})]

    def end_messages(self, session):
        # the client's commit: an empty committed transcript (VAD had committed the speech already)
        return [json.dumps({"message_type": "committed_transcript", "text": ""})]
