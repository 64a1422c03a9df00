"""Rev.ai asynchronous jobs (submit, details, transcript, delete) against a fake speaking its wire
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
from spectragram_bench.providers.revai import RevAIProvider, monologue_words


def provider(server, model: str = "machine", **kw) -> RevAIProvider:
    return job_provider(RevAIProvider, server, model, **kw)


def test_the_sdks_transcript_shape_reads_as_words_and_text():
    """Elements as revai-python-sdk's Element.to_dict gives them (tests/test_transcript.py)."""
    words, text = monologue_words([
        {"speaker": 1, "elements": [
            {"type": "text", "value": "Hello", "ts": 0.75, "end_ts": 1.25, "confidence": 0.85},
            {"type": "punct", "value": " "},
            {"type": "text", "value": "world", "ts": 1.25, "end_ts": 1.5, "confidence": 0.9},
            {"type": "punct", "value": "."}]},
        {"speaker": 2, "elements": [{"type": "text", "value": "Hi", "ts": 2.0, "end_ts": 2.2, "confidence": 0.8}]},
    ])
    assert text == "Hello world. Hi"
    assert words[0] == {"word": "Hello", "start": 0.75, "end": 1.25, "confidence": 0.85, "speaker": 1}
    assert [w["speaker"] for w in words] == [1, 1, 2]


def test_one_job_submit_poll_transcript_delete(fake_revai):
    (result,), ex = run_jobs(provider(fake_revai, params={"language": "en"}), demo_items())
    assert result.ok, result.error_text
    job_id = result.latency_meta["job_id"]
    calls = [(r.method, r.path.replace(job_id, "{id}")) for r in fake_revai.requests]
    base = "/speechtotext/v1/jobs"
    assert calls == [("POST", base), ("GET", f"{base}/{{id}}"), ("GET", f"{base}/{{id}}"), ("GET", f"{base}/{{id}}"),
                     ("GET", f"{base}/{{id}}/transcript"), ("DELETE", f"{base}/{{id}}")]
    submit, transcript = fake_revai.requests[0], fake_revai.requests[4]
    assert submit.headers["Authorization"] == f"Bearer {fake_revai.api_key}"
    assert json.loads(submit.fields["options"][0]) == {"transcriber": "machine", "language": "en"}
    assert transcript.headers["Accept"] == "application/vnd.rev.transcript.v1.0+json"
    assert result.hyp_text == fake_revai.default_text + "."
    assert [w["word"] for w in result.words] == fake_revai.default_text.split()
    assert result.words[0]["speaker"] == 0 and result.words[0]["confidence"] == 0.95
    assert result.latency_meta["cleanup"] == "deleted" and result.latency_meta["duration_seconds"] > 0
    assert ex.model_revision == "machine"
    assert fake_revai.deletions() == [f"{base}/{job_id}"] and fake_revai.jobs[job_id].deleted


def test_a_failed_job_is_the_utterances_failure_with_the_vendors_message(fake_revai):
    fake_revai.fail_jobs.append("The media file could not be processed")
    (failed,), _ = run_jobs(provider(fake_revai), demo_items())
    assert failed.error_kind == "utterance"
    assert "failed at the vendor (failed): processing_failed: The media file could not be processed" in failed.error_text


def test_transcriber_comes_from_model():
    with pytest.raises(ConfigError, match="params.transcriber is set from"):
        RevAIProvider(ProviderConfig(name="revai", model="machine", params={"transcriber": "fusion"}))


@pytest.mark.slow
def test_job_file_runs_against_the_fake(fake_revai, tmp_path):
    reference_transcripts(fake_revai, DEMO_ROOT)
    result, db, _job = run_job_file("revai_librispeech.json", fake_revai, tmp_path,
                                    {"REVAI_ACCESS_TOKEN": fake_revai.api_key}, run_cli, poll_interval_s=0.05)
    assert result.returncode == 0, result.stderr
    assert [r["status"] for r in rows(db, "SELECT status FROM job_run")] == ["completed"]
    assert [w["value"] for w in rows(db, "SELECT value FROM metric_summary WHERE metric = 'wer'")] == [0.0]
    assert len(fake_revai.deletions()) == 4
