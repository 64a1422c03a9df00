"""A fake AssemblyAI Universal Streaming v3 websocket (/v3/ws): Begin on connect, Turn messages
(end_of_turn false while partial), ForceEndpoint ending the current turn at once (the docs'
"Immediately end the current turn"), Termination after Terminate, close 1000. A wrong key is
accepted at the upgrade and then closed with 4001 Not Authorized, as the SDK's code table has it."""

from __future__ import annotations

import json
import uuid

from aiohttp import WSMsgType, web

from .live_base import LiveFake, LiveSession


class FakeAssemblyAILive(LiveFake):
    path = "/v3/ws"
    over_limit_close = (3009, "Too many concurrent sessions")  # the SDK's code table

    def authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization", "") == self.api_key

    def rejects_handshake(self, request: web.Request) -> bool:
        return False

    async def opened(self, session: LiveSession) -> None:
        if not self.authorized(session.request):
            await session.ws.close(code=4001, message=b"Not Authorized")
            return
        session.state["turn"] = 0
        session.state["id"] = str(uuid.uuid4())
        await session.ws.send_str(json.dumps({"type": "Begin", "id": session.state["id"], "expires_at": 1767225600}))

    def parse(self, session: LiveSession, msg):
        if msg.type == WSMsgType.BINARY:
            return "audio", msg.data
        kind = json.loads(msg.data).get("type")
        if kind == "ForceEndpoint":
            return "finalize", kind
        return ("end", None) if kind == "Terminate" else ("other", kind)

    def turn(self, session: LiveSession, words, end_of_turn: bool) -> str:
        return json.dumps({
            "type": "Turn", "turn_order": session.state.get("turn", 0), "turn_is_formatted": False,
            "end_of_turn": end_of_turn, "transcript": " ".join(w for w, _, _ in words),
            "end_of_turn_confidence": 0.9 if end_of_turn else 0.1,
            "words": [{"start": int(s), "end": int(e), "confidence": 0.95, "text": w, "word_is_final": end_of_turn}
                      for w, s, e in words],
        })

    def partial_messages(self, session, words):
        return [self.turn(session, words, False)]

    def final_messages(self, session, words):
        return [self.turn(session, words, True)]

    def problems(self, session):
        return [] if session.rec.control[-2:] == ["ForceEndpoint", "end"] else [f"ended with {session.rec.control[-2:]}"]

    def end_messages(self, session):
        seconds = int(round(session.received_ms / 1000))
        return [json.dumps({"type": "Termination", "audio_duration_seconds": seconds, "session_duration_seconds": seconds})]
