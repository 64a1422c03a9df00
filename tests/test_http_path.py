"""The HTTP path behind CloudProvider.request: wire clocks, queueing kept apart from the
vendor's time, the reply-size cap (HTTP bodies and websocket messages), httpx-style arguments.
Real HTTP against fake servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import tracemalloc

import pytest
from aiohttp import web
from conftest import DEMO_ROOT
from fakes import FakeServer

from spectragram_bench.core.audio import load_audio
from spectragram_bench.core.config import ProviderConfig
from spectragram_bench.core.records import WorkItem
from spectragram_bench.core.speech_spans import remember
from spectragram_bench.providers.base import ErrorKind, ProviderError
from spectragram_bench.providers.cloud import CloudProvider
from spectragram_bench.providers.deepgram import DeepgramProvider
from spectragram_bench.providers.deepgram_live import DeepgramLive
from spectragram_bench.providers.http_client import request_options
from spectragram_bench.providers.openai_whisper import OpenAICompatibleProvider
from spectragram_bench.providers.wire_clock import attempt_clock

FIRST_FLAC = sorted(DEMO_ROOT.rglob("*.flac"))[0]
BIG_BODY = 50 * 2**20
CHUNK = b"x" * 2**20


class BodyServer(FakeServer):
    """GET /echo answers JSON after `latency_s` (base class); /big sends 50 MB from one 1 MiB
    chunk, with or without Content-Length, and counts what it managed to send."""

    def __init__(self) -> None:
        super().__init__(api_key=None)
        self.big_sent = 0

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/echo", self.echo)
        app.router.add_get("/big", self.big)

    async def echo(self, request: web.Request) -> web.Response:
        body = await request.read()
        rec = self.record(request, body_bytes=len(body))
        rec.status = 200
        return web.json_response({"query": list(request.query.items()), "body": body.decode("latin-1"),
                                  "content_type": request.headers.get("Content-Type", "")})

    async def big(self, request: web.Request) -> web.StreamResponse:
        self.record(request)
        response = web.StreamResponse()
        if request.query.get("declare") == "1":
            response.content_length = BIG_BODY
        await response.prepare(request)
        try:
            for _ in range(BIG_BODY // len(CHUNK)):
                await response.write(CHUNK)
                self.big_sent += len(CHUNK)
        except (ConnectionError, RuntimeError):
            pass  # the client hung up: what we wanted
        return response


class Plain(CloudProvider):
    name = "plain"
    default_base_url = "http://127.0.0.1"
    default_key_env = None
    key_required = False


def plain(server: FakeServer, **kw) -> Plain:
    return Plain(ProviderConfig(name="plain", model="m", base_url=server.base_url, **kw))


@pytest.fixture
def body_server():
    with BodyServer() as server:
        yield server


def run(coro):
    return asyncio.run(coro)


def test_vendor_time_excludes_the_wait_for_a_connection(body_server):
    """Two requests, one connection: the second waits ~latency for it; that wait is queue_ms,
    and both vendor times are the server's latency."""
    body_server.latency_s = 0.3
    p = plain(body_server, concurrency=1)

    async def one():
        with attempt_clock() as clock:
            await p.request("GET", f"{body_server.base_url}/echo")
        return clock

    async def both():
        try:
            return await asyncio.gather(one(), one())
        finally:
            await p.aclose()

    clocks = run(both())
    vendor = sorted(c.vendor_ms() for c in clocks)
    queued = sorted(c.queue_ms() for c in clocks)
    assert all(300 <= v < 450 for v in vendor), vendor
    assert queued[0] < 100 and queued[1] >= 250, f"the second request waited for the connection: {queued}"
    wire = clocks[0].summary()
    assert wire["requests"] == 1 and wire["wait_ms"] >= 290 and wire["download_ms"] >= 0


def test_reply_has_the_httpx_shape_and_arguments_are_spelled_like_httpx(body_server):
    p = plain(body_server)

    async def go():
        try:
            a = await p.request("POST", f"{body_server.base_url}/echo", params={"flag": True, "k": ["a", "b"], "none": None},
                                data={"field": "v", "n": 3})
            b = await p.request("POST", f"{body_server.base_url}/echo", content=b"raw", headers={"Content-Type": "audio/flac"})
            c = await p.request("POST", f"{body_server.base_url}/echo", data={"model": "m", "timestamp_granularities[]": ["word"]},
                                files={"file": ("a.flac", b"RIFF", "audio/flac")})
            return a, b, c
        finally:
            await p.aclose()

    a, b, c = run(go())
    assert a.status_code == 200 and a.headers.get("CONTENT-TYPE").startswith("application/json")
    assert a.json()["query"] == [["flag", "true"], ["k", "a"], ["k", "b"]]
    assert a.json()["body"] == "field=v&n=3" and "urlencoded" in a.json()["content_type"]
    assert b.json()["body"] == "raw" and b.json()["content_type"] == "audio/flac"
    assert isinstance(b.text, str) and b.content.startswith(b"{")
    form = c.json()
    assert form["content_type"].startswith("multipart/form-data")
    assert 'name="timestamp_granularities[]"' in form["body"] and 'filename="a.flac"' in form["body"]
    with pytest.raises(TypeError, match="follow_redirects"):
        request_options({"follow_redirects": True})


@pytest.mark.parametrize("declare", [True, False], ids=["content-length", "chunked"])
def test_a_50_mb_reply_fails_the_utterance_without_being_read(body_server, declare):
    p = plain(body_server, max_reply_bytes=8 * 2**20)

    async def go():
        try:
            await p.request("GET", f"{body_server.base_url}/big?declare={int(declare)}")
        finally:
            await p.aclose()

    tracemalloc.start()
    try:
        with pytest.raises(ProviderError) as info:
            run(go())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    err = info.value
    assert err.kind == ErrorKind.UTTERANCE and "max_reply_bytes" in err.message
    assert ("declares 52,428,800 bytes" in err.message) == declare
    assert peak < 24 * 2**20, f"{peak / 2**20:.1f} MiB allocated while refusing a 50 MiB body"
    assert body_server.big_sent < BIG_BODY, "the client hung up before the whole body was sent"


def error_transcribing(p: CloudProvider, server: FakeServer) -> ProviderError:
    """The ProviderError of one attempt at the first demo file."""
    p._api_key, p._key_checked = server.api_key, True
    clip = load_audio(str(FIRST_FLAC))
    item = WorkItem(1, 1, "u", str(FIRST_FLAC), clip.duration_s)
    remember(item, {"start_ms": 0.0, "end_ms": clip.duration_s * 1000, "source": "test"})  # live adapters read it

    async def go():
        try:
            return await p.transcribe(clip, item)
        finally:
            await p.aclose()

    with pytest.raises(ProviderError) as info:
        run(go())
    return info.value


def test_openai_adapter_reports_an_oversized_reply_as_the_utterances_failure(fake_openai):
    from fakes import Fault

    fake_openai.inject(Fault(status=200, body="{" + " " * (3 * 2**20) + "}"))
    err = error_transcribing(OpenAICompatibleProvider(ProviderConfig(
        name="openai_compatible", model="whisper-1", base_url=fake_openai.base_url, api_key_env="SOME_KEY",
        max_reply_bytes=2**20)), fake_openai)
    assert err.kind == ErrorKind.UTTERANCE and "max_reply_bytes (1,048,576)" in err.message


def test_adapters_that_classify_every_exception_keep_the_caps_utterance_kind(fake_deepgram):
    from fakes import Fault

    fake_deepgram.inject(Fault(status=200, body=b"{" + b" " * (2 * 2**20) + b"}"))
    err = error_transcribing(DeepgramProvider(ProviderConfig(
        name="deepgram", model="nova-3", base_url=fake_deepgram.base_url, max_reply_bytes=2**20)), fake_deepgram)
    assert err.kind == ErrorKind.UTTERANCE and "max_reply_bytes" in err.message


def test_websocket_message_over_the_cap_fails_the_utterance(fake_deepgram):
    fake_deepgram.default_text = " ".join(["word"] * 2000)  # one Results message of ~10 kB
    err = error_transcribing(DeepgramLive(ProviderConfig(
        name="deepgram", model="nova-3", mode="streaming", base_url=fake_deepgram.base_url, params={"pace": 0},
        max_reply_bytes=4096)), fake_deepgram)
    assert err.kind == ErrorKind.UTTERANCE and "max_reply_bytes" in err.message
