"""Limits per account: job runs of one provider name, base_url and key variable share one
concurrency limit, one rate schedule and one first-attempt gate."""

from __future__ import annotations

import socket

import pytest
from conftest import DEMO_ROOT, run_cli
from fakes import Fault
from fakes.harness import reference_transcripts, rows, write_job

from spectragram_bench.core.config import ProviderConfig, parse_config
from spectragram_bench.core.errors import ConfigError
from spectragram_bench.core.persistence import open_database
from spectragram_bench.worker.accounts import (
    account_key,
    account_pacer_row,
    check_account_limits,
    with_account_limits,
)
from spectragram_bench.worker.worker_loop import enqueue_benchmark


def pcs(*entries: dict) -> list[ProviderConfig]:
    return [ProviderConfig.model_validate(e) for e in entries]


def test_an_account_is_name_base_url_and_key_variable():
    a, b, c, d = pcs(
        {"name": "openai", "model": "whisper-1"},
        {"name": "openai", "model": "gpt-4o-transcribe", "base_url": "https://api.openai.com/"},
        {"name": "openai", "model": "whisper-1", "label": "other key", "api_key_env": "OPENAI_KEY_2"},
        {"name": "pocketsphinx", "model": "en-us"},
    )
    assert account_key(a) == account_key(b) == ("openai", "https://api.openai.com", "OPENAI_API_KEY")
    assert account_key(c) != account_key(a)
    assert account_key(d) is None  # a local engine has limits of its own


def test_limits_given_twice_must_agree_naming_both_paths():
    with pytest.raises(ConfigError) as info:
        check_account_limits(pcs(
            {"name": "assemblyai", "model": "universal-3-pro", "concurrency": 4},
            {"name": "deepgram", "model": "nova-3", "concurrency": 9},
            {"name": "assemblyai", "model": "universal-2", "concurrency": 8},
        ))
    message = str(info.value)
    assert "$.providers[0].concurrency (4) and $.providers[2].concurrency (8) differ" in message
    assert "assemblyai at https://api.assemblyai.com" in message and "\n" not in message
    with pytest.raises(ConfigError, match=r"\$.providers\[0\].rate_limit .* \$.providers\[1\].rate_limit"):
        check_account_limits(pcs(
            {"name": "openai", "model": "whisper-1", "rate_limit": {"requests_per_minute": 50}},
            {"name": "openai", "model": "gpt-4o-transcribe", "rate_limit": {"requests_per_minute": 500}},
        ))


def test_limits_given_once_apply_to_the_whole_account():
    entries = pcs(
        {"name": "assemblyai", "model": "universal-3-pro", "concurrency": 3, "rate_limit": {"requests_per_minute": 60}},
        {"name": "assemblyai", "model": "universal-2"},
        {"name": "assemblyai", "model": "universal-2", "label": "eu", "base_url": "https://api.eu.assemblyai.com"},
    )
    check_account_limits(entries)  # the same value twice, or once, is fine
    second = with_account_limits(entries[1], entries)
    assert second.concurrency == 3 and second.rate_limit.requests_per_minute == 60
    eu = with_account_limits(entries[2], entries)
    assert eu.concurrency == 4 and eu.rate_limit is None  # another region is another account


def test_the_job_file_is_refused_before_any_work(tmp_path, fake_assemblyai):
    job = write_job(tmp_path / "job.json", [
        {"name": "assemblyai", "model": "universal-3-pro", "base_url": fake_assemblyai.base_url, "concurrency": 2},
        {"name": "assemblyai", "model": "universal-2", "base_url": fake_assemblyai.base_url, "concurrency": 5},
    ], DEMO_ROOT)
    result = run_cli("--config", str(job), "--db", f"sqlite:///{tmp_path / 'b.db'}",
                     env={"ASSEMBLYAI_API_KEY": fake_assemblyai.api_key})
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "$.providers[0].concurrency (2) and $.providers[1].concurrency (5) differ" in line
    assert fake_assemblyai.requests == []


def _two_models(server, tmp_path, second_key_env: str | None = None):
    entries = [
        {"name": "assemblyai", "model": "universal-3-pro", "base_url": server.base_url, "concurrency": 2,
         "poll_interval_s": 0.05},
        {"name": "assemblyai", "model": "universal-2", "base_url": server.base_url, "poll_interval_s": 0.05,
         **({"api_key_env": second_key_env, "concurrency": 2} if second_key_env else {})},
    ]
    return write_job(tmp_path / "job.json", entries, DEMO_ROOT, max_utt=12)


@pytest.mark.slow
def test_two_models_of_one_account_stay_under_its_limit(fake_assemblyai, tmp_path):
    """The fake answers 429 beyond 2 transcripts in flight (the account's limit): shared, the two
    job runs never provoke one."""
    reference_transcripts(fake_assemblyai, DEMO_ROOT)
    fake_assemblyai.max_active_jobs = 2
    db = tmp_path / "bench.db"
    result = run_cli("--config", str(_two_models(fake_assemblyai, tmp_path)), "--db", f"sqlite:///{db}",
                     env={"ASSEMBLYAI_API_KEY": fake_assemblyai.api_key})
    assert result.returncode == 0, result.stderr
    assert fake_assemblyai.rejected_over_limit == 0 and fake_assemblyai.peak_active_jobs == 2
    assert sum(1 for r in fake_assemblyai.requests if r.status == 429) == 0
    assert rows(db, "SELECT count(*) AS n FROM prediction WHERE status = 'ok'")[0]["n"] == 24


@pytest.mark.slow
def test_the_same_account_under_two_key_variables_is_two_accounts_and_overruns(fake_assemblyai, tmp_path):
    """The control: each job run with its own limit of 2 puts up to 4 transcripts in flight."""
    reference_transcripts(fake_assemblyai, DEMO_ROOT)
    fake_assemblyai.max_active_jobs = 2
    db = tmp_path / "bench.db"
    key = fake_assemblyai.api_key
    result = run_cli("--config", str(_two_models(fake_assemblyai, tmp_path, "AAI_SECOND_KEY")), "--db",
                     f"sqlite:///{db}", env={"ASSEMBLYAI_API_KEY": key, "AAI_SECOND_KEY": key})
    assert result.returncode == 0, result.stderr  # the 429s are retried
    assert fake_assemblyai.rejected_over_limit > 0


@pytest.mark.slow
def test_a_wrong_key_costs_one_request_for_the_whole_account(fake_assemblyai, tmp_path):
    job = write_job(tmp_path / "job.json", [
        {"name": "assemblyai", "model": "universal-3-pro", "base_url": fake_assemblyai.base_url, "concurrency": 8},
        {"name": "assemblyai", "model": "universal-2", "base_url": fake_assemblyai.base_url},
    ], DEMO_ROOT)
    db = tmp_path / "bench.db"
    result = run_cli("--config", str(job), "--db", f"sqlite:///{db}", env={"ASSEMBLYAI_API_KEY": "wrong-key-000"})
    assert result.returncode == 1
    assert len(fake_assemblyai.requests) == 1 and fake_assemblyai.requests[0].status == 401
    runs = rows(db, "SELECT status, error_text FROM job_run ORDER BY job_run_id")
    assert [r["status"] for r in runs] == ["failed", "failed"]
    assert all("HTTP 401: Authentication error, API token missing/invalid" in r["error_text"] for r in runs)
    assert len(rows(db, "SELECT * FROM prediction")) == 1  # the one utterance tried; the rest stay unrecorded


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_an_unreachable_server_stops_the_job_run_with_one_line_naming_the_url(tmp_path):
    url = f"http://127.0.0.1:{_closed_port()}"
    job = write_job(tmp_path / "job.json", [
        {"name": "openai_compatible", "model": "whisper-small", "base_url": url, "concurrency": 4, "max_attempts": 2},
    ], DEMO_ROOT)
    db = tmp_path / "bench.db"
    result = run_cli("--config", str(job), "--db", f"sqlite:///{db}")
    assert result.returncode == 1
    # one line, in the failure summary after the (empty) leaderboard; no log line repeats it
    lines = [line for line in (result.stdout + result.stderr).splitlines() if "cannot connect" in line]
    assert len(lines) == 1 and f"cannot connect to {url}" in lines[0], result.stdout + result.stderr
    (run,) = rows(db, "SELECT status, error_text FROM job_run")
    assert run["status"] == "failed" and url in run["error_text"]
    (pred,) = rows(db, "SELECT error_kind, attempts FROM prediction")
    assert (pred["error_kind"], pred["attempts"]) == ("retryable", 2)


def test_every_worker_picks_the_same_rate_schedule_row(db_url, monkeypatch):
    """On PostgreSQL the account's schedule is the rate_pacer row of its lowest job run id, which
    every worker computes from the benchmark's stored config alike."""
    config = parse_config({
        "providers": [
            {"name": "deepgram", "model": "nova-3", "label": "a"},
            {"name": "openai", "model": "whisper-1", "rate_limit": {"requests_per_minute": 60}},
            {"name": "openai", "model": "gpt-4o-transcribe"},
        ],
        "datasets": [{"name": "librispeech", "root": str(DEMO_ROOT), "subsets": ["demo-clean"]}],
        "max_utt": 2,
    })
    monkeypatch.setenv("DEEPGRAM_API_KEY", "x")
    monkeypatch.setenv("OPENAI_API_KEY", "y")
    db = open_database(db_url)
    _benchmark_id, (deepgram, whisper, gpt4o), _n = enqueue_benchmark(config, db)
    assert account_pacer_row(db, deepgram) == deepgram
    assert account_pacer_row(db, whisper) == account_pacer_row(db, gpt4o) == whisper


def test_a_429_burst_before_any_success_opens_the_gate(fake_openai, tmp_path):
    """A rate-limit reply proves key and server fine: the account's other utterances start at
    once (AIMD lowers their number) instead of the probe draining the burst one backoff at a time."""
    fake_openai.latency_s = 0.05
    fake_openai.inject(*[Fault.http(429, retry_after_ms="20") for _ in range(8)])
    job = write_job(tmp_path / "job.json", [{"name": "openai", "model": "whisper-1", "base_url": fake_openai.base_url,
                                              "concurrency": 8}], DEMO_ROOT)
    db = tmp_path / "bench.db"
    result = run_cli("--config", str(job), "--db", f"sqlite:///{db}", env={"OPENAI_API_KEY": fake_openai.api_key})
    assert result.returncode == 0, result.stderr
    assert sum(1 for r in fake_openai.requests if r.status == 429) == 8
    preds = rows(db, "SELECT status, attempts FROM prediction")
    assert len(preds) == 40 and {p["status"] for p in preds} == {"ok"}
    # the gated probe alone would have taken every 429 (9 attempts); open, the burst is shared
    assert max(p["attempts"] for p in preds) <= 3, sorted(p["attempts"] for p in preds)[-5:]
    assert max(r.in_flight for r in fake_openai.requests) > 1
