"""The Google Speech-to-Text v2 adapter (the official SDK, REST transport) against a fake
speaking the v2 REST JSON over real HTTP."""

from __future__ import annotations

import asyncio
import json
import sys

import numpy as np
import pytest
import soundfile as sf
from conftest import DEMO_ROOT, run_cli
from fakes.adapter_calls import FIRST_FLAC, LanguageItem, error_of, make_provider, run_job_file, transcribe
from fakes.cases import FAULT_CASES
from fakes.fake_google import FakeGoogleSpeech, resource_exhausted
from fakes.harness import files_containing, reference_transcripts, rows
from fakes.server import Fault

from spectragram_bench.core.audio import load_audio
from spectragram_bench.core.config import ProviderConfig
from spectragram_bench.core.errors import ConfigError
from spectragram_bench.providers.base import ErrorKind
from spectragram_bench.providers.google_speech import GoogleSpeechProvider

pytest.importorskip("google.cloud.speech_v2")  # the optional extra: pip install -e '.[google]'


@pytest.fixture
def fake_google():
    with FakeGoogleSpeech() as server:
        yield server


def provider(server, model: str = "chirp_2", **kw) -> GoogleSpeechProvider:
    params = {"project": server.project, **kw.pop("params", {})}
    return make_provider(GoogleSpeechProvider, server, model, params=params, api_key_env="GOOGLE_TEST_KEY", **kw)


def test_request_through_the_sdk_and_words(fake_google):
    t = transcribe(provider(fake_google, params={"language_codes": ["en-US"]}))
    (req,) = fake_google.requests
    assert req.path == f"/v2/projects/{fake_google.project}/locations/global/recognizers/_:recognize"
    assert req.headers["x-goog-api-key"] == fake_google.api_key and "gapic/" in req.headers["x-goog-api-client"]
    assert json.loads(req.fields["config"][0]) == {
        "autoDecodingConfig": {}, "model": "chirp_2", "languageCodes": ["en-US"],
        "features": {"enableWordTimeOffsets": True, "enableWordConfidence": True}}
    assert t.text == fake_google.default_text and [w["word"] for w in t.words] == t.text.split()
    assert t.words[0]["start"] == 0.0 and t.words[0]["end"] > 0 and t.words[0]["confidence"] == 0.91
    assert t.billed_seconds == 3.0 and t.usage == {"type": "duration", "seconds": 3.0}  # whole seconds, rounded up
    assert t.meta["request_id"] and t.meta["language_codes"] == ["en-us"] and t.meta["confidence"] == 0.9431


def test_language_from_the_item_unless_params_set_it(fake_google):
    transcribe(provider(fake_google), language="fr")
    transcribe(provider(fake_google, params={"language_codes": ["en-GB"]}), language="fr")
    codes = [json.loads(r.fields["config"][0])["languageCodes"] for r in fake_google.requests]
    assert codes == [["fr-FR"], ["en-GB"]]
    err = error_of(provider(fake_google))
    assert err.kind == ErrorKind.UTTERANCE and "params.language_codes" in str(err) and len(fake_google.requests) == 2


#: a 401 is the auth layer's to retry first (test_401_is_refreshed_then_fatal)
CASES = [c for c in FAULT_CASES if c.id != "401-invalid-key"]


@pytest.mark.parametrize("fault, kind, retry_after", CASES)
def test_error_classes(fake_google, fault, kind, retry_after):
    fake_google.inject(fault)
    err = error_of(provider(fake_google, params={"language_codes": ["en-US"]}))
    assert (err.kind, err.retry_after_s) == (kind, retry_after)
    assert len(fake_google.requests) == 1  # the SDK's own retries are off


def test_401_is_refreshed_then_fatal(fake_google):
    """google-auth's session refreshes the credentials and resends on 401, twice at most (its
    DEFAULT_MAX_REFRESH_ATTEMPTS): a passing 401 costs one extra request, a lasting one is fatal."""
    fake_google.inject(Fault.http(401))
    assert transcribe(provider(fake_google, params={"language_codes": ["en-US"]})).text == fake_google.default_text
    assert len(fake_google.requests) == 2
    fake_google.inject(Fault.http(401), Fault.http(401), Fault.http(401))
    err = error_of(provider(fake_google, params={"language_codes": ["en-US"]}))
    assert (err.kind, err.status) == (ErrorKind.FATAL, 401) and "invalid authentication credentials" in str(err)
    assert len(fake_google.requests) == 2 + 3


def test_vendor_rejections(fake_google):
    p = provider(fake_google, params={"language_codes": ["en-US"]})
    p._api_key = "AIzaWrong000000000000000000000000000"
    err = error_of(p)  # Google answers a bad key with 400 INVALID_ARGUMENT, reason API_KEY_INVALID
    assert (err.kind, err.status) == (ErrorKind.FATAL, 400) and "API_KEY_INVALID" in str(err)
    assert "AIzaWrong000000000000000000000000000" not in str(err)
    fake_google.inject(resource_exhausted("4s"))
    err = error_of(provider(fake_google, params={"language_codes": ["en-US"]}))
    assert (err.kind, err.retry_after_s) == (ErrorKind.RATE_LIMITED, 4.0) and "RATE_LIMIT_EXCEEDED" in str(err)
    err = error_of(provider(fake_google, params={"language_codes": ["en-US"], "project": "someone-else"}))
    assert (err.kind, err.status) == (ErrorKind.FATAL, 403)
    err = error_of(provider(fake_google, params={"language_codes": ["en-US"], "recognizer": "missing"}))
    assert (err.kind, err.status) == (ErrorKind.FATAL, 404)
    err = error_of(provider(fake_google, "chirp_9", params={"language_codes": ["en-US"]}))
    assert (err.kind, err.status) == (ErrorKind.UTTERANCE, 400) and "Invalid recognizer model" in str(err)


def test_audio_over_60_s_is_failed_before_sending(fake_google, tmp_path):
    path = tmp_path / "long.flac"
    sf.write(path, np.zeros(16000 * 61, dtype=np.float32), 16000)
    err = error_of(provider(fake_google, params={"language_codes": ["en-US"]}), load_audio(str(path)))
    assert err.kind == ErrorKind.UTTERANCE and "60 s synchronous Recognize limit; not sent" in str(err)
    assert fake_google.requests == []


def test_concurrency_is_the_adapters_own_not_the_default_thread_pool(fake_google):
    """12 slow requests at concurrency 12 are all in flight at once (asyncio's shared default pool
    has min(32, cpus + 4) threads: 6 on a 2-core machine)."""
    n = 12
    fake_google.inject(*[Fault.slow(1.5)] * n)
    p = provider(fake_google, params={"language_codes": ["en-US"]}, concurrency=n)
    clip = load_audio(str(FIRST_FLAC))
    item = LanguageItem(1, 1, FIRST_FLAC.stem, str(FIRST_FLAC), clip.duration_s)

    async def all_at_once():
        try:
            return await asyncio.gather(*[p.transcribe(clip, item) for _ in range(n)])
        finally:
            await p.aclose()

    results = asyncio.run(all_at_once())
    assert [r.text for r in results] == [fake_google.default_text] * n
    assert fake_google.max_in_flight == n


def test_regional_location_names_its_endpoint():
    p = GoogleSpeechProvider(ProviderConfig(name="google", model="chirp_2", params={"project": "p", "location": "us-central1"}))
    assert p.base_url == "https://us-central1-speech.googleapis.com"
    assert p.recognizer == "projects/p/locations/us-central1/recognizers/_"


@pytest.mark.parametrize("params, words", [
    ({}, "params.project"), ({"project": "p", "language_codes": "en-US"}, "non-empty list"),
    ({"project": "p", "sample_rate": 16000}, "not known"), ({"project": "p", "location": "US Central"}, "params.location"),
])
def test_config_errors(params, words, monkeypatch):
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    with pytest.raises(ConfigError, match=words):
        GoogleSpeechProvider(ProviderConfig(name="google", model="chirp_2", params=params))


def test_missing_extra_is_one_line_at_check_ready(monkeypatch):
    p = GoogleSpeechProvider(ProviderConfig(name="google", model="chirp_2", params={"project": "p"}))
    monkeypatch.setitem(sys.modules, "google.cloud.speech_v2", None)  # as if the extra were not installed
    with pytest.raises(ConfigError) as info:
        p.check_ready()
    assert str(info.value) == "provider 'google' needs the Google Cloud Speech SDK: pip install -e '.[google]'"


def test_no_credentials_is_one_line_at_check_ready(monkeypatch, tmp_path):
    for var in ("GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))  # no gcloud application-default file here
    monkeypatch.setenv("NO_GCE_CHECK", "True")  # no metadata server probe
    p = GoogleSpeechProvider(ProviderConfig(name="google", model="chirp_2", params={"project": "p"}))
    with pytest.raises(ConfigError) as info:
        p.check_ready()
    assert "no Google credentials" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.slow
def test_job_file_runs_against_the_fake(fake_google, tmp_path):
    reference_transcripts(fake_google, DEMO_ROOT)
    fake_google.project = "my-gcp-project"  # the job file's placeholder project
    fake_google.inject(Fault.http(503), resource_exhausted("0.2s"))
    result, db, job = run_job_file("google_librispeech.json", fake_google, tmp_path,
                                   {"GOOGLE_SPEECH_API_KEY": fake_google.api_key}, run_cli)
    assert result.returncode == 0, result.stderr
    assert len(fake_google.requests) == 4 + 2
    assert all(r.path.startswith("/v2/projects/my-gcp-project/locations/us-central1/") for r in fake_google.requests)
    assert rows(db, "SELECT count(*) AS n FROM prediction WHERE status = 'ok'")[0]["n"] == 4
    assert [w["value"] for w in rows(db, "SELECT value FROM metric_summary WHERE metric = 'wer'")] == [0.0]
    usage = json.loads(rows(db, "SELECT usage_json FROM prediction LIMIT 1")[0]["usage_json"])
    assert usage["type"] == "duration" and usage["seconds"] >= 1
    assert [r["sdk"] for r in rows(db, "SELECT sdk FROM provider")] == ["google-cloud-speech"]
    # no cost row: no Google price is in the default table (see core/pricing.py)
    assert rows(db, "SELECT * FROM cost_summary") == [] and "no price known for google/chirp_2" in result.stderr
    assert files_containing(tmp_path, fake_google.api_key) == []
