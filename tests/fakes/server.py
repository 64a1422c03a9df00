"""The generic part of every fake provider server: a real aiohttp server on 127.0.0.1 (an
ephemeral port) running in a background thread, a FIFO queue of scripted faults, a log of the
requests it saw, and the key it accepts.

A subclass adds the routes and the provider's own shapes (error bodies, headers). Tests talk to
it from the main thread: `server.inject(Fault.http(429, retry_after="1"))`, run the harness
against `server.base_url`, then inspect `server.requests`. `latency_s` delays every request
(a vendor's processing time); each recorded request notes how many were in flight when it
arrived or was answered, whichever is more (`in_flight`), so tests can see the concurrency the
harness really drove.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import soundfile as sf
from aiohttp import web

DEFAULT_TEXT = "the quick brown fox jumps over the lazy dog"
#: a little over OpenAI's 25 MiB limit, so the fake can read an oversized body and answer 413 itself
MAX_BODY_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Fault:
    """One scripted misbehaviour, consumed by the next request (HTTP request or websocket handshake).

    status      answer with this status and the provider's documented error body
    headers     extra reply headers (Retry-After, retry-after-ms, x-ratelimit-reset-*, ...)
    message     the error message inside that body (a provider-typical one by default)
    body        a raw body replacing the documented one (bytes/str sent as-is, dict as JSON)
    delay_s     wait this long first (with no status: a slow but correct reply)
    malformed   answer 200 with truncated JSON
    reset       drop the connection without any reply
    ws_close    websocket only: accept, read the first audio frame, then close with this code
    """

    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    message: str | None = None
    body: bytes | str | dict | None = None
    delay_s: float = 0.0
    malformed: bool = False
    reset: bool = False
    ws_close: int | None = None
    ws_reason: str = ""

    @classmethod
    def http(cls, status: int, message: str | None = None, **headers: str) -> Fault:
        """An error reply; header names use underscores: Fault.http(429, retry_after="2")."""
        return cls(status=status, message=message, headers={k.replace("_", "-"): v for k, v in headers.items()})

    @classmethod
    def malformed_json(cls) -> Fault:
        return cls(malformed=True)

    @classmethod
    def connection_reset(cls) -> Fault:
        return cls(reset=True)

    @classmethod
    def slow(cls, delay_s: float) -> Fault:
        return cls(delay_s=delay_s)

    @classmethod
    def close_stream(cls, code: int, reason: str = "") -> Fault:
        return cls(ws_close=code, ws_reason=reason)


@dataclass
class RecordedRequest:
    """What the server saw of one request (the Authorization header included, for assertions)."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body_bytes: int = 0
    content_type: str = ""
    fields: dict[str, list[str]] = field(default_factory=dict)  # multipart form fields
    file_name: str | None = None
    file_type: str | None = None
    status: int | None = None  # what the fake answered (101 for an accepted websocket)
    in_flight: int = 0  # most requests handled at once at its arrival or reply, itself included
    fault: Fault | None = None
    at: float = field(default_factory=time.monotonic)  # when the fake handled it (after `latency_s`)
    # websocket streams only
    frames: int = 0
    audio_bytes: int = 0
    keepalives: int = 0
    control: list[str] = field(default_factory=list)  # text messages' types, in order

    def query_dict(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for k, v in self.query:
            out.setdefault(k, []).append(v)
        return out


def audio_key(data: bytes) -> str:
    """How tests name a piece of audio for `transcripts`: the SHA-256 of the bytes sent."""
    return hashlib.sha256(data).hexdigest()


def decode_duration(data: bytes) -> float | None:
    """Duration of an uploaded audio file, None if it cannot be decoded (as a real server would)."""
    try:
        info = sf.info(io.BytesIO(data))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError):
        return None
    if info.frames <= 0:
        return None
    return info.frames / float(info.samplerate)


def spread_words(text: str, duration: float) -> list[tuple[str, float, float]]:
    """(word, start, end) spread evenly over `duration`: plausible timings for a fake."""
    words = text.split()
    if not words:
        return []
    step = max(duration, 0.01) / len(words)
    return [(w, round(i * step, 3), round((i + 1) * step * 0.95, 3)) for i, w in enumerate(words)]


class FakeServer:
    """Base of the fake servers. Subclasses implement `routes(app)` and `error_body(...)`."""

    auth_scheme = "Bearer"

    def __init__(self, api_key: str | None = "test-key-0123456789abcdef") -> None:
        self.api_key = api_key
        self.requests: list[RecordedRequest] = []
        self.transcripts: dict[str, str] = {}  # audio_key(bytes) -> transcript
        self.default_text = DEFAULT_TEXT
        self._faults: deque[Fault] = deque()
        self.latency_s = 0.0  # added to every request before it is handled
        self.in_flight = 0
        self._route_faults: dict[str, deque[Fault]] = {}
        self._later: tuple[list[int], deque[Fault]] | None = None  # (requests still to let by, faults)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    # -- scripting ------------------------------------------------------------------------------

    def inject(self, *faults: Fault) -> None:
        """Queue faults; each request takes the next one (none left: normal behaviour)."""
        with self._lock:
            self._faults.extend(faults)

    def inject_at(self, route: str, *faults: Fault) -> None:
        """Queue faults for one route only (a job API's "poll", "submit", ...): they are taken
        before the shared queue's, by requests to that route."""
        with self._lock:
            self._route_faults.setdefault(route, deque()).extend(faults)

    def inject_after(self, n: int, *faults: Fault) -> None:
        """Queue faults for the requests after the next `n`, whatever they are (a burst of 429s in
        the middle of a run); taken before the shared queue's."""
        with self._lock:
            self._later = ([n], deque(faults))

    def next_fault(self, route: str | None = None) -> Fault | None:
        with self._lock:
            queue = self._route_faults.get(route) if route is not None else None
            if queue:
                return queue.popleft()
            if self._later is not None:
                left, later = self._later
                if left[0] > 0:
                    left[0] -= 1
                elif later:
                    return later.popleft()
            return self._faults.popleft() if self._faults else None

    @property
    def pending_faults(self) -> int:
        with self._lock:
            later = len(self._later[1]) if self._later is not None else 0
            return len(self._faults) + sum(len(q) for q in self._route_faults.values()) + later

    def transcript_for(self, audio: bytes) -> str:
        return self.transcripts.get(audio_key(audio), self.default_text)

    def record(self, request: web.Request, **kw: Any) -> RecordedRequest:
        rec = RecordedRequest(
            method=request.method,
            path=request.path,
            query=list(request.query.items()),
            headers=dict(request.headers),
            content_type=request.headers.get("Content-Type", ""),
            in_flight=request.get("in_flight", 0),
            **kw,
        )
        with self._lock:
            self.requests.append(rec)
        return rec

    def authorized(self, request: web.Request) -> bool:
        """The key matches; with `api_key = None` the server is open, like many self-hosted ones."""
        if self.api_key is None:
            return True
        return request.headers.get("Authorization", "") == f"{self.auth_scheme} {self.api_key}"

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    @web.middleware
    async def _track(self, request: web.Request, handler) -> web.StreamResponse:
        """Count requests in flight and apply `latency_s` (runs on the server's own loop)."""
        self.in_flight += 1
        request["in_flight"] = self.in_flight
        try:
            if self.latency_s:
                await asyncio.sleep(self.latency_s)
            request["in_flight"] = max(request["in_flight"], self.in_flight)
            return await handler(request)
        finally:
            self.in_flight -= 1

    def error_response(self, status: int, message: str | None = None, headers: dict[str, str] | None = None,
                       body: Any = None) -> web.Response:
        """The provider's own error reply (body shape, headers); each subclass defines it."""
        raise NotImplementedError

    async def faulted(self, request: web.Request, rec: RecordedRequest, fault: Fault | None) -> web.StreamResponse | None:
        """The scripted reply for `fault`, or None to carry on normally."""
        if fault is None:
            return None
        rec.fault = fault
        if fault.delay_s:
            await asyncio.sleep(fault.delay_s)
        if fault.reset:
            rec.status = 0
            request.transport.abort()
            return web.Response()
        if fault.status is not None:
            rec.status = fault.status
            return self.error_response(fault.status, fault.message, headers=fault.headers, body=fault.body)
        return None

    async def admit(self, request: web.Request, rec: RecordedRequest) -> tuple[Fault | None, web.StreamResponse | None]:
        """(the fault this request takes, the reply that ends it early): a scripted fault, or the
        vendor's 401 when `authorized` says no. (None, None) carries on normally."""
        fault = self.next_fault()
        reply = await self.faulted(request, rec, fault)
        if reply is None and not self.authorized(request):
            rec.status = 401
            reply = self.error_response(401)
        return fault, reply

    def start(self) -> FakeServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        ready = threading.Event()
        errors: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)

            async def boot() -> None:
                app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[self._track])
                self.routes(app)
                self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
                await self._runner.setup()
                await web.SockSite(self._runner, sock).start()

            try:
                loop.run_until_complete(boot())
            except BaseException as exc:  # report start-up failures to the caller
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            pending = asyncio.all_tasks(loop)  # handlers still sleeping on a scripted delay
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

        self._thread = threading.Thread(target=serve, name=f"fake-{type(self).__name__}", daemon=True)
        self._thread.start()
        ready.wait(10)
        if errors:
            raise errors[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop = self._thread = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def pcm_duration(pcm_bytes: int, sample_rate: int, channels: int = 1) -> float:
    return pcm_bytes / float(2 * sample_rate * channels)


def tone(seconds: float, sample_rate: int = 16000, freq: float = 440.0) -> np.ndarray:
    """A float32 sine for tests that need audio of a known length."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
