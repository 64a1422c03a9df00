"""The Mistral (Voxtral) adapter against a fake speaking its documented wire format."""

from __future__ import annotations

import json

import pytest
from conftest import DEMO_ROOT, run_cli
from fakes.adapter_calls import assert_job_file_ran, error_of, make_provider, run_job_file, transcribe
from fakes.cases import FAULT_CASES
from fakes.fake_mistral import FakeMistral
from fakes.harness import files_containing, reference_transcripts, rows
from fakes.server import Fault

from spectragram_bench.core.config import ProviderConfig
from spectragram_bench.core.errors import ConfigError
from spectragram_bench.providers.base import ErrorKind
from spectragram_bench.providers.mistral import MistralProvider


@pytest.fixture
def fake_mistral():
    with FakeMistral() as server:
        yield server


def provider(server, model: str = "voxtral-mini-latest", **kw) -> MistralProvider:
    return make_provider(MistralProvider, server, model, **kw)


def test_request_fields_and_word_segments(fake_mistral):
    t = transcribe(provider(fake_mistral, params={"timestamp_granularities": ["word"], "temperature": 0,
                                                  "context_bias": ["Gutenberg", "Voxtral"]}), language="en")
    (req,) = fake_mistral.requests
    assert req.headers["Authorization"] == f"Bearer {fake_mistral.api_key}"
    assert req.fields == {"model": ["voxtral-mini-latest"], "timestamp_granularities": ["word"], "temperature": ["0"],
                          "context_bias": ["Gutenberg", "Voxtral"], "language": ["en"]}
    assert t.text == fake_mistral.default_text
    assert [w["word"] for w in t.words] == t.text.split() and t.words[0]["start"] == 0.0
    assert t.model_revision == "voxtral-mini-2507"  # the dated model behind the alias
    assert t.billed_seconds == t.usage["prompt_audio_seconds"] > 0


def test_language_from_the_item_unless_params_set_it(fake_mistral):
    transcribe(provider(fake_mistral), language="fr")
    transcribe(provider(fake_mistral, params={"language": "en"}), language="fr")
    transcribe(provider(fake_mistral))
    assert [r.fields.get("language") for r in fake_mistral.requests] == [["fr"], ["en"], None]


def test_segments_without_word_granularity_are_not_words(fake_mistral):
    t = transcribe(provider(fake_mistral, params={"timestamp_granularities": ["segment"]}))
    assert t.words is None and t.meta["segments"] == 1


@pytest.mark.parametrize("fault, kind, retry_after", FAULT_CASES)
def test_error_classes(fake_mistral, fault, kind, retry_after):
    fake_mistral.inject(fault)
    err = error_of(provider(fake_mistral))
    assert (err.kind, err.retry_after_s) == (kind, retry_after)
    assert len(fake_mistral.requests) == 1


def test_vendor_rejections(fake_mistral):
    p = provider(fake_mistral)
    p._api_key = "wrong-key-000000000000000"
    err = error_of(p)
    assert (err.kind, err.status) == (ErrorKind.FATAL, 401) and "Unauthorized" in str(err) and "[request " in str(err)
    err = error_of(provider(fake_mistral, "voxtral-huge"))
    assert (err.kind, err.status) == (ErrorKind.UTTERANCE, 400) and "Invalid model: voxtral-huge" in str(err)


@pytest.mark.parametrize("params, words", [
    ({"file_url": "https://x"}, "set by the adapter"), ({"timestamp_granularities": ["char"]}, "must be a list of"),
    ({"prompt": "x"}, "not Mistral transcription fields"),
])
def test_config_errors(params, words):
    with pytest.raises(ConfigError, match=words):
        MistralProvider(ProviderConfig(name="mistral", model="voxtral-mini-latest", params=params))


def test_the_official_sdk_talks_to_the_fake(fake_mistral):
    """mistralai's own client sends its multipart to the fake and reads the fake's reply."""
    mistralai = pytest.importorskip("mistralai.client")
    from conftest import DEMO_ROOT as root

    flac = sorted(root.rglob("*.flac"))[0]
    client = mistralai.Mistral(api_key=fake_mistral.api_key, server_url=fake_mistral.base_url)
    reply = client.audio.transcriptions.complete(
        model="voxtral-mini-latest", file={"file_name": flac.name, "content": flac.read_bytes()},
        timestamp_granularities=["word"], language="en")
    assert reply.text.strip() == fake_mistral.default_text and reply.model == "voxtral-mini-2507"
    assert reply.usage.prompt_audio_seconds > 0 and len(reply.segments) == len(fake_mistral.default_text.split())
    sdk_fields = fake_mistral.requests[-1].fields
    adapter = provider(fake_mistral, params={"timestamp_granularities": ["word"], "language": "en"})
    transcribe(adapter)
    ours = fake_mistral.requests[-1].fields
    sdk_defaults = {"stream": ["false"], "diarize": ["false"]}  # the SDK always sends its defaults
    assert sdk_fields == {**ours, **sdk_defaults}


@pytest.mark.slow
def test_job_file_runs_against_the_fake(fake_mistral, tmp_path):
    reference_transcripts(fake_mistral, DEMO_ROOT)
    fake_mistral.inject(Fault.http(502))  # one 5xx, then success on the retry
    result, db, job = run_job_file("mistral_librispeech.json", fake_mistral, tmp_path,
                                   {"MISTRAL_API_KEY": fake_mistral.api_key}, run_cli)
    assert_job_file_ran(result, db, job)
    assert len(fake_mistral.requests) == 4 + 1
    (run,) = rows(db, "SELECT model_revision FROM job_run")
    assert run["model_revision"] == "voxtral-mini-2507"
    pred = rows(db, "SELECT words_json, usage_json FROM prediction LIMIT 1")[0]
    assert json.loads(pred["words_json"]) and json.loads(pred["usage_json"])["prompt_audio_seconds"] > 0
    extra = json.loads(rows(db, "SELECT extra_json FROM cost_summary")[0]["extra_json"])
    assert extra["usd_per_minute"] == 0.002 and extra["seconds_from_audio_duration"] == 0
    assert [w["value"] for w in rows(db, "SELECT value FROM metric_summary WHERE metric = 'wer'")] == [0.0]
    assert files_containing(tmp_path, fake_mistral.api_key) == []
