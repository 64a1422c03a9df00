"""The vendors' official streaming SDKs pointed at our fake live servers (a real websocket on
127.0.0.1), each streaming one demo file: the SDK parses what the fake sends with its own models,
so a fake that drifted from the real protocol fails here, not only in our adapters' tests. Each
test skips when its SDK is not installed (pip install assemblyai deepgram-sdk speechmatics-rt
openai soniox elevenlabs)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
import soundfile as sf
from fakes.job_calls import FLACS

FRAME_MS = 100


def pcm16(rate: int = 16000) -> bytes:
    """The first demo file as 16-bit mono PCM at `rate`."""
    samples, source_rate = sf.read(str(FLACS[0]), dtype="float32")
    if source_rate != rate:
        import soxr

        samples = soxr.resample(samples, source_rate, rate)
    return (np.clip(samples, -1, 1) * 32767).round().astype("<i2").tobytes()


def frames(data: bytes, rate: int = 16000) -> list[bytes]:
    step = rate * 2 * FRAME_MS // 1000
    return [data[i : i + step] for i in range(0, len(data), step)]


def ws_url(server) -> str:
    return server.base_url.replace("http://", "ws://", 1)


def test_assemblyai_streaming_sdk_against_the_fake():
    v3 = pytest.importorskip("assemblyai.streaming.v3")
    from fakes.fake_assemblyai_live import FakeAssemblyAILive

    turns, ends, errors = [], [], []
    with FakeAssemblyAILive() as server:
        client = v3.StreamingClient(v3.StreamingClientOptions(api_key=server.api_key, api_host=ws_url(server)))
        client.on(v3.StreamingEvents.Turn, lambda _c, event: turns.append(event))
        client.on(v3.StreamingEvents.Termination, lambda _c, event: ends.append(event))
        client.on(v3.StreamingEvents.Error, lambda _c, error: errors.append(error))
        client.connect(v3.StreamingParameters(sample_rate=16000, speech_model="universal-streaming-english"))
        audio = pcm16()
        client.stream(frames(audio))
        client.force_endpoint()
        client.disconnect(terminate=True)
        session = server.sessions[-1]
    assert errors == []
    finals = [t for t in turns if t.end_of_turn]
    assert [t.transcript for t in finals] == [server.script.text]
    assert [w.text for w in finals[0].words] == server.script.text.split()
    assert any(not t.end_of_turn for t in turns)  # partials parsed too
    assert len(ends) == 1 and ends[0].audio_duration_seconds == round(len(audio) / 32000)
    assert session.rec.audio_bytes == len(audio) and server.problems(session) == []


def test_deepgram_live_sdk_against_the_fake(fake_deepgram):
    pytest.importorskip("deepgram")
    from deepgram import DeepgramClient
    from deepgram.environment import DeepgramClientEnvironment
    from deepgram.listen.v1.types.listen_v1metadata import ListenV1Metadata
    from deepgram.listen.v1.types.listen_v1results import ListenV1Results

    url = ws_url(fake_deepgram)
    client = DeepgramClient(api_key=fake_deepgram.api_key, environment=DeepgramClientEnvironment(
        base=fake_deepgram.base_url, production=url, agent=url, agent_rest=fake_deepgram.base_url))
    audio = pcm16()
    with client.listen.v1.connect(model="nova-3", encoding="linear16", sample_rate=16000, interim_results="true") as socket:
        for frame in frames(audio):
            socket.send_media(frame)
        socket.send_finalize()
        socket.send_close_stream()
        messages = list(socket)
    results = [m for m in messages if isinstance(m, ListenV1Results)]
    finals = [m for m in results if m.is_final]
    assert len(finals) == 1 and finals[0].channel.alternatives[0].transcript == fake_deepgram.default_text
    assert [w.word for w in finals[0].channel.alternatives[0].words] == fake_deepgram.default_text.split()
    assert any(not m.is_final for m in results)
    (meta,) = [m for m in messages if isinstance(m, ListenV1Metadata)]
    assert meta.duration == pytest.approx(len(audio) / 32000, abs=1e-3)
    (rec,) = [r for r in fake_deepgram.requests if r.status == 101]
    assert rec.audio_bytes == len(audio) and rec.control == ["Finalize", "CloseStream"]
    assert rec.headers.get("Authorization") == f"Token {fake_deepgram.api_key}"


def test_speechmatics_realtime_sdk_against_the_fake():
    rt = pytest.importorskip("speechmatics.rt")
    from fakes.fake_speechmatics_live import FakeSpeechmaticsLive

    partials, finals = [], []
    audio = pcm16()

    async def go(server):
        async with rt.AsyncClient(api_key=server.api_key, url=f"{ws_url(server)}/v2") as client:
            client.on(rt.ServerMessageType.ADD_PARTIAL_TRANSCRIPT, partials.append)
            client.on(rt.ServerMessageType.ADD_TRANSCRIPT, finals.append)
            await client.start_session(
                transcription_config=rt.TranscriptionConfig(language="en", operating_point="enhanced", enable_partials=True),
                audio_format=rt.AudioFormat(encoding=rt.AudioEncoding.PCM_S16LE, sample_rate=16000))
            for frame in frames(audio):
                await client.send_audio(frame)
            await client.stop_session()  # EndOfStream, then waits for EndOfTranscript

    with FakeSpeechmaticsLive() as server:
        asyncio.run(asyncio.wait_for(go(server), 20))
        session = server.sessions[-1]
    texts = [rt.TranscriptResult.from_message(m).metadata.transcript for m in finals]
    assert texts == [server.script.text]
    assert partials and all(rt.TranscriptResult.from_message(m).metadata.transcript for m in partials)
    assert session.rec.audio_bytes == len(audio) and server.problems(session) == []
    assert session.config["transcription_config"]["operating_point"] == "enhanced"


def test_openai_realtime_sdk_against_the_fake():
    openai = pytest.importorskip("openai")
    import base64

    from fakes.fake_openai_realtime import FakeOpenAIRealtime

    audio = pcm16(24000)
    events = []
    with FakeOpenAIRealtime() as server:
        client = openai.OpenAI(api_key=server.api_key, base_url=f"{server.base_url}/v1",
                               websocket_base_url=f"{ws_url(server)}/v1")
        with client.realtime.connect(extra_query={"intent": "transcription"}) as conn:
            conn.session.update(session={"type": "transcription", "audio": {"input": {
                "format": {"type": "audio/pcm", "rate": 24000}, "transcription": {"model": "gpt-4o-transcribe"},
                "turn_detection": {"type": "server_vad"}}}})
            for frame in frames(audio, 24000):
                conn.input_audio_buffer.append(audio=base64.b64encode(frame).decode("ascii"))
            conn.input_audio_buffer.commit()
            for event in conn:
                events.append(event)
                if event.type == "error":  # the fake's (and the API's) answer to committing an empty buffer
                    break
        session = server.sessions[-1]
    kinds = [e.type for e in events]
    assert kinds[0] == "session.created" and "session.updated" in kinds
    deltas = "".join(e.delta for e in events if e.type == "conversation.item.input_audio_transcription.delta")
    (done,) = [e for e in events if e.type == "conversation.item.input_audio_transcription.completed"]
    assert done.transcript == server.script.text
    assert deltas and server.script.text.startswith(deltas)  # deltas only append
    assert events[-1].error.code == "input_audio_buffer_commit_empty"
    assert session.rec.audio_bytes == len(audio) and server.problems(session) == []


def test_soniox_realtime_sdk_against_the_fake():
    soniox = pytest.importorskip("soniox")
    from fakes.fake_soniox_live import FakeSonioxLive
    from soniox.types.realtime import RealtimeSTTConfig

    audio = pcm16()
    with FakeSonioxLive() as server:
        client = soniox.SonioxClient(api_key=server.api_key, websocket_base_url=f"{ws_url(server)}/transcribe-websocket")
        config = RealtimeSTTConfig(model="stt-rt-v3", audio_format="pcm_s16le", sample_rate=16000, num_channels=1)
        with client.realtime.stt.connect(config=config) as session:
            session.send_bytes(iter(frames(audio)))  # then the empty frame that ends the stream
            events = list(session.receive_events())
        fake_session = server.sessions[-1]
    assert [e.error_code for e in events if e.error_code is not None] == []
    final_text = "".join(t.text for e in events for t in e.tokens if t.is_final and t.text not in ("<end>", "<fin>"))
    assert final_text == server.script.text
    assert any(not t.is_final for e in events for t in e.tokens)  # partial tokens parsed too
    assert events[-1].finished
    assert fake_session.rec.audio_bytes == len(audio) and "api_key" not in fake_session.config


def test_elevenlabs_scribe_realtime_sdk_against_the_fake():
    pytest.importorskip("elevenlabs.realtime.scribe")
    import base64

    from elevenlabs.realtime.connection import RealtimeEvents
    from elevenlabs.realtime.scribe import AudioFormat, CommitStrategy, ScribeRealtime
    from fakes.fake_elevenlabs_live import FakeElevenLabsLive

    audio = pcm16()
    seen: dict[str, list] = {"started": [], "partial": [], "committed": [], "error": [], "close": []}

    async def go(server):
        closed = asyncio.Event()
        conn = await ScribeRealtime(api_key=server.api_key, base_url=ws_url(server)).connect({
            "model_id": "scribe_v2_realtime", "audio_format": AudioFormat.PCM_16000, "sample_rate": 16000,
            "commit_strategy": CommitStrategy.MANUAL})
        for event, key in ((RealtimeEvents.SESSION_STARTED, "started"), (RealtimeEvents.PARTIAL_TRANSCRIPT, "partial"),
                           (RealtimeEvents.COMMITTED_TRANSCRIPT, "committed"), (RealtimeEvents.ERROR, "error")):
            conn.on(event, seen[key].append)
        conn.on(RealtimeEvents.CLOSE, lambda info: (seen["close"].append(info), closed.set()))
        for frame in frames(audio):
            await conn.send({"audio_base_64": base64.b64encode(frame).decode("ascii")})
        await conn.commit()
        await closed.wait()  # the fake closes after the committed transcripts

    with FakeElevenLabsLive() as server:
        asyncio.run(asyncio.wait_for(go(server), 20))
        session = server.sessions[-1]
        query = dict(session.request.query)
    assert seen["error"] == [] and seen["close"][0]["code"] == 1000 and seen["started"]
    assert [m["text"] for m in seen["committed"]] == [server.script.text, ""]
    assert seen["partial"] and all(server.script.text.startswith(m["text"]) for m in seen["partial"])
    assert session.rec.audio_bytes == len(audio) and query["audio_format"] == "pcm_16000"
    assert query["model_id"] == "scribe_v2_realtime" and query["commit_strategy"] == "manual"


def test_gladia_live_sdk_against_the_fake():
    pytest.importorskip("gladiaio_sdk")
    import threading

    from fakes.fake_gladia_live import FakeGladiaLive
    from gladiaio_sdk import GladiaClient
    from gladiaio_sdk.v2.live.generated_types import LiveV2TranscriptMessage, LiveV2UnknownWebSocketMessage

    audio = pcm16()
    messages, errors, ended = [], [], threading.Event()
    with FakeGladiaLive() as server:
        session = GladiaClient(api_key=server.api_key, api_url=server.base_url).live_v2().start_session({
            "encoding": "wav/pcm", "sample_rate": 16000, "bit_depth": 16, "channels": 1, "model": "solaria-1",
            "messages_config": {"receive_partial_transcripts": True}})
        session.on("message", messages.append)
        session.on("error", errors.append)
        session.on("ended", lambda _message: ended.set())
        assert session.wait_until_ready(10)
        for frame in frames(audio):
            session.send_audio(frame)
        session.stop_recording()
        assert ended.wait(20)
        session.join(5)
        fake_session = server.sessions[-1]
    assert errors == []
    assert not [m for m in messages if isinstance(m, LiveV2UnknownWebSocketMessage)]
    transcripts = [m for m in messages if isinstance(m, LiveV2TranscriptMessage)]
    finals = [m.data.utterance.text for m in transcripts if m.data.is_final]
    assert finals == [server.script.text] and any(not m.data.is_final for m in transcripts)
    assert fake_session.rec.audio_bytes == len(audio) and server.init_bodies[-1]["model"] == "solaria-1"
