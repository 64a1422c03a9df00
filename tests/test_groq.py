"""The Groq adapter (the OpenAI adapter's code on Groq's mount point, models, headers and
billing) against a fake speaking Groq's wire format."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from conftest import DEMO_ROOT, run_cli
from fakes.adapter_calls import (
    FIRST_FLAC,
    assert_job_file_ran,
    error_of,
    make_provider,
    run_job_file,
    transcribe,
)
from fakes.cases import FAULT_CASES
from fakes.fake_groq import FakeGroq, ash_rate_limit
from fakes.harness import files_containing, reference_transcripts, rows
from fakes.server import Fault

from spectragram_bench.core.audio import load_audio
from spectragram_bench.core.config import ProviderConfig
from spectragram_bench.core.errors import ConfigError
from spectragram_bench.providers.base import ErrorKind
from spectragram_bench.providers.groq import MIN_BILLED_SECONDS, GroqProvider


@pytest.fixture
def fake_groq():
    with FakeGroq() as server:
        yield server


def provider(server, model: str = "whisper-large-v3-turbo", **kw) -> GroqProvider:
    return make_provider(GroqProvider, server, model, **kw)


def test_request_words_headers_and_minimum_billing(fake_groq):
    t = transcribe(provider(fake_groq, params={"language": "en", "temperature": 0}))
    (req,) = fake_groq.requests
    assert req.path == "/openai/v1/audio/transcriptions"
    assert req.headers["Authorization"] == f"Bearer {fake_groq.api_key}"
    assert req.fields == {"model": ["whisper-large-v3-turbo"], "response_format": ["verbose_json"], "language": ["en"],
                          "temperature": ["0"], "timestamp_granularities[]": ["word"]}
    assert t.text == fake_groq.default_text and [w["word"] for w in t.words] == t.text.split()
    assert t.meta["duration"] < MIN_BILLED_SECONDS and t.billed_seconds == MIN_BILLED_SECONDS
    assert t.meta["request_id"].startswith("req_") and t.usage is None
    assert t.meta["ratelimit"]["x-ratelimit-limit-requests"] == "2000"
    assert t.meta["ratelimit"]["x-ratelimit-remaining-requests"] == "1999"


def test_long_audio_is_billed_its_duration(fake_groq, tmp_path):
    path = tmp_path / "long.wav"
    sf.write(path, (0.2 * np.sin(np.arange(16000 * 12) / 8)).astype(np.float32), 16000)
    t = transcribe(provider(fake_groq), load_audio(str(path)))
    assert t.billed_seconds == pytest.approx(12.0, abs=0.01)


def test_json_format_bills_the_audio_sent(fake_groq):
    t = transcribe(provider(fake_groq, params={"response_format": "json"}))
    assert t.words is None and t.billed_seconds == MIN_BILLED_SECONDS


@pytest.mark.parametrize("base", ["", "/openai", "/openai/v1", "/openai/v1/"])
def test_base_url_as_either_sdk_spells_it(fake_groq, base):
    transcribe(provider(fake_groq, base_url=fake_groq.base_url + base))
    assert fake_groq.requests[-1].path == "/openai/v1/audio/transcriptions"


@pytest.mark.parametrize("fault, kind, retry_after", FAULT_CASES)
def test_error_classes(fake_groq, fault, kind, retry_after):
    fake_groq.inject(fault)
    err = error_of(provider(fake_groq))
    assert (err.kind, err.retry_after_s) == (kind, retry_after)
    assert len(fake_groq.requests) == 1


def test_audio_seconds_429_waits_for_retry_after_not_the_daily_reset(fake_groq):
    fake_groq.inject(ash_rate_limit("7"))
    err = error_of(provider(fake_groq))
    assert (err.kind, err.retry_after_s) == (ErrorKind.RATE_LIMITED, 7.0)
    assert "audio seconds per hour (ASH)" in str(err) and "rate_limit_exceeded" in str(err)


def test_wrong_key_and_unknown_model(fake_groq):
    p = provider(fake_groq)
    p._api_key = "gsk_wrong_000000000000000000"
    assert error_of(p).kind == ErrorKind.FATAL
    err = error_of(provider(fake_groq, "whisper-1"))
    assert (err.kind, err.status) == (ErrorKind.FATAL, 404)


def test_streaming_is_refused():
    with pytest.raises(ConfigError, match="do not stream"):
        GroqProvider(ProviderConfig(name="groq", model="whisper-large-v3", mode="streaming"))


def test_the_official_sdk_talks_to_the_fake(fake_groq):
    """groq-python's own client sends its request to the fake and reads the fake's reply."""
    groq = pytest.importorskip("groq")
    client = groq.Groq(api_key=fake_groq.api_key, base_url=fake_groq.base_url, max_retries=0)
    reply = client.audio.transcriptions.create(file=(FIRST_FLAC.name, FIRST_FLAC.read_bytes()), model="whisper-large-v3-turbo",
                                               response_format="verbose_json", timestamp_granularities=["word"], language="en")
    assert reply.text == fake_groq.default_text
    sdk = fake_groq.requests[-1]
    transcribe(provider(fake_groq, params={"language": "en"}))
    ours = fake_groq.requests[-1]
    assert (sdk.path, sdk.fields) == (ours.path, ours.fields)
    with pytest.raises(groq.RateLimitError):
        fake_groq.inject(ash_rate_limit())
        client.audio.transcriptions.create(file=(FIRST_FLAC.name, FIRST_FLAC.read_bytes()), model="whisper-large-v3-turbo")


@pytest.mark.slow
def test_job_file_runs_against_the_fake(fake_groq, tmp_path):
    reference_transcripts(fake_groq, DEMO_ROOT)
    fake_groq.inject(Fault.http(503), ash_rate_limit("0.2"))  # a 5xx and a 429, each retried
    result, db, job = run_job_file("groq_librispeech.json", fake_groq, tmp_path, {"GROQ_API_KEY": fake_groq.api_key}, run_cli)
    assert_job_file_ran(result, db, job)
    assert len(fake_groq.requests) == 4 * len(job["providers"]) + 2
    costs = rows(db, "SELECT c.seconds_billed, c.extra_json, j.label FROM cost_summary c JOIN job_run j USING (job_run_id)")
    for cost in costs:  # every demo utterance is under 10 s: each is billed the minimum
        assert cost["seconds_billed"] == 4 * MIN_BILLED_SECONDS
        assert json.loads(cost["extra_json"])["seconds_from_provider_usage"] == 4 * MIN_BILLED_SECONDS
    meta = json.loads(rows(db, "SELECT meta_json FROM latency_sample LIMIT 1")[0]["meta_json"])
    assert "x-ratelimit-remaining-requests" in meta["ratelimit"]
    assert files_containing(tmp_path, fake_groq.api_key) == []
