"""The engine of the fake live-streaming vendors: a real websocket on 127.0.0.1 whose partials
and finals are programmed relative to the audio it has received (a `StreamScript`).

A vendor fake (fake_*_live.py) subclasses `LiveFake` and maps its protocol: how a client message
reads (`parse`: audio, end of stream, config or other), what it sends when the socket opens, and
how a partial, a final and the end of the transcript look on its wire. The engine keeps the
clock: the final goes out `final_delay_ms` after the audio up to `speech_end_ms` has arrived, so a
client measuring finalization from the speech end it sent should read back `final_delay_ms`; a
client's "end the turn now" message (`parse` -> "finalize", e.g. AssemblyAI's ForceEndpoint) sends
a final still waiting for its delay at once, as the vendor does, so no final is held back past it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from .server import DEFAULT_TEXT, FakeServer, Fault, RecordedRequest


@dataclass
class StreamScript:
    """When the fake speaks, in audio-received terms (milliseconds of audio at the stream's rate)."""

    text: str = DEFAULT_TEXT
    speech_end_ms: float | None = None  # None: the end of the audio (known when the client ends)
    final_delay_ms: float = 0.0  # the final leaves this long after audio up to speech_end_ms arrived
    partial_every_ms: float = 200.0  # one partial each time this much more audio has arrived
    revise_every: int = 0  # every Nth partial shows a wrong last word; the next one corrects it
    early_words: int = 0  # the first partial shows this many words beyond the audio received
    close_after_frames: int | None = None  # close with close_code after this many audio frames
    close_code: int = 1011
    close_reason: str = "internal error"
    drop_after_frames: int | None = None  # abort the TCP connection (no close frame)
    end_silently: bool = False  # on the client's end message: close 1000 without the final or end marker


class LiveFake(FakeServer):
    """Base of the fake live vendors. Subclasses set `path`, `sample_rate` and the protocol hooks."""

    path = "/"
    sample_rate = 16000
    #: how the vendor closes a session over the account's concurrent-session limit
    over_limit_close: tuple[int, str] = (1008, "too many concurrent sessions")

    def __init__(self, api_key: str | None = "live-test-key-0123456789abcdef") -> None:
        super().__init__(api_key)
        self.script = StreamScript()
        self.next_scripts: deque[StreamScript] = deque()  # one per connection, then `script`
        self.sessions: list[LiveSession] = []
        self.max_sessions: int | None = None  # the account's concurrent-session limit, when set
        self.active_sessions = 0
        self.peak_sessions = 0
        self.rejected_over_limit = 0
        self.session_starts: list[float] = []  # perf_counter of each accepted session's upgrade

    def routes(self, app: web.Application) -> None:
        app.router.add_get(self.path, self.handle)

    def error_response(self, status: int, message: str | None = None, headers: dict[str, str] | None = None,
                       body: Any = None) -> web.Response:
        return web.json_response({"error": message or "error"}, status=status, headers=headers)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        rec = self.record(request)
        reply = await self.faulted(request, rec, self.next_fault())
        if reply is not None:
            return reply
        if self.rejects_handshake(request):
            rec.status = 401
            return self.error_response(401, "invalid credentials")
        ws = web.WebSocketResponse(autoping=True, max_msg_size=2**24)
        await ws.prepare(request)
        rec.status = 101
        if self.max_sessions is not None and self.active_sessions >= self.max_sessions:
            self.rejected_over_limit += 1  # accepted, then closed: as the vendors do
            code, reason = self.over_limit_close
            await ws.close(code=code, message=reason.encode())
            return ws
        script = self.next_scripts.popleft() if self.next_scripts else self.script
        session = LiveSession(self, ws, rec, request, script)
        self.sessions.append(session)
        self.session_starts.append(time.perf_counter())
        self.active_sessions += 1
        self.peak_sessions = max(self.peak_sessions, self.active_sessions)
        try:
            await session.run()
        finally:
            self.active_sessions -= 1
        return ws

    # -- protocol hooks ---------------------------------------------------------------------

    def rejects_handshake(self, request: web.Request) -> bool:
        """A vendor that checks the key at the HTTP upgrade answers 401 there."""
        return not self.authorized(request)

    async def opened(self, session: LiveSession) -> None:
        """Messages on connect (AssemblyAI Begin, ElevenLabs session_started, ...)."""

    def parse(self, session: LiveSession, msg) -> tuple[str, Any]:
        """("audio", pcm bytes) | ("end", None) | ("config", dict) | ("other", name)."""
        raise NotImplementedError

    async def configured(self, session: LiveSession, config: dict[str, Any]) -> None:
        """A config message (Speechmatics StartRecognition, Soniox's first message)."""

    def partial_messages(self, session: LiveSession, words: list[tuple[str, float, float]]) -> list[str]:
        raise NotImplementedError

    def final_messages(self, session: LiveSession, words: list[tuple[str, float, float]]) -> list[str]:
        raise NotImplementedError

    def end_messages(self, session: LiveSession) -> list[str]:
        return []

    def problems(self, session: LiveSession) -> list[str]:
        """What the client got wrong in this session's protocol (tests assert none)."""
        return []


class LiveSession:
    def __init__(self, server: LiveFake, ws: web.WebSocketResponse, rec: RecordedRequest, request: web.Request,
                 script: StreamScript) -> None:
        self.server, self.ws, self.rec, self.request, self.script = server, ws, rec, request, script
        self.received_ms = 0.0
        self.partials_sent = 0
        self.next_partial_ms = script.partial_every_ms
        self.final_task: asyncio.Task | None = None
        self.final_forced: asyncio.Future | None = None  # resolved by the client's "finalize" message
        self.forced_at: float | None = None
        self.final_sent_at: float | None = None
        self.speech_end_seen_at: float | None = None
        self.state: dict[str, Any] = {}
        self.config: dict[str, Any] = {}
        self.words = script.text.split()
        self.frame_arrivals: list[float] = []

    # -- what the script says -------------------------------------------------------------

    def timed_words(self, speech_end_ms: float) -> list[tuple[str, float, float]]:
        """(word, start_ms, end_ms) spread evenly over [0, speech_end_ms]."""
        step = max(speech_end_ms, 1.0) / max(len(self.words), 1)
        return [(w, i * step, (i + 1) * step) for i, w in enumerate(self.words)]

    def heard_words(self) -> list[tuple[str, float, float]]:
        end = self.script.speech_end_ms or max(self.received_ms, 1.0) * 2
        heard = [w for w in self.timed_words(end) if w[2] <= self.received_ms + 1e-6]
        if self.partials_sent == 0 and self.script.early_words:
            heard = self.timed_words(end)[: len(heard) + self.script.early_words]
        return heard

    # -- the loop -------------------------------------------------------------------------

    async def run(self) -> None:
        await self.server.opened(self)
        try:
            async for msg in self.ws:
                if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    return
                kind, payload = self.server.parse(self, msg)
                self.rec.control.append(str(payload) if kind in ("other", "finalize") else kind)
                if kind == "audio":
                    if await self.add_audio(payload):
                        return
                elif kind == "config":
                    self.config = payload
                    await self.server.configured(self, payload)
                    if self.ws.closed:
                        return
                elif kind == "finalize":
                    self.finalize_now()
                elif kind == "end":
                    await self.end()
                    return
        finally:
            if self.final_task is not None and not self.final_task.done():
                self.final_task.cancel()

    async def add_audio(self, pcm: bytes) -> bool:
        """Take a frame; True when the scripted fault ended the session."""
        script = self.script
        self.rec.frames += 1
        self.rec.audio_bytes += len(pcm)
        self.frame_arrivals.append(time.perf_counter())
        self.received_ms += len(pcm) / (2 * self.server.sample_rate) * 1000.0
        if script.drop_after_frames is not None and self.rec.frames >= script.drop_after_frames:
            self.request.transport.abort()
            return True
        if script.close_after_frames is not None and self.rec.frames >= script.close_after_frames:
            await self.ws.close(code=script.close_code, message=script.close_reason.encode())
            return True
        if self.final_task is None and self.received_ms >= self.next_partial_ms:
            self.next_partial_ms += script.partial_every_ms
            await self.send_partial()
        if script.speech_end_ms is not None and self.final_task is None and self.received_ms >= script.speech_end_ms:
            self.speech_end_seen_at = time.perf_counter()
            self.final_task = asyncio.create_task(self.send_final(script.speech_end_ms))
        return False

    async def send_partial(self) -> None:
        words = self.heard_words()
        if not words:
            return
        self.partials_sent += 1
        if self.script.revise_every and self.partials_sent % self.script.revise_every == 0:
            word, start, end = words[-1]
            words = [*words[:-1], ("wrong", start, end)]
        for message in self.server.partial_messages(self, words):
            await self.ws.send_str(message)

    def finalize_now(self) -> None:
        """The client asked to end the turn now: the final goes out without waiting for its delay
        (with the words heard so far when the scripted speech end has not been reached)."""
        self.forced_at = time.perf_counter()
        if self.final_task is None:
            self.final_task = asyncio.create_task(self.send_final(self.received_ms))
        if self.final_forced is None:
            self.final_forced = asyncio.get_running_loop().create_future()
        if not self.final_forced.done():
            self.final_forced.set_result(None)

    async def send_final(self, speech_end_ms: float) -> None:
        # D after the speech end was received, not after this task got its first turn (in a burst
        # of a hundred sessions' frames that turn comes late); sooner if the client forces it
        since = self.speech_end_seen_at or time.perf_counter()
        loop = asyncio.get_running_loop()
        if self.final_forced is None:
            self.final_forced = loop.create_future()
        wake = self.final_forced
        timer = loop.call_at(loop.time() + max(0.0, since + self.script.final_delay_ms / 1000.0 - time.perf_counter()),
                             lambda: wake.done() or wake.set_result(None))
        try:
            await wake
        finally:
            timer.cancel()
        self.final_sent_at = time.perf_counter()
        for message in self.server.final_messages(self, self.timed_words(speech_end_ms)):
            await self.ws.send_str(message)

    async def end(self) -> None:
        if self.script.end_silently:
            await self.ws.close(code=1000)
            return
        if self.final_task is None:
            self.final_task = asyncio.create_task(self.send_final(self.received_ms))
        await self.final_task
        for message in self.server.end_messages(self):
            await self.ws.send_str(message)
        await self.ws.close(code=1000)


__all__ = ["Fault", "LiveFake", "LiveSession", "StreamScript"]
