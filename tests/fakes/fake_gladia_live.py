"""A fake Gladia live v2: POST /v2/live (x-gladia-key; 401 for a wrong key, as every Gladia HTTP
endpoint) answers 201 {id, created_at, url} (the official SDK requires created_at) with a websocket url carrying a session token; the websocket takes
binary PCM and stop_recording, sends transcript messages (is_final false/true, utterance with
words in seconds), then end_session and close 1000."""

from __future__ import annotations

import json
import uuid

from aiohttp import WSMsgType, web

from .live_base import LiveFake, LiveSession


class FakeGladiaLive(LiveFake):
    path = "/v2/live"

    def __init__(self, *args, **kw) -> None:
        super().__init__(*args, **kw)
        self.tokens: set[str] = set()
        self.init_bodies: list[dict] = []

    def routes(self, app: web.Application) -> None:
        app.router.add_post(self.path, self.init)
        app.router.add_get(self.path, self.handle)

    async def init(self, request: web.Request) -> web.Response:
        rec = self.record(request)
        reply = await self.faulted(request, rec, self.next_fault())
        if reply is not None:
            return reply
        if request.headers.get("x-gladia-key") != self.api_key:
            rec.status = 401
            return web.json_response({"statusCode": 401, "message": "Invalid or missing API key"}, status=401)
        body = await request.json()
        self.init_bodies.append(body)
        if body.get("encoding") != "wav/pcm" or body.get("sample_rate") != self.sample_rate:
            return web.json_response({"statusCode": 400, "message": "bad audio settings"}, status=400)
        token = uuid.uuid4().hex
        self.tokens.add(token)
        rec.status = 201
        return web.json_response({"id": str(uuid.uuid4()), "created_at": "2026-12-01T00:00:00.000Z",
                                  "url": f"ws://127.0.0.1:{self.port}/v2/live?token={token}"}, status=201)

    def rejects_handshake(self, request) -> bool:
        return request.query.get("token") not in self.tokens

    def parse(self, session: LiveSession, msg):
        if msg.type == WSMsgType.BINARY:
            return "audio", msg.data
        kind = json.loads(msg.data).get("type")
        return ("end", None) if kind == "stop_recording" else ("other", kind)

    def transcript(self, words, is_final: bool) -> str:
        return json.dumps({"type": "transcript", "session_id": "s", "created_at": "2026-12-01T00:00:00Z", "data": {
            "id": "u1", "is_final": is_final, "utterance": {
                "text": " ".join(w for w, _, _ in words), "start": words[0][1] / 1000 if words else 0,
                "end": words[-1][2] / 1000 if words else 0, "confidence": 0.95, "language": "en", "channel": 0,
                "words": [{"word": (" " if i else "") + w, "start": s / 1000, "end": e / 1000, "confidence": 0.95}
                          for i, (w, s, e) in enumerate(words)]}}})

    def partial_messages(self, session, words):
        return [self.transcript(words, False)]

    def final_messages(self, session, words):
        return [self.transcript(words, True)]

    def end_messages(self, session):
        return [json.dumps({"type": "end_session", "session_id": "s", "created_at": "2026-12-01T00:00:01Z"})]
