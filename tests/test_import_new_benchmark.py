"""`import` without BENCHMARK_ID: a new benchmark from a manifest and predictions made elsewhere,
scored exactly as `score` scores the same files, and reported and compared like a run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import DEMO_ROOT, run_cli

from spectragram_bench.core.models import Benchmark, JobRun, Prediction, Utterance
from spectragram_bench.core.persistence import open_database


def demo_refs() -> list[tuple[str, str, str]]:
    """(utterance id, speaker, reference) of the demo corpus."""
    out = []
    for trans in sorted(DEMO_ROOT.glob("demo-clean/*/*/*.trans.txt")):
        for line in trans.read_text().splitlines():
            uid, text = line.split(" ", 1)
            out.append((uid, uid.split("-")[0], text))
    return out


def corrupt(text: str, every: int) -> str:
    """Drop every `every`-th word: a hypothesis with a known number of deletions."""
    return " ".join(w for i, w in enumerate(text.split()) if (i + 1) % every)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    refs = demo_refs()
    oasr = [json.dumps({"audio_filepath": f"/elsewhere/{uid}.flac", "duration": 2.5, "text": text,
                        "pred_text": corrupt(text, 3).lower(), "speaker": spk}) for uid, spk, text in refs]
    (tmp_path / "whisper_demo.jsonl").write_text("\n".join(oasr) + "\n")
    (tmp_path / "other.trn").write_text("".join(f"{corrupt(text, 5)} ({uid})\n" for uid, _, text in refs[1:]))
    (tmp_path / "refs.trn").write_text("".join(f"{text} ({uid})\n" for uid, _, text in refs))
    (tmp_path / "hyp_a.trn").write_text("".join(f"{corrupt(text, 3).lower()} ({uid})\n" for uid, _, text in refs))
    return {"oasr": tmp_path / "whisper_demo.jsonl", "other": tmp_path / "other.trn",
            "refs": tmp_path / "refs.trn", "hyp_a": tmp_path / "hyp_a.trn"}


def wer_line(stdout: str, system: str) -> float:
    """The WER the leaderboard prints for `system` (stacked or table layout)."""
    m = re.search(re.escape(system) + r".*?(\d+\.\d\d)%", stdout, re.S)
    assert m, stdout
    return float(m.group(1))


def test_import_creates_a_benchmark_from_an_open_asr_manifest(tmp_path: Path, files, sqlite_url: str):
    out = run_cli("import", "--system", "openai/whisper-x", "--hyp", str(files["oasr"]),
                  "--system", "acme/other", "--hyp", str(files["other"]),
                  "--name", "elsewhere", "--normalizer", "basic", "--db", sqlite_url, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    n = len(demo_refs())
    assert f"created benchmark 1 (elsewhere) from {files['oasr']}: {n} utterance(s)" in out.stdout
    assert f"imported {n} prediction(s) as job run 1 (openai/whisper-x)" in out.stdout
    assert f"imported {n - 1} prediction(s) as job run 2 (acme/other)" in out.stdout
    assert "1 utterance(s) without a line" in out.stdout
    db = open_database(sqlite_url)
    with db.session() as s:
        bench = s.get(Benchmark, 1)
        assert bench.config_json["datasets"][0]["name"] == "jsonl_manifest"
        assert bench.config_json["evaluation"]["normalizer"] == "basic"
        utt = s.query(Utterance).filter_by(external_id=demo_refs()[0][0]).one()
        assert utt.speaker == demo_refs()[0][1] and utt.duration_s == 2.5
        assert "pred_text" not in (utt.meta_json or {})  # a prediction is not a fact about the utterance
        runs = {r.label: r for r in s.query(JobRun).all()}
        assert runs["openai/whisper-x"].status == "completed" and runs["acme/other"].status == "partial"
        failed = s.query(Prediction).filter_by(job_run_id=2, status="failed").one()
        assert failed.error_kind == "utterance" and "no prediction in other.trn" in failed.error_text
    db.dispose()
    # the same numbers `score` prints for the same files (both: the basic normaliser, corpus WER)
    report = run_cli("report", "1", "--wide", "--db", sqlite_url, cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    score = run_cli("score", "--ref", str(files["refs"]), "--hyp", str(files["hyp_a"]), "--normalizer", "basic",
                    "--iterations", "50", cwd=tmp_path)
    assert score.returncode == 0, score.stderr
    scored = float(re.search(r"WER\W+(\d+\.\d\d)%", score.stdout).group(1))
    assert wer_line(report.stdout, "openai/whisper-x") == pytest.approx(scored) and scored > 20
    assert (tmp_path / "bench-benchmark-1-report.html").is_file()
    compared = run_cli("compare", "1", "2", "--iterations", "100", "--db", sqlite_url, cwd=tmp_path)
    assert compared.returncode == 0 and "N both" in compared.stdout


def test_import_creates_a_benchmark_from_trn_references(tmp_path: Path, files, sqlite_url: str):
    out = run_cli("import", "--refs", str(files["refs"]), "--system", "a/one", "--hyp", str(files["hyp_a"]),
                  "--metrics", "wer,cer", "--db", sqlite_url, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "created benchmark 1 (refs)" in out.stdout and "+m" in out.stdout  # the metric set is in the eval version
    # a second import into the benchmark just made, as into any other
    more = run_cli("import", "1", "--system", "b/two", "--hyp", str(files["other"]), "--db", sqlite_url, cwd=tmp_path)
    assert more.returncode == 0, more.stderr
    assert "as job run 2 (b/two) of benchmark 1" in more.stdout


def test_import_refusals_are_one_line_and_store_nothing(tmp_path: Path, files, sqlite_url: str):
    bad = tmp_path / "bad.trn"
    bad.write_text("hello (no-such-utt)\n")
    cases = [
        (["--system", "a/b", "--hyp", str(files["oasr"]), "--hyp", str(files["other"])], "2 --hyp; give one --system per --hyp"),
        (["--system", "a/b", "--hyp", str(files["other"])], "is not a JSON-lines manifest that could hold the references"),
        (["--refs", str(files["refs"]), "--system", "a/b", "--hyp", str(bad)], "not utterances of benchmark"),
        (["--refs", str(tmp_path / "nope.jsonl"), "--system", "a/b", "--hyp", str(files["hyp_a"])], "no such file"),
        (["--refs", str(files["refs"]), "--system", "a/b", "--hyp", str(files["hyp_a"]), "--normalizer", "nope"], "nope"),
    ]
    for args, message in cases:
        out = run_cli("import", *args, "--db", sqlite_url, cwd=tmp_path)
        assert out.returncode != 0 and message in out.stderr, (args, out.stderr)
        assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr, out.stderr
    listed = run_cli("list", "--db", sqlite_url, cwd=tmp_path)
    assert listed.returncode == 0 and "a/b" not in listed.stdout  # each refusal rolled back whole


def test_an_unusable_reference_is_an_input_failure_not_a_score(tmp_path: Path, sqlite_url: str):
    rows = [{"audio_filepath": "u1.wav", "text": "the cat sat", "pred_text": "the cat sat"},
            {"audio_filepath": "u2.wav", "text": "", "pred_text": "something"},
            {"audio_filepath": "u3.wav", "text": "a dog", "pred_text": "a log"}]
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = run_cli("import", "--system", "x/y", "--hyp", str(tmp_path / "m.jsonl"), "--normalizer", "basic",
                  "--db", sqlite_url, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "3 utterance(s); 1 with an input problem, e.g. u2: " in out.stdout and "empty transcript" in out.stdout
    assert "imported 2 prediction(s)" in out.stdout
    db = open_database(sqlite_url)
    with db.session() as s:
        failed = s.query(Prediction).filter_by(status="failed").one()
        assert failed.error_kind == "input" and "empty transcript" in failed.error_text
    db.dispose()
    report = run_cli("report", "1", "--wide", "--db", sqlite_url, cwd=tmp_path)
    assert wer_line(report.stdout, "x/y") == pytest.approx(100 / 5)  # 1 error over 5 words: u2 is not scored
