"""A fake Deepgram: POST /v1/listen (pre-recorded) and the /v1/listen websocket (live).

It rejects what the real API rejects: an Authorization header that is not `Token <key>`
(401 INVALID_AUTH), a body without an audio content type, audio it cannot decode (400 "failed
to process audio: corrupt or unsupported data"), boolean query values other than true/false.
It is stricter than the real API in one way, on purpose: an undocumented query parameter is a
400, so an adapter leaking its own settings into the URL is caught.

Live: linear16 frames in, `Results` out (empty-transcript interim results until
`first_partial_delay_s` after the first frame, then growing partials), KeepAlive keeps the
socket open past `idle_timeout_s` (else close 1011 NET-0001), CloseStream -> final Results
(after `final_delay_s`), Metadata, close 1000.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

from .server import FakeServer, Fault, RecordedRequest, audio_key, decode_duration, pcm_duration, spread_words

DOCUMENTED_PARAMS = frozenset(
    """model language detect_language smart_format punctuate profanity_filter redact diarize
    diarize_version multichannel alternatives numerals search replace keywords keyterm utterances
    utt_split paragraphs summarize topics intents sentiment detect_entities filler_words dictation
    measurements tag callback callback_method custom_topic custom_topic_mode custom_intent
    custom_intent_mode extra version tier mip_opt_out encoding sample_rate channels
    interim_results endpointing utterance_end_ms vad_events no_delay""".split()
)
BOOLEAN_PARAMS = frozenset(
    """detect_language smart_format punctuate profanity_filter diarize multichannel numerals
    utterances paragraphs topics intents sentiment detect_entities filler_words dictation
    measurements interim_results vad_events no_delay mip_opt_out""".split()
)
AUDIO_TYPES = ("audio/", "application/octet-stream")
ERROR_CODES = {
    400: "Bad Request", 401: "INVALID_AUTH", 402: "ASR_PAYMENT_REQUIRED", 403: "FORBIDDEN",
    404: "NOT_FOUND", 408: "REQUEST_TIMEOUT", 413: "PAYLOAD_TOO_LARGE", 429: "TOO_MANY_REQUESTS",
    500: "INTERNAL_SERVER_ERROR", 502: "BAD_GATEWAY", 503: "SERVICE_UNAVAILABLE",
}
ERROR_MESSAGES = {
    400: "Bad Request: failed to process audio: corrupt or unsupported data",
    401: "Invalid credentials.",
    402: "Project does not have enough credits for an ASR request.",
    403: "Insufficient permissions.",
    404: "Not found.",
    413: "Payload too large.",
    429: "Too many requests. Please try again later.",
}
MODEL_UUID = "2187e11a-3532-4498-b076-81fa530bdd49"


def model_info(model: str) -> dict[str, Any]:
    return {MODEL_UUID: {"name": f"general-{model}", "version": "2024-12-20.0", "arch": model}}


class FakeDeepgram(FakeServer):
    auth_scheme = "Token"

    def __init__(self, api_key: str = "dg-test-key-0123456789abcdef") -> None:
        super().__init__(api_key)
        self.first_partial_delay_s = 0.0  # live: wait this long after the first frame for a word
        self.final_delay_s = 0.0  # live: wait this long after CloseStream for the final result
        self.partial_every_s = 0.5  # live: interim Results per this much audio received
        self.idle_timeout_s = 10.0  # live: close 1011 NET-0001 after this long with no message

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/v1/listen", self.listen)

    def error_body(self, status: int, message: str | None, request_id: str) -> dict[str, Any]:
        return {
            "err_code": ERROR_CODES.get(status, "ERROR"),
            "err_msg": message or ERROR_MESSAGES.get(status, "Something went wrong."),
            "request_id": request_id,
        }

    def error_response(self, status: int, message: str | None = None, headers: dict[str, str] | None = None,
                       body: Any = None) -> web.Response:
        request_id = str(uuid.uuid4())
        hdrs = {"dg-request-id": request_id, **(headers or {})}
        if body is None:
            payload = self.error_body(status, message, request_id)
            hdrs["dg-error"] = payload["err_msg"]
            return web.json_response(payload, status=status, headers=hdrs)
        if isinstance(body, dict):
            return web.json_response(body, status=status, headers=hdrs)
        return web.Response(body=body.encode() if isinstance(body, str) else body, status=status, headers=hdrs)

    def check_query(self, request: web.Request) -> str | None:
        for name, value in request.query.items():
            if name not in DOCUMENTED_PARAMS:
                return f"Bad Request: unknown query parameter '{name}'"
            if name in BOOLEAN_PARAMS and value not in ("true", "false"):
                return f"Bad Request: '{name}' must be true or false, got '{value}'"
        return None

    async def listen(self, request: web.Request) -> web.StreamResponse:
        if request.method == "GET" and request.headers.get("Upgrade", "").lower() == "websocket":
            return await self.live(request)
        if request.method != "POST":
            return self.error_response(405, "Method not allowed.")
        body = await request.read()
        rec = self.record(request, body_bytes=len(body))
        reply = await self.faulted(request, rec, self.next_fault())
        if reply is None:
            reply = self.prerecorded(request, rec, body)
        return reply

    def prerecorded(self, request: web.Request, rec: RecordedRequest, body: bytes) -> web.StreamResponse:
        fault = rec.fault
        if not self.authorized(request):
            rec.status = 401
            return self.error_response(401)
        problem = self.check_query(request)
        if problem:
            rec.status = 400
            return self.error_response(400, problem)
        ctype = request.headers.get("Content-Type", "")
        if not ctype.startswith(AUDIO_TYPES):
            rec.status = 400
            return self.error_response(400, f"Bad Request: unsupported Content-Type '{ctype}' for an audio body")
        duration = decode_duration(body)
        if duration is None:
            rec.status = 400
            return self.error_response(400)
        model = request.query.get("model", "base")
        text = self.styled(self.transcript_for(body), request.query)
        request_id = str(uuid.uuid4())
        words = [
            {"word": w.lower().strip(".,"), "start": s, "end": e, "confidence": 0.98, "punctuated_word": w}
            for w, s, e in spread_words(text, duration)
        ]
        reply = {
            "metadata": {
                "transaction_key": "deprecated",
                "request_id": request_id,
                "sha256": audio_key(body),
                "created": datetime.now(UTC).isoformat(),
                "duration": round(duration, 6),
                "channels": 1,
                "models": [MODEL_UUID],
                "model_info": model_info(model),
            },
            "results": {
                "channels": [{"alternatives": [{"transcript": text, "confidence": 0.98, "words": words}]}]
            },
        }
        rec.status = 200
        headers = {"dg-request-id": request_id}
        if fault is not None and fault.malformed:
            return web.Response(body=json.dumps(reply)[:40].encode(), status=200, content_type="application/json", headers=headers)
        return web.json_response(reply, headers=headers)

    @staticmethod
    def styled(text: str, query: Any) -> str:
        """smart_format/punctuate capitalise and end with a full stop, like the real service."""
        if text and (query.get("smart_format") == "true" or query.get("punctuate") == "true"):
            return text[0].upper() + text[1:] + ("" if text.endswith(".") else ".")
        return text

    # -- live ----------------------------------------------------------------------------------

    async def live(self, request: web.Request) -> web.StreamResponse:
        rec = self.record(request)
        fault = self.next_fault()
        if fault is not None and fault.ws_close is None:
            reply = await self.faulted(request, rec, fault)
            if reply is not None:
                return reply
        if not self.authorized(request):
            rec.status = 401
            return self.error_response(401)
        problem = self.check_query(request)
        if problem is None and request.query.get("encoding") != "linear16":
            problem = "Bad Request: this fake streams raw audio only: encoding=linear16 is required"
        if problem is None and "sample_rate" not in request.query:
            problem = "Bad Request: sample_rate is required with encoding"
        if problem:
            rec.status = 400
            return self.error_response(400, problem)
        ws = web.WebSocketResponse(autoping=True, max_msg_size=2**24)
        await ws.prepare(request)
        rec.status = 101
        rec.fault = fault
        await LiveSession(self, ws, rec, request.query, fault).run()
        return ws


class LiveSession:
    """One live connection: reads frames and control messages, writes Results and Metadata."""

    def __init__(self, server: FakeDeepgram, ws: web.WebSocketResponse, rec: RecordedRequest, query: Any,
                 fault: Fault | None) -> None:
        self.server, self.ws, self.rec, self.query, self.fault = server, ws, rec, query, fault
        self.sample_rate = int(query.get("sample_rate", "16000"))
        self.channels = int(query.get("channels", "1"))
        self.interim = query.get("interim_results", "false") == "true"
        self.audio = bytearray()
        self.partials_sent = 0
        self.first_frame_at: float | None = None
        self.word_unlocked = asyncio.Event()  # set when the scripted first-partial delay has passed
        self.request_id = str(uuid.uuid4())

    @property
    def received_s(self) -> float:
        return pcm_duration(len(self.audio), self.sample_rate, self.channels)

    def results(self, text: str, is_final: bool) -> str:
        words = [
            {"word": w, "start": s, "end": e, "confidence": 0.97, "punctuated_word": w}
            for w, s, e in spread_words(text, self.received_s)
        ]
        return json.dumps({
            "type": "Results",
            "channel_index": [0, 1],
            "duration": round(self.received_s, 3),
            "start": 0.0,
            "is_final": is_final,
            "speech_final": is_final,
            "from_finalize": False,
            "channel": {"alternatives": [{"transcript": text, "confidence": 0.97 if text else 0.0, "words": words}]},
            "metadata": {"request_id": self.request_id, "model_info": {"name": "general", "version": "2024", "arch": "nova"}},
        })

    def partial_text(self) -> str:
        words = self.server.transcript_for(bytes(self.audio)).split()
        n = min(len(words), max(1, int(self.received_s * 2.5)))  # about 2.5 words a second of audio
        return " ".join(words[:n])

    async def unlock_first_word(self) -> None:
        await asyncio.sleep(self.server.first_partial_delay_s)
        self.word_unlocked.set()
        if self.interim and not self.ws.closed:
            await self.ws.send_str(self.results(self.partial_text(), is_final=False))

    async def run(self) -> None:
        unlock: asyncio.Task | None = None
        try:
            while True:
                try:
                    msg = await self.ws.receive(timeout=self.server.idle_timeout_s)
                except TimeoutError:
                    await self.ws.close(code=1011, message=b"NET-0001: no audio received within the timeout window")
                    return
                if msg.type == WSMsgType.BINARY:
                    self.rec.frames += 1
                    self.rec.audio_bytes += len(msg.data)
                    before = self.received_s
                    self.audio.extend(msg.data)
                    if unlock is None:
                        unlock = asyncio.create_task(self.unlock_first_word())
                    if self.fault is not None and self.fault.ws_close is not None:
                        await self.ws.close(code=self.fault.ws_close, message=self.fault.ws_reason.encode())
                        return
                    step = self.server.partial_every_s
                    if self.interim and int(self.received_s / step) > int(before / step):
                        text = self.partial_text() if self.word_unlocked.is_set() else ""
                        await self.ws.send_str(self.results(text, is_final=False))
                elif msg.type == WSMsgType.TEXT:
                    try:
                        kind = json.loads(msg.data).get("type")
                    except (json.JSONDecodeError, AttributeError):
                        kind = None
                    self.rec.control.append(str(kind))
                    if kind == "KeepAlive":
                        self.rec.keepalives += 1
                    elif kind == "CloseStream":
                        if unlock is not None:
                            await unlock  # the scripted first partial goes out before the final
                        await self.finish()
                        return
                    elif kind != "Finalize":
                        await self.ws.close(code=1008, message=b"DATA-0000: unknown control message")
                        return
                else:  # the client closed or errored
                    return
        finally:
            if unlock is not None and not unlock.done():
                unlock.cancel()

    async def finish(self) -> None:
        await asyncio.sleep(self.server.final_delay_s)
        text = self.server.transcript_for(bytes(self.audio)) if self.audio else ""
        await self.ws.send_str(self.results(text, is_final=True))
        await self.ws.send_str(json.dumps({
            "type": "Metadata",
            "transaction_key": "deprecated",
            "request_id": self.request_id,
            "sha256": audio_key(bytes(self.audio)),
            "created": datetime.now(UTC).isoformat(),
            "duration": round(self.received_s, 6),
            "channels": self.channels,
            "models": [MODEL_UUID],
            "model_info": model_info(self.query.get("model", "base")),
        }))
        await self.ws.close(code=1000)
