"""Soniox async (job-based: file, transcription, poll, transcript, delete both) against a fake
speaking its wire format, driven by the executor's job lifecycle, and the token -> word joining
shared with the real-time adapter (the official SDK against the same fake: test_official_sdks.py)."""

from __future__ import annotations

import asyncio
import json

import pytest
from conftest import DEMO_ROOT, REPO, run_cli
from fakes import Fault
from fakes.adapter_calls import LanguageItem, assert_job_file_ran, run_job_file
from fakes.fake_soniox_live import FakeSonioxLive
from fakes.harness import files_containing, reference_transcripts, rows
from fakes.job_calls import FLACS, demo_items, job_provider, run_jobs
from fakes.live_base import StreamScript

from spectragram_bench.core.config import ProviderConfig
from spectragram_bench.core.errors import ConfigError
from spectragram_bench.core.records import WorkItem
from spectragram_bench.providers.soniox import SonioxProvider
from spectragram_bench.providers.soniox_live import SonioxLive
from spectragram_bench.providers.soniox_tokens import tokens_text, tokens_words, transcript_tokens


def provider(server, model: str = "stt-async-v4", **kw) -> SonioxProvider:
    return job_provider(SonioxProvider, server, model, **kw)


def test_word_pieces_join_into_words_with_their_punctuation():
    tokens = transcript_tokens([
        {"text": "Hel", "start_ms": 100, "end_ms": 200, "confidence": 0.9, "speaker": "1"},
        {"text": "lo", "start_ms": 200, "end_ms": 300, "confidence": 0.7, "speaker": "1"},
        {"text": " world", "start_ms": 350, "end_ms": 700, "confidence": 0.95, "speaker": "2"},
        {"text": ".", "start_ms": 700, "end_ms": 720, "confidence": 0.99, "speaker": "2"},
        {"text": " Hola", "start_ms": 0, "end_ms": 0, "translation_status": "translation"},
        {"text": "<end>", "is_final": True},
    ])
    assert tokens_text(tokens) == "Hello world."
    assert tokens_words(tokens) == [
        {"word": "Hello", "start": 0.1, "end": 0.3, "confidence": 0.7, "speaker": "1"},
        {"word": "world.", "start": 0.35, "end": 0.72, "confidence": 0.95, "speaker": "2"},
    ]


def test_one_job_file_transcription_poll_transcript_delete_both(fake_soniox):
    item = LanguageItem(1, 1, FLACS[0].stem, str(FLACS[0]), None, language="en")
    (result,), ex = run_jobs(provider(fake_soniox, params={"enable_speaker_diarization": True}), [item])
    assert result.ok, result.error_text
    job_id = result.latency_meta["job_id"]
    file_id = next(iter(fake_soniox.jobs.values())).request["file_id"]
    calls = [(r.method, r.path.replace(job_id, "{id}").replace(file_id, "{file}")) for r in fake_soniox.requests]
    assert calls == [("POST", "/v1/files"), ("POST", "/v1/transcriptions"), ("GET", "/v1/transcriptions/{id}"),
                     ("GET", "/v1/transcriptions/{id}"), ("GET", "/v1/transcriptions/{id}"),
                     ("GET", "/v1/transcriptions/{id}/transcript"), ("DELETE", "/v1/transcriptions/{id}"),
                     ("DELETE", "/v1/files/{file}")]
    upload, create = fake_soniox.requests[:2]
    assert upload.headers["Authorization"] == f"Bearer {fake_soniox.api_key}" and upload.file_name == FLACS[0].name
    body = {k: json.loads(v[0]) for k, v in create.fields.items()}
    assert body == {"model": "stt-async-v4", "file_id": file_id, "language_hints": ["en"], "enable_speaker_diarization": True}
    text = fake_soniox.default_text
    assert result.hyp_text == text + "."
    assert [w["word"] for w in result.words] == text.split()[:-1] + [text.split()[-1] + "."]  # pieces joined
    assert result.words[1] == {**result.words[1], "word": "quick", "confidence": 0.91, "speaker": "1"}
    assert result.words[0]["start"] == 0.0 and result.words[-1]["end"] > 1
    meta = result.latency_meta
    assert meta["polls"] == 3 and meta["cleanup"] == "deleted" and meta["audio_duration_ms"] > 1000
    assert ex.model_revision == "stt-async-v4"
    assert fake_soniox.deletions() == [f"/v1/transcriptions/{job_id}", f"/v1/files/{file_id}"]
    assert fake_soniox.files == {} and fake_soniox.jobs[job_id].deleted


def test_a_job_that_ends_in_error_is_the_utterances_failure_with_the_vendors_message(fake_soniox):
    fake_soniox.fail_jobs.append("Audio file could not be decoded.")
    (failed, ok), _ = run_jobs(provider(fake_soniox, concurrency=1), demo_items(2))
    assert not failed.ok and failed.error_kind == "utterance"
    assert "failed at the vendor (error): audio_decode_error: Audio file could not be decoded." in failed.error_text
    assert ok.ok
    assert len(fake_soniox.deletions("/v1/transcriptions/")) == 2 and fake_soniox.files == {}


def test_a_404_is_a_missing_file_or_transcription_so_the_utterances_not_the_runs(fake_soniox):
    fake_soniox.inject_at("fetch", Fault.http(404))
    (result,), ex = run_jobs(provider(fake_soniox), demo_items())
    assert result.error_kind == "utterance" and ex.stats.fatal_error is None
    assert "HTTP 404: not_found: Not found. [request " in result.error_text  # the body's request_id


def test_a_wrong_key_costs_one_request_and_names_sonioxs_error_type(fake_soniox):
    p = provider(fake_soniox)
    p._api_key = "wrong-key-0123456789"
    (result,), _ = run_jobs(p, demo_items())
    assert result.error_kind == "fatal" and "HTTP 401: unauthenticated: Incorrect API key provided" in result.error_text
    assert len(fake_soniox.requests) == 1


def test_a_failed_submit_still_deletes_the_uploaded_file(fake_soniox):
    fake_soniox.inject_at("submit", Fault.http(400, "Invalid model."))
    (result,), _ = run_jobs(provider(fake_soniox), demo_items())
    assert result.error_kind == "utterance" and result.latency_meta["cleanup"] == "deleted"
    assert len(fake_soniox.deletions("/v1/files/")) == 1 and fake_soniox.files == {}


def test_a_job_not_done_in_time_is_kept_as_soniox_refuses_deleting_it(fake_soniox):
    fake_soniox.pending_states = ("queued",) * 1000
    (result,), ex = run_jobs(provider(fake_soniox, job_timeout_s=0.4, poll_interval_s=0.05), demo_items())
    assert "not finished within 0.4 s" in result.error_text
    assert result.latency_meta["cleanup"].startswith("kept: Soniox refused the deletion (HTTP 409")
    assert fake_soniox.deletions() == [] and ex.stats.cleanup_failed == 0


def test_reserved_and_webhook_params_are_refused():
    with pytest.raises(ConfigError, match="params.file_id is set by the adapter"):
        SonioxProvider(ProviderConfig(name="soniox", model="stt-async-v4", params={"file_id": "x"}))
    with pytest.raises(ConfigError, match="params.webhook_url is for webhooks"):
        SonioxProvider(ProviderConfig(name="soniox", model="stt-async-v4", params={"webhook_url": "https://x"}))


class SplitWordLive(FakeSonioxLive):
    """Sends the final tokens in two responses, cutting a word in the middle (as Soniox may)."""

    def final_messages(self, session, words):
        (message,) = super().final_messages(session, words)
        body = json.loads(message)
        cut = 2  # inside "quick": "the", " qu" | "ick", ...
        first, second = body["tokens"][:cut], body["tokens"][cut:]
        return [json.dumps({**body, "tokens": first}), json.dumps({**body, "tokens": second})]


def test_the_live_adapter_joins_a_word_split_across_two_responses():
    with SplitWordLive() as server:
        server.script = StreamScript(speech_end_ms=600, partial_every_ms=200)
        config = ProviderConfig(name="soniox", model="stt-rt-v3", mode="streaming", base_url=server.base_url,
                                params={"pace": 0}, timeout_s=20)
        p = SonioxLive(config)
        p._api_key, p._key_checked = server.api_key, True
        import numpy as np

        from spectragram_bench.core.audio import AudioClip

        clip = AudioClip(np.zeros(16000, dtype=np.float32), 16000, None)

        async def once():
            try:
                return await p.transcribe(clip, WorkItem(1, 1, "u1", "/virtual/1.wav", 1.0))
            finally:
                await p.aclose()

        t = asyncio.run(once())
    assert t.text == server.script.text
    assert [w["word"] for w in t.words] == server.script.text.split()


@pytest.mark.slow
def test_job_file_runs_against_the_fake(fake_soniox, tmp_path):
    """jobs/soniox_librispeech.json unchanged except base_url and a short poll interval."""
    reference_transcripts(fake_soniox, DEMO_ROOT)
    result, db, job = run_job_file("soniox_librispeech.json", fake_soniox, tmp_path,
                                   {"SONIOX_API_KEY": fake_soniox.api_key}, run_cli, poll_interval_s=0.05)
    assert_job_file_ran(result, db, job)
    assert [w["value"] for w in rows(db, "SELECT value FROM metric_summary WHERE metric = 'wer'")] == [0.0]
    (cost,) = rows(db, "SELECT extra_json FROM cost_summary")
    assert json.loads(cost["extra_json"])["usd_per_minute"] == pytest.approx(0.10 / 60)
    assert len(fake_soniox.deletions("/v1/transcriptions/")) == 4 and fake_soniox.files == {}
    assert files_containing(tmp_path, fake_soniox.api_key) == []


def test_job_file_is_valid():
    from spectragram_bench.core.config import load_config

    config = load_config(REPO / "jobs" / "soniox_librispeech.json")
    assert {p.name for p in config.providers} == {"soniox"}

