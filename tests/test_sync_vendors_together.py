"""All five one-request vendors (ElevenLabs, Azure, Mistral, Groq, Google) in one job, each
against its own fake: one leaderboard row each, and the requests each fake saw."""

from __future__ import annotations

import pytest
from conftest import DEMO_ROOT, run_cli
from fakes.fake_azure import FakeAzureSpeech
from fakes.fake_elevenlabs import FakeElevenLabs
from fakes.fake_google import FakeGoogleSpeech
from fakes.fake_groq import FakeGroq
from fakes.fake_mistral import FakeMistral
from fakes.harness import reference_transcripts, rows, write_job

pytest.importorskip("google.cloud.speech_v2")


@pytest.mark.slow
def test_five_vendors_in_one_job(tmp_path):
    fakes = {"elevenlabs": FakeElevenLabs(), "azure": FakeAzureSpeech(), "mistral": FakeMistral(), "groq": FakeGroq(),
             "google": FakeGoogleSpeech()}
    for fake in fakes.values():
        fake.start()
        reference_transcripts(fake, DEMO_ROOT)
    try:
        providers = [
            {"name": "elevenlabs", "model": "scribe_v2", "params": {"language_code": "en"}},
            {"name": "azure", "model": "fast", "params": {"locales": ["en-US"]}},
            {"name": "mistral", "model": "voxtral-mini-2507", "params": {"language": "en"}},
            {"name": "groq", "model": "whisper-large-v3-turbo", "params": {"language": "en"}},
            {"name": "google", "model": "chirp_2", "api_key_env": "GOOGLE_SPEECH_API_KEY",
             "params": {"project": fakes["google"].project, "language_codes": ["en-US"]}},
        ]
        for p in providers:
            p.update(base_url=fakes[p["name"]].base_url, concurrency=2)
        job = write_job(tmp_path / "job.json", providers, DEMO_ROOT, max_utt=3)
        env = {"ELEVENLABS_API_KEY": fakes["elevenlabs"].api_key, "AZURE_SPEECH_KEY": fakes["azure"].api_key,
               "MISTRAL_API_KEY": fakes["mistral"].api_key, "GROQ_API_KEY": fakes["groq"].api_key,
               "GOOGLE_SPEECH_API_KEY": fakes["google"].api_key}
        db = tmp_path / "bench.db"
        result = run_cli("--config", str(job), "--db", f"sqlite:///{db}", env=env)
        assert result.returncode == 0, result.stderr
        counts = {name: len(fake.requests) for name, fake in fakes.items()}
        print(f"\nrequests per vendor: {counts}")
        assert counts == dict.fromkeys(fakes, 3)
        runs = rows(db, "SELECT p.name AS provider, j.status FROM job_run j JOIN model m USING (model_id) "
                        "JOIN provider p USING (provider_id) ORDER BY j.job_run_id")
        assert [(r["provider"], r["status"]) for r in runs] == [(name, "completed") for name in fakes]
        wer = rows(db, "SELECT value FROM metric_summary WHERE metric = 'wer'")
        assert [w["value"] for w in wer] == [0.0] * 5
        for p in providers:  # one leaderboard row each
            assert sum(f"{p['name']}/{p['model']}" in line for line in result.stdout.splitlines() if not line.startswith("* harness-bound")) == 1, result.stdout
    finally:
        for fake in fakes.values():
            fake.stop()
