"""AssemblyAI (job-based: upload, transcript, poll, delete) against a fake speaking its wire format,
driven by the executor's job lifecycle."""

from __future__ import annotations

import json

import pytest
from conftest import DEMO_ROOT, REPO, run_cli
from fakes import Fault
from fakes.adapter_calls import run_job_file
from fakes.harness import files_containing, reference_transcripts, rows
from fakes.job_calls import FLACS, demo_items, job_provider, run_jobs

from spectragram_bench.core.config import ProviderConfig
from spectragram_bench.core.errors import ConfigError
from spectragram_bench.providers.assemblyai import AssemblyAIProvider


def provider(server, model: str = "universal-3-pro", **kw) -> AssemblyAIProvider:
    return job_provider(AssemblyAIProvider, server, model, **kw)


def test_one_job_upload_submit_poll_delete(fake_assemblyai):
    (result,), ex = run_jobs(provider(fake_assemblyai, params={"speaker_labels": True, "language_code": "en"}), demo_items())
    assert result.ok, result.error_text
    methods = [(r.method, r.path.rsplit("/", 1)[0] if r.path.count("/") > 2 else r.path) for r in fake_assemblyai.requests]
    assert methods == [("POST", "/v2/upload"), ("POST", "/v2/transcript"), ("GET", "/v2/transcript"),
                       ("GET", "/v2/transcript"), ("GET", "/v2/transcript"), ("DELETE", "/v2/transcript")]
    upload, submit = fake_assemblyai.requests[:2]
    assert upload.headers["Authorization"] == fake_assemblyai.api_key  # no scheme
    assert upload.body_bytes == FLACS[0].stat().st_size  # the file as it is on disk
    assert json.loads(submit.fields["speech_models"][0]) == ["universal-3-pro"]
    assert json.loads(submit.fields["audio_url"][0]).startswith("https://cdn.assemblyai.com/upload/")
    assert json.loads(submit.fields["language_code"][0]) == "en"
    words = result.words
    assert [w["word"] for w in words] == fake_assemblyai.default_text.split()
    assert words[0]["start"] == 0.0 and 0 < words[-1]["end"] < 20 and words[0]["confidence"] == 0.93
    assert words[0]["speaker"] == "A"
    meta = result.latency_meta
    assert meta["polls"] == 3 and meta["cleanup"] == "deleted" and meta["attempts_by_step"] == {
        "upload": 1, "submit": 1, "poll": 3, "fetch": 1, "cleanup": 1}
    assert meta["upload_ms"] > 0 and meta["submit_ms"] > 0 and meta["submit_to_done_ms"] >= meta["submit_ms"]
    assert result.api_time_ms >= meta["submit_to_done_ms"] and result.total_time_ms >= result.api_time_ms
    assert [e["step"] for e in meta["attempt_log"]] == ["upload", "submit", "poll", "poll", "poll", "fetch", "cleanup"]
    assert ex.model_revision == "universal-3-pro" and meta["audio_duration"] >= 1
    (job,) = fake_assemblyai.jobs.values()
    assert job.deleted and fake_assemblyai.deletions() == [f"/v2/transcript/{job.id}"]


def test_a_job_that_ends_in_error_is_the_utterances_failure_with_the_vendors_message(fake_assemblyai):
    fake_assemblyai.fail_jobs.append("Transcoding failed. File does not appear to contain audio.")
    (failed, ok), _ = run_jobs(provider(fake_assemblyai, concurrency=1), demo_items(2))
    assert failed.error_kind == "utterance" and not failed.ok
    assert "failed at the vendor (error): Transcoding failed. File does not appear to contain audio." in failed.error_text
    assert ok.ok
    assert len(fake_assemblyai.deletions()) == 2  # the failed transcript is deleted too


def test_429_waits_for_the_vendors_reset_hint(fake_assemblyai):
    fake_assemblyai.inject_at("submit", Fault.http(429, X_RateLimit_Reset="0.2"))
    (result,), ex = run_jobs(provider(fake_assemblyai), demo_items())
    assert result.ok and ex.stats.rate_limited == 1
    entry = next(e for e in result.latency_meta["attempt_log"] if e.get("status") == 429)
    assert entry["retry_after_s"] == 0.2 and entry["step"] == "submit"


def test_job_timeout_bounds_the_whole_job(fake_assemblyai):
    fake_assemblyai.pending_states = ("queued",) * 1000
    (result,), _ = run_jobs(provider(fake_assemblyai, job_timeout_s=0.5, poll_interval_s=0.05), demo_items())
    assert result.error_kind == "retryable"
    assert "not finished within 0.5 s (job_timeout_s; last status: queued)" in result.error_text
    assert fake_assemblyai.deletions()  # the unfinished transcript is deleted as well


def test_reserved_params_are_refused():
    with pytest.raises(ConfigError, match="params.speech_models is set by the adapter"):
        AssemblyAIProvider(ProviderConfig(name="assemblyai", model="universal-2", params={"speech_models": ["x"]}))


@pytest.mark.slow
def test_job_file_runs_against_the_fake(fake_assemblyai, tmp_path):
    """jobs/assemblyai_librispeech.json unchanged except base_url and a short poll interval."""
    reference_transcripts(fake_assemblyai, DEMO_ROOT)
    result, db, job = run_job_file("assemblyai_librispeech.json", fake_assemblyai, tmp_path,
                                   {"ASSEMBLYAI_API_KEY": fake_assemblyai.api_key}, run_cli, poll_interval_s=0.05)
    assert result.returncode == 0, result.stderr
    runs = rows(db, "SELECT status, model_revision FROM job_run ORDER BY job_run_id")
    assert [(r["status"], r["model_revision"]) for r in runs] == [("completed", "universal-3-pro"), ("completed", "universal-2")]
    assert rows(db, "SELECT count(*) AS n FROM prediction WHERE status = 'ok'")[0]["n"] == 8
    assert [w["value"] for w in rows(db, "SELECT value FROM metric_summary WHERE metric = 'wer'")] == [0.0, 0.0]
    costs = rows(db, "SELECT price_usd, extra_json FROM cost_summary ORDER BY job_run_id")
    assert [json.loads(c["extra_json"])["usd_per_minute"] for c in costs] == [0.0035, 0.0025]
    assert len(fake_assemblyai.deletions()) == 8 and all(j.deleted for j in fake_assemblyai.jobs.values())
    assert files_containing(tmp_path, fake_assemblyai.api_key) == []


def test_job_file_is_valid():
    from spectragram_bench.core.config import load_config

    config = load_config(REPO / "jobs" / "assemblyai_librispeech.json")
    assert {p.name for p in config.providers} == {"assemblyai"}
