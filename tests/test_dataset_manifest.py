"""Bring-your-own manifests (NeMo JSON lines, CSV/TSV) and Kaldi data directories."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import REPO
from fixtures.corpora import make_csv, make_jsonl, write_audio
from fixtures.runs import by_id, run_job, stored

from spectragram_bench.core.config import load_config
from spectragram_bench.core.errors import DatasetError
from spectragram_bench.core.registry import DATASETS
from spectragram_bench.datasets.kaldi import KaldiDataDir
from spectragram_bench.datasets.manifest import CsvManifest, JsonLinesManifest


def test_registry_names():
    assert DATASETS.get("jsonl_manifest") is JsonLinesManifest
    assert DATASETS.get("nemo_manifest") is JsonLinesManifest
    assert DATASETS.get("csv_manifest") is CsvManifest
    assert DATASETS.get("kaldi") is KaldiDataDir
    assert DATASETS.get("commonvoice").__name__ == "CommonVoice"


def test_nemo_manifest_paths_ids_segments_and_meta(tmp_path):
    elsewhere = write_audio(tmp_path / "elsewhere" / "abs.wav", 1.0, seed=9)
    path = make_jsonl(tmp_path / "m", [
        {"audio_filepath": "audio/a.wav", "text": "alpha", "duration": 1.0, "lang": "en"},
        {"audio_filepath": str(elsewhere), "text": "beta", "speaker": 7},
        {"audio_filepath": "audio/long.wav", "text": "gamma", "offset": 0.25, "duration": 0.5, "utt_id": "g1"},
        {"audio_filepath": "audio/long.wav", "text": "delta", "offset": 0.5},
    ])
    ds = JsonLinesManifest(str(path), [], {})
    recs = {r.external_id: r for r in ds.utterances()}
    assert list(recs) == ["a", "abs", "g1", "long@0.500"]
    a = recs["a"]
    assert a.audio_path == str(tmp_path / "m" / "audio" / "a.wav") and a.duration_s == 1.0 and a.subset == "test"
    assert a.meta == {"lang": "en"} and a.speaker is None
    assert recs["abs"].audio_path == str(elsewhere) and recs["abs"].speaker == "7"
    g = recs["g1"]
    assert (g.offset_s, g.segment_s, g.duration_s) == (0.25, 0.5, 0.5)
    assert (recs["long@0.500"].offset_s, recs["long@0.500"].segment_s) == (0.5, None)
    assert ds.info().notes == "subsets: test"


def test_segment_durations_are_stored_and_decoded(tmp_path):
    path = make_jsonl(tmp_path, [
        {"audio_filepath": "a.wav", "text": "whole"},
        {"audio_filepath": "a.wav", "text": "tail", "offset": 0.25},
        {"audio_filepath": "a.wav", "text": "middle", "offset": 0.5, "duration": 0.3},
    ])
    proc, db = run_job(tmp_path, [{"name": "jsonl_manifest", "root": str(path)}])
    assert proc.returncode == 0, proc.stderr
    got = by_id(stored(db))
    assert set(got) == {"a", "a@0.250", "a@0.500"}
    for utt, seconds in (("a", 1.0), ("a@0.250", 0.75), ("a@0.500", 0.3)):
        assert got[utt].duration_s == pytest.approx(seconds, abs=1e-6)
        assert got[utt].facts["audio_s"] == pytest.approx(seconds, abs=1e-3)


def test_folder_of_manifests_is_one_subset_each(tmp_path):
    make_jsonl(tmp_path, [{"audio_filepath": "a.wav", "text": "a"}], name="dev.jsonl")
    make_jsonl(tmp_path, [{"audio_filepath": "b.wav", "text": "b"}], name="test.json")
    assert [r.subset for r in JsonLinesManifest(str(tmp_path), [], {}).utterances()] == ["dev", "test"]
    assert [r.external_id for r in JsonLinesManifest(str(tmp_path), ["test"], {}).utterances()] == ["b"]
    with pytest.raises(DatasetError, match=rf"subset\(s\) \['train'\] not found under {re.escape(str(tmp_path))}; found: \['dev', 'test'\]"):
        JsonLinesManifest(str(tmp_path), ["train"], {})


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"audio_filepath": "a.wav", "text": "x"', r"m.jsonl:2: invalid JSON: Expecting ',' delimiter"),
        ('["a.wav", "x"]', r"m.jsonl:2: expected a JSON object, got list"),
        ('{"text": "x"}', r"m.jsonl:2: no audio path \(one of audio_filepath"),
        ('{"audio_filepath": "ok.wav", "text": "again"}', r"duplicate utterance id 'ok' at .*m.jsonl:2 \(first at .*m.jsonl:1\)"),
    ],
)
def test_jsonl_fatal_lines(tmp_path, line, message):
    path = make_jsonl(tmp_path, [{"audio_filepath": "ok.wav", "text": "fine"}], name="m.jsonl")
    path.write_text(path.read_text() + line + "\n")
    with pytest.raises(DatasetError, match=message):
        list(JsonLinesManifest(str(path), [], {}).utterances())


def test_jsonl_broken_entries_are_recorded_per_utterance(tmp_path):
    path = make_jsonl(tmp_path, [
        {"audio_filepath": "ok.wav", "text": "fine"},
        {"audio_filepath": "notext.wav"},
        {"audio_filepath": "blank.wav", "text": "  "},
        {"audio_filepath": "num.wav", "text": 42},
        {"audio_filepath": "dur.wav", "text": "x", "duration": "long"},
        {"audio_filepath": "missing.wav", "text": "gone"},
        {"audio_filepath": "bytes.wav", "text": "caf\u00e9"},
    ], name="m.jsonl")
    (tmp_path / "missing.wav").unlink()
    path.write_bytes(path.read_bytes().replace(b"caf\\u00e9", b"caf\xe9"))
    proc, db = run_job(tmp_path, [{"name": "jsonl_manifest", "root": str(path)}])
    assert proc.returncode == 0, proc.stderr
    got = by_id(stored(db))
    assert got["ok"].status == "ok" and got["ok"].hyp_text == "fine"
    expected = {
        "notext": f"{path}:2: no transcript",
        "blank": f"{path}:3: empty transcript",
        "num": f"{path}:4: transcript is int, not text",
        "dur": f"{path}:5: duration 'long' is not a number",
        "missing": "audio file not found",
        "bytes": f"{path}:7: not valid UTF-8 (byte 0xe9",
    }
    for utt, reason in expected.items():
        assert got[utt].status == "failed" and reason in got[utt].error_text, (utt, got[utt].error_text)


def test_csv_and_tsv_manifests(tmp_path):
    csv = make_csv(tmp_path, 'path,text,speaker,id,room\nx/a.wav,"hello, world",s1,,kitchen\nx/b.wav,bye,,b2,hall\n',
                   clips=("x/a.wav", "x/b.wav"))
    recs = list(CsvManifest(str(csv), [], {}).utterances())
    assert [(r.external_id, r.ref_text, r.speaker, r.meta) for r in recs] == [
        ("a", "hello, world", "s1", {"room": "kitchen"}), ("b2", "bye", None, {"room": "hall"}),
    ]
    assert recs[0].audio_path == str(tmp_path / "x" / "a.wav")
    tsv = make_csv(tmp_path / "t", "audio_filepath\ttranscript\nx/a.wav\tsay \"hi\"\n", name="eval.tsv")
    assert [(r.subset, r.ref_text) for r in CsvManifest(str(tsv), [], {}).utterances()] == [("eval", 'say "hi"')]


def test_csv_missing_columns_is_one_fatal_line(tmp_path):
    csv = make_csv(tmp_path, "file_name,transcription\na.wav,hi\n")
    with pytest.raises(DatasetError, match=r"test.csv: no audio path column \(one of audio_filepath.*header has \['file_name', 'transcription'\]"):
        list(CsvManifest(str(csv), [], {}).utterances())
    proc, _ = run_job(tmp_path, [{"name": "csv_manifest", "root": str(csv)}])
    assert proc.returncode == 2
    assert [ln for ln in proc.stderr.splitlines() if ln.strip()] == [
        ln for ln in proc.stderr.splitlines() if ln.startswith("error:") and "no audio path column" in ln
    ]


def test_csv_broken_rows_are_recorded_per_utterance(tmp_path):
    csv = make_csv(tmp_path, "path,text\nok.wav,fine\nshort.wav\nlong.wav,a,b\nempty.wav,\nbad.wav,caf\xe9\n",
                   clips=("ok.wav", "short.wav", "long.wav", "empty.wav", "bad.wav"))
    csv.write_bytes(csv.read_bytes().replace("caf\xe9".encode(), b"caf\xe9"))
    proc, db = run_job(tmp_path, [{"name": "csv_manifest", "root": str(csv)}])
    assert proc.returncode == 0, proc.stderr
    got = by_id(stored(db))
    assert got["ok"].status == "ok"
    expected = {
        "short": f"{csv}:3: 1 fields, the header has 2",
        "long": f"{csv}:4: 3 fields, the header has 2",
        "empty": f"{csv}:5: empty transcript",
        "bad": f"{csv}:6: not valid UTF-8 (column 'text')",
    }
    for utt, reason in expected.items():
        assert got[utt].status == "failed" and reason in got[utt].error_text, (utt, got[utt].error_text)


def test_shipped_manifest_example_job_loads_every_clip(tmp_path):
    config = load_config(REPO / "jobs" / "manifest_example.json")
    dc = config.datasets[0]
    assert dc.root == str(REPO / "data" / "manifests" / "demo.jsonl")
    recs = list(DATASETS.get(dc.name)(dc.root, dc.subsets, dc.options).utterances())
    assert len(recs) == 6
    for r in recs:
        assert r.ref_text and r.duration_s and "load_error" not in r.meta
        assert Path(r.audio_path).is_file()


def _kaldi_dir(root, with_segments: bool):
    root.mkdir(parents=True)
    write_audio(root / "wav" / "r1.wav", 2.0, seed=1)
    write_audio(root / "wav" / "r2.wav", 1.0, seed=2)
    if with_segments:
        (root / "wav.scp").write_text("rec1 wav/r1.wav\nrec2 sox x.wav -t wav - |\n")
        (root / "segments").write_text("u1 rec1 0.0 0.8\nu2 rec1 0.8 1.9\nu3 rec2 0 1\nu4 recX 0 1\n")
        (root / "text").write_text("u1 one two\nu2 three\nu3 piped\nu4 nowhere\n")
        (root / "utt2spk").write_text("u1 spkA\nu2 spkA\nu3 spkB\nu4 spkB\n")
        (root / "spk2gender").write_text("spkA f\nspkB m\n")
    else:
        (root / "wav.scp").write_text(f"u1 wav/r1.wav\nu2 {root / 'wav' / 'r2.wav'}\n")
        (root / "text").write_text("u1 hello\nu2\n")
    return root


def test_kaldi_data_dir_with_segments(tmp_path):
    d = _kaldi_dir(tmp_path / "data" / "test", with_segments=True)
    recs = {r.external_id: r for r in KaldiDataDir(str(d), [], {}).utterances()}
    u2 = recs["u2"]
    assert (u2.offset_s, u2.segment_s, u2.speaker, u2.subset) == (0.8, pytest.approx(1.1), "spkA", "test")
    assert u2.audio_path == str(d / "wav" / "r1.wav") and u2.meta == {"recording": "rec1", "gender": "f"}
    assert "piped or ark entries are not supported" in recs["u3"].meta["load_error"]
    assert "no entry for recording recX" in recs["u4"].meta["load_error"]
    parent = KaldiDataDir(str(tmp_path / "data"), [], {})
    assert parent.selected == ["test"]


def test_kaldi_run_records_errors(tmp_path):
    d = _kaldi_dir(tmp_path / "dev", with_segments=False)
    proc, db = run_job(tmp_path, [{"name": "kaldi", "root": str(d)}])
    assert proc.returncode == 0, proc.stderr
    got = by_id(stored(db))
    assert got["u1"].status == "ok" and got["u1"].hyp_text == "hello"
    assert got["u2"].status == "failed" and "empty transcript for u2" in got["u2"].error_text
