"""The speech span streaming latency is measured against: Silero VAD by default, or the dataset's
word alignment (`"params": {"speech_span": "alignment"}`), with the choice stored in the span."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from conftest import DEMO_ROOT, run_cli
from fakes.fake_assemblyai_live import FakeAssemblyAILive
from fakes.harness import rows
from fakes.live_base import StreamScript
from test_live_vendors import VENDORS, clip, make_provider, transcribe

from spectragram_bench.core.config import ProviderConfig
from spectragram_bench.core.errors import ConfigError
from spectragram_bench.core.records import WorkItem
from spectragram_bench.core.speech_spans import alignment_bounds, remember, speech_span
from spectragram_bench.providers.assemblyai_live import AssemblyAILive

WORDS = [{"word": "the", "start": 0.31, "end": 0.45}, {"word": "birch", "start": 0.5, "end": 0.82},
         {"word": "canoe", "start": 0.9, "end": 1.37}]


def test_alignment_bounds_are_first_start_and_last_end_of_a_sound_alignment():
    assert alignment_bounds(WORDS) == (0.31, 1.37)
    assert alignment_bounds(list(reversed(WORDS))) == (0.31, 1.37)  # order does not matter
    for broken in (None, [], "words", [{"word": "a", "start": 0.2}], [{"word": "a", "start": 0.5, "end": 0.4}],
                   [{"word": "a", "start": -0.1, "end": 0.4}], [*WORDS, {"word": "x", "start": "1", "end": 2}],
                   [{"word": "a", "start": float("nan"), "end": 1.0}], [{"word": "a", "start": True, "end": 1.0}]):
        assert alignment_bounds(broken) is None, broken


def _item(n: int, word_span=None, variant=None) -> WorkItem:
    return WorkItem(1, n, f"ref{n}", f"/virtual/ref{n}.wav", 1.6, variant=variant or {"ref_test": n}, word_span=word_span)


def test_alignment_span_is_used_scaled_for_speed_and_otherwise_falls_back_to_the_vad():
    audio = clip()
    aligned = _item(1, (0.31, 1.37))
    remember(aligned, {"start_ms": 0.0, "end_ms": 1600.0, "source": "vad"})
    assert speech_span(audio, aligned, "alignment") == {"start_ms": 310.0, "end_ms": 1370.0, "source": "alignment"}
    assert speech_span(audio, aligned)["source"] == "vad"  # the default stays the VAD
    fast = _item(2, (0.31, 1.37), {"kind": "speed", "factor": 1.25})
    assert speech_span(audio, fast, "alignment")["end_ms"] == pytest.approx(1096.0)
    bare = _item(3)
    remember(bare, {"start_ms": 5.0, "end_ms": 900.0, "source": "vad"})
    span = speech_span(audio, bare, "alignment")
    assert span["source"] == "vad" and span["end_ms"] == 900.0 and span["fallback"] == "no usable word alignment"


def test_an_unknown_reference_is_refused_naming_the_setting():
    with pytest.raises(ConfigError, match=r"params.speech_span must be one of vad, alignment, not 'forced'"):
        AssemblyAILive(ProviderConfig(name="assemblyai", model="universal-streaming-english", mode="streaming",
                                      params={"speech_span": "forced"}))


def test_finalization_counts_from_the_alignment_end_not_the_vad_end():
    """The VAD (seeded) says speech ends at 600 ms, the alignment at 1000 ms; the fake finalizes
    300 ms after 1000 ms of audio. Measured from the alignment: about 300 ms; from the VAD it
    would be about 700 ms."""
    v = VENDORS[0]
    with v.fake() as server:
        server.script = StreamScript(speech_end_ms=1000.0, final_delay_ms=300.0, partial_every_ms=200)
        it = _item(4, (0.1, 1.0))
        remember(it, {"start_ms": 100.0, "end_ms": 600.0, "source": "vad"})
        meta = transcribe(make_provider(v, server, speech_span="alignment"), clip(), it).meta
    assert meta["speech_span"]["source"] == "alignment" and meta["speech_span"]["end_ms"] == 1000.0
    assert 295 <= meta["finalization_ms"] <= 550


@pytest.mark.slow
def test_a_manifest_with_word_times_streams_against_its_alignment(tmp_path):
    """End to end: a JSON-lines manifest whose entries carry `words`; one without them falls back."""
    source = sorted(DEMO_ROOT.rglob("*.flac"))[:2]
    lines = []
    for i, path in enumerate(source):
        duration = sf.info(str(path)).duration
        entry = {"audio_filepath": str(path), "text": "words", "utt_id": f"u{i}"}
        if i == 0:
            entry["words"] = [{"word": "words", "start": 0.2, "end": round(duration - 0.3, 3)}]
        lines.append(json.dumps(entry))
    manifest = tmp_path / "clips.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    with FakeAssemblyAILive() as server:
        job = {"name": "alignment-reference",
               "providers": [{"name": "assemblyai", "model": "universal-streaming-english", "mode": "streaming",
                              "base_url": server.base_url, "params": {"speech_span": "alignment", "pace": 2}}],
               "datasets": [{"name": "jsonl_manifest", "root": str(manifest)}],
               "evaluation": {"normalizer": "basic", "bootstrap_iterations": 20}}
        (tmp_path / "job.json").write_text(json.dumps(job))
        db = tmp_path / "b.db"
        result = run_cli("--config", str(tmp_path / "job.json"), "--db", f"sqlite:///{db}",
                         env={"ASSEMBLYAI_API_KEY": server.api_key})
    assert result.returncode == 0, result.stderr
    spans = {r["external_id"]: json.loads(r["meta_json"])["speech_span"] for r in rows(
        db, "SELECT u.external_id, l.meta_json FROM latency_sample l JOIN utterance u ON u.utt_id = l.utt_id")}
    expected_end = round((sf.info(str(source[0])).duration - 0.3) * 1000, 2)
    assert spans["u0"] == {"start_ms": 200.0, "end_ms": pytest.approx(expected_end, abs=0.01), "source": "alignment"}
    assert spans["u1"]["source"] == "vad" and spans["u1"]["detector"] == "silero-vad" and "fallback" in spans["u1"]
    models = rows(db, "SELECT params_json FROM model")
    assert json.loads(models[0]["params_json"])["speech_span"] == "alignment"  # the choice is stored with the run
    assert np.isfinite([json.loads(r["meta_json"])["finalization_ms"] for r in rows(db, "SELECT meta_json FROM latency_sample")]).all()
