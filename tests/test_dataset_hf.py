"""hf_dataset: parquet shards and save_to_disk folders, audio read from the rows."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fixtures.corpora import speechlike
from fixtures.hf_corpora import default_rows, flac_bytes, make_parquet, make_save_to_disk
from fixtures.runs import by_id, run_job, stored

from spectragram_bench.core.audio_source import AudioSource
from spectragram_bench.core.errors import AudioError, DatasetError
from spectragram_bench.datasets.hf_dataset import HfDataset, split_of
from spectragram_bench.reporting.browser_data import decode_browser_data


def test_parquet_shards_are_listed_in_order_with_rows_as_sources(tmp_path):
    rows = default_rows(5)
    make_parquet(tmp_path, {"test": rows, "train": default_rows(2, "tr")}, shards=2)
    ds = HfDataset(str(tmp_path), [], {"language": "en"})
    assert ds.selected == ["test"]  # test by default when present
    recs = list(ds.utterances())
    assert [r.external_id for r in recs] == [f"utt{i}" for i in range(5)]
    assert recs[0].speaker == "spk0" and recs[1].meta == {"gender": "f"} and recs[0].language == "en"
    third = recs[3]  # first row of the second shard
    assert third.source == AudioSource("parquet", str(tmp_path / "data/test-00001-of-00002.parquet"), row=0)
    clip = third.audio.load()
    assert clip.sample_rate == 16000 and abs(clip.duration_s - 0.5) < 1e-3
    assert abs(clip.samples - speechlike(0.5, 16000, 3)).max() < 1e-3  # FLAC is lossless up to 16-bit
    lazy = third.audio.open()
    data, mime, name = lazy.file_bytes()  # the row's own bytes, uploaded untouched, never decoded
    assert (data, mime, name) == (rows[3]["audio"], "audio/flac", "utt3.flac") and not lazy.decoded


def test_save_to_disk_folders_and_array_audio(tmp_path):
    make_save_to_disk(tmp_path / "dd", {"test": default_rows(3), "validation": default_rows(1, "v")})
    ds = HfDataset(str(tmp_path / "dd"), ["validation", "test"], {})
    recs = list(ds.utterances())
    assert [(r.subset, r.external_id) for r in recs] == [("validation", "v0"), ("test", "utt0"), ("test", "utt1"), ("test", "utt2")]
    assert recs[3].source.type == "arrow" and recs[3].source.row == 2
    assert abs(recs[3].audio.load().duration_s - 0.5) < 1e-3
    # decoded arrays ({array, sampling_rate}) as `datasets` casts Audio(decode=True) to
    t = pa.table({
        "audio": pa.array([{"array": speechlike(0.25, 8000, 1).tolist(), "sampling_rate": 8000}]),
        "sentence": ["bonjour"], "id": ["a"],
    })
    pq.write_table(t, tmp_path / "fr.parquet")
    rec, = HfDataset(str(tmp_path / "fr.parquet"), [], {"text_column": "sentence"}).utterances()
    clip = rec.audio.load()
    assert rec.subset == "fr" and rec.ref_text == "bonjour" and clip.sample_rate == 8000 and len(clip.samples) == 2000


def test_split_names_of_hub_layouts(tmp_path):
    assert split_of(tmp_path / "data/test-00000-of-00003.parquet") == "test"
    assert split_of(tmp_path / "data/validation-00001-of-00002-8f3a1b2c.parquet") == "validation"
    assert split_of(tmp_path / "clean/test/0000.parquet") == "test"
    assert split_of(tmp_path / "mine.parquet") == "mine"


def test_bad_options_columns_and_rows(tmp_path):
    make_parquet(tmp_path, {"test": default_rows(2)})
    with pytest.raises(DatasetError, match=r"options.text_colum: Extra inputs"):
        HfDataset(str(tmp_path), [], {"text_colum": "x"})
    with pytest.raises(DatasetError, match=r"options.language: String should match"):
        HfDataset(str(tmp_path), [], {"language": "french"})
    with pytest.raises(DatasetError, match=r"no column 'transcription' \(options.text_column\)"):
        HfDataset(str(tmp_path), [], {"text_column": "transcription"})
    with pytest.raises(DatasetError, match=r"subset\(s\) \['dev'\] not found"):
        HfDataset(str(tmp_path), ["dev"], {})
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no parquet files"):
        HfDataset(str(tmp_path / "empty"), [], {})
    rows = [
        {"id": "ok", "text": "fine", "audio": flac_bytes(0.3)},
        {"id": "skip", "text": " ignore time segment in scoring ", "audio": flac_bytes(0.3)},
        {"id": "empty", "text": "", "audio": flac_bytes(0.3)},
        {"id": "noaudio", "text": "x", "audio": None},
        {"id": "junk", "text": "y", "audio": b"not audio at all"},
    ]
    make_parquet(tmp_path / "b", {"test": rows})
    recs = {r.external_id: r for r in HfDataset(str(tmp_path / "b"), [], {}).utterances()}
    assert sorted(recs) == ["empty", "junk", "noaudio", "ok"]  # the leaderboard's skipped rows are left out
    assert "empty transcript" in recs["empty"].meta["load_error"]
    with pytest.raises(AudioError, match=r"row 3: column 'audio' is null"):
        recs["noaudio"].audio.load()
    with pytest.raises(AudioError, match=r"row 4"):
        recs["junk"].audio.load()


def test_parquet_job_end_to_end_and_rebuilt_from_the_database(tmp_path):
    make_parquet(tmp_path / "hf", {"test": default_rows(5) + [{"id": "junk", "text": "y", "speaker_id": "s", "audio": b"nope", "gender": "m"}]})
    proc, db = run_job(tmp_path, [{"name": "hf_dataset", "root": str(tmp_path / "hf"), "options": {"language": "en"},
                                   "variants": [{"kind": "clean"}, {"kind": "noise", "snr_db": 10, "noise": "babble", "talkers": 2}]}])
    assert proc.returncode == 0, proc.stderr
    rows = stored(db)
    assert len(rows) == 12
    clean = by_id([r for r in rows if r.variant["kind"] == "clean"])
    assert clean["utt1"].status == "ok" and clean["utt1"].hyp_text == "good morning"
    assert clean["utt1"].utt_meta["audio_source"] == {"type": "parquet", "row": 1, "column": "audio"}
    assert clean["utt1"].utt_meta["language"] == "en" and clean["utt1"].duration_s == pytest.approx(0.5)
    assert clean["junk"].status == "failed" and clean["junk"].error_kind == "input" and "row 5" in clean["junk"].error_text
    babble = by_id([r for r in rows if r.variant["kind"] == "noise"])
    assert babble["utt2"].status == "ok" and babble["utt2"].facts["snr_db_measured"] == pytest.approx(10, abs=0.01)
    assert json.dumps(babble["utt2"].facts["babble_sources"])  # other rows of the parquet mixed in


def test_report_plays_parquet_rows_from_clips_written_beside_it(tmp_path):
    rows = default_rows(3)
    make_parquet(tmp_path / "hf", {"test": rows})
    before = sorted(p.name for p in (tmp_path / "hf").rglob("*"))
    out = tmp_path / "out" / "r.html"
    proc, db = run_job(tmp_path, [{"name": "hf_dataset", "root": str(tmp_path / "hf")}], "--report", str(out))
    assert proc.returncode == 0, proc.stderr
    html = out.read_text()
    clips = sorted((out.parent / "r-audio").iterdir())  # named after the report
    assert [c.suffix for c in clips] == [".flac"] * 3
    assert sorted(c.read_bytes() for c in clips) == sorted(r["audio"] for r in rows)  # the row's bytes, untouched
    links = [u["a"] for u in decode_browser_data(html)["utts"]]
    assert len(links) == 3 and all(a.startswith("r-audio/") and "test-00000" not in a for a in links)
    assert sorted(p.name for p in (tmp_path / "hf").rglob("*")) == before  # nothing written into the corpus


def test_sources_round_trip_through_their_stored_form(tmp_path):
    src = AudioSource("arrow", "/d/x.arrow", 1.5, 2.0, row=7, column="speech")
    meta = {"offset_s": 1.5, "segment_s": 2.0, "audio_source": src.stored()}
    assert AudioSource.restore("/d/x.arrow", meta) == src
    assert AudioSource.restore("/a.wav", {"offset_s": 3.0}) == AudioSource.file("/a.wav", 3.0)
    with pytest.raises(ValueError, match="cannot be stored"):
        AudioSource("memory", "x.flac", data=flac_bytes(0.2)).stored()
    clip = AudioSource("memory", "x.flac", 0.1, 0.2, data=flac_bytes(0.5)).load()
    assert len(clip.samples) == 3200
