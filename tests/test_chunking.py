"""Long-form: VAD cuts at silences, one request per chunk, one stitched hypothesis scored per recording."""

from __future__ import annotations

import json

import pytest
from fixtures.longform import make_long_recording
from fixtures.runs import run_job, stored
from sqlalchemy import create_engine, text

from spectragram_bench.core.audio import AudioClip
from spectragram_bench.providers.base import Transcript
from spectragram_bench.worker.chunking import Chunk, plan_chunks, stitch


def test_chunks_end_in_the_silences_and_cover_the_recording():
    speech = [(0.5, 9.0), (9.6, 18.0), (18.4, 30.0), (31.0, 41.0)]
    chunks = plan_chunks(speech, 42.0, max_s=20.0)
    assert chunks == [Chunk(0.0, 18.2), Chunk(18.2, 30.5), Chunk(30.5, 42.0)]
    assert all(c.end_s - c.start_s <= 20.0 for c in chunks)
    # a stretch of speech longer than the limit is cut hard, and says so
    forced = plan_chunks([(0.0, 50.0)], 50.0, max_s=20.0)
    assert forced == [Chunk(0.0, 20.0, True), Chunk(20.0, 40.0, True), Chunk(40.0, 50.0)]
    assert plan_chunks(speech, 42.0, max_s=60.0) == [Chunk(0.0, 42.0)]


def test_stitch_keeps_order_and_moves_words_to_the_recording_clock():
    chunks = [Chunk(0.0, 10.0), Chunk(10.0, 25.0)]
    parts = [Transcript("hello there", [{"word": "hello", "start": 1.0, "end": 1.5}], billed_seconds=10.0),
             Transcript("general kenobi ", [{"word": "general", "start": 0.25, "end": 0.75}], billed_seconds=15.0)]
    t = stitch(chunks, parts)
    assert t.text == "hello there general kenobi" and t.billed_seconds == 25.0
    assert [(w["word"], w["start"]) for w in t.words] == [("hello", 1.0), ("general", 10.25)]


def test_a_provider_byte_limit_triggers_chunks_sized_to_fit():
    import numpy as np

    from spectragram_bench.core.config import ProviderConfig
    from spectragram_bench.providers.mock_provider import MockProvider
    from spectragram_bench.worker.chunking import limit_s, needs_chunks

    p = MockProvider(ProviderConfig(name="mock"))
    clip = AudioClip(np.zeros(16000 * 100, dtype=np.float32), 16000)
    assert not needs_chunks(p, clip)
    p.max_upload_bytes = 1_000_044  # e.g. OpenAI's max_upload_mb: 1 MB of 16-bit WAV = 31.25 s
    assert needs_chunks(p, clip) and limit_s(p, clip) == pytest.approx(31.25)


@pytest.mark.slow
def test_a_twenty_minute_recording_is_chunked_stitched_and_scored_as_one(tmp_path):
    pytest.importorskip("spectragram_bench.core.vad")
    ref, silences = make_long_recording(tmp_path / "audio" / "call.flac", minutes=20.0)
    manifest = tmp_path / "long.jsonl"
    short = tmp_path / "audio" / "short.flac"
    make_long_recording(short, minutes=0.1)
    manifest.write_text(
        json.dumps({"audio_filepath": "audio/call.flac", "text": ref, "utt_id": "call"}) + "\n"
        + json.dumps({"audio_filepath": "audio/short.flac", "text": "the quarterly results were better than expected", "utt_id": "short"}) + "\n"
    )
    proc, db = run_job(tmp_path, [{"name": "jsonl_manifest", "root": str(manifest)}],
                       providers=[{"name": "mock", "chunking": {"max_s": 60}, "concurrency": 8,
                                   "rate_limit": {"requests_per_minute": 6000}}])
    assert proc.returncode == 0, proc.stderr
    rows = {r.external_id: r for r in stored(db)}
    call = rows["call"]
    assert call.status == "ok" and call.split == "long-longform" and rows["short"].split == "long"
    assert call.duration_s == pytest.approx(1200, abs=10)
    chunks = call.facts["chunks"]
    assert len(chunks) >= 20 and all(c["end_s"] - c["start_s"] <= 60.0 for c in chunks)
    assert [c["start_s"] for c in chunks[1:]] == [c["end_s"] for c in chunks[:-1]]  # contiguous, no overlap
    assert not any(c["forced"] for c in chunks)
    for c in chunks[:-1]:  # every cut lies in one of the known silences
        assert any(a - 0.05 <= c["end_s"] <= b + 0.05 for a, b in silences), c
    assert call.hyp_text == ref  # the chunk texts in order are the recording's text
    assert call.facts["chunking"]["overlap_s"] == 0.0 and len(call.facts["attempt_log"]) == len(chunks)
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as c:
        wer = dict(c.execute(text(
            "select v.split, m.value from metric_summary m join dataset_variant v using (variant_id) where m.metric = 'wer'"
        )).all())
        n_scores = c.execute(text("select count(distinct utt_id) from utterance_value where name = 'hits'")).scalar_one()
    engine.dispose()
    assert wer == {"long-longform": 0.0, "long": 0.0} and n_scores == 2  # one score per recording, separate rows


def test_chunking_is_part_of_what_a_resume_must_match():
    from spectragram_bench.worker.resume import _differences, work_identity

    old = {"providers": [{"name": "mock", "model": "default"}]}  # stored before chunking existed
    same = {"providers": [{"name": "mock", "model": "default", "chunking": {"max_s": None}}]}
    other = {"providers": [{"name": "mock", "model": "default", "chunking": {"max_s": 30.0}}]}
    assert _differences(work_identity(old), work_identity(same)) == []
    assert _differences(work_identity(old), work_identity(other)) == [
        "$.providers[0].chunking.max_s: None was stored, 30.0 given"]
