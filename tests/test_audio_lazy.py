"""A clip opened from a file reads only its header; the samples decode on first use, so the
mock provider and an adapter uploading the untouched file never decode. A file whose header
is fine but whose body is corrupt fails where it is decoded, as that utterance's 'input' failure."""

from __future__ import annotations

import asyncio
import pickle
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from fixtures.corpora import write_audio

from spectragram_bench.core.audio import AudioClip, load_audio, open_audio
from spectragram_bench.core.config import ProviderConfig
from spectragram_bench.core.errors import AudioError
from spectragram_bench.core.records import PredictionResult, WorkItem
from spectragram_bench.datasets.variants import apply_variant
from spectragram_bench.providers.mock_provider import MockProvider
from spectragram_bench.worker.exec_infer import Executor, RetryPolicy


def corrupt_body(path: Path) -> Path:
    """Keep the FLAC header (STREAMINFO), overwrite the audio frames with garbage."""
    data = bytearray(path.read_bytes())
    data[200:] = b"\xff" * (len(data) - 200)
    path.write_bytes(bytes(data))
    return path


def test_open_reads_the_header_and_decodes_on_first_use(tmp_path):
    path = write_audio(tmp_path / "a.flac", 1.5, 16000, seed=1)
    clip = open_audio(str(path))
    assert not clip.decoded
    assert (clip.sample_rate, clip.source_path, clip.duration_s) == (16000, str(path), 1.5)
    body, mime, name = clip.file_bytes()
    assert (body, mime, name) == (path.read_bytes(), "audio/flac", "a.flac") and not clip.decoded
    assert np.array_equal(clip.samples, load_audio(str(path)).samples) and clip.decoded
    assert clip.samples.dtype == np.float32 and clip.samples.flags.c_contiguous
    assert clip.pcm16() == load_audio(str(path)).pcm16()


def test_segments_and_stereo_are_derived_audio(tmp_path):
    path = write_audio(tmp_path / "long.wav", 2.0, 8000, seed=2)
    full = load_audio(str(path)).samples
    seg = open_audio(str(path), offset_s=0.5, segment_s=1.0)
    assert seg.source_path is None and seg.duration_s == 1.0 and not seg.decoded
    assert np.array_equal(seg.samples, full[4000:12000])
    tail = open_audio(str(path), offset_s=1.5)
    assert tail.duration_s == 0.5 and np.array_equal(tail.samples, full[12000:])
    with pytest.raises(AudioError, match="no samples"):
        open_audio(str(path), offset_s=3.0)
    stereo = tmp_path / "st.wav"
    sf.write(str(stereo), np.stack([full, np.zeros_like(full)], axis=1), 8000, subtype="FLOAT")
    st = open_audio(str(stereo))
    assert st.source_path is None  # a cloud adapter uploads the mono mix, not the stereo file
    assert np.allclose(st.samples, full / 2)


def test_a_lazy_clip_pickles_undecoded_for_the_process_pool(tmp_path):
    path = write_audio(tmp_path / "a.flac", 0.5, 16000, seed=3)
    copy = pickle.loads(pickle.dumps(open_audio(str(path))))
    assert not copy.decoded and copy.duration_s == 0.5
    assert np.array_equal(copy.samples, load_audio(str(path)).samples)


def test_header_errors_are_raised_at_open_and_body_errors_at_decode(tmp_path):
    with pytest.raises(AudioError, match="audio file not found"):
        open_audio(str(tmp_path / "gone.flac"))
    garbage = tmp_path / "g.flac"
    garbage.write_bytes(b"not audio" * 20)
    with pytest.raises(AudioError, match="cannot read audio header"):
        open_audio(str(garbage))
    empty = tmp_path / "e.wav"
    sf.write(str(empty), np.zeros(0, dtype=np.float32), 16000, format="WAV")
    with pytest.raises(AudioError, match="no samples"):
        open_audio(str(empty))
    body = corrupt_body(write_audio(tmp_path / "b.flac", 1.0, 16000, seed=4))
    clip = open_audio(str(body))  # the header is fine
    with pytest.raises(AudioError, match="cannot decode audio"):
        clip.samples  # noqa: B018
    with pytest.raises(AudioError, match="cannot decode audio"):
        load_audio(str(body))


def test_the_clean_variant_leaves_a_file_undecoded_and_checks_samples_at_hand(tmp_path):
    path = write_audio(tmp_path / "a.flac", 0.5, 16000, seed=5)
    item = WorkItem(1, 1, "a", str(path), None, "x")
    clip = open_audio(str(path))
    out, facts = apply_variant(clip, {"kind": "clean"}, item)
    assert out is clip and facts == {} and not clip.decoded
    out, _ = apply_variant(clip, {"kind": "speed", "factor": 1.25}, item)  # a derived variant decodes
    assert clip.decoded and out.source_path is None
    with pytest.raises(AudioError, match="audio is silent"):
        apply_variant(AudioClip(np.zeros(800, dtype=np.float32), 16000), {"kind": "clean"}, item)


class DecodingMock(MockProvider):
    """The mock, made to need samples (as a local engine or a streaming adapter does)."""

    def __init__(self, config: ProviderConfig, blocking: bool) -> None:
        super().__init__(config)
        self.blocking = blocking

    async def transcribe(self, audio, item):
        audio.pcm16()
        return await super().transcribe(audio, item)

    def transcribe_blocking(self, audio, item):
        audio.pcm16()
        return asyncio.run(MockProvider.transcribe(self, audio, item))


def run(provider, items) -> tuple[list[PredictionResult], Executor]:
    results: list[PredictionResult] = []

    async def go():
        ex = Executor(provider, results.append, concurrency=2, timeout_s=10, retry=RetryPolicy(max_attempts=3))
        try:
            await ex.run(items)
        finally:
            ex.close()
        return ex

    return results, asyncio.run(go())


@pytest.mark.parametrize("blocking", [False, True], ids=["async", "thread-pool"])
def test_a_corrupt_body_is_the_utterance_input_failure_where_it_is_decoded(tmp_path, blocking):
    good = write_audio(tmp_path / "good.flac", 0.5, 16000, seed=6)
    bad = corrupt_body(write_audio(tmp_path / "bad.flac", 0.5, 16000, seed=7))
    items = [WorkItem(1, 1, "good", str(good), None, "hello there"), WorkItem(1, 2, "bad", str(bad), None, "hello")]
    results, ex = run(DecodingMock(ProviderConfig(name="mock"), blocking), items)
    by_utt = {r.utt_id: r for r in results}
    assert by_utt[1].ok and by_utt[1].hyp_text == "hello there"
    failed = by_utt[2]
    assert failed.hyp_text is None and failed.error_kind == "input" and failed.attempts == 1
    assert f"cannot decode audio {bad}" in failed.error_text
    assert ex.stats.retries == 0 and ex.stats.errors_by_kind == {"input": 1}
    # the plain mock only needs the duration (from the header): it never decodes, so it transcribes
    results, _ = run(MockProvider(ProviderConfig(name="mock")), items[1:])
    assert results[0].ok and results[0].latency_meta["audio_s"] == 0.5
