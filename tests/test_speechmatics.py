"""Speechmatics batch (jobs, status, json-v2 transcript, delete) against a fake speaking its wire
format, driven by the executor's job lifecycle."""

from __future__ import annotations

import json

import pytest
from conftest import DEMO_ROOT, run_cli
from fakes.adapter_calls import run_job_file
from fakes.harness import reference_transcripts, rows
from fakes.job_calls import demo_items, job_provider, run_jobs

from spectragram_bench.core.config import ProviderConfig
from spectragram_bench.core.errors import ConfigError
from spectragram_bench.providers.speechmatics import SpeechmaticsProvider, json_v2_words


def provider(server, model: str = "enhanced", **kw) -> SpeechmaticsProvider:
    return job_provider(SpeechmaticsProvider, server, model, **kw)


def test_the_sdks_recorded_transcript_reads_as_words_and_text():
    """The reply shape of speechmatics-python tests/data/batch-job-transcript.json."""
    results = [
        {"alternatives": [{"confidence": 1.0, "content": "Tidy", "language": "en", "speaker": "UU"}],
         "end_time": 1.83, "start_time": 1.41, "type": "word"},
        {"alternatives": [{"confidence": 0.9, "content": "up", "language": "en", "speaker": "S2"}],
         "end_time": 2.37, "start_time": 2.1, "type": "word"},
        {"alternatives": [{"confidence": 1.0, "content": ".", "language": "en", "speaker": "UU"}],
         "attaches_to": "previous", "end_time": 2.37, "is_eos": True, "start_time": 2.37, "type": "punctuation"},
    ]
    words, text = json_v2_words(results)
    assert text == "Tidy up."
    assert words == [{"word": "Tidy", "start": 1.41, "end": 1.83, "confidence": 1.0},
                     {"word": "up", "start": 2.1, "end": 2.37, "confidence": 0.9, "speaker": "S2"}]


def test_one_job_submit_poll_transcript_delete(fake_speechmatics):
    (result,), ex = run_jobs(provider(fake_speechmatics, params={"language": "en", "diarization": "speaker"}), demo_items())
    assert result.ok, result.error_text
    calls = [(r.method, r.path.replace(result.latency_meta["job_id"], "{id}")) for r in fake_speechmatics.requests]
    assert calls == [("POST", "/v2/jobs"), ("GET", "/v2/jobs/{id}"), ("GET", "/v2/jobs/{id}"), ("GET", "/v2/jobs/{id}"),
                     ("GET", "/v2/jobs/{id}/transcript"), ("DELETE", "/v2/jobs/{id}")]
    submit = fake_speechmatics.requests[0]
    assert submit.headers["Authorization"] == f"Bearer {fake_speechmatics.api_key}"
    assert json.loads(submit.fields["config"][0]) == {"type": "transcription", "transcription_config": {
        "operating_point": "enhanced", "language": "en", "diarization": "speaker"}}
    assert fake_speechmatics.requests[4].query == [("format", "json-v2")]
    assert result.hyp_text == fake_speechmatics.default_text + "."
    assert [w["word"] for w in result.words] == fake_speechmatics.default_text.split()
    assert result.words[0]["speaker"] == "S1" and result.words[0]["confidence"] == 0.97
    assert ex.model_revision == "enhanced (json-v2 2.9, English)"
    meta = result.latency_meta
    assert meta["cleanup"] == "deleted" and meta["polls"] == 3 and meta["job_duration_s"] >= 1
    assert meta["attempts_by_step"] == {"upload": 1, "submit": 1, "poll": 3, "fetch": 1, "cleanup": 1}
    assert "upload_ms" not in meta  # the audio goes with the job: no separate upload
    (job,) = fake_speechmatics.jobs.values()
    assert job.deleted and fake_speechmatics.deletions() == [f"/v2/jobs/{job.id}"]


def test_a_rejected_job_is_the_utterances_failure_with_the_vendors_message(fake_speechmatics):
    fake_speechmatics.fail_jobs.append("unable to decode audio: the file is not in a supported format")
    (failed,), _ = run_jobs(provider(fake_speechmatics), demo_items())
    assert failed.error_kind == "utterance"
    assert "failed at the vendor (rejected): unable to decode audio: the file is not in a supported format" in failed.error_text
    assert fake_speechmatics.deletions()


def test_a_wrong_key_is_the_html_401_and_fatal(fake_speechmatics):
    p = provider(fake_speechmatics, concurrency=1)
    p._api_key = "wrong-key-0000"
    (result,), ex = run_jobs(p, demo_items(3))  # the run stops after the first reply
    assert result.error_kind == "fatal"
    assert ex.stats.fatal_error.startswith("HTTP 401: 401 Authorization Required (an HTML reply")


def test_base_url_in_the_sdks_form_is_the_same_host(fake_speechmatics):
    p = provider(fake_speechmatics, base_url=f"{fake_speechmatics.base_url}/v2")
    (result,), _ = run_jobs(p, demo_items())
    assert result.ok and fake_speechmatics.requests[0].path == "/v2/jobs"


def test_model_is_the_operating_point():
    with pytest.raises(ConfigError, match="operating point"):
        SpeechmaticsProvider(ProviderConfig(name="speechmatics", model="nova-3"))


@pytest.mark.slow
def test_job_file_runs_against_the_fake(fake_speechmatics, tmp_path):
    """jobs/speechmatics_librispeech.json unchanged except base_url and a short poll interval."""
    reference_transcripts(fake_speechmatics, DEMO_ROOT)
    result, db, job = run_job_file("speechmatics_librispeech.json", fake_speechmatics, tmp_path,
                                   {"SPEECHMATICS_API_KEY": fake_speechmatics.api_key}, run_cli, poll_interval_s=0.05)
    assert result.returncode == 0, result.stderr
    runs = rows(db, "SELECT status FROM job_run")
    assert [r["status"] for r in runs] == ["completed", "completed"]
    assert [w["value"] for w in rows(db, "SELECT value FROM metric_summary WHERE metric = 'wer'")] == [0.0, 0.0]
    assert len(fake_speechmatics.deletions()) == 8
