"""Common Voice: release layout with real mp3 clips, TSV columns into meta, broken rows."""

from __future__ import annotations

import json

import pytest
import soundfile as sf
from conftest import REPO
from fixtures.corpora import CV_HEADER, cv_row, make_commonvoice
from fixtures.runs import by_id, run_job, stored

from spectragram_bench.core.audio import load_audio
from spectragram_bench.core.config import load_config
from spectragram_bench.core.errors import DatasetError
from spectragram_bench.datasets.commonvoice import CommonVoice


def test_release_layout_loads_test_split_with_columns_in_meta(tmp_path):
    lang = make_commonvoice(tmp_path)
    ds = CommonVoice(str(lang), [], {})
    recs = list(ds.utterances())
    assert [r.external_id for r in recs] == ["common_voice_en_1", "common_voice_en_2"]  # default split: test
    second = recs[1]
    assert second.ref_text == 'It\'s a test, "quoted".'  # TSV quotes are literal text
    assert second.speaker == "c2"
    assert second.subset == "test"
    assert second.audio_path == str(lang / "clips" / "common_voice_en_2.mp3")
    assert second.meta == {
        "client_id": "c2", "sentence_id": "s2", "sentence_domain": "", "up_votes": "2", "down_votes": "0",
        "age": "twenties", "gender": "female_feminine", "accents": "United States English", "variant": "",
        "locale": "en", "segment": "", "split": "test",
    }
    durations = {r.external_id: r.duration_s for r in recs}
    assert durations["common_voice_en_1"] == pytest.approx(sf.info(second.audio_path.replace("_2", "_1")).duration, abs=1e-3)
    info = ds.info()
    assert info.license == "CC0-1.0" and info.notes == "subsets: test"


def test_mp3_clips_decode(tmp_path):
    lang = make_commonvoice(tmp_path)
    clip = load_audio(str(lang / "clips" / "common_voice_en_2.mp3"))
    assert clip.sample_rate == 32000
    assert clip.duration_s == pytest.approx(1.0, abs=0.01)
    assert float(abs(clip.samples).max()) > 0.2


def test_other_splits_and_the_language_option(tmp_path):
    lang = make_commonvoice(tmp_path)
    both = CommonVoice(str(lang), ["dev", "test"], {})
    assert [(r.subset, r.external_id) for r in both.utterances()] == [
        ("dev", "common_voice_en_3"), ("test", "common_voice_en_1"), ("test", "common_voice_en_2"),
    ]
    via_option = CommonVoice(str(lang.parent), ["dev"], {"language": "en"})
    assert [r.external_id for r in via_option.utterances()] == ["common_voice_en_3"]


def test_release_folder_instead_of_language_folder_says_which_to_use(tmp_path):
    lang = make_commonvoice(tmp_path)
    with pytest.raises(DatasetError, match=f"set root to a language folder, e.g. {lang}"):
        CommonVoice(str(lang.parent), [], {})


def test_missing_columns_is_one_fatal_line(tmp_path):
    header = [c for c in CV_HEADER if c != "sentence"]
    lang = make_commonvoice(tmp_path, {"test": [[c for c in cv_row(1, "x") if c != "x"]]}, header=header)
    with pytest.raises(DatasetError, match=r"test.tsv: missing column\(s\) \['sentence'\]"):
        list(CommonVoice(str(lang), [], {}).utterances())
    proc, _ = run_job(tmp_path, [{"name": "commonvoice", "root": str(lang)}])
    assert proc.returncode == 2
    assert [ln for ln in proc.stderr.splitlines() if ln.strip()] == [
        ln for ln in proc.stderr.splitlines() if ln.startswith("error:") and "missing column(s) ['sentence']" in ln
    ]


def test_overlapping_splits_are_refused(tmp_path):
    lang = make_commonvoice(tmp_path, {"test": [cv_row(1, "a")], "validated": [cv_row(1, "a"), cv_row(2, "b")]})
    with pytest.raises(DatasetError, match="listed twice.*validated.tsv contains train, dev and test"):
        list(CommonVoice(str(lang), ["test", "validated"], {}).utterances())


def test_broken_rows_are_recorded_per_utterance(tmp_path):
    rows = [cv_row(1, "Fine."), cv_row(2, ""), cv_row(3, "Gone."), cv_row(4, "Bad bytes"), cv_row(5, "Short")]
    rows[4] = rows[4][:5]
    lang = make_commonvoice(tmp_path, {"test": rows})
    (lang / "clips" / "common_voice_en_3.mp3").unlink()
    tsv = lang / "test.tsv"
    tsv.write_bytes(tsv.read_bytes().replace(b"Bad bytes", b"Bad \xff bytes"))
    proc, db = run_job(tmp_path, [{"name": "commonvoice", "root": str(lang)}])
    assert proc.returncode == 0, proc.stderr
    got = by_id(stored(db))
    assert got["common_voice_en_1"].status == "ok" and got["common_voice_en_1"].hyp_text == "Fine."
    assert got["common_voice_en_1"].speaker == "c1"
    assert got["common_voice_en_1"].utt_meta["gender"] == "female_feminine"
    expected = {
        "common_voice_en_2": f"{tsv}:3: empty sentence",
        "common_voice_en_3": "audio file not found",
        "common_voice_en_4": f"{tsv}:5: not valid UTF-8 (byte 0xff",
        "common_voice_en_5": f"{tsv}:6: 5 fields, the header has 13",
    }
    for utt, reason in expected.items():
        assert got[utt].status == "failed" and reason in got[utt].error_text, (utt, got[utt].error_text)


def test_example_job_runs_by_changing_only_its_root(tmp_path):
    """jobs/commonvoice_en.json as shipped, with root pointed at a (tiny) release: runs pocketsphinx."""
    lang = make_commonvoice(tmp_path)
    job = json.loads((REPO / "jobs" / "commonvoice_en.json").read_text())
    assert job["datasets"][0]["root"].startswith("~/data/cv-corpus-")
    job["datasets"][0]["root"] = str(lang)
    (tmp_path / "cv.json").write_text(json.dumps(job))
    config = load_config(tmp_path / "cv.json")
    assert config.datasets[0].subsets == ["test"]
    from conftest import run_cli

    proc = run_cli("--config", str(tmp_path / "cv.json"), "--db", f"sqlite:///{tmp_path / 'cv.db'}")
    assert proc.returncode == 0, proc.stderr
    rows = stored(tmp_path / "cv.db")
    assert {r.external_id for r in rows} == {"common_voice_en_1", "common_voice_en_2"}
    assert all(r.status == "ok" for r in rows)
