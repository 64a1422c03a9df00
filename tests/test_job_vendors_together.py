"""The three job-based vendors (AssemblyAI, Speechmatics, Rev.ai) in one job, each against its own
fake: one leaderboard row each, every job deleted, and the requests each fake saw."""

from __future__ import annotations

import pytest
from conftest import DEMO_ROOT, run_cli
from fakes.fake_assemblyai import FakeAssemblyAI
from fakes.fake_revai import FakeRevAI
from fakes.fake_speechmatics import FakeSpeechmatics
from fakes.harness import reference_transcripts, rows, write_job

UTTERANCES = 3
#: per utterance: AssemblyAI upload + submit + 3 polls + delete; the others submit + 3 polls +
#: transcript + delete (the fakes show two pending polls, then done)
REQUESTS_PER_UTTERANCE = {"assemblyai": 6, "speechmatics": 6, "revai": 6}


@pytest.mark.slow
def test_three_job_vendors_in_one_job(tmp_path):
    fakes = {"assemblyai": FakeAssemblyAI(), "speechmatics": FakeSpeechmatics(), "revai": FakeRevAI()}
    for fake in fakes.values():
        fake.start()
        reference_transcripts(fake, DEMO_ROOT)
    try:
        providers = [
            {"name": "assemblyai", "model": "universal-3-pro", "params": {"language_code": "en"}},
            {"name": "speechmatics", "model": "enhanced", "params": {"language": "en"}, "price_per_minute_usd": 0.004},
            {"name": "revai", "model": "machine", "params": {"language": "en"}, "price_per_minute_usd": 0.003},
        ]
        for p in providers:
            p.update(base_url=fakes[p["name"]].base_url, concurrency=2, poll_interval_s=0.05)
        job = write_job(tmp_path / "job.json", providers, DEMO_ROOT, max_utt=UTTERANCES)
        env = {"ASSEMBLYAI_API_KEY": fakes["assemblyai"].api_key, "SPEECHMATICS_API_KEY": fakes["speechmatics"].api_key,
               "REVAI_ACCESS_TOKEN": fakes["revai"].api_key}
        db = tmp_path / "bench.db"
        result = run_cli("--config", str(job), "--db", f"sqlite:///{db}", env=env)
        assert result.returncode == 0, result.stderr
        counts = {name: len(fake.requests) for name, fake in fakes.items()}
        print(f"\nrequests per vendor: {counts}")
        assert counts == {name: n * UTTERANCES for name, n in REQUESTS_PER_UTTERANCE.items()}
        assert all(len(fake.deletions()) == UTTERANCES for fake in fakes.values())
        runs = rows(db, "SELECT p.name AS provider, j.status FROM job_run j JOIN model m USING (model_id) "
                        "JOIN provider p USING (provider_id) ORDER BY j.job_run_id")
        assert [(r["provider"], r["status"]) for r in runs] == [(name, "completed") for name in fakes]
        assert [w["value"] for w in rows(db, "SELECT value FROM metric_summary WHERE metric = 'wer'")] == [0.0] * 3
        for p in providers:  # one leaderboard row each
            assert sum(f"{p['name']}/{p['model']}" in line for line in result.stdout.splitlines()) == 1, result.stdout
    finally:
        for fake in fakes.values():
            fake.stop()
