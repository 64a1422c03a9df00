"""Every live-streaming adapter against its fake vendor (a real websocket on 127.0.0.1), with the
partials and finals programmed relative to the audio the fake has received.

Clips are 1.6 s at 1x real time. Tolerances are loose for a loaded machine, yet a clock that
started at the request (or at the first frame) would be off by the whole clip and fail.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import numpy as np
import pytest
from fakes.fake_assemblyai_live import FakeAssemblyAILive
from fakes.fake_elevenlabs_live import FakeElevenLabsLive
from fakes.fake_gladia_live import FakeGladiaLive
from fakes.fake_openai_realtime import FakeOpenAIRealtime
from fakes.fake_soniox_live import FakeSonioxLive
from fakes.fake_speechmatics_live import FakeSpeechmaticsLive
from fakes.live_base import StreamScript
from test_exec_infer import run_executor

from spectragram_bench.core.audio import AudioClip
from spectragram_bench.core.config import ProviderConfig
from spectragram_bench.core.records import WorkItem
from spectragram_bench.core.registry import STREAMING_PROVIDERS
from spectragram_bench.core.speech_spans import remember
from spectragram_bench.providers.base import ErrorKind, ProviderError
from spectragram_bench.worker.exec_infer import RetryPolicy

CLIP_S = 1.6
SPEECH_END_MS = 1000.0
FINAL_DELAY_MS = 300.0
SLACK_MS = 250.0  # scheduling on a loaded 2-core machine


@dataclass(frozen=True)
class Vendor:
    name: str
    fake: type
    model: str
    word_times_in_partials: bool = True
    revisions: bool = True  # partials can replace words (OpenAI's deltas only append)
    params: tuple = ()


VENDORS = [
    Vendor("assemblyai", FakeAssemblyAILive, "universal-streaming-english"),
    Vendor("speechmatics", FakeSpeechmaticsLive, "enhanced"),
    Vendor("openai_realtime", FakeOpenAIRealtime, "gpt-4o-transcribe", word_times_in_partials=False, revisions=False),
    Vendor("elevenlabs", FakeElevenLabsLive, "scribe_v2_realtime", word_times_in_partials=False),
    Vendor("soniox", FakeSonioxLive, "stt-rt-v3"),
    Vendor("gladia", FakeGladiaLive, "solaria-1"),
]


@pytest.fixture(params=VENDORS, ids=[v.name for v in VENDORS])
def vendor(request):
    v: Vendor = request.param
    with v.fake() as server:
        yield v, server


def clip(seconds: float = CLIP_S) -> AudioClip:
    t = np.arange(int(seconds * 16000)) / 16000
    return AudioClip((0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000, None)


def make_provider(v: Vendor, server, **params):
    config = ProviderConfig(name=v.name, model=v.model, mode="streaming", base_url=server.base_url,
                            params={**dict(v.params), **params}, timeout_s=20)
    provider = STREAMING_PROVIDERS.get(v.name)(config)
    provider._api_key, provider._key_checked = server.api_key, True
    return provider


def item(n: int = 1, start_ms: float = 0.0, end_ms: float = SPEECH_END_MS) -> WorkItem:
    it = WorkItem(1, n, f"utt{n}", f"/virtual/{n}.wav", CLIP_S, variant={"live_test": n})
    remember(it, {"start_ms": start_ms, "end_ms": end_ms, "source": "test"})
    return it


def transcribe(provider, audio, it):
    async def once():
        try:
            return await provider.transcribe(audio, it)
        finally:
            await provider.aclose()

    return asyncio.run(once())


def test_timeline_and_latencies_follow_the_programmed_delays(vendor):
    v, server = vendor
    server.script = StreamScript(speech_end_ms=SPEECH_END_MS, final_delay_ms=FINAL_DELAY_MS, partial_every_ms=200)
    t = transcribe(make_provider(v, server), clip(), item())
    m = t.meta
    print(f"\n{v.name}: finalization {m['finalization_ms']} ms (programmed {FINAL_DELAY_MS:.0f}), "
          f"ttfp {m['ttfp_ms']} ms, connect {m['connect_ms']} ms")
    assert t.text == server.script.text
    assert FINAL_DELAY_MS - 5 <= m["finalization_ms"] <= FINAL_DELAY_MS + SLACK_MS
    assert 0 < m["ttfp_ms"] <= 200 + SLACK_MS  # the first partial leaves at 200 ms of audio
    assert m["connect_ms"] is not None and m["connect_ms"] > 0
    finals = [e for e in m["timeline"] if e["final"] and e["chars"]]
    assert len(finals) == 1 and finals[0]["audio_ms"] >= SPEECH_END_MS
    partials = [e for e in m["timeline"] if not e["final"] and e["chars"]]
    assert partials and all(e["audio_ms"] <= e["t_ms"] + 1 for e in partials)  # 1x pace: audio never ahead
    assert m["revisions"] == 0 and m["early_words"] == 0
    (rec,) = [r for r in server.requests if r.status == 101]
    assert rec.audio_bytes == int(CLIP_S * server.sample_rate) * 2  # leading and trailing audio as in the file
    assert server.problems(server.sessions[-1]) == []


def test_revisions_are_counted(vendor):
    v, server = vendor
    if not v.revisions:
        pytest.skip(f"{v.name} partials only append")
    server.script = StreamScript(speech_end_ms=SPEECH_END_MS, partial_every_ms=200, revise_every=2)
    t = transcribe(make_provider(v, server), clip(), item())
    # partials 2 and 4 show a wrong last word: partial 3 and the final correct them
    assert t.meta["revisions"] == 2
    assert t.text == server.script.text


def test_words_shown_before_their_audio_are_counted(vendor):
    v, server = vendor
    server.script = StreamScript(speech_end_ms=SPEECH_END_MS, partial_every_ms=200, early_words=2)
    if v.word_times_in_partials:
        t = transcribe(make_provider(v, server), clip(), item())
        assert t.meta["early_words"] == 2
    else:  # no word times: words that arrive before the speech start was sent are early
        t = transcribe(make_provider(v, server), clip(), item(start_ms=600.0))
        assert t.meta["early_words"] >= 1


def run_items(provider, items, max_attempts=3):
    return run_executor(provider, items, concurrency=2, timeout_s=20,
                        retry=RetryPolicy(max_attempts=max_attempts, base_delay_s=0.01))


def executor_items(n: int) -> list[WorkItem]:
    """Items whose audio the executor loads itself: a WAV written once per test session."""
    import tempfile

    import soundfile as sf

    path = f"{tempfile.gettempdir()}/live-vendor-clip.wav"
    sf.write(path, clip().samples, 16000)
    out = []
    for i in range(1, n + 1):
        it = WorkItem(1, i, f"utt{i}", path, CLIP_S, variant={"live_exec": i})
        remember(it, {"start_ms": 0.0, "end_ms": SPEECH_END_MS, "source": "test"})
        out.append(it)
    return out


def test_auth_error_is_fatal_after_one_attempt(vendor):
    v, server = vendor
    provider = make_provider(v, server)
    provider._api_key = "wrong-key-000"
    with pytest.raises(ProviderError) as info:
        transcribe(provider, clip(), item())
    assert info.value.kind == ErrorKind.FATAL
    assert "wrong-key-000" not in str(info.value)
    results, ex = run_items(provider, executor_items(1))
    assert [r.attempts for r in results] == [1] and results[0].error_kind == "fatal"
    assert ex.stats.fatal_error


def test_the_vendor_time_of_a_session_is_the_session(vendor):
    """At 1x a session lasts at least its audio: the prediction's API time is the session's, also
    for a vendor whose session starts with an HTTP request (Gladia's POST /v2/live), whose
    wire clock would otherwise stand for the whole attempt."""
    v, server = vendor
    server.script = StreamScript(speech_end_ms=SPEECH_END_MS, partial_every_ms=200)
    (r,), _ = run_items(make_provider(v, server), executor_items(1))
    assert r.ok and r.api_time_ms >= CLIP_S * 1000 - 50, r.api_time_ms


def test_mid_stream_disconnect_is_retried_never_scored_partial(vendor):
    v, server = vendor
    server.script = StreamScript(speech_end_ms=SPEECH_END_MS, partial_every_ms=200)
    server.next_scripts.extend([
        StreamScript(speech_end_ms=SPEECH_END_MS, partial_every_ms=200, drop_after_frames=12),
        StreamScript(speech_end_ms=SPEECH_END_MS, partial_every_ms=200, close_after_frames=8),
    ])
    results, _ = run_items(make_provider(v, server), executor_items(1))
    (r,) = results
    assert r.ok and r.attempts == 3 and r.hyp_text == server.script.text


def test_stream_that_ends_without_its_end_message_is_a_failure(vendor):
    v, server = vendor
    server.script = StreamScript(end_silently=True)
    with pytest.raises(ProviderError) as info:
        transcribe(make_provider(v, server), clip(0.5), item(end_ms=400.0))
    assert info.value.kind == ErrorKind.RETRYABLE


def test_frames_keep_real_time_without_drift():
    """3 s at 1x in 50 ms frames: frame k reaches the fake at k x 50 ms after frame 0. A sender
    that slept 50 ms after each send would fall behind by its send and wake-up costs, frame after
    frame; the schedule here is computed from one start, so late frames catch up. The margin
    (50 ms over 60 frames) absorbs a load spike on a busy machine and still fails a drift of
    about 1 ms a frame or more."""
    v = VENDORS[0]
    with v.fake() as server:
        server.script = StreamScript(partial_every_ms=10_000)
        transcribe(make_provider(v, server), clip(3.0), item(end_ms=2900.0))
        arrivals = server.sessions[-1].frame_arrivals
    assert len(arrivals) == 60
    offsets = [(t - arrivals[0]) * 1000 - k * 50 for k, t in enumerate(arrivals)]
    early, late = sorted(offsets[1:11])[5], sorted(offsets[-10:])[5]
    print(f"\nmedian offset of frames 1-10: {early:+.1f} ms, of the last 10: {late:+.1f} ms")
    assert abs(late - early) < 50
    assert min(offsets) > -15  # never ahead of the clock


def test_force_endpoint_ends_the_turn_at_once():
    """AssemblyAI's ForceEndpoint ("immediately end the current turn"), sent with Terminate after
    the last audio: a final the fake would still hold back (2 s after a 1 s speech end in a 1.6 s
    clip) comes at the end of the audio, not after Terminate. The bench's clips therefore stream on
    past the latest final it programs (bench/bench_streaming.py)."""
    v = VENDORS[0]
    with v.fake() as server:
        server.script = StreamScript(speech_end_ms=SPEECH_END_MS, final_delay_ms=2000.0, partial_every_ms=200)
        t = transcribe(make_provider(v, server), clip(), item())
        session = server.sessions[-1]
    trailing_ms = CLIP_S * 1000 - SPEECH_END_MS
    assert t.text == server.script.text
    assert trailing_ms - 5 <= t.meta["finalization_ms"] <= trailing_ms + SLACK_MS
    assert session.forced_at is not None and session.final_sent_at - session.forced_at < 0.05
    assert session.rec.control[-2:] == ["ForceEndpoint", "end"]
