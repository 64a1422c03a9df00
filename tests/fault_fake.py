"""A fault-injecting fake transcription server (real HTTP on 127.0.0.1) and a minimal adapter
that talks to it over httpx and classifies failures the way the real adapters do.

The server answers `POST /v1/transcribe` with `{"text": ..., "request_id": ...}`. Per utterance
it can play a script of faults, one per attempt ("429", "429s", "500", "503", "reset",
"timeout", "truncated", "slow", "400", "401", "nul" (a transcript with a NUL and a lone
surrogate in it), then "ok" once the script is used up); it can
enforce a request rate with a token bucket (429 + Retry-After past it) and add latency. It logs
every request it receives, so tests can check what was (not) requested again.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from spectragram_bench.core.audio import AudioClip
from spectragram_bench.core.config import ProviderConfig
from spectragram_bench.core.records import WorkItem
from spectragram_bench.providers.base import ErrorKind, Provider, ProviderError, Transcript
from spectragram_bench.providers.http_errors import error_for_exception, error_for_response, reply_json


@dataclass
class Received:
    utt: str
    fault: str
    at: float
    pid: int | None = None  # the client process, to tell workers apart


@dataclass
class FaultServerState:
    script: dict[str, list[str]] = field(default_factory=dict)
    latency_s: float = 0.0
    enforce_rps: float | None = None
    burst: float = 1.0
    log: list[Received] = field(default_factory=list)
    rejected_by_rate: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    closing: threading.Event = field(default_factory=threading.Event)
    _tokens: float = 0.0
    _last: float = 0.0

    def take_token(self) -> bool:
        """Token bucket: `burst` capacity refilled at `enforce_rps`; called under the lock."""
        now = time.monotonic()
        if self._last == 0.0:
            self._tokens, self._last = self.burst, now
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.enforce_rps)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def requests_for(self, utt: str) -> int:
        with self.lock:
            return sum(1 for r in self.log if r.utt == utt)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: FaultServerState

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send_json(self, code: int, body: dict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        payload = json.loads(self.rfile.read(length) or b"{}")
        utt = payload.get("utt", "?")
        st = self.state
        with st.lock:
            attempt = sum(1 for r in st.log if r.utt == utt)
            script = st.script.get(utt, [])
            fault = script[attempt] if attempt < len(script) else "ok"
            if fault == "ok" and st.enforce_rps is not None and not st.take_token():
                fault = "rate"
                st.rejected_by_rate += 1
            st.log.append(Received(utt, fault, time.monotonic(), payload.get("pid")))
        if st.latency_s:
            time.sleep(st.latency_s)
        request_id = f"req-{utt}-{attempt}"
        ok_body = {"text": payload.get("ref", ""), "request_id": request_id}
        if fault == "ok":
            self._send_json(200, ok_body)
        elif fault == "nul":
            self._send_json(200, {**ok_body, "text": ok_body["text"] + " \x00end\ud800"})
        elif fault == "rate":
            self._send_json(429, {"error": "rate limit"}, {"Retry-After": "1"})
        elif fault == "429":
            self._send_json(429, {"error": "slow down"}, {"retry-after-ms": "30"})
        elif fault == "429s":
            self._send_json(429, {"error": "slow down"}, {"Retry-After": "1"})
        elif fault in ("500", "503", "400", "401"):
            self._send_json(int(fault), {"error": f"injected {fault}"})
        elif fault == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
        elif fault == "timeout":
            st.closing.wait(10)
            self.close_connection = True
        elif fault == "truncated":
            data = json.dumps(ok_body).encode()[:12]
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        elif fault == "slow":
            data = json.dumps(ok_body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            for i in range(0, len(data), 8):
                self.wfile.write(data[i : i + 8])
                self.wfile.flush()
                time.sleep(0.02)
        else:
            raise ValueError(f"unknown fault {fault!r}")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # resets and abandoned sockets are expected
        pass


class FaultServer:
    """Start with `with FaultServer(...) as srv:`; `srv.url` is the base URL."""

    def __init__(self, **state) -> None:
        self.state = FaultServerState(**state)
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.httpd = _Server(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FaultServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.state.closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()


# --- the adapter ---------------------------------------------------------------------------


class FaultyProvider(Provider):
    """Test-only adapter for FaultServer (sends the reference text; a real adapter never would).
    Failures are classified by the real adapters' shared classifier (providers/http_errors.py)."""

    name = "faulty"

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        self._client: httpx.AsyncClient | None = None

    async def transcribe(self, audio: AudioClip, item: WorkItem) -> Transcript:
        if self._client is None:
            self._client = httpx.AsyncClient(base_url=self.config.base_url, timeout=30.0)
        try:
            reply = await self._client.post(
                "/v1/transcribe",
                json={"utt": item.external_id, "ref": item.ref_text, "audio_s": audio.duration_s, "pid": os.getpid()},
            )
        except httpx.TransportError as exc:  # resets, refused connections, read errors
            raise error_for_exception(exc) from None
        if reply.status_code != 200:
            raise error_for_response(reply, request_id_header="x-request-id")
        body = reply_json(reply.content, what="fake reply")
        text = body["text"]
        return Transcript(text=text, meta={"request_id": body.get("request_id")})

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class ProcessEcho(Provider):
    """Test-only blocking engine run in the process pool: echoes the reference, names its pid,
    and fails the utterances listed in params["bad"] with an utterance error."""

    name = "process_echo"
    blocking = True
    executor_pool = "process"

    def transcribe_blocking(self, audio: AudioClip, item: WorkItem) -> Transcript:
        if item.external_id in self.params.get("bad", []):
            raise ProviderError(ErrorKind.UTTERANCE, "cannot decode this one", status=None, request_id="r-bad")
        return Transcript(text=item.ref_text, meta={"pid": os.getpid()})
