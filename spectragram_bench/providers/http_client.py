"""The HTTP client behind `CloudProvider.request`: one aiohttp ClientSession per provider
instance and event loop, wire clocks from aiohttp's trace hooks, and a cap on reply size.

Why aiohttp: measured side by side through real HTTP against a 200 ms server in its own process
(bench/bench_http_clients.py, 64 in flight), one httpx.AsyncClient costs 11.7 ms of CPU per
request and its recorded p95 is seconds (httpcore scans every pooled connection on each request
and release); httpx split into 16-connection pools costs 6.5 ms, over two event-loop threads 9.7,
over two processes 11.6; aiohttp's client 1.0 ms (1.1 with the trace hooks used here), with a
recorded p95 several times closer to the server's true latency. The interface stays httpx-like
(`request(method, url, params=, headers=, content=, data=, files=, json=, timeout=)` returning
`.status_code`, `.headers`, `.content`, `.json()`, `.text`), so adapters read like httpx code.

Replies are read in chunks and counted: a body declared or found larger than `max_reply_bytes`
fails the attempt as that utterance's failure before more of it is read.
"""

from __future__ import annotations

import asyncio
import codecs
import itertools
import json as jsonlib
import secrets
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from email.message import Message
from typing import Any

import aiohttp

from spectragram_bench.providers.base import ErrorKind, ProviderError
from spectragram_bench.providers.wire_clock import RequestClock, request_clock

#: multipart boundaries: random per process, numbered per request (no syscall per request)
BOUNDARY_PREFIX = f"spectragram-{secrets.token_hex(8)}-"
_boundaries = itertools.count()
REQUEST_OPTIONS = frozenset({"params", "headers", "content", "data", "files", "json", "timeout"})


def reply_too_large(limit: int, size: int, declared: bool) -> ProviderError:
    how = "declares" if declared else "sent more than"
    return ProviderError(
        ErrorKind.UTTERANCE,
        f"the reply {how} {size:,} bytes, over max_reply_bytes ({limit:,}); not read further "
        "(raise max_reply_bytes in the provider config if such replies are expected)",
    )


def _charset(content_type: str) -> str:
    msg = Message()
    msg["content-type"] = content_type
    return msg.get_param("charset") or "utf-8"


class Reply:
    """A read reply, shaped like httpx.Response where adapters and http_errors use it."""

    __slots__ = ("status_code", "headers", "content", "url", "wire", "reason_phrase")

    def __init__(self, status: int, headers: Mapping[str, str], content: bytes, url: str,
                 wire: RequestClock, reason: str | None = None) -> None:
        self.status_code = status
        self.headers = headers  # case-insensitive (multidict.CIMultiDictProxy)
        self.content = content
        self.url = url
        self.wire = wire
        self.reason_phrase = reason or ""

    @property
    def text(self) -> str:
        return self.content.decode(_charset(self.headers.get("content-type", "")), "replace")

    def json(self) -> Any:
        return jsonlib.loads(self.content)

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300


class StreamReply(Reply):
    """A reply whose body is read as it arrives (`aiter_lines`, `aread`), under the same cap."""

    __slots__ = ("_response", "_limit", "_read")

    def __init__(self, response: aiohttp.ClientResponse, limit: int, wire: RequestClock) -> None:
        super().__init__(response.status, response.headers, b"", str(response.url), wire, response.reason)
        self._response = response
        self._limit = limit
        self._read = 0

    async def _chunks(self) -> AsyncIterator[bytes]:
        async for chunk in self._response.content.iter_any():
            self._read += len(chunk)
            if self._read > self._limit:
                self._response.close()  # drop the connection: the rest is never read
                raise reply_too_large(self._limit, self._read, declared=False)
            yield chunk
        self.wire.last_byte = time.perf_counter()

    async def aread(self) -> bytes:
        """The rest of the body (all of it if nothing was read yet), kept in `.content`."""
        parts = [chunk async for chunk in self._chunks()]
        self.content = b"".join(parts)
        return self.content

    async def aiter_lines(self) -> AsyncIterator[str]:
        """Decoded lines without their endings (\\n, \\r\\n or \\r), as httpx's aiter_lines."""
        decoder = codecs.getincrementaldecoder(_charset(self.headers.get("content-type", "")))("replace")
        pending = ""
        async for chunk in self._chunks():
            pending += decoder.decode(chunk)
            lines = pending.splitlines(keepends=True)
            pending = ""
            if lines and (not lines[-1].endswith(("\n", "\r")) or lines[-1].endswith("\r")):
                pending = lines.pop()  # unfinished, or a \r that a \n may follow
            for line in lines:
                yield line.rstrip("\r\n")
        pending += decoder.decode(b"", final=True)
        for line in pending.splitlines():
            yield line


def _str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _pairs(values: Mapping[str, Any] | list[tuple[str, Any]]) -> list[tuple[str, str]]:
    """httpx's spelling of params/form data: a list repeats the key, booleans true/false,
    None leaves the key out."""
    items = values.items() if isinstance(values, Mapping) else values
    out: list[tuple[str, str]] = []
    for key, value in items:
        if value is None:
            continue
        for v in value if isinstance(value, (list, tuple)) else [value]:
            out.append((key, _str(v)))
    return out


def _form_name(value: str) -> str:
    """A name or file name inside Content-Disposition, escaped as browsers do (WHATWG)."""
    return value.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def multipart_body(data: Mapping[str, Any] | None, files: Mapping[str, Any] | list[tuple[str, Any]]) -> tuple[bytes, str]:
    """(body, content type) of a multipart/form-data upload, encoded at once: one write to the
    socket instead of aiohttp's one per part header and body (a third of a request's CPU)."""
    boundary = f"{BOUNDARY_PREFIX}{next(_boundaries):08x}"
    parts: list[bytes] = []
    for key, value in _pairs(data or {}):
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{_form_name(key)}"\r\n\r\n'.encode())
        parts += (value.encode(), b"\r\n")
    for name, spec in files.items() if isinstance(files, Mapping) else files:
        if isinstance(spec, (bytes, bytearray)):
            filename, body, mime = name, spec, None
        else:
            filename, body, *rest = spec
            mime = rest[0] if rest else None
        if isinstance(body, str):
            body = body.encode()
        elif not isinstance(body, (bytes, bytearray)):
            body = body.read()  # a file object
        named = f'; filename="{_form_name(filename)}"' if filename is not None else ""  # None: a plain part, as httpx
        # a part without a file name and type is a plain field (httpx sends it without Content-Type)
        ctype = "" if filename is None and mime is None else f'Content-Type: {mime or "application/octet-stream"}\r\n'
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{_form_name(name)}"{named}\r\n{ctype}\r\n'.encode()
        )
        parts += (body, b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def request_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    """aiohttp's arguments for httpx-style ones."""
    unknown = sorted(set(kwargs) - REQUEST_OPTIONS)
    if unknown:
        raise TypeError(f"CloudProvider.request() does not take {unknown}; it takes {sorted(REQUEST_OPTIONS)}")
    out: dict[str, Any] = {}
    if kwargs.get("params"):
        out["params"] = _pairs(kwargs["params"])
    if kwargs.get("headers"):
        out["headers"] = kwargs["headers"]
    if kwargs.get("content") is not None:
        out["data"] = kwargs["content"]
    elif kwargs.get("files"):
        out["data"], content_type = multipart_body(kwargs.get("data"), kwargs["files"])
        given = {k: v for k, v in (kwargs.get("headers") or {}).items() if k.lower() != "content-type"}
        out["headers"] = {**given, "Content-Type": content_type}
    elif kwargs.get("data") is not None:
        out["data"] = _pairs(kwargs["data"])
    if kwargs.get("json") is not None:
        out["json"] = kwargs["json"]
    if kwargs.get("timeout") is not None:
        t = float(kwargs["timeout"])
        out["timeout"] = aiohttp.ClientTimeout(total=None, sock_connect=t, sock_read=t)
    return out


def _trace_config() -> aiohttp.TraceConfig:
    """Stamps the request's RequestClock (passed as trace_request_ctx) at each wire event."""
    tc = aiohttp.TraceConfig()

    async def connect_start(_s, ctx, _p) -> None:
        ctx.connect_started = time.perf_counter()

    async def connect_end(_s, ctx, _p) -> None:
        ctx.trace_request_ctx.connect_s += time.perf_counter() - ctx.connect_started

    async def headers_sent(_s, ctx, _p) -> None:
        clock = ctx.trace_request_ctx
        clock.write_start = clock.sent = time.perf_counter()

    async def chunk_sent(_s, ctx, _p) -> None:
        ctx.trace_request_ctx.sent = time.perf_counter()

    async def reply_started(_s, ctx, _p) -> None:
        ctx.trace_request_ctx.first_byte = time.perf_counter()

    tc.on_connection_create_start.append(connect_start)
    tc.on_connection_create_end.append(connect_end)
    tc.on_request_headers_sent.append(headers_sent)
    tc.on_request_chunk_sent.append(chunk_sent)
    tc.on_request_end.append(reply_started)
    return tc


class HttpClient:
    """One provider instance's HTTP client; the session belongs to the loop that created it."""

    def __init__(self, *, connections: int, timeout_s: float, max_reply_bytes: int, user_agent: str) -> None:
        self.connections = connections
        self.timeout_s = timeout_s
        self.max_reply_bytes = max_reply_bytes
        self.user_agent = user_agent
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop:
            connector = aiohttp.TCPConnector(limit=self.connections, limit_per_host=0, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=min(30.0, self.timeout_s), sock_read=self.timeout_s),
                headers={"User-Agent": self.user_agent},
                cookie_jar=aiohttp.DummyCookieJar(),  # an API client keeps no cookies between requests
                trace_configs=[_trace_config()],
                auto_decompress=True,  # counted after decompression: a small gzip bomb hits the cap too
            )
            self._loop = loop
        return self._session

    def _check_declared(self, response: aiohttp.ClientResponse) -> None:
        declared = response.content_length
        if declared is not None and declared > self.max_reply_bytes and not response.headers.get("content-encoding"):
            response.close()
            raise reply_too_large(self.max_reply_bytes, declared, declared=True)

    async def request(self, method: str, url: str, **kwargs: Any) -> Reply:
        """Send, read the whole reply (under the cap) and return it."""
        async with self.stream(method, url, **kwargs) as reply:
            await reply.aread()
        return Reply(reply.status_code, reply.headers, reply.content, reply.url, reply.wire, reply.reason_phrase)

    @asynccontextmanager
    async def stream(self, method: str, url: str, **kwargs: Any) -> AsyncIterator[StreamReply]:
        """The reply with its body still to read; the connection is released on exit."""
        options = request_options(kwargs)
        clock = request_clock()
        async with self.session().request(
            method, url, allow_redirects=False, trace_request_ctx=clock, **options
        ) as response:
            if clock.first_byte is None:
                clock.first_byte = time.perf_counter()
            self._check_declared(response)
            reply = StreamReply(response, self.max_reply_bytes, clock)
            yield reply
            if clock.last_byte is None:
                clock.last_byte = time.perf_counter()

    async def aclose(self) -> None:
        session, loop = self._session, self._loop
        self._session, self._loop = None, None
        if session is not None and loop is asyncio.get_running_loop():
            await session.close()
        # else: its event loop has ended and took the connections with it; nothing left to close
