"""Live sessions are limited per account too: job runs of one streaming vendor with the same name,
base_url and key variable share one concurrent-session limit and one rate schedule
(worker/accounts.py, as for the HTTP adapters). The fake AssemblyAI streaming server closes a
session over its limit with 3009 (too many concurrent sessions), as the vendor does."""

from __future__ import annotations

import pytest
from conftest import DEMO_ROOT, run_cli
from fakes.fake_assemblyai_live import FakeAssemblyAILive
from fakes.harness import rows, write_job

UTTERANCES = 4  # per job run


def _job(server: FakeAssemblyAILive, tmp_path, second_key_env: str | None = None, rate_limit: dict | None = None):
    first = {"name": "assemblyai", "model": "universal-streaming-english", "mode": "streaming",
             "base_url": server.base_url, "concurrency": 2, "params": {"pace": 4}}
    if rate_limit:
        first["rate_limit"] = rate_limit
    second = {"name": "assemblyai", "model": "universal-streaming-multilingual", "mode": "streaming",
              "base_url": server.base_url, "params": {"pace": 4}}
    if second_key_env:
        second.update(api_key_env=second_key_env, concurrency=2)
    return write_job(tmp_path / "job.json", [first, second], DEMO_ROOT, max_utt=UTTERANCES)


@pytest.fixture
def server():
    with FakeAssemblyAILive() as fake:
        fake.max_sessions = 2
        yield fake


@pytest.mark.slow
def test_two_models_of_one_account_share_its_session_limit_and_rate(server, tmp_path):
    """Two job runs, one account with 2 sessions at a time and 240 sessions a minute: never a
    third session open, never one closed over the limit, session starts 250 ms apart across both."""
    db = tmp_path / "bench.db"
    job = _job(server, tmp_path, rate_limit={"requests_per_minute": 240})
    result = run_cli("--config", str(job), "--db", f"sqlite:///{db}", env={"ASSEMBLYAI_API_KEY": server.api_key})
    assert result.returncode == 0, result.stderr
    assert server.rejected_over_limit == 0 and server.peak_sessions == 2
    assert rows(db, "SELECT count(*) AS n FROM prediction WHERE status = 'ok'")[0]["n"] == 2 * UTTERANCES
    models = {dict(r.query)["speech_model"] for r in server.requests if r.status == 101}
    assert models == {"universal-streaming-english", "universal-streaming-multilingual"}  # both runs streamed
    starts = sorted(server.session_starts)
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    # one schedule, 0.25 s a session: the pacer's starts are exact, their arrival at the fake
    # jitters with the handshake (a late one shortens the next gap), so the mean gap is the test
    assert len(starts) == 2 * UTTERANCES, starts
    assert (starts[-1] - starts[0]) / len(gaps) > 0.23 and min(gaps) > 0.1, gaps


@pytest.mark.slow
def test_the_same_account_under_two_key_variables_is_two_accounts_and_overruns(server, tmp_path):
    """The control: each job run with its own limit of 2 opens up to 4 sessions at once, and the
    fake closes the ones over its limit (the adapter retries them as rate limited)."""
    db = tmp_path / "bench.db"
    key = server.api_key
    result = run_cli("--config", str(_job(server, tmp_path, "AAI_SECOND_KEY")), "--db", f"sqlite:///{db}",
                     env={"ASSEMBLYAI_API_KEY": key, "AAI_SECOND_KEY": key})
    assert result.returncode == 0, result.stderr
    assert server.rejected_over_limit > 0
