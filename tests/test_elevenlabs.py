"""The ElevenLabs Scribe adapter against a fake speaking its documented wire format."""

from __future__ import annotations

import json
import math

import pytest
from conftest import DEMO_ROOT, run_cli
from fakes.adapter_calls import assert_job_file_ran, error_of, make_provider, run_job_file, transcribe
from fakes.cases import FAULT_CASES
from fakes.fake_elevenlabs import FakeElevenLabs
from fakes.harness import files_containing, reference_transcripts, rows
from fakes.server import Fault

from spectragram_bench.core.config import ProviderConfig
from spectragram_bench.core.errors import ConfigError
from spectragram_bench.providers.base import ErrorKind
from spectragram_bench.providers.elevenlabs import ElevenLabsProvider


@pytest.fixture
def fake_elevenlabs():
    with FakeElevenLabs() as server:
        yield server


def provider(server, model: str = "scribe_v2", **kw) -> ElevenLabsProvider:
    return make_provider(ElevenLabsProvider, server, model, **kw)


def test_request_fields_header_and_words(fake_elevenlabs):
    t = transcribe(provider(fake_elevenlabs, params={"tag_audio_events": False, "keyterms": ["Gutenberg"],
                                                      "enable_logging": False}), language="en")
    (req,) = fake_elevenlabs.requests
    assert req.headers["xi-api-key"] == fake_elevenlabs.api_key and "Authorization" not in req.headers
    assert req.path == "/v1/speech-to-text" and req.query == [("enable_logging", "false")]
    assert req.fields == {"model_id": ["scribe_v2"], "tag_audio_events": ["false"], "keyterms": ['["Gutenberg"]'],
                          "language_code": ["en"]}
    assert req.file_name.endswith(".flac") and req.file_type == "audio/flac"
    assert t.text == fake_elevenlabs.default_text
    assert [w["word"] for w in t.words] == t.text.split()  # spacing entries are not words
    first, second = t.words[0], t.words[1]
    assert first["speaker"] == "speaker_0" and first["confidence"] == 1.0 and first["logprob"] == 0.0
    assert second["confidence"] == pytest.approx(math.exp(-0.05), abs=1e-6)
    assert 0 <= first["start"] < first["end"] <= second["start"]
    assert t.model_revision == "scribe_v2" and t.meta["request_id"].startswith("tr_")
    assert t.meta["language_code"] == "eng" and t.meta["audio_duration_secs"] > 0
    assert t.meta["concurrency"] == {"current-concurrent-requests": "1", "maximum-concurrent-requests": "5"}


def test_language_from_the_item_unless_params_set_it(fake_elevenlabs):
    transcribe(provider(fake_elevenlabs), language="de")
    transcribe(provider(fake_elevenlabs, params={"language_code": "en"}), language="de")
    transcribe(provider(fake_elevenlabs))
    langs = [r.fields.get("language_code") for r in fake_elevenlabs.requests]
    assert langs == [["de"], ["en"], None]


@pytest.mark.parametrize("fault, kind, retry_after", FAULT_CASES)
def test_error_classes(fake_elevenlabs, fault, kind, retry_after):
    fake_elevenlabs.inject(fault)
    err = error_of(provider(fake_elevenlabs))
    assert (err.kind, err.retry_after_s) == (kind, retry_after)
    assert len(fake_elevenlabs.requests) == 1


def test_vendor_bodies_are_read(fake_elevenlabs):
    p = provider(fake_elevenlabs)
    p._api_key = "sk_wrong_key_000000000000"
    err = error_of(p)
    assert (err.kind, err.status) == (ErrorKind.FATAL, 401) and "Invalid API key (invalid_api_key)" in str(err)
    fake_elevenlabs.inject(Fault.http(401, "This request exceeds your quota of 10000.", ),)
    err = error_of(provider(fake_elevenlabs))
    assert err.kind == ErrorKind.FATAL
    fake_elevenlabs.inject(Fault(status=429, body={"detail": {"status": "system_busy", "message": "busy"}}))
    err = error_of(provider(fake_elevenlabs))
    assert (err.kind, err.status) == (ErrorKind.RETRYABLE, 429)  # the service's load, not the plan's limit
    fake_elevenlabs.inject(Fault.http(429, retry_after="3"))
    err = error_of(provider(fake_elevenlabs))
    assert (err.kind, err.retry_after_s) == (ErrorKind.RATE_LIMITED, 3.0) and "too_many_concurrent_requests" in str(err)


def test_unknown_model_and_422_are_the_utterances(fake_elevenlabs):
    err = error_of(provider(fake_elevenlabs, "scribe_v9"))
    assert (err.kind, err.status) == (ErrorKind.UTTERANCE, 400) and "invalid_model_id" in str(err)
    err = error_of(provider(fake_elevenlabs, params={"num_speakers": 2, "diarize": "yes"}))
    assert (err.kind, err.status) == (ErrorKind.UTTERANCE, 422)


def test_multichannel_reply_joins_channels():
    p = ElevenLabsProvider(ProviderConfig(name="elevenlabs", model="scribe_v2"))
    reply = {"transcripts": [
        {"text": "hello", "language_code": "en", "words": [{"text": "hello", "start": 0, "end": 0.4, "type": "word", "logprob": 0}],
         "channel_index": 0},
        {"text": "world", "words": [{"text": "world", "start": 0.5, "end": 0.9, "type": "word", "logprob": -1}], "channel_index": 1},
    ], "transcription_id": "abc"}
    t = p.parse_reply(reply)
    assert t.text == "hello world" and [w["channel"] for w in t.words] == [0, 1] and t.meta["request_id"] == "abc"


@pytest.mark.parametrize("params, words", [
    ({"webhook": True}, "webhook"), ({"model_id": "x"}, "remove params.model_id"),
    ({"languag_code": "en"}, "not ElevenLabs speech-to-text fields"), ({"source_url": "https://x"}, "uploads the utterance"),
])
def test_config_errors(params, words):
    with pytest.raises(ConfigError, match=words):
        ElevenLabsProvider(ProviderConfig(name="elevenlabs", model="scribe_v2", params=params))


def test_missing_key_names_the_variable(monkeypatch):
    monkeypatch.delenv("ELEVENLABS_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="ELEVENLABS_API_KEY is not set"):
        ElevenLabsProvider(ProviderConfig(name="elevenlabs", model="scribe_v2")).check_ready()


def test_the_official_sdk_talks_to_the_fake(fake_elevenlabs):
    """elevenlabs-python's own client sends its multipart to the fake and reads the fake's reply."""
    client_module = pytest.importorskip("elevenlabs.client")
    from fakes.adapter_calls import FIRST_FLAC

    client = client_module.ElevenLabs(api_key=fake_elevenlabs.api_key, base_url=fake_elevenlabs.base_url)
    reply = client.speech_to_text.convert(file=(FIRST_FLAC.name, FIRST_FLAC.read_bytes(), "audio/flac"),
                                          model_id="scribe_v2", language_code="en", tag_audio_events=False)
    assert reply.text == fake_elevenlabs.default_text and reply.words[0].type == "word"
    sdk = fake_elevenlabs.requests[-1]
    transcribe(provider(fake_elevenlabs, params={"language_code": "en", "tag_audio_events": False}))
    ours = fake_elevenlabs.requests[-1]
    sdk_nulls = {"webhook_metadata": ["null"], "entity_detection": ["null"], "entity_redaction": ["null"]}
    assert sdk.fields == {**ours.fields, **sdk_nulls} and sdk.headers["xi-api-key"] == ours.headers["xi-api-key"]


@pytest.mark.slow
def test_job_file_runs_against_the_fake(fake_elevenlabs, tmp_path):
    reference_transcripts(fake_elevenlabs, DEMO_ROOT)
    fake_elevenlabs.inject(Fault.http(503))  # one 5xx, then success on the retry
    result, db, job = run_job_file("elevenlabs_librispeech.json", fake_elevenlabs, tmp_path,
                                   {"ELEVENLABS_API_KEY": fake_elevenlabs.api_key}, run_cli)
    assert_job_file_ran(result, db, job)
    assert len(fake_elevenlabs.requests) == 2 * 4 + 1
    assert [w["value"] for w in rows(db, "SELECT value FROM metric_summary WHERE metric = 'wer'")] == [0.0, 0.0]
    words = json.loads(rows(db, "SELECT words_json FROM prediction LIMIT 1")[0]["words_json"])
    assert words and {"word", "start", "end", "confidence", "speaker"} <= set(words[0])
    cost = json.loads(rows(db, "SELECT extra_json FROM cost_summary LIMIT 1")[0]["extra_json"])
    assert cost["usd_per_minute"] == pytest.approx(0.40 / 60)
    assert files_containing(tmp_path, fake_elevenlabs.api_key) == []
