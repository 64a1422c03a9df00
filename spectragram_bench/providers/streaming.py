"""What every live-streaming adapter shares: the websocket session, honest pacing, the clock.

A vendor adapter subclasses `StreamingProvider` and only maps its protocol: the URL and headers
(`connect_url`, `connect_headers`), what to send first (`start_messages`), how an audio frame is
framed (`audio_message`), how it ends the stream (`end_messages`), and what each server message
means (`on_message`, calling `session.partial` / `session.final` / `session.done`). The session
here sends 16-bit mono PCM frames at 1x real time on a monotonic schedule (stream_clock.py),
stamps every message on arrival (`ArrivalStamps`), and turns a vendor close into a classified ProviderError: an auth close is
fatal (one attempt), a mid-stream disconnect is retried, and a stream that ended without the
vendor's end-of-transcript message is a failure, never a partial transcript scored as final.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Iterable
from typing import Any, ClassVar
from urllib.parse import urlencode, urlsplit, urlunsplit

import websockets.exceptions as wse
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.frames import Frame, Opcode
from websockets.proxy import get_proxy
from websockets.uri import parse_uri

from spectragram_bench.core.audio import AudioClip
from spectragram_bench.core.config import ProviderConfig
from spectragram_bench.core.errors import ConfigError
from spectragram_bench.core.records import WorkItem
from spectragram_bench.core.speech_spans import REFERENCES, speech_span
from spectragram_bench.providers.base import ErrorKind, ProviderError, Transcript
from spectragram_bench.providers.cloud import USER_AGENT, CloudProvider
from spectragram_bench.providers.http_errors import MAX_MESSAGE_CHARS, error_for_exception, scrub
from spectragram_bench.providers.stream_clock import StreamClock
from spectragram_bench.providers.wire_clock import attempt_clock

log = logging.getLogger(__name__)

#: adapter settings every streaming vendor accepts in params, never sent to the vendor
STREAM_SETTINGS: dict[str, Any] = {"pace": 1.0, "frame_ms": 50, "end_timeout_s": 30.0, "speech_span": "vad"}


class ArrivalStamps(ClientConnection):
    """A websocket connection that notes when each data message's last frame was read off the
    socket. A burst of replies (a hundred sessions' finals at once) is then timed by arrival, not by
    when the event loop gets round to each receiving task. The time is taken as the bytes come in
    (data_received), before websockets parses them and writes its automatic replies: a final that
    arrives with the vendor's close frame is otherwise stamped after the close reply was sent.
    Relies on websockets' data_received/process_event (websockets 13-17); without them `arrivals`
    stays empty and events are stamped when handled."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.arrivals: deque[float] = deque()
        self.read_at: float | None = None

    def data_received(self, data: bytes) -> None:
        self.read_at = time.perf_counter()
        try:
            super().data_received(data)
        finally:
            self.read_at = None

    def process_event(self, event: Any) -> None:
        if isinstance(event, Frame) and event.fin and event.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
            self.arrivals.append(self.read_at if self.read_at is not None else time.perf_counter())
        super().process_event(event)


class StreamEnded(Exception):
    """Raised by an adapter's on_message when the vendor says the transcript is complete."""


class StreamingSession:
    """One utterance over one websocket: what the adapter's message handler reports into."""

    def __init__(self, provider: StreamingProvider, clock: StreamClock) -> None:
        self.provider = provider
        self.clock = clock
        self.finals: list[str] = []
        self.words: list[dict[str, Any]] = []
        self.meta: dict[str, Any] = {}
        self.usage: dict[str, Any] | None = None
        self.billed_seconds: float | None = None
        self.model_revision: str | None = None
        self.complete = False
        self.all_sent = asyncio.Event()
        self.ready = asyncio.Event()  # set by adapters whose vendor must acknowledge the start first
        self.state: dict[str, Any] = {}  # adapter-private (sequence numbers, session ids, ...)
        self.keepalives = 0
        self.arrived_at: float | None = None  # perf_counter arrival of the message being handled

    def partial(self, text: str, words_end_ms: list[float] | None = None) -> None:
        self.clock.stamp("partial", text, False, words_end_ms, at=self.arrived_at)

    def final(self, text: str, words: list[dict[str, Any]] | None = None, words_end_ms: list[float] | None = None) -> None:
        """A final segment: its text joins the transcript (in arrival order)."""
        self.clock.stamp("final", text, True, words_end_ms, at=self.arrived_at)
        if text.strip():
            self.finals.append(text.strip())
        self.words.extend(words or [])

    def done(self) -> None:
        """The vendor's end-of-transcript message: everything final has arrived."""
        self.complete = True
        raise StreamEnded

    def fail(self, kind: ErrorKind, message: str) -> ProviderError:
        text = " ".join(scrub(message, self.provider.secrets).split())[:MAX_MESSAGE_CHARS]
        return ProviderError(kind, f"{self.provider.vendor} stream error: {text}")


class StreamingProvider(CloudProvider):
    """Base of the websocket adapters (see the module docstring for the hooks)."""

    vendor: ClassVar[str] = ""
    #: the PCM rate the adapter streams at (a vendor may also take it from params.sample_rate)
    sample_rate: ClassVar[int] = 16000
    #: close codes that mean no utterance of the run can succeed (bad key, no credit)
    fatal_close_codes: ClassVar[frozenset[int]] = frozenset()
    #: close codes that mean "over the concurrent-session limit"
    rate_limited_close_codes: ClassVar[frozenset[int]] = frozenset()
    #: close codes that mean this utterance's input is at fault
    utterance_close_codes: ClassVar[frozenset[int]] = frozenset({1003, 1007, 1009})

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        if config.mode != "streaming":
            raise ConfigError(f"{self.where}: {config.name} is a live-streaming adapter; set \"mode\": \"streaming\"")
        params = dict(self.params)
        self.settings = {k: params.pop(k, v) for k, v in STREAM_SETTINGS.items()}
        if self.settings["speech_span"] not in REFERENCES:
            raise ConfigError(f"{self.where}: params.speech_span must be one of {', '.join(REFERENCES)}, "
                              f"not {self.settings['speech_span']!r}")
        try:
            self.settings.update(pace=float(self.settings["pace"]), frame_ms=int(self.settings["frame_ms"]),
                                 end_timeout_s=float(self.settings["end_timeout_s"]))
        except (TypeError, ValueError):
            raise ConfigError(f"{self.where}: params.pace, frame_ms and end_timeout_s must be numbers") from None
        if self.settings["pace"] < 0 or not 10 <= self.settings["frame_ms"] <= 1000 or self.settings["end_timeout_s"] <= 0:
            raise ConfigError(f"{self.where}: need params.pace >= 0, 10 <= frame_ms <= 1000, end_timeout_s > 0")
        self.vendor_params = params
        self.rate = self.sample_rate
        self._proxies: dict[tuple[str, str], str | None] = {}

    # -- what an adapter maps -------------------------------------------------------------

    def connect_url(self, item: WorkItem) -> str:
        raise NotImplementedError

    def connect_headers(self) -> dict[str, str]:
        return {}

    async def open_session(self, item: WorkItem) -> str:
        """The websocket URL; a vendor that first creates the session over HTTP does it here
        (inside connect_ms)."""
        return self.connect_url(item)

    def start_messages(self, item: WorkItem) -> Iterable[str | bytes]:
        return ()

    def audio_message(self, frame: bytes, session: StreamingSession) -> str | bytes:
        return frame

    def end_messages(self, session: StreamingSession) -> Iterable[str | bytes]:
        raise NotImplementedError

    def on_message(self, message: Any, session: StreamingSession) -> None:
        raise NotImplementedError

    waits_for_ready: ClassVar[bool] = False  # audio only after session.ready (e.g. RecognitionStarted)
    #: a vendor whose end of transcript is a normal close after the client's end message (Gladia)
    complete_on_normal_close: ClassVar[bool] = False
    keepalive_s: float = 5.0

    def keepalive_message(self) -> str | None:
        """Sent whenever no audio has gone out for keepalive_s (only at a pace below real time)."""
        return None

    # -- shared ---------------------------------------------------------------------------

    def ws_url(self, path: str, query: dict[str, Any] | None = None) -> str:
        parts = urlsplit(self.base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return urlunsplit((scheme, parts.netloc, parts.path + path, urlencode(query or {}, doseq=True), ""))

    def proxy_for(self, url: str) -> str | None:
        """The system's proxy for `url`'s server, looked up once (websockets reads the whole
        environment on every connect otherwise: a millisecond of event loop per session)."""
        key = tuple(urlsplit(url)[:2])
        if key not in self._proxies:
            self._proxies[key] = get_proxy(parse_uri(url))
        return self._proxies[key]

    def model_params(self) -> dict[str, Any]:
        return {**self.vendor_params, **self.settings, "sample_rate": self.rate, **self.endpoint_params()}

    def sent_audio(self, audio: AudioClip, item: WorkItem) -> bytes:
        """The PCM streamed, at the session's sample rate."""
        return audio.resampled(self.rate).pcm16()

    def preprocess(self, clip: AudioClip, item: WorkItem) -> None:
        """Blocking, in the executor's audio thread: the speech span, computed once per audio."""
        speech_span(clip, item, self.settings["speech_span"])

    async def transcribe(self, audio: AudioClip, item: WorkItem) -> Transcript:
        span = speech_span(audio, item, self.settings["speech_span"])
        # decoding and converting take a millisecond or more: off the event loop the other sessions pace on
        pcm = await asyncio.to_thread(self.sent_audio, audio, item)
        clock = StreamClock(frame_ms=self.settings["frame_ms"], pace=self.settings["pace"])
        session = StreamingSession(self, clock)
        if type(self).open_session is not StreamingProvider.open_session:
            self.http.session()  # its HTTP session (Gladia's POST) is built before the handshake clock starts
        clock.start_connect()
        try:
            with attempt_clock():  # not the attempt's: a session set up over HTTP (Gladia) would otherwise
                url = await self.open_session(item)  # make that POST the attempt's vendor time, not the session
            async with ws_connect(
                url,
                additional_headers=self.connect_headers(),
                user_agent_header=USER_AGENT,
                open_timeout=min(30.0, self.config.timeout_s),
                max_size=self.ws_max_size,  # the reply cap (max_reply_bytes) for websocket messages
                ping_interval=None,
                proxy=self.proxy_for(url),
                create_connection=ArrivalStamps,
                compression=None,  # PCM hardly deflates; compressing every frame costs CPU on both ends
            ) as ws:
                clock.connected()
                for message in self.start_messages(item):
                    await ws.send(message)
                await self._run(ws, session, pcm)
        except ProviderError:
            raise
        except wse.ConnectionClosed as exc:
            if exc.sent is not None and exc.sent.code == 1009:  # we closed it: a message over max_reply_bytes
                raise error_for_exception(exc, secrets=self.secrets) from None
            raise self.classify_close(exc, session) from None
        except Exception as exc:
            raise error_for_exception(exc, secrets=self.secrets) from None
        return Transcript(
            text=" ".join(session.finals),
            words=session.words or None,
            usage=session.usage,
            model_revision=session.model_revision,
            billed_seconds=session.billed_seconds,
            meta={**session.meta, **clock.summary(span)},
        )

    async def _run(self, ws, session: StreamingSession, pcm: bytes) -> None:
        receiver = asyncio.create_task(self._receive(ws, session))
        sender = asyncio.create_task(self._send_audio(ws, session, pcm))
        try:
            done, _ = await asyncio.wait({receiver, sender}, return_when=asyncio.FIRST_EXCEPTION)
            if sender in done and sender.exception() is not None and not receiver.done():
                # the send failed: the receiver will see the close (with its code) shortly
                await asyncio.wait({receiver}, timeout=2.0)
            if receiver.done() and receiver.exception() is not None:
                raise receiver.exception()
            if sender.done() and sender.exception() is not None:
                raise sender.exception()
            async with asyncio.timeout(self.settings["end_timeout_s"]):
                await receiver
        except TimeoutError:
            raise ProviderError(
                ErrorKind.RETRYABLE,
                f"{self.vendor}: no end of transcript within {self.settings['end_timeout_s']:g} s of the last audio",
            ) from None
        finally:
            for task in (sender, receiver):
                task.cancel()
            await asyncio.gather(sender, receiver, return_exceptions=True)

    async def _send_audio(self, ws, session: StreamingSession, pcm: bytes) -> None:
        """Like a live microphone: frame k leaves once its last sample has been recorded."""
        if self.waits_for_ready:
            async with asyncio.timeout(min(30.0, self.config.timeout_s)):
                await session.ready.wait()
        clock = session.clock
        bytes_per_ms = 2 * self.rate / 1000.0
        step = int(bytes_per_ms * clock.frame_ms)
        step -= step % 2
        clock.frame_audio_ms = step / bytes_per_ms
        keepalive = self.keepalive_message()
        clock.start_audio()
        last_send = time.perf_counter()
        for offset in range(0, len(pcm), step):
            frame = pcm[offset : offset + step]
            end_ms = (offset + len(frame)) / bytes_per_ms
            due = clock.due(end_ms)
            while (delay := due - time.perf_counter()) > 0:
                idle = time.perf_counter() - last_send
                if keepalive is not None and idle >= self.keepalive_s:
                    await ws.send(keepalive)
                    session.keepalives += 1
                    last_send = time.perf_counter()
                    continue
                await asyncio.sleep(delay if keepalive is None else min(delay, self.keepalive_s - idle))
            await ws.send(self.audio_message(frame, session))
            last_send = time.perf_counter()
            clock.frame_sent(due, end_ms)
        for message in self.end_messages(session):
            await ws.send(message)
        session.all_sent.set()

    async def _receive(self, ws, session: StreamingSession) -> None:
        try:
            async for raw in ws:
                arrivals = getattr(ws, "arrivals", None)
                session.arrived_at = arrivals.popleft() if arrivals else None
                if isinstance(raw, bytes):
                    continue  # no vendor here sends binary results
                try:
                    message = json.loads(raw)
                except json.JSONDecodeError:
                    raise ProviderError(ErrorKind.RETRYABLE, f"{self.vendor}: malformed JSON in a stream message: {raw[:80]!r}") from None
                self.on_message(message, session)
        except StreamEnded:
            return
        # the server closed the socket; a normal close after the transcript is complete is fine
        if self.complete_on_normal_close and session.all_sent.is_set() and ws.close_code in (1000, None):
            shown = any(e.text.strip() for e in session.clock.events)
            session.complete = bool(session.finals) or not shown  # partials without a final: not complete
        if not session.complete:
            code = ws.close_code
            if code is not None and code != 1000:
                raise self.close_error(code, ws.close_reason or "", session)
            raise ProviderError(
                ErrorKind.RETRYABLE,
                f"{self.vendor} closed the stream before its end-of-transcript message"
                + (" (all audio was sent)" if session.all_sent.is_set() else " (mid-stream)"),
            )

    def classify_close(self, exc: wse.ConnectionClosed, session: StreamingSession) -> ProviderError:
        close = exc.rcvd
        if close is None:
            return ProviderError(ErrorKind.RETRYABLE, f"{self.vendor}: connection lost without a close frame")
        return self.close_error(close.code, close.reason or "", session)

    def close_error(self, code: int, reason: str, session: StreamingSession) -> ProviderError:
        """A vendor close code, classified like an HTTP status."""
        if code in self.fatal_close_codes:
            kind = ErrorKind.FATAL
        elif code in self.rate_limited_close_codes:
            kind = ErrorKind.RATE_LIMITED
        elif code in self.utterance_close_codes:
            kind = ErrorKind.UTTERANCE
        else:
            kind = ErrorKind.RETRYABLE
        return session.fail(kind, f"websocket closed with code {code}: {reason or 'no reason given'}")

