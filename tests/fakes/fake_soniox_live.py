"""A fake Soniox real-time websocket (/transcribe-websocket): the key in the Authorization header
(Bearer) or, the older way, in the config, never both (the official SDK says both is rejected);
a JSON config first (model, audio_format...), binary audio, responses with tokens (non-final ones as the partial, final
ones once), an empty frame -> the last tokens and {"finished": true}, close 1000. A wrong key is
answered as the docs show errors: {"error_code": 401, "error_message"} then close."""

from __future__ import annotations

import json

from aiohttp import WSMsgType

from .live_base import LiveFake, LiveSession


def tokens(words, is_final: bool, after_finals: bool = False):
    """Sub-word tokens as Soniox sends them: a word of more than three letters in two pieces, the
    first piece of each word but the stream's first starting with a space (the word boundary)."""
    out = []
    for i, (w, s, e) in enumerate(words):
        space = " " if i or after_finals else ""
        cut = len(w) // 2 if len(w) > 3 else len(w)
        mid = s + (e - s) * cut / len(w)
        pieces = [(space + w[:cut], s, mid), (w[cut:], mid, e)] if cut < len(w) else [(space + w, s, e)]
        out += [{"text": text, "start_ms": int(a), "end_ms": int(b), "confidence": 0.97, "is_final": is_final}
                for text, a, b in pieces]
    return out


class FakeSonioxLive(LiveFake):
    path = "/transcribe-websocket"

    def rejects_handshake(self, request) -> bool:
        return False

    def parse(self, session: LiveSession, msg):
        if msg.type == WSMsgType.BINARY:
            return ("end", None) if not msg.data else ("audio", msg.data)
        if msg.data == "":
            return "end", None
        body = json.loads(msg.data)
        return ("config", body) if "audio_format" in body else ("other", body.get("type"))

    async def configured(self, session: LiveSession, config):
        header = session.request.headers.get("Authorization", "")
        header_key = header.removeprefix("Bearer ") if header.startswith("Bearer ") else None
        if header_key is not None and "api_key" in config:  # the official SDK: "sending it in both places is rejected"
            await session.ws.send_str(json.dumps({"error_code": 400, "error_message": "API key given twice."}))
            await session.ws.close(code=1000)
        elif (header_key if header_key is not None else config.get("api_key")) != self.api_key:
            await session.ws.send_str(json.dumps({"error_code": 401, "error_message": "Invalid API key."}))
            await session.ws.close(code=1000)
        elif config.get("audio_format") != "pcm_s16le" or config.get("sample_rate") != self.sample_rate:
            await session.ws.send_str(json.dumps({"error_code": 400, "error_message": "Invalid audio format."}))
            await session.ws.close(code=1000)

    def partial_messages(self, session, words):
        return [json.dumps({"tokens": tokens(words, False, bool(session.state.get("finals_sent"))), "final_audio_proc_ms": 0,
                            "total_audio_proc_ms": int(session.received_ms)})]

    def final_messages(self, session, words):
        after = bool(session.state.get("finals_sent"))
        session.finals_sent = getattr(session, "finals_sent", 0) + len(words)
        return [json.dumps({"tokens": [*tokens(words, True, after), {"text": "<end>", "is_final": True}],
                            "final_audio_proc_ms": int(session.received_ms), "total_audio_proc_ms": int(session.received_ms)})]

    def end_messages(self, session):
        return [json.dumps({"tokens": [], "final_audio_proc_ms": int(session.received_ms),
                            "total_audio_proc_ms": int(session.received_ms), "finished": True})]
