"""Clocks at the wire: when each HTTP request of an attempt was really on the network.

The executor opens an `AttemptClock` around each attempt (a context variable, so the adapter
code in between needs no parameter); every request sent through `CloudProvider.request` adds a
`RequestClock` to it, stamped by the HTTP client's trace hooks. From them:

- `vendor_ms`: from the last request byte written to the last reply byte read: the provider's
  own time (for an attempt of several requests, a job submitted then polled, from the first
  request's last byte to the last reply's last byte, less the harness's share of the later
  requests);
- `queue_ms`: the time requests waited inside the harness before their first byte was written
  (for a free connection, for the event loop to run them), summed over the attempt's requests;
- connect, upload and download times apart.

Time spent waiting for the harness is thereby never counted as the vendor's latency.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RequestClock:
    """perf_counter() stamps of one request; None where the event never happened."""

    called: float = field(default_factory=time.perf_counter)  # request() was called
    connect_s: float = 0.0  # opening a new connection (DNS, TCP, TLS), if one was opened
    write_start: float | None = None  # the request's headers were handed to the transport
    sent: float | None = None  # its last byte was handed to the transport
    first_byte: float | None = None  # the reply's status line and headers were read
    last_byte: float | None = None  # the reply's body was read to the end

    @property
    def complete(self) -> bool:
        return self.write_start is not None and self.last_byte is not None

    @property
    def queue_s(self) -> float:
        """Waiting inside the harness before the first byte went out (less connecting)."""
        return max(0.0, (self.write_start or self.called) - self.called - self.connect_s)

    @property
    def harness_s(self) -> float:
        """Everything between request() and the last byte written: queue, connect, upload."""
        return max(0.0, (self.sent or self.write_start or self.called) - self.called)


@dataclass
class AttemptClock:
    """The requests of one attempt, in the order they were made."""

    requests: list[RequestClock] = field(default_factory=list)

    def new_request(self) -> RequestClock:
        clock = RequestClock()
        self.requests.append(clock)
        return clock

    @property
    def timed(self) -> list[RequestClock]:
        return [r for r in self.requests if r.complete]

    def vendor_ms(self) -> float | None:
        """The provider's time, or None unless every request of the attempt completed (a
        timed-out or failed attempt is timed by its duration instead)."""
        done = self.timed
        if not done or len(done) != len(self.requests):
            return None
        first, last = done[0], done[-1]
        span = last.last_byte - (first.sent or first.write_start)
        span -= sum(r.harness_s for r in done[1:])
        return round(max(0.0, span) * 1000.0, 3)

    def queue_ms(self) -> float | None:
        if not self.requests:
            return None
        return round(sum(r.queue_s for r in self.requests) * 1000.0, 3)

    def summary(self) -> dict[str, Any]:
        """What latency_sample.meta_json["wire"] keeps of the attempt (milliseconds)."""
        done = self.timed
        if not done:
            return {}

        def ms(total_s: float) -> float:
            return round(total_s * 1000.0, 3)

        return {
            "requests": len(self.requests),
            "connect_ms": ms(sum(r.connect_s for r in done)),
            "upload_ms": ms(sum((r.sent or r.write_start) - r.write_start for r in done)),
            "wait_ms": ms(sum((r.first_byte or r.last_byte) - (r.sent or r.write_start) for r in done)),
            "download_ms": ms(sum(r.last_byte - (r.first_byte or r.last_byte) for r in done)),
        }


_current: ContextVar[AttemptClock | None] = ContextVar("spectragram_attempt_clock", default=None)


@contextmanager
def attempt_clock() -> Iterator[AttemptClock]:
    """Collect the wire clocks of the requests made inside the block (by this task and the
    tasks it starts)."""
    clock = AttemptClock()
    token = _current.set(clock)
    try:
        yield clock
    finally:
        _current.reset(token)


def request_clock() -> RequestClock:
    """A clock for a new request, part of the current attempt when there is one."""
    attempt = _current.get()
    return attempt.new_request() if attempt is not None else RequestClock()
