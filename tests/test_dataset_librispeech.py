"""LibriSpeech: every subset, SPEAKERS.TXT, checksum of a changed copy, and each broken input."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from fixtures.corpora import make_librispeech, write_audio
from fixtures.runs import by_id, run_job, stored

from spectragram_bench.core.errors import DatasetError
from spectragram_bench.datasets.librispeech import LibriSpeech


def test_every_subset_loads_with_speaker_facts(tmp_path):
    root = make_librispeech(tmp_path)
    ds = LibriSpeech(str(root), [], {})
    recs = list(ds.utterances())
    assert sorted({r.subset for r in recs}) == ["dev-other", "test-clean", "train-clean-100"]
    assert [r.external_id for r in recs if r.subset == "train-clean-100"] == ["13-300-0000", "13-301-0000"]
    first = next(r for r in recs if r.external_id == "11-100-0001")
    assert first.ref_text == "GOOD MORNING"
    assert first.speaker == "11"
    assert first.meta == {
        "speaker_id": "11", "chapter_id": "100", "subset": "test-clean",
        "sex": "F", "speaker_subset": "test-clean", "speaker_name": "Ada",
    }
    info = ds.info()
    assert info.license == "CC BY 4.0"
    assert info.notes == "subsets: dev-other, test-clean, train-clean-100"
    only = LibriSpeech(str(root), ["dev-other"], {})
    assert [r.external_id for r in only.utterances()] == ["12-200-0000"]


def test_root_may_be_the_extraction_folder(tmp_path):
    make_librispeech(tmp_path)
    ds = LibriSpeech(str(tmp_path), ["test-clean"], {})
    assert ds.root == tmp_path / "LibriSpeech"
    assert len(list(ds.utterances())) == 2


def test_unknown_subset_is_one_line_naming_what_exists(tmp_path):
    root = make_librispeech(tmp_path)
    with pytest.raises(DatasetError) as exc:
        LibriSpeech(str(root), ["test-other"], {})
    msg = str(exc.value)
    assert "\n" not in msg and "['test-other']" in msg and "test-clean" in msg


def test_checksum_detects_an_edited_transcript(tmp_path):
    root = make_librispeech(tmp_path)
    before = LibriSpeech(str(root), ["test-clean"], {}).info().checksum
    assert LibriSpeech(str(root), ["test-clean"], {}).info().checksum == before
    trans = root / "test-clean" / "11" / "100" / "11-100.trans.txt"
    trans.write_text(trans.read_text().replace("HELLO", "HULLO"))
    assert LibriSpeech(str(root), ["test-clean"], {}).info().checksum != before


def test_run_reports_a_changed_copy_but_not_another_subset_choice(tmp_path):
    root = make_librispeech(tmp_path)
    ds = [{"name": "librispeech", "root": str(root), "subsets": ["test-clean"]}]
    first, db = run_job(tmp_path, ds)
    assert first.returncode == 0, first.stderr
    other, _ = run_job(tmp_path, [{**ds[0], "subsets": ["dev-other"]}])
    assert "changed since it was last registered" not in other.stderr
    trans = root / "test-clean" / "11" / "100" / "11-100.trans.txt"
    trans.write_text(trans.read_text().replace("HELLO", "HULLO"))
    again, _ = run_job(tmp_path, ds)
    assert again.returncode == 0, again.stderr
    warning = [line for line in again.stderr.splitlines() if "changed since it was last registered" in line]
    assert len(warning) == 1 and str(root) in warning[0]


def test_broken_inputs_are_recorded_per_utterance(tmp_path):
    """Missing clip, empty and non-UTF-8 lines, zero-length, silent, undecodable audio: each a
    failed prediction with its reason; a file at another sample rate is resampled and scored."""
    root = make_librispeech(tmp_path, {"test-clean": [
        ("11-100-0000", "FINE"), ("11-100-0001", "MISSING CLIP"), ("11-100-0002", "EMPTY FILE"),
        ("11-100-0003", "SILENT"), ("11-100-0004", "GARBAGE"), ("11-100-0005", "RATE"), ("11-100-0006", "X"),
        ("11-100-0007", "LATIN"),
    ]})
    chapter = root / "test-clean" / "11" / "100"
    (chapter / "11-100-0001.flac").unlink()
    (chapter / "11-100-0002.flac").unlink()
    sf.write(str(chapter / "11-100-0002.wav"), np.zeros(0, dtype=np.float32), 16000, format="WAV")
    sf.write(str(chapter / "11-100-0003.flac"), np.zeros(8000, dtype=np.float32), 16000, format="FLAC")
    (chapter / "11-100-0004.flac").write_bytes(b"this is not audio at all" * 10)
    (chapter / "11-100-0005.flac").unlink()
    write_audio(chapter / "11-100-0005.wav", 1.0, 44100, seed=5)
    trans = chapter / "11-100.trans.txt"
    lines = trans.read_bytes().replace(b"11-100-0006 X", b"11-100-0006").replace(b"LATIN", "LATÍN".encode("latin-1"))
    trans.write_bytes(lines)
    proc, db = run_job(tmp_path, [{"name": "librispeech", "root": str(root)}])
    assert proc.returncode == 0, proc.stderr
    rows = by_id(stored(db))
    assert rows["11-100-0000"].status == "ok" and rows["11-100-0000"].hyp_text == "FINE"
    ok_rate = rows["11-100-0005"]
    assert ok_rate.status == "ok" and ok_rate.facts["audio_s"] == pytest.approx(1.0, abs=1e-3)
    expected = {
        "11-100-0001": "audio file not found",
        "11-100-0002": "no samples",
        "11-100-0003": "audio is silent",
        "11-100-0004": "cannot read audio header",
        "11-100-0006": "empty transcript for 11-100-0006",
        "11-100-0007": "not valid UTF-8 (byte 0xcd",
    }
    for utt, reason in expected.items():
        r = rows[utt]
        assert r.status == "failed" and r.hyp_text is None, utt
        assert r.error_kind == "input" and reason in r.error_text, (utt, r.error_text)
    assert rows["11-100-0007"].error_text.startswith(f"{trans}:8:")


def test_duplicate_ids_are_one_fatal_line(tmp_path):
    root = make_librispeech(tmp_path, {"test-clean": [("11-100-0000", "A")], "dev-clean": [("11-100-0000", "A")]})
    proc, _ = run_job(tmp_path, [{"name": "librispeech", "root": str(root)}])
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert errors == [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and "duplicate utterance id '11-100-0000'" in errors[0]

