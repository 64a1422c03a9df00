"""TED-LIUM, MLS, FLEURS, VoxPopuli and Earnings loaders on fixtures in their release layouts."""

from __future__ import annotations

import pytest
from fixtures.hf_corpora import default_rows, make_parquet
from fixtures.runs import by_id, run_job, stored
from fixtures.speech_corpora import make_earnings, make_fleurs, make_mls, make_tedlium, make_voxpopuli

from spectragram_bench.core.errors import DatasetError
from spectragram_bench.datasets.earnings import Earnings
from spectragram_bench.datasets.fleurs import Fleurs
from spectragram_bench.datasets.mls import MultilingualLibriSpeech
from spectragram_bench.datasets.tedlium import Tedlium, clean_reference
from spectragram_bench.datasets.voxpopuli import VoxPopuli


def test_tedlium_segments_skip_ignored_rows_and_clean_references(tmp_path):
    rel = make_tedlium(tmp_path)
    ds = Tedlium(str(rel), [], {})
    assert ds.selected == ["test"]
    recs = list(ds.utterances())
    assert [r.external_id for r in recs] == ["AliceTalk_2010-0000000-0000080", "AliceTalk_2010-0000170-0000240", "BobTalk_2011-0000020-0000120"]
    alice = recs[1]
    assert (alice.ref_text, alice.offset_s, alice.segment_s, alice.speaker, alice.language) == ("it's fine", 1.7, pytest.approx(0.7), "AliceTalk_2010", "en")
    clip = alice.audio.load()  # the segment of the .sph, read by libsndfile
    assert clip.sample_rate == 16000 and len(clip.samples) == 11200
    assert clean_reference("we 're here <unk> 'cause") == "we're here 'cause"
    talks = list(Tedlium(str(rel), [], {"long_form": True}).utterances())
    assert [(t.subset, t.external_id, t.ref_text) for t in talks] == [
        ("test-longform", "AliceTalk_2010", "hello world it's fine"), ("test-longform", "BobTalk_2011", "good morning")]
    assert talks[0].audio.load().duration_s == pytest.approx(2.5) and talks[0].meta["long_form"]
    with pytest.raises(DatasetError, match="options.long_form"):
        Tedlium(str(rel), [], {"long_form": "maybe"})
    with pytest.raises(DatasetError, match="no <split>/stm"):
        Tedlium(str(tmp_path / "TEDLIUM_release-3" / "legacy" / "test" / "stm"), [], {})


def test_mls_flac_and_opus_trees(tmp_path):
    folder = make_mls(tmp_path)
    recs = list(MultilingualLibriSpeech(str(folder), [], {}).utterances())
    assert [(r.external_id, r.speaker, r.language, r.meta["book_id"]) for r in recs] == [
        ("10065_10039_000000", "10065", "fr", "10039"), ("10065_10039_000001", "10065", "fr", "10039")]
    assert recs[0].audio_path.endswith("test/audio/10065/10039/10065_10039_000000.flac")
    opus = make_mls(tmp_path / "o", "german", ".opus")
    rec = next(iter(MultilingualLibriSpeech(str(opus), ["dev"], {}).utterances()))
    assert rec.audio_path.endswith(".opus") and rec.language == "de"
    assert rec.audio.load().duration_s == pytest.approx(0.7, abs=0.01)


def test_fleurs_original_release_layout(tmp_path):
    folder = make_fleurs(tmp_path)
    recs = list(Fleurs(str(folder), [], {}).utterances())
    assert [r.external_id for r in recs] == ["10004088536354799741", "10004088536354799742", "1111"]
    assert recs[2].ref_text == "c'est l'été à genève" and recs[2].language == "fr" and recs[2].meta["gender"] == "female"
    assert recs[0].duration_s == pytest.approx(0.6) and recs[0].meta["sentence_id"] == "1"
    raw = list(Fleurs(str(folder), [], {"text": "raw"}).utterances())
    assert raw[2].ref_text == "C'est l'été à Genève."
    zh = make_fleurs(tmp_path / "z", "cmn_hans_cn", [("3", "9.wav", "你好世界", "你好世界", "", "male")])
    assert next(iter(Fleurs(str(zh), [], {}).utterances())).language == "zh"
    packed = make_fleurs(tmp_path / "p", "de_de", extract=False)
    with pytest.raises(DatasetError, match=r"extract it: tar xzf .*audio/test.tar.gz"):
        Fleurs(str(packed), [], {})


def test_voxpopuli_asr_tsv_and_ogg(tmp_path):
    folder = make_voxpopuli(tmp_path)
    recs = list(VoxPopuli(str(folder), [], {}).utterances())
    assert recs[0].ref_text == "merci monsieur le président" and recs[0].speaker == "124737" and recs[0].language == "fr"
    assert recs[0].audio_path.endswith("/fr/2018/20180313-0900-PLENARY-8-fr_20180313-11:37:35_0.ogg")
    assert recs[1].meta["raw_text"] == "C'est fini." and recs[1].meta["gender"] == "male"
    assert recs[1].audio.load().duration_s == pytest.approx(0.8, abs=0.01)


def test_earnings_calls_with_nlp_references(tmp_path):
    folder = make_earnings(tmp_path)
    ds = Earnings(str(folder), [], {})
    recs = list(ds.utterances())
    assert [(r.external_id, r.ref_text) for r in recs] == [("4320211", "Good morning and welcome."), ("4330115", "Thank you operator.")]
    assert recs[0].meta["company_name"] == "Company 0" and recs[0].meta["long_form"] and recs[0].duration_s == 3.0
    assert [r.external_id for r in Earnings(str(folder), ["eval10"], {}).utterances()] == ["4320211"]
    assert recs[0].audio.load().duration_s == pytest.approx(3.0, abs=0.1)  # mp3 via libsndfile


@pytest.mark.slow
def test_one_job_over_every_release_layout_runs_end_to_end(tmp_path):
    datasets = [
        {"name": "hf_dataset", "root": str(make_parquet(tmp_path / "hf", {"test": default_rows(3)}))},
        {"name": "tedlium", "root": str(make_tedlium(tmp_path))},
        {"name": "mls", "root": str(make_mls(tmp_path))},
        {"name": "fleurs", "root": str(make_fleurs(tmp_path))},
        {"name": "voxpopuli", "root": str(make_voxpopuli(tmp_path))},
        {"name": "earnings", "root": str(make_earnings(tmp_path))},
    ]
    proc, db = run_job(tmp_path, datasets)
    assert proc.returncode == 0, proc.stderr
    rows = by_id(stored(db))
    assert len(rows) == 3 + 3 + 2 + 3 + 2 + 2
    assert all(r.status == "ok" for r in rows.values()), [r.error_text for r in rows.values() if r.status != "ok"]
    assert rows["AliceTalk_2010-0000170-0000240"].hyp_text == "it's fine"
    assert rows["1111"].utt_meta["language"] == "fr" and rows["4320211"].hyp_text == "Good morning and welcome."
