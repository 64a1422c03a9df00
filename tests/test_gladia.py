"""Gladia pre-recorded v2 (job-based: upload, pre-recorded job, poll, delete) against a fake speaking
its wire format, driven by the executor's job lifecycle."""

from __future__ import annotations

import json

import pytest
from conftest import DEMO_ROOT, REPO, run_cli
from fakes.adapter_calls import assert_job_file_ran, run_job_file
from fakes.harness import files_containing, reference_transcripts, rows
from fakes.job_calls import FLACS, demo_items, job_provider, run_jobs

from spectragram_bench.core.config import ProviderConfig
from spectragram_bench.core.errors import ConfigError
from spectragram_bench.providers.gladia import GladiaProvider, utterance_words


def provider(server, model: str = "solaria-1", **kw) -> GladiaProvider:
    return job_provider(GladiaProvider, server, model, **kw)


def test_the_sdks_result_shape_reads_as_words_with_speakers():
    """Utterances as the SDK's PreRecordedV2Utterance / PreRecordedV2Word declare them."""
    words = utterance_words([
        {"start": 0.2, "end": 0.9, "confidence": 0.9, "channel": 0, "speaker": 1, "text": "Split infinity",
         "language": "en", "words": [{"word": "Split", "start": 0.21, "end": 0.69, "confidence": 0.9},
                                     {"word": " infinity", "start": 0.69, "end": 0.9, "confidence": 0.8}]},
        {"start": 1.0, "end": 1.2, "confidence": 0.7, "channel": 0, "text": "ok", "language": "en",
         "words": [{"word": " ok", "start": 1.0, "end": 1.2, "confidence": 0.7}]},
    ])
    assert words == [{"word": "Split", "start": 0.21, "end": 0.69, "confidence": 0.9, "speaker": 1},
                     {"word": "infinity", "start": 0.69, "end": 0.9, "confidence": 0.8, "speaker": 1},
                     {"word": "ok", "start": 1.0, "end": 1.2, "confidence": 0.7}]


def test_one_job_upload_create_poll_delete(fake_gladia):
    (result,), ex = run_jobs(provider(fake_gladia, params={"diarization": True}), demo_items())
    assert result.ok, result.error_text
    job_id = result.latency_meta["job_id"]
    calls = [(r.method, r.path.replace(job_id, "{id}")) for r in fake_gladia.requests]
    assert calls == [("POST", "/v2/upload"), ("POST", "/v2/pre-recorded"), ("GET", "/v2/pre-recorded/{id}"),
                     ("GET", "/v2/pre-recorded/{id}"), ("GET", "/v2/pre-recorded/{id}"),
                     ("DELETE", "/v2/pre-recorded/{id}")]
    upload, create = fake_gladia.requests[:2]
    assert upload.headers["x-gladia-key"] == fake_gladia.api_key and "Authorization" not in upload.headers
    assert upload.file_name == FLACS[0].name and upload.body_bytes > FLACS[0].stat().st_size  # the file, in `audio`
    assert json.loads(create.fields["audio_url"][0]).startswith("https://api.gladia.io/file/")
    assert "model" not in create.fields  # the pre-recorded API has no model field (the fake refuses unknown ones)
    assert json.loads(create.fields["diarization"][0]) is True
    assert result.hyp_text == fake_gladia.default_text[:1].upper() + fake_gladia.default_text[1:] + "."
    assert [w["word"] for w in result.words] == fake_gladia.default_text.split()  # leading spaces stripped
    assert result.words[0]["speaker"] == 0 and result.words[0]["confidence"] == 0.96
    assert result.billed_seconds == pytest.approx(result.usage["billing_time"]) and result.billed_seconds > 1
    meta = result.latency_meta
    assert meta["polls"] == 3 and meta["cleanup"] == "deleted"
    assert meta["attempts_by_step"] == {"upload": 1, "submit": 1, "poll": 3, "fetch": 1, "cleanup": 1}
    assert ex.model_revision == "solaria-1"
    assert fake_gladia.deletions() == [f"/v2/pre-recorded/{job_id}"] and fake_gladia.jobs[job_id].deleted


def test_the_datasets_language_becomes_language_config(fake_gladia):
    from fakes.adapter_calls import LanguageItem

    item = LanguageItem(1, 1, FLACS[0].stem, str(FLACS[0]), None, language="fr")
    (result,), _ = run_jobs(provider(fake_gladia), [item])
    assert result.ok, result.error_text
    create = fake_gladia.requests[1]
    assert json.loads(create.fields["language_config"][0]) == {"languages": ["fr"], "code_switching": False}


def test_a_job_that_ends_in_error_is_the_utterances_failure_with_its_error_code(fake_gladia):
    fake_gladia.fail_jobs.append("422")
    (failed, ok), _ = run_jobs(provider(fake_gladia, concurrency=1), demo_items(2))
    assert not failed.ok and failed.error_kind == "utterance"
    assert "failed at the vendor (error): error_code 422" in failed.error_text
    assert ok.ok
    assert len(fake_gladia.deletions()) == 2  # the failed job is deleted too


def test_a_job_gladia_fails_with_a_5xx_code_is_retryable(fake_gladia):
    fake_gladia.fail_jobs.append("500")
    (failed,), _ = run_jobs(provider(fake_gladia), demo_items())
    assert failed.error_kind == "retryable" and "error_code 500" in failed.error_text


def test_a_wrong_key_is_gladias_401_and_stops_the_run(fake_gladia):
    p = provider(fake_gladia)
    p._api_key = "wrong-key-0123456789"
    (result,), ex = run_jobs(p, demo_items())
    assert result.error_kind == "fatal" and "HTTP 401: Invalid or missing x-gladia-key" in result.error_text
    assert len(fake_gladia.requests) == 1


def test_an_unknown_request_field_fails_with_gladias_validation_errors(fake_gladia):
    (result,), _ = run_jobs(provider(fake_gladia, params={"speech_model": "x"}), demo_items())
    assert result.error_kind == "utterance"
    assert "property speech_model should not exist" in result.error_text


def test_a_job_not_done_in_time_is_kept_as_gladia_refuses_deleting_it(fake_gladia):
    fake_gladia.pending_states = ("queued",) * 1000
    (result,), ex = run_jobs(provider(fake_gladia, job_timeout_s=0.4, poll_interval_s=0.05), demo_items())
    assert "not finished within 0.4 s" in result.error_text
    assert fake_gladia.deletions() == [] and ex.stats.cleanup_failed == 0
    assert result.latency_meta["cleanup"].startswith("kept: Gladia refused the deletion (HTTP 403")


def test_params_that_send_the_result_elsewhere_are_refused():
    with pytest.raises(ConfigError, match="params.callback_url sends the result elsewhere"):
        GladiaProvider(ProviderConfig(name="gladia", model="solaria-1", params={"callback_url": "https://x"}))


@pytest.mark.slow
def test_job_file_runs_against_the_fake(fake_gladia, tmp_path):
    """jobs/gladia_librispeech.json unchanged except base_url and a short poll interval."""
    reference_transcripts(fake_gladia, DEMO_ROOT)
    result, db, job = run_job_file("gladia_librispeech.json", fake_gladia, tmp_path,
                                   {"GLADIA_API_KEY": fake_gladia.api_key}, run_cli, poll_interval_s=0.05)
    assert_job_file_ran(result, db, job)
    assert [w["value"] for w in rows(db, "SELECT value FROM metric_summary WHERE metric = 'wer'")] == [0.0]
    (cost,) = rows(db, "SELECT seconds_billed, extra_json FROM cost_summary")
    assert json.loads(cost["extra_json"])["seconds_from_provider_usage"] == cost["seconds_billed"] > 0
    assert len(fake_gladia.deletions()) == 4 and all(j.deleted for j in fake_gladia.jobs.values())
    assert files_containing(tmp_path, fake_gladia.api_key) == []


def test_job_file_is_valid():
    from spectragram_bench.core.config import load_config

    config = load_config(REPO / "jobs" / "gladia_librispeech.json")
    assert {p.name for p in config.providers} == {"gladia"}
