"""`evaluate` and `compare` through the real CLI, on SQLite and PostgreSQL, with the mock provider."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from spectragram_bench.core.models import BootstrapResult, JobRun, MetricSummary, Prediction, UtteranceScore
from spectragram_bench.core.persistence import open_database
from tests.conftest import DEMO_ROOT, run_cli

pytestmark = pytest.mark.slow


def _job(tmp_path: Path, root: Path) -> Path:
    job = {
        "name": "eval-cli",
        "providers": [
            {
                "name": "mock", "model": "a", "max_attempts": 1,
                "params": {"substitution_rate": 0.15, "deletion_rate": 0.03, "insertion_rate": 0.03,
                           "error_rate": 0.2},
            },
            {"name": "mock", "model": "b", "params": {"substitution_rate": 0.02, "seed": 1}},
        ],
        "datasets": [{"name": "librispeech", "root": str(root), "subsets": ["demo-clean"]}],
        "evaluation": {"normalizer": "whisper_english", "bootstrap_iterations": 500, "bootstrap_seed": 3},
    }
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job))
    return path


def _metrics(db_url: str, job_run_id: int, version: str) -> dict[str, float]:
    db = open_database(db_url)
    try:
        with db.session() as s:
            rows = s.execute(
                select(MetricSummary.metric, MetricSummary.value).where(
                    MetricSummary.job_run_id == job_run_id, MetricSummary.eval_version == version
                )
            ).all()
        return dict(rows)
    finally:
        db.dispose()


def test_evaluate_rescores_stored_predictions_under_a_new_version(db_url, tmp_path):
    corpus = tmp_path / "LibriSpeech"
    shutil.copytree(DEMO_ROOT, corpus)
    done = run_cli("run", "--config", str(_job(tmp_path, corpus)), "--db", db_url)
    assert done.returncode == 0, done.stderr  # job run A is partial (mock failures), not failed
    assert "WER 95% CI" in done.stdout
    before = _metrics(db_url, 1, "v1+whisper_english@1")
    shutil.rmtree(corpus)  # no audio left: evaluating must not need a provider or the audio

    out = run_cli("evaluate", "1", "--normalizer", "none", "--db", db_url)
    assert out.returncode == 0, out.stderr
    assert "v1+none@1" in out.stdout
    after_none = _metrics(db_url, 1, "v1+none@1")
    assert _metrics(db_url, 1, "v1+whisper_english@1") == before  # old numbers untouched
    assert after_none["wer"] != before["wer"]  # the raw text keeps case and punctuation

    again = run_cli("evaluate", "1", "--normalizer", "whisper_english", "--db", db_url)
    assert again.returncode == 0, again.stderr
    assert _metrics(db_url, 1, "v1+whisper_english@1") == before  # bit for bit, bootstrap included

    db = open_database(db_url)
    try:
        with db.session() as s:
            version = "v1+whisper_english@1"
            assert s.get(JobRun, 1).eval_version == version
            failed = s.execute(
                select(func.count()).select_from(Prediction).where(Prediction.job_run_id == 1, Prediction.status != "ok")
            ).scalar_one()
            assert failed > 0 and before["n_failed"] == failed
            assert before["n_utterances"] == 40 - failed  # failures are not scored as empty transcripts
            sums = s.execute(
                select(
                    func.sum(UtteranceScore.substitutions), func.sum(UtteranceScore.deletions),
                    func.sum(UtteranceScore.insertions), func.count(),
                ).where(UtteranceScore.job_run_id == 1, UtteranceScore.eval_version == version)
            ).one()
            assert tuple(sums) == (before["substitutions"], before["deletions"], before["insertions"],
                                   before["n_utterances"])
            boots = s.execute(
                select(BootstrapResult).where(BootstrapResult.job_run_id == 1, BootstrapResult.eval_version == version)
            ).scalars().all()
            assert {(b.metric, b.method) for b in boots} == {
                ("wer", "utterance_percentile"), ("wer", "speaker_percentile"),
                ("cer", "utterance_percentile"), ("cer", "speaker_percentile"),
            }
            assert all(b.iterations == 500 and b.seed == 3 and b.ci_low < b.ci_high for b in boots)
            view = s.execute(
                text("SELECT speaker, utterances, word_errors, ref_words, wer FROM speaker_score "
                     "WHERE job_run_id = 1 AND eval_version = :v ORDER BY speaker"), {"v": version}
            ).all()
            assert len(view) == before["n_speakers"] == 4
            assert sum(r.utterances for r in view) == before["n_utterances"]
            assert sum(r.word_errors for r in view) / sum(r.ref_words for r in view) == pytest.approx(before["wer"])
    finally:
        db.dispose()


def test_evaluate_and_compare_errors_are_one_line(db_url):
    for args, message in (
        (("evaluate", "99"), "benchmark 99 not found"),
        (("compare", "1", "99"), "job run 1 not found"),
    ):
        out = run_cli(*args, "--db", db_url)
        lines = out.stderr.strip().splitlines()
        assert out.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: ")
        assert message in lines[0]


def test_compare_prints_paired_bootstrap_and_mapsswe(db_url, tmp_path):
    done = run_cli("run", "--config", str(_job(tmp_path, DEMO_ROOT)), "--db", db_url)
    assert done.returncode == 0, done.stderr
    out = run_cli("compare", "1", "2", "--iterations", "2000", "--db", db_url)
    assert out.returncode == 0, out.stderr
    assert "P(B better)" in out.stdout and "MAPSSWE p" in out.stdout and "A-B 95% CI" in out.stdout
    assert "paired bootstrap 2000 resamples, seed 3" in out.stdout
    assert "B has the lower WER" in out.stdout and "excludes 0" in out.stdout
    assert "transcribed by A only" in out.stdout  # A's failures are left out, and said so
    same = run_cli("compare", "2", "2", "--db", db_url)
    assert same.returncode == 0, same.stderr
    assert "no significant difference" in same.stdout
    unknown = run_cli("compare", "1", "2", "--normalizer", "klingon", "--db", db_url)
    assert unknown.returncode == 2 and "unknown normalizer 'klingon'" in unknown.stderr
