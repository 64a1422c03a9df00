"""A fake OpenAI Realtime transcription websocket (/v1/realtime?intent=transcription):
session.created on connect, session.update -> session.updated, input_audio_buffer.append
(base64 pcm16 at 24 kHz), transcription deltas as partials, and at the programmed final its
"server VAD" commit: input_audio_buffer.committed then ...transcription.completed. The client's
input_audio_buffer.commit after that is answered with the error input_audio_buffer_commit_empty,
as the API does for an empty buffer. A wrong key is refused at the upgrade (401)."""

from __future__ import annotations

import base64
import json

from .live_base import LiveFake, LiveSession


class FakeOpenAIRealtime(LiveFake):
    path = "/v1/realtime"
    sample_rate = 24000

    def rejects_handshake(self, request) -> bool:
        return request.query.get("intent") != "transcription" or not self.authorized(request)

    async def opened(self, session: LiveSession) -> None:
        await session.ws.send_str(json.dumps({"type": "session.created", "event_id": "event_1",
                                              "session": {"id": "sess_fake", "type": "transcription"}}))

    def parse(self, session: LiveSession, msg):
        body = json.loads(msg.data)
        kind = body.get("type")
        if kind == "input_audio_buffer.append":
            return "audio", base64.b64decode(body["audio"])
        if kind == "input_audio_buffer.commit":
            return "end", None
        if kind == "session.update":
            return "config", body
        return "other", kind

    async def configured(self, session: LiveSession, config):
        fmt = (((config.get("session") or {}).get("audio") or {}).get("input") or {}).get("format")
        if fmt != {"type": "audio/pcm", "rate": 24000}:
            await session.ws.send_str(json.dumps({"type": "error", "error": {
                "type": "invalid_request_error", "code": "invalid_value", "message": f"bad format {fmt}"}}))
            return
        await session.ws.send_str(json.dumps({"type": "session.updated", "session": config["session"]}))

    def partial_messages(self, session, words):
        sent = session.state.get("delta_words", 0)
        new = [w for w, _, _ in words[sent:]]
        session.state["delta_words"] = len(words)
        if not new:
            return []
        return [json.dumps({"type": "conversation.item.input_audio_transcription.delta", "item_id": "item_1",
                            "content_index": 0, "delta": (" " if sent else "") + " ".join(new)})]

    def final_messages(self, session, words):
        session.state["committed"] = True
        return [
            json.dumps({"type": "input_audio_buffer.committed", "item_id": "item_1", "previous_item_id": None}),
            json.dumps({"type": "conversation.item.input_audio_transcription.completed", "item_id": "item_1",
                        "content_index": 0, "transcript": " ".join(w for w, _, _ in words),
                        "usage": {"type": "duration", "seconds": round(session.received_ms / 1000, 3)}}),
        ]

    def end_messages(self, session):
        return [json.dumps({"type": "error", "error": {"type": "invalid_request_error", "code": "input_audio_buffer_commit_empty",
                                                       "message": "Error committing input audio buffer: buffer is empty."}})]
