"""A fake Speechmatics real-time endpoint (/v2): StartRecognition -> RecognitionStarted, binary
AddAudio -> AudioAdded {seq_no}, AddPartialTranscript / AddTranscript (shapes from the official
SDK's mock server), EndOfStream {last_seq_no} -> EndOfTranscript, close 1000. A wrong key is
refused at the upgrade (401); audio before RecognitionStarted is a protocol error."""

from __future__ import annotations

import json
import uuid

from aiohttp import WSMsgType

from .live_base import LiveFake, LiveSession


def results(words):
    return [{"type": "word", "start_time": round(s / 1000, 3), "end_time": round(e / 1000, 3),
             "alternatives": [{"content": w, "confidence": 0.98, "language": "en"}]} for w, s, e in words]


class FakeSpeechmaticsLive(LiveFake):
    path = "/v2"

    def parse(self, session: LiveSession, msg):
        if msg.type == WSMsgType.BINARY:
            if "started" not in session.state:
                session.state["protocol_error"] = True
            session.state["seq_no"] = session.state.get("seq_no", 0) + 1
            return "audio", msg.data
        body = json.loads(msg.data)
        kind = body.get("message")
        if kind == "StartRecognition":
            return "config", body
        if kind == "EndOfStream":
            session.state["last_seq_no"] = body.get("last_seq_no")
            return "end", None
        return "other", kind

    async def configured(self, session: LiveSession, config):
        fmt = config.get("audio_format") or {}
        if fmt != {"type": "raw", "encoding": "pcm_s16le", "sample_rate": self.sample_rate}:
            await session.ws.send_str(json.dumps({"message": "Error", "type": "invalid_audio_type", "reason": str(fmt)}))
            await session.ws.close(code=1003)
            return
        session.state["started"] = True
        await session.ws.send_str(json.dumps({"message": "RecognitionStarted", "id": str(uuid.uuid4())}))

    def metadata(self, words):
        start = words[0][1] / 1000 if words else 0.0
        end = words[-1][2] / 1000 if words else 0.0
        return {"start_time": start, "end_time": end, "transcript": " ".join(w for w, _, _ in words)}

    def partial_messages(self, session, words):
        return [json.dumps({"message": "AddPartialTranscript", "format": "2.9", "metadata": self.metadata(words),
                            "results": results(words)})]

    def final_messages(self, session, words):
        return [json.dumps({"message": "AddTranscript", "format": "2.9", "metadata": self.metadata(words),
                            "results": results(words)})]

    def end_messages(self, session):
        return [json.dumps({"message": "EndOfTranscript"})]

    def problems(self, session):
        out = ["audio before RecognitionStarted"] if session.state.get("protocol_error") else []
        if session.state.get("last_seq_no") != session.state.get("seq_no"):
            out.append(f"EndOfStream last_seq_no {session.state.get('last_seq_no')} != {session.state.get('seq_no')} frames")
        return out
