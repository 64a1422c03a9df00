"""Every vendor at once: jobs/all_vendors_librispeech.json through the real CLI, each provider's
base_url pointed at its own fake (nothing else changed), over the first utterances of the demo
corpus. The report has one leaderboard row per vendor and each fake saw exactly the requests its
protocol needs per utterance."""

from __future__ import annotations

import importlib.util
import json

import pytest
from conftest import DEMO_ROOT, REPO, run_cli
from fakes import FakeDeepgram, FakeOpenAI
from fakes.fake_assemblyai import FakeAssemblyAI
from fakes.fake_azure import FakeAzureSpeech
from fakes.fake_elevenlabs import FakeElevenLabs
from fakes.fake_gladia import FakeGladia
from fakes.fake_google import FakeGoogleSpeech
from fakes.fake_groq import FakeGroq
from fakes.fake_mistral import FakeMistral
from fakes.fake_revai import FakeRevAI
from fakes.fake_soniox import FakeSoniox
from fakes.fake_speechmatics import FakeSpeechmatics
from fakes.harness import files_containing, reference_transcripts, rows

UTTERANCES = 3
HAVE_GOOGLE = importlib.util.find_spec("google.cloud.speech_v2") is not None
#: vendor -> (fake, key variable, requests per utterance). The job fakes show two pending polls,
#: then done: AssemblyAI and Gladia upload + create + 3 polls + delete (the done poll holds the
#: result); Speechmatics and Rev.ai create + 3 polls + transcript + delete; Soniox upload + create
#: + 3 polls + transcript + delete transcription + delete file. The rest answer in one request.
VENDORS = {
    "deepgram": (FakeDeepgram, "DEEPGRAM_API_KEY", 1),
    "openai": (FakeOpenAI, "OPENAI_API_KEY", 1),
    "assemblyai": (FakeAssemblyAI, "ASSEMBLYAI_API_KEY", 6),
    "speechmatics": (FakeSpeechmatics, "SPEECHMATICS_API_KEY", 6),
    "revai": (FakeRevAI, "REVAI_ACCESS_TOKEN", 6),
    "gladia": (FakeGladia, "GLADIA_API_KEY", 6),
    "soniox": (FakeSoniox, "SONIOX_API_KEY", 8),
    "elevenlabs": (FakeElevenLabs, "ELEVENLABS_API_KEY", 1),
    "azure": (FakeAzureSpeech, "AZURE_SPEECH_KEY", 1),
    "mistral": (FakeMistral, "MISTRAL_API_KEY", 1),
    "groq": (FakeGroq, "GROQ_API_KEY", 1),
    "google": (lambda: FakeGoogleSpeech(project="my-gcp-project"), "GOOGLE_SPEECH_API_KEY", 1),
}
JOB_VENDORS = {"assemblyai", "speechmatics", "revai", "gladia", "soniox"}


@pytest.mark.slow
def test_every_vendor_in_one_job(tmp_path):
    source = REPO / "jobs" / "all_vendors_librispeech.json"
    job = json.loads(source.read_text())
    if not HAVE_GOOGLE:  # the google extra is not installed: the job without it
        job["providers"] = [p for p in job["providers"] if p["name"] != "google"]
    names = [p["name"] for p in job["providers"]]
    assert set(names) <= set(VENDORS) and len(names) == len(set(names))
    fakes = {name: VENDORS[name][0]() for name in names}
    for fake in fakes.values():
        fake.start()
        reference_transcripts(fake, DEMO_ROOT)
    try:
        for p in job["providers"]:
            p["base_url"] = fakes[p["name"]].base_url
            if p["name"] in JOB_VENDORS:
                p["poll_interval_s"] = 0.05  # the fakes answer at once; 1 s would only slow the test
        for d in job["datasets"]:
            d["root"] = str((source.parent / d["root"]).resolve())
        path = tmp_path / "all_vendors.json"
        path.write_text(json.dumps(job))
        env = {VENDORS[name][1]: fake.api_key for name, fake in fakes.items()}
        db = tmp_path / "bench.db"
        result = run_cli("--config", str(path), "--db", f"sqlite:///{db}", "--max-utt", str(UTTERANCES), env=env)
        assert result.returncode == 0, result.stderr[-3000:]

        counts = {name: len(fake.requests) for name, fake in fakes.items()}
        print(f"\nrequests per vendor for {UTTERANCES} utterances: {counts}")
        assert counts == {name: VENDORS[name][2] * UTTERANCES for name in names}
        assert all(r.status is not None and r.status < 300 for fake in fakes.values() for r in fake.requests)
        for name in JOB_VENDORS & set(names):  # every job's audio and transcript deleted at the vendor
            assert len(fakes[name].jobs) == UTTERANCES and all(j.deleted for j in fakes[name].jobs.values()), name

        runs = rows(db, "SELECT p.name AS provider, j.status FROM job_run j JOIN model m USING (model_id) "
                        "JOIN provider p USING (provider_id) ORDER BY j.job_run_id")
        assert sorted((r["provider"], r["status"]) for r in runs) == sorted((n, "completed") for n in names)
        assert rows(db, "SELECT count(*) AS n FROM prediction WHERE status = 'ok'")[0]["n"] == UTTERANCES * len(names)
        wer = rows(db, "SELECT value FROM metric_summary WHERE metric = 'wer'")
        assert [w["value"] for w in wer] == [0.0] * len(names)
        board = [line for line in result.stdout.splitlines() if not line.startswith("* harness-bound")]
        for p in job["providers"]:  # one leaderboard row each
            assert sum(f"{p['name']}/{p['model']}" in line for line in board) == 1, (p["name"], result.stdout)
        assert all(files_containing(tmp_path, fake.api_key) == [] for fake in fakes.values())
    finally:
        for fake in fakes.values():
            fake.stop()


def test_the_all_vendors_job_file_names_every_vendor_once():
    from spectragram_bench.core.config import load_config

    config = load_config(REPO / "jobs" / "all_vendors_librispeech.json")
    assert sorted(p.name for p in config.providers) == sorted(VENDORS)
    assert all(p.base_url is None for p in config.providers)  # a user's run goes to the vendors themselves
