"""`score` against NIST sclite (Debian's sctk) and kaldialign; `import` as a job run of a benchmark."""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
from pathlib import Path

import kaldialign
import pytest
from conftest import run_cli

from spectragram_bench.evaluations.transcripts import TranscriptError, read_transcripts

SCLITE = shutil.which("sclite") or next((p for p in ("/usr/lib/sctk/bin/sclite",) if Path(p).is_file()), None)
WORDS_LINE = re.compile(r"words: (\d+) reference, (\d+) errors = (\d+) substitutions \+ (\d+) deletions \+ "
                        r"(\d+) insertions, (\d+) correct; sentences with an error: (\d+) of (\d+)")


def _random_trn(tmp_path: Path, n: int, seed: int) -> tuple[Path, Path, list[tuple[list[str], list[str]]]]:
    rng = random.Random(seed)
    vocab = ["a", "b", "c", "d", "e", "f"]
    refs, hyps, pairs = [], [], []
    for i in range(n):
        ref = [rng.choice(vocab) for _ in range(rng.randint(1, 10))]
        hyp = [rng.choice(vocab) if rng.random() < 0.3 else w for w in ref if rng.random() > 0.1]
        hyp += [rng.choice(vocab) for _ in range(rng.randint(0, 2))]
        uid = f"spk{i % 7}-utt{i:04d}"
        refs.append(f"{' '.join(ref)} ({uid})\n")
        hyps.append(f"{' '.join(hyp)} ({uid})\n")
        pairs.append((ref, hyp))
    (tmp_path / "ref.trn").write_text("".join(refs))
    (tmp_path / "hyp.trn").write_text("".join(hyps))
    return tmp_path / "ref.trn", tmp_path / "hyp.trn", pairs


def _ours(ref: Path, hyp: Path, *extra: str) -> tuple[int, ...]:
    out = run_cli("score", "--ref", str(ref), "--hyp", str(hyp), "--iterations", "100", *extra)
    assert out.returncode == 0, out.stderr
    m = WORDS_LINE.search(out.stdout.replace("\n", " "))
    assert m, out.stdout
    return tuple(int(g) for g in m.groups())


def test_score_hand_computed_ties_as_sclite(tmp_path: Path):
    (tmp_path / "r.trn").write_text("a b c d (spk1-u1)\nthe cat sat (spk1-u2)\nx y (spk2-u1)\na b (spk2-u2)\n")
    (tmp_path / "h.trn").write_text("a c d e (spk1-u1)\nthe bat sat on (spk1-u2)\n (spk2-u1)\nb c (spk2-u2)\n")
    # sclite 2.4.10 prints Sum: 11 words, Corr 6, Sub 1, Del 4, Ins 3, Err 8, S.Err 4 (kaldialign agrees here)
    for rule in ("sclite", "kaldialign"):
        assert _ours(tmp_path / "r.trn", tmp_path / "h.trn", "--alignment", rule) == (11, 8, 1, 4, 3, 6, 4, 4)


def test_score_totals_equal_kaldialign_on_random_pairs(tmp_path: Path):
    ref, hyp, pairs = _random_trn(tmp_path, 400, seed=11)
    k = [kaldialign.edit_distance(r, h) for r, h in pairs]
    sub, dele, ins = (sum(x[key] for x in k) for key in ("sub", "del", "ins"))
    words = sum(len(r) for r, _ in pairs)
    assert _ours(ref, hyp, "--alignment", "kaldialign")[:5] == (words, sub + dele + ins, sub, dele, ins)


@pytest.mark.skipif(SCLITE is None, reason="sclite (Debian package sctk) is not installed")
def test_score_totals_equal_sclite(tmp_path: Path):
    ref, hyp, _ = _random_trn(tmp_path, 400, seed=5)
    out = subprocess.run([SCLITE, "-r", str(ref), "trn", "-h", str(hyp), "trn", "-i", "rm", "-o", "rsum", "stdout"],
                         capture_output=True, text=True, check=True).stdout
    row = next(line for line in out.splitlines() if "| Sum " in line)
    snt, wrd, corr, sub, dele, ins, err, serr = (int(x) for x in re.findall(r"\d+", row))
    assert _ours(ref, hyp) == (wrd, err, sub, dele, ins, corr, serr, snt)


def test_transcript_files_and_bad_lines(tmp_path: Path):
    (tmp_path / "a.jsonl").write_text('{"audio_filepath": "x/u1.wav", "text": "Ref one", "pred_text": "hyp one"}\n')
    assert read_transcripts(tmp_path / "a.jsonl")["u1"].text == "hyp one"
    assert read_transcripts(tmp_path / "a.jsonl", hypothesis=False)["u1"].text == "Ref one"
    (tmp_path / "k.txt").write_text("u1 hello  world\nu2\n")
    assert {k: t.text for k, t in read_transcripts(tmp_path / "k.txt").items()} == {"u1": "hello world", "u2": ""}
    (tmp_path / "bad.trn").write_text("no id here\n")
    with pytest.raises(TranscriptError, match=r"bad.trn:1: expected `text \(utterance-id\)`"):
        read_transcripts(tmp_path / "bad.trn")
    (tmp_path / "dup.txt").write_text("u1 a\nu1 b\n")
    with pytest.raises(TranscriptError, match="dup.txt:2: utterance id 'u1' appears twice"):
        read_transcripts(tmp_path / "dup.txt")


def test_import_adds_a_job_run_that_report_and_compare_treat_like_any(tmp_path: Path, sqlite_url: str):
    import json

    from conftest import REPO

    root = REPO / "data" / "demo_librispeech" / "LibriSpeech"
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"name": "imp", "providers": [{"name": "mock"}],
                               "datasets": [{"name": "librispeech", "root": str(root)}],
                               "evaluation": {"normalizer": "basic", "bootstrap_iterations": 50}}))
    assert run_cli("run", "--config", str(job), "--db", sqlite_url, "--quiet").returncode == 0
    lines = []
    for trans in sorted(root.glob("demo-clean/*/*/*.trans.txt")):
        for line in trans.read_text().splitlines():
            uid, text = line.split(" ", 1)
            if uid.endswith("0000"):
                continue  # left out: recorded as a failure, not an empty transcript
            lines.append(json.dumps({"audio_filepath": f"{uid}.flac", "text": text, "pred_text": text.lower()}))
    (tmp_path / "oasr.jsonl").write_text("\n".join(lines) + "\n")
    out = run_cli("import", "1", "--system", "elsewhere/model-x", "--hyp", str(tmp_path / "oasr.jsonl"), "--db", sqlite_url)
    assert out.returncode == 0, out.stderr
    assert "imported 34 prediction(s) as job run 2" in out.stdout and "6 utterance(s) without a line" in out.stdout
    report = run_cli("report", "1", "--wide", "--out", str(tmp_path / "r.html"), "--db", sqlite_url)
    assert report.returncode == 0 and "elsewhere/model-x" in report.stdout
    compared = run_cli("compare", "1", "2", "--iterations", "100", "--db", sqlite_url)
    assert compared.returncode == 0 and "N both" in compared.stdout
    bad = tmp_path / "bad.txt"
    bad.write_text("no-such-utt hello\n")
    refused = run_cli("import", "1", "--system", "x/y", "--hyp", str(bad), "--db", sqlite_url)
    assert refused.returncode != 0 and "not utterances of benchmark 1" in refused.stderr


def test_score_offers_exactly_the_aligners_tie_rules():
    from spectragram_bench.commands.score import RULES
    from spectragram_bench.core import align

    assert RULES == align.RULES


def test_a_chunked_leaderboard_manifest_is_merged_per_parent(tmp_path: Path, caplog):
    """Rows with parent_id/chunk_index (the Open ASR Leaderboard's long-form manifests) become one
    transcript per recording, as its merge_chunked_manifest does: predictions joined in chunk
    order (a null prediction skipped), the reference of chunk 0."""
    rows = [
        {"audio_filepath": "a_1.wav", "parent_id": "a", "chunk_index": 1, "text": "one two three four", "pred_text": "three for"},
        {"audio_filepath": "a_0.wav", "parent_id": "a", "chunk_index": 0, "text": "one two three four", "pred_text": " one  two "},
        {"audio_filepath": "b_0.wav", "parent_id": "b", "chunk_index": 0, "text": "five six", "pred_text": None},
        {"audio_filepath": "b_2.wav", "parent_id": "b", "chunk_index": 2, "text": "five six", "pred_text": "six"},
        {"audio_filepath": "c.wav", "text": "seven", "pred_text": "seven"},
    ]
    manifest = tmp_path / "MODEL_x_DATASET_y.jsonl"
    manifest.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    with caplog.at_level("WARNING"):
        hyp = read_transcripts(manifest)
    assert {k: t.text for k, t in hyp.items()} == {"c": "seven", "a": "one two three for", "b": "six"}
    assert "chunk indices of b are not 0..1 (0, 2)" in caplog.text
    ref = read_transcripts(manifest, hypothesis=False)
    assert {k: t.text for k, t in ref.items()} == {"c": "seven", "a": "one two three four", "b": "five six"}
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"parent_id": "a", "chunk_index": "0", "pred_text": "x"}) + "\n")
    with pytest.raises(TranscriptError, match=r"bad.jsonl:1: a chunk row needs an integer chunk_index"):
        read_transcripts(bad)
    result = run_cli("score", "--ref", str(manifest), "--hyp", str(manifest))
    assert result.returncode == 0, result.stderr
    assert "28.57%" in result.stdout and "7 reference, 2 errors = 1 substitutions + 1 deletions" in result.stdout
