"""The Azure AI Speech fast-transcription adapter against a fake speaking its documented wire format."""

from __future__ import annotations

import json

import pytest
from conftest import DEMO_ROOT, run_cli
from fakes.adapter_calls import (
    FIRST_FLAC,
    error_of,
    make_provider,
    run_job_file,
    transcribe,
)
from fakes.cases import FAULT_CASES
from fakes.fake_azure import FakeAzureSpeech
from fakes.harness import files_containing, reference_transcripts, rows
from fakes.server import Fault

from spectragram_bench.core.config import ProviderConfig
from spectragram_bench.core.errors import ConfigError
from spectragram_bench.providers.azure_speech import AzureSpeechProvider, parse_result
from spectragram_bench.providers.base import ErrorKind


@pytest.fixture
def fake_azure():
    with FakeAzureSpeech() as server:
        yield server


def provider(server, model: str = "fast", **kw) -> AzureSpeechProvider:
    return make_provider(AzureSpeechProvider, server, model, **kw)


def test_request_parts_header_and_words(fake_azure):
    t = transcribe(provider(fake_azure, params={"locales": ["en-US"], "profanityFilterMode": "None"}))
    (req,) = fake_azure.requests
    assert req.path == "/speechtotext/transcriptions:transcribe" and req.query == [("api-version", "2025-10-15")]
    assert req.headers["Ocp-Apim-Subscription-Key"] == fake_azure.api_key
    assert json.loads(req.fields["definition"][0]) == {"locales": ["en-US"], "profanityFilterMode": "None"}
    assert req.file_name == FIRST_FLAC.name and req.file_type == "audio/flac"
    assert t.text == fake_azure.default_text
    assert [w["word"] for w in t.words] == t.text.split()
    assert all(w["confidence"] == fake_azure.confidence and w["locale"] == "en-US" for w in t.words)
    assert 0 == t.words[0]["start"] < t.words[0]["end"] <= t.words[1]["start"]
    assert t.meta["duration_s"] > 0 and t.meta["request_id"]


def test_locale_from_the_item_unless_params_set_it(fake_azure):
    transcribe(provider(fake_azure), language="de")
    transcribe(provider(fake_azure, params={"locales": ["en-GB"]}), language="de")
    transcribe(provider(fake_azure))
    definitions = [json.loads(r.fields["definition"][0]) for r in fake_azure.requests]
    assert definitions == [{"locales": ["de-DE"]}, {"locales": ["en-GB"]}, {}]


def test_region_names_the_endpoint():
    p = AzureSpeechProvider(ProviderConfig(name="azure", model="fast", params={"region": "westeurope"}))
    assert p.base_url == "https://westeurope.api.cognitive.microsoft.com"
    assert "region" not in p.model_params() and p.model_params()["api_version"] == "2025-10-15"


@pytest.mark.parametrize("fault, kind, retry_after", FAULT_CASES)
def test_error_classes(fake_azure, fault, kind, retry_after):
    fake_azure.inject(fault)
    err = error_of(provider(fake_azure))
    assert (err.kind, err.retry_after_s) == (kind, retry_after)
    assert len(fake_azure.requests) == 1


def test_vendor_rejections(fake_azure):
    p = provider(fake_azure)
    p._api_key = "ffffffffffffffffffffffffffffffff"
    err = error_of(p)
    assert (err.kind, err.status) == (ErrorKind.FATAL, 401) and "invalid subscription key" in str(err)
    err = error_of(provider(fake_azure, params={"api_version": "2023-01-01"}))
    assert (err.kind, err.status) == (ErrorKind.FATAL, 404)
    err = error_of(provider(fake_azure, params={"locales": ["english"]}))
    assert (err.kind, err.status) == (ErrorKind.UTTERANCE, 400) and "Invalid locales" in str(err)


def test_custom_model_uri_maps_every_locale(fake_azure):
    uri = "https://eastus.api.cognitive.microsoft.com/speechtotext/models/base/0123"
    transcribe(provider(fake_azure, uri, params={"locales": ["en-US"]}))
    assert json.loads(fake_azure.requests[0].fields["definition"][0])["models"] == {"en-US": uri}


def test_two_channel_reply_joins_channels():
    t = parse_result({"durationMilliseconds": 2000, "combinedPhrases": [{"channel": 0, "text": "hello"}, {"channel": 1, "text": "there"}],
                      "phrases": [{"channel": 1, "offsetMilliseconds": 900, "durationMilliseconds": 400, "text": "there",
                                   "words": [{"text": "there", "offsetMilliseconds": 900, "durationMilliseconds": 400}],
                                   "confidence": 0.8, "locale": "en-US"}]})
    assert t.text == "hello there" and t.words == [{"word": "there", "start": 0.9, "end": 1.3, "confidence": 0.8,
                                                    "channel": 1, "locale": "en-US"}]


@pytest.mark.parametrize("config, words", [
    ({"params": {}}, "set params.region"), ({"params": {"region": "East US"}}, "set params.region"),
    ({"params": {"region": "eastus", "wordLevelTimestampsEnabled": True}}, "not fast-transcription definition fields"),
    ({"params": {"region": "eastus"}, "model": "whisper"}, "base model"),
    ({"params": {"region": "eastus", "locales": "en-US"}}, "must be a list"),
])
def test_config_errors(config, words):
    with pytest.raises(ConfigError, match=words):
        AzureSpeechProvider(ProviderConfig(name="azure", model=config.get("model", "fast"), params=config["params"]))


def test_the_official_sdk_talks_to_the_fake(fake_azure):
    """azure-ai-transcription's own client sends its multipart to the fake and reads the fake's reply."""
    transcription = pytest.importorskip("azure.ai.transcription")
    from azure.ai.transcription.models import TranscriptionContent, TranscriptionOptions
    from azure.core.credentials import AzureKeyCredential

    client = transcription.TranscriptionClient(endpoint=fake_azure.base_url, credential=AzureKeyCredential(fake_azure.api_key))
    with open(FIRST_FLAC, "rb") as audio:
        result = client.transcribe(TranscriptionContent(definition=TranscriptionOptions(locales=["en-US"]), audio=audio))
    assert result.combined_phrases[0].text == fake_azure.default_text and result.duration_milliseconds > 0
    assert result.phrases[0].words[0].offset_milliseconds == 0
    sdk = fake_azure.requests[-1]
    transcribe(provider(fake_azure, params={"locales": ["en-US"]}))
    ours = fake_azure.requests[-1]
    assert (sdk.path, sdk.query) == (ours.path, ours.query)
    assert json.loads(sdk.fields["definition"][0]) == json.loads(ours.fields["definition"][0])


@pytest.mark.slow
def test_job_file_runs_against_the_fake(fake_azure, tmp_path):
    reference_transcripts(fake_azure, DEMO_ROOT)
    fake_azure.inject(Fault.http(429, retry_after="0.2"), Fault.http(500))
    result, db, job = run_job_file("azure_librispeech.json", fake_azure, tmp_path, {"AZURE_SPEECH_KEY": fake_azure.api_key},
                                   run_cli)
    assert result.returncode == 0, result.stderr
    assert len(fake_azure.requests) == 4 + 2
    assert rows(db, "SELECT count(*) AS n FROM prediction WHERE status = 'ok'")[0]["n"] == 4
    words = json.loads(rows(db, "SELECT words_json FROM prediction LIMIT 1")[0]["words_json"])
    assert words[0]["confidence"] == fake_azure.confidence
    assert [w["value"] for w in rows(db, "SELECT value FROM metric_summary WHERE metric = 'wer'")] == [0.0]
    assert files_containing(tmp_path, fake_azure.api_key) == []
    # no cost row: no Azure price is in the default table (see core/pricing.py)
    assert rows(db, "SELECT * FROM cost_summary") == [] and "no price known for azure/fast" in result.stderr
