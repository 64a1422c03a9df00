"""The clock of one streaming session and the latency figures read off it.

Zero is the moment the audio "recording" starts, just after the handshake (so `connect_ms` is
kept apart). Frames leave on a monotonic schedule: frame k goes out once its last sample has been
recorded, at zero + (k + 1) x frame / pace, computed from zero each time (never by adding sleeps,
which drifts). Every received message is stamped on arrival (when its last frame was read off the
socket, see streaming.py) with the audio sent by then.

Latencies are measured from the send time of the frame that holds the speech boundary (the first
moment a vendor could know it), not from the request: finalization_ms is the arrival of the last
final transcript minus the send time of the frame holding the speech end; ttfp_ms is the first
non-empty partial (or final) minus the send time of the frame holding the speech start.
"""

from __future__ import annotations

import time
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any


@dataclass
class StreamEvent:
    kind: str  # "partial" or "final" (vendor messages without text are not stamped)
    arrival_ms: float  # on the stream clock
    audio_ms: float  # audio sent when it arrived
    text: str
    is_final: bool
    words_end_ms: list[float] | None = None  # the vendor's word end times, where it gives them

    def row(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "t_ms": round(self.arrival_ms, 2),
            "audio_ms": round(self.audio_ms, 2),
            "chars": len(self.text),
            "final": self.is_final,
        }


@dataclass
class StreamClock:
    frame_ms: int
    pace: float = 1.0
    zero: float | None = None
    connect_started: float | None = None
    connected_at: float | None = None
    frames_sent: int = 0
    audio_ms_sent: float = 0.0
    send_times: list[float] = field(default_factory=list)  # perf_counter of each frame, in order
    sent_audio_ms: list[float] = field(default_factory=list)  # audio sent with each frame, in order
    max_lag_ms: float = 0.0  # the latest a frame left after its due time
    frame_audio_ms: float | None = None  # exact audio per frame (frame_ms rounded to whole samples)
    events: list[StreamEvent] = field(default_factory=list)

    def now_ms(self) -> float:
        return (time.perf_counter() - (self.zero or 0.0)) * 1000.0

    def start_connect(self) -> None:
        self.connect_started = time.perf_counter()

    def connected(self) -> None:
        self.connected_at = time.perf_counter()

    def start_audio(self) -> None:
        self.zero = time.perf_counter()

    def due(self, audio_end_ms: float) -> float:
        """perf_counter time at which the frame ending at audio time `audio_end_ms` is due."""
        assert self.zero is not None
        if self.pace <= 0:
            return self.zero
        return self.zero + audio_end_ms / 1000.0 / self.pace

    def frame_sent(self, due: float, audio_end_ms: float) -> None:
        now = time.perf_counter()
        self.send_times.append(now)
        self.sent_audio_ms.append(audio_end_ms)
        self.frames_sent += 1
        self.audio_ms_sent = audio_end_ms
        self.max_lag_ms = max(self.max_lag_ms, (now - due) * 1000.0)

    def audio_sent_at(self, at: float) -> float:
        """Audio sent by perf_counter time `at` (the frames that had left by then)."""
        sent = bisect_right(self.send_times, at)
        return self.sent_audio_ms[sent - 1] if sent else 0.0

    def stamp(self, kind: str, text: str, is_final: bool, words_end_ms: list[float] | None = None,
              at: float | None = None) -> None:
        """An event that arrived at perf_counter time `at` (now when not given)."""
        at = time.perf_counter() if at is None else at
        arrival_ms = (at - (self.zero or 0.0)) * 1000.0
        self.events.append(StreamEvent(kind, arrival_ms, self.audio_sent_at(at), text, is_final, words_end_ms))

    # -- figures ----------------------------------------------------------------------------

    def sent_ms_at_audio(self, audio_ms: float) -> float | None:
        """Stream-clock time at which the frame holding audio time `audio_ms` was sent."""
        if not self.send_times or self.zero is None:
            return None
        index = min(int(max(audio_ms, 0.0) // (self.frame_audio_ms or self.frame_ms)), len(self.send_times) - 1)
        return (self.send_times[index] - self.zero) * 1000.0

    def connect_ms(self) -> float | None:
        if self.connect_started is None or self.connected_at is None:
            return None
        return (self.connected_at - self.connect_started) * 1000.0

    def summary(self, speech_span: dict[str, Any] | None) -> dict[str, Any]:
        """What latency_sample.meta_json keeps of the session."""
        start_ms = end_ms = None
        if speech_span and speech_span.get("end_ms") is not None:
            start_ms = self.sent_ms_at_audio(speech_span["start_ms"])
            end_ms = self.sent_ms_at_audio(max(speech_span["end_ms"] - 1e-6, 0.0))
        texts = [e for e in self.events if e.text.strip()]
        first = texts[0].arrival_ms if texts else None
        finals = [e for e in texts if e.is_final]
        last_final = finals[-1].arrival_ms if finals else None
        return {
            "connect_ms": _round(self.connect_ms()),
            "ttfp_ms": _round(first - start_ms) if first is not None and start_ms is not None else None,
            "finalization_ms": _round(last_final - end_ms) if last_final is not None and end_ms is not None else None,
            "revisions": revisions(self.events),
            "early_words": early_words(self.events, speech_span),
            "speech_span": speech_span,
            "speech_start_sent_ms": _round(start_ms),
            "speech_end_sent_ms": _round(end_ms),
            "frames_sent": self.frames_sent,
            "frame_ms": self.frame_ms,
            "pace": self.pace,
            "max_send_lag_ms": _round(self.max_lag_ms),
            "timeline": [e.row() for e in self.events],
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def revisions(events: list[StreamEvent]) -> int:
    """Partials that changed words already shown (not just appended), segment by segment:
    a final closes its segment, so the next partial starts a new one."""
    count = 0
    shown: list[str] = []
    for event in events:
        words = event.text.split()
        if shown and words[: len(shown)] != shown:
            count += 1
        shown = [] if event.is_final else words
    return count


def early_words(events: list[StreamEvent], speech_span: dict[str, Any] | None) -> int:
    """Words shown before their audio was sent (a negative latency: a measurement error or a
    vendor predicting). With the vendor's word times: words ending after the audio sent when they
    arrived; without: words that arrived before the speech start was sent. The most in any one
    message, so a word repeated in successive partials counts once."""
    most = 0
    start = speech_span.get("start_ms") if speech_span else None
    for event in events:
        if event.words_end_ms is not None:
            early = sum(1 for end in event.words_end_ms if end > event.audio_ms + 1e-6)
        elif start is not None and event.audio_ms <= start:
            early = len(event.text.split())
        else:
            early = 0
        most = max(most, early)
    return most
