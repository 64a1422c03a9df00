"""`evaluate` and `compare` through the real CLI, on SQLite and PostgreSQL, with the mock provider."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from spectragram_bench.core.models import BootstrapResult, JobRun, MetricSummary, Prediction, UtteranceValue
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
    before = _metrics(db_url, 1, "v2+whisper_english@1")
    shutil.rmtree(corpus)  # no audio left: evaluating must not need a provider or the audio

    out = run_cli("evaluate", "1", "--normalizer", "none", "--db", db_url)
    assert out.returncode == 0, out.stderr
    assert "v2+none@1" in out.stdout
    assert "also evaluated: v2+whisper_english@1" in out.stdout  # beside the new one, not replaced
    older = run_cli("report", "1", "--eval-version", "v2+whisper_english@1", "--out", str(tmp_path / "r.html"),
                    "--db", db_url)
    assert older.returncode == 0 and "leaderboard  (eval v2+whisper_english@1)" in older.stdout
    assert "also evaluated: v2+none@1" in older.stdout
    after_none = _metrics(db_url, 1, "v2+none@1")
    assert _metrics(db_url, 1, "v2+whisper_english@1") == before  # old numbers untouched
    assert after_none["wer"] != before["wer"]  # the raw text keeps case and punctuation

    again = run_cli("evaluate", "1", "--normalizer", "whisper_english", "--db", db_url)
    assert again.returncode == 0, again.stderr
    assert _metrics(db_url, 1, "v2+whisper_english@1") == before  # bit for bit, bootstrap included

    db = open_database(db_url)
    try:
        with db.session() as s:
            version = "v2+whisper_english@1"
            assert s.get(JobRun, 1).eval_version == version
            failed = s.execute(
                select(func.count()).select_from(Prediction).where(Prediction.job_run_id == 1, Prediction.status != "ok")
            ).scalar_one()
            assert failed > 0 and before["n_failed"] == failed
            assert before["n_utterances"] == 40 - failed  # failures are not scored as empty transcripts
            sums = dict(s.execute(
                select(UtteranceValue.name, func.sum(UtteranceValue.value))
                .where(UtteranceValue.job_run_id == 1, UtteranceValue.eval_version == version)
                .group_by(UtteranceValue.name)
            ).all())
            counted = s.execute(
                select(func.count(func.distinct(UtteranceValue.utt_id)))
                .where(UtteranceValue.job_run_id == 1, UtteranceValue.eval_version == version)
            ).scalar_one()
            assert (sums["substitutions"], sums["deletions"], sums["insertions"], counted) == (
                before["substitutions"], before["deletions"], before["insertions"], before["n_utterances"])
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
    assert "sign p" in out.stdout and "Wilcoxon p" in out.stdout and "McNemar p" in out.stdout
    by = run_cli("compare", "1", "2", "--iterations", "200", "--by", "speaker", "--db", db_url)
    assert by.returncode == 0, by.stderr
    assert all(f"speaker={s}" in by.stdout for s in ("1001", "1002", "1003", "1004"))
    same = run_cli("compare", "2", "2", "--db", db_url)
    assert same.returncode == 0, same.stderr
    assert "no significant difference" in same.stdout
    unknown = run_cli("compare", "1", "2", "--normalizer", "klingon", "--db", db_url)
    assert unknown.returncode == 2 and "unknown normalizer 'klingon'" in unknown.stderr


def _seed_job_run(db) -> None:
    """One job run over 4 utterances, hand-made: 2 scored with timings, 1 empty reference, 1 failed."""
    from spectragram_bench.core.models import (
        Benchmark,
        CostSummary,
        Dataset,
        DatasetVariant,
        LatencySample,
        Model,
        Provider,
        Utterance,
    )

    with db.transaction() as s:
        for parent in (  # flushed one by one: the schema has foreign keys but no ORM relationships
            Provider(provider_id=1, name="hand"),
            Model(model_id=1, provider_id=1, name="m", params_hash="x"),
            Benchmark(benchmark_id=1, config_json={"evaluation": {
                "normalizer": "basic", "bootstrap_iterations": 200, "bootstrap_seed": 5}}),
            Dataset(dataset_id=1, name="d", source="s"),
            DatasetVariant(variant_id=1, dataset_id=1, split="t", variant_key="k", variant_json={"kind": "clean"}),
            JobRun(job_run_id=1, benchmark_id=1, provider_id=1, model_id=1, status="partial"),
        ):
            s.add(parent)
            s.flush()
        texts = [("THE CAT SAT", "the cat sat", 2.0, 100.0, 50.0), ("A B C D", "a x c", 3.0, 200.0, 80.0),
                 ("", "uh huh", 1.0, 300.0, None), ("LOST", None, 4.0, None, None)]
        for i, (ref, hyp, dur, api, ttft) in enumerate(texts, start=1):
            s.add(Utterance(utt_id=i, dataset_id=1, variant_id=1, external_id=str(i), audio_path="-",
                            ref_text=ref, duration_s=dur, speaker=["s1", "s1", "s2", "s3"][i - 1]))
            s.flush()
            s.add(Prediction(job_run_id=1, utt_id=i, status="ok" if hyp is not None else "failed", hyp_text=hyp))
            if api is not None:
                meta = {"audio_s": dur, **({"time_to_first_token_ms": ttft} if ttft is not None else {})}
                s.add(LatencySample(job_run_id=1, utt_id=i, api_time_ms=api, total_time_ms=api + 10,
                                    rtf=api / 1000 / dur, meta_json=meta))
        s.add(CostSummary(job_run_id=1, seconds_billed=6.0, price_usd=0.012))


def test_pipeline_hand_computed_rows(db_url):
    from spectragram_bench.core.normalize import BASIC
    from spectragram_bench.evaluations.v1.pipeline import evaluate_job_run

    db = open_database(db_url)
    try:
        _seed_job_run(db)
        with db.transaction() as s:
            assert evaluate_job_run(s, 1, BASIC) == "v2+basic@1"
        m = _metrics(db_url, 1, "v2+basic@1")
        # the cat sat: 3 hits; a b c d / a x c: 2 hits, 1 S, 1 D; "" / uh huh: 2 I; LOST failed, not scored
        assert (m["n_utterances"], m["n_failed"], m["n_empty_refs"]) == (3, 1, 1)
        assert (m["hits"], m["substitutions"], m["deletions"], m["insertions"]) == (5, 1, 1, 2)
        assert m["wer"] == pytest.approx(4 / 7) and m["ser"] == pytest.approx(2 / 3)
        assert m["audio_seconds"] == 6.0
        assert m["latency_api_ms_mean"] == 200.0 and m["latency_api_ms_max"] == 300.0
        assert m["latency_total_ms_p50"] == 210.0
        assert m["latency_ttft_ms_mean"] == 65.0 and m["latency_ttft_ms_max"] == 80.0
        assert m["rtfx"] == pytest.approx(6.0 / 0.6)  # audio seconds / API seconds
        assert m["rtf_mean"] == pytest.approx((0.05 + 0.2 / 3 + 0.3) / 3)
        assert m["cost_usd"] == 0.012 and m["cost_usd_per_audio_hour"] == pytest.approx(0.012 / (6 / 3600))
        assert m["n_speakers"] == 2  # s3 spoke only the failed utterance
        with db.session() as s:
            boots = s.execute(select(BootstrapResult)).scalars().all()
        assert {(b.metric, b.method, b.iterations, b.seed) for b in boots} == {
            (metric, method, 200, 5) for metric in ("wer", "cer")
            for method in ("utterance_percentile", "speaker_percentile")
        }
    finally:
        db.dispose()


def test_failures_as_empty_is_its_own_eval_version(db_url):
    from spectragram_bench.core.normalize import BASIC
    from spectragram_bench.evaluations.v1.pipeline import evaluate_job_run

    db = open_database(db_url)
    try:
        _seed_job_run(db)
        with db.transaction() as s:
            default = evaluate_job_run(s, 1, BASIC)
            kaldi_all = evaluate_job_run(s, 1, BASIC, failures_as_empty=True)
        assert default == "v2+basic@1" and kaldi_all == "v2+basic@1+failures_as_empty"
        m, before = _metrics(db_url, 1, kaldi_all), _metrics(db_url, 1, default)
        assert before["wer"] == pytest.approx(4 / 7)  # untouched by the opt-in
        # the failed utterance (reference "lost", one word) now counts as one deletion
        assert (m["n_utterances"], m["n_failed"]) == (4, 1)
        assert m["deletions"] == before["deletions"] + 1 and m["wer"] == pytest.approx(5 / 8)
        with db.session() as s:
            label = s.execute(text("SELECT label FROM evaluation WHERE eval_version = :v"), {"v": kaldi_all}).scalar_one()
        assert "failed predictions scored as empty" in label
    finally:
        db.dispose()
