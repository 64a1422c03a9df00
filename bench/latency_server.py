"""A fixed-latency HTTP/1.1 server for the HTTP benchmarks, as cheap as a server can be: one raw
asyncio protocol (no framework, no access log), run in its own process so its CPU is not the
harness's. Every request is answered exactly `--latency-ms` after its last body byte arrived
(loop.call_later), with an OpenAI-style transcription reply.

    python bench/latency_server.py --latency-ms 200      # prints "port NNNN" and serves

Control endpoints: GET /stats (requests answered, first/last arrival, the server's own lateness
past the fixed latency, p50/p95/max, the most requests in flight at once), POST /reset, and
POST /burst?count=K&retry_ms=R&target=C (the next K requests get 429 with retry-after-ms: R,
answered at once, as a rate limiter would; /stats then says how long after the last 429 the
requests in flight were back at C).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from urllib.parse import parse_qs, urlsplit

REPLY = json.dumps({"text": "the quick brown fox jumps over the lazy dog",
                    "usage": {"type": "duration", "seconds": 1}}).encode()
LIMITED = json.dumps({"error": {"message": "Rate limit reached for requests", "type": "requests",
                                "code": "rate_limit_exceeded"}}).encode()


def response(status: str, body: bytes, extra: str = "", content_type: str = "application/json") -> bytes:
    return (f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {len(body)}\r\n"
            f"x-request-id: bench\r\n{extra}\r\n").encode() + body


class Stats:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.answered = 0
        self.limited = 0
        self.first_at: float | None = None
        self.last_at: float | None = None
        self.late_ms: list[float] = []  # how much later than the fixed latency each reply went out
        self.burst_left = 0
        self.burst_after = 0  # the burst starts once this many requests were answered
        self.burst_retry_ms = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.burst_target = 0
        self.burst_ended_at: float | None = None
        self.recovered_at: float | None = None

    def summary(self) -> dict:
        late = sorted(self.late_ms)

        def q(p: float) -> float | None:
            return round(late[min(len(late) - 1, int(p * len(late)))], 3) if late else None

        recovered = None
        if self.burst_ended_at is not None and self.recovered_at is not None:
            recovered = round((self.recovered_at - self.burst_ended_at) * 1000, 1)
        return {"answered": self.answered, "limited": self.limited, "first_at": self.first_at,
                "last_at": self.last_at, "late_p50_ms": q(0.5), "late_p95_ms": q(0.95), "late_max_ms": q(1.0),
                "max_in_flight": self.max_in_flight, "recovered_after_ms": recovered}


class LatencyProtocol(asyncio.Protocol):
    """HTTP/1.1 keep-alive with Content-Length or chunked bodies; requests are answered in order."""

    def __init__(self, latency_s: float, stats: Stats) -> None:
        self.latency_s = latency_s
        self.stats = stats
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.loop = asyncio.get_running_loop()

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while self._one_request():
            pass

    def _one_request(self) -> bool:
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        start = end + 4
        if headers.get("transfer-encoding", "").lower() == "chunked":
            pos = start
            while True:
                line_end = self.buf.find(b"\r\n", pos)
                if line_end < 0:
                    return False
                size = int(bytes(self.buf[pos:line_end]).split(b";")[0], 16)
                pos = line_end + 2 + size + 2
                if pos > len(self.buf):
                    return False
                if size == 0:
                    break
            consumed = pos
        else:
            consumed = start + int(headers.get("content-length", "0"))
            if len(self.buf) < consumed:
                return False
        del self.buf[:consumed]
        method, target, _ = head[0].split(" ", 2)
        self.handle(method, target)
        return True

    def handle(self, method: str, target: str) -> None:
        now = time.time()
        st = self.stats
        url = urlsplit(target)
        if url.path == "/stats":
            self.transport.write(response("200 OK", json.dumps(st.summary()).encode()))
            return
        if url.path == "/reset":
            st.reset()
            self.transport.write(response("200 OK", b"{}"))
            return
        if url.path == "/burst":
            q = parse_qs(url.query)
            st.burst_left = int(q["count"][0])
            st.burst_after = int(q.get("after", ["0"])[0])
            st.burst_retry_ms = int(q.get("retry_ms", ["100"])[0])
            st.burst_target = int(q.get("target", ["0"])[0])
            st.burst_ended_at = st.recovered_at = None
            self.transport.write(response("200 OK", b"{}"))
            return
        if st.first_at is None:
            st.first_at = now
        if st.burst_left > 0 and st.answered >= st.burst_after:
            st.burst_left -= 1
            st.limited += 1
            if st.burst_left == 0:
                st.burst_ended_at = now
            self.transport.write(response("429 Too Many Requests", LIMITED, f"retry-after-ms: {st.burst_retry_ms}\r\n"))
            return
        st.in_flight += 1
        st.max_in_flight = max(st.max_in_flight, st.in_flight)
        if st.burst_ended_at is not None and st.recovered_at is None and st.in_flight >= st.burst_target:
            st.recovered_at = now
        due = time.perf_counter() + self.latency_s
        self.loop.call_later(self.latency_s, self.reply, due)

    def reply(self, due: float) -> None:
        st = self.stats
        st.late_ms.append((time.perf_counter() - due) * 1000)
        st.answered += 1
        st.in_flight -= 1
        st.last_at = time.time()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(response("200 OK", REPLY))


async def serve(port: int, latency_s: float) -> None:
    stats = Stats()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: LatencyProtocol(latency_s, stats), "127.0.0.1", port, backlog=2048)
    print(f"port {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--latency-ms", type=float, default=200.0)
    args = p.parse_args()
    try:
        asyncio.run(serve(args.port, args.latency_ms / 1000.0))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
