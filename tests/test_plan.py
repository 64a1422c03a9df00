"""The plan graph and --dry-run: counts, audio hours, cost and duration, and nothing called or written."""

from __future__ import annotations

import json

import pytest
from conftest import DEMO_ROOT, REPO, run_cli
from fault_fake import FaultServer

from spectragram_bench.core.audio import audio_duration
from spectragram_bench.core.config import ProviderConfig, RateLimit, parse_config
from spectragram_bench.worker.plan import build_plan, fmt_duration, min_duration

CLI_WRAPPER = str(REPO / "tests" / "fault_cli.py")


def demo_job(**extra) -> dict:
    return {
        "name": "plan-test",
        "providers": [
            {"name": "mock", "model": "a", "price_per_minute_usd": 0.006, "rate_limit": {"requests_per_minute": 60}},
            {"name": "mock", "model": "b", "rate_limit": {"audio_seconds_per_minute": 30}},
        ],
        "datasets": [{"name": "librispeech", "root": str(DEMO_ROOT), "subsets": ["demo-clean"]}],
        "evaluation": {"normalizer": "basic"},
        **extra,
    }


def test_plan_graph_counts_audio_cost_and_duration():
    plan = build_plan(parse_config(demo_job()))
    total_audio = sum(audio_duration(str(p)) for p in DEMO_ROOT.glob("demo-clean/*/*/*.flac"))
    assert len(plan.utterances) == 40 and plan.n_items == 80
    assert plan.audio_s == pytest.approx(total_audio)
    a, b = plan.job_runs
    assert a.n_items == b.n_items == 40 and a.evaluation.after_items == 40
    assert a.est_cost_usd == pytest.approx(total_audio / 60 * 0.006)
    assert b.est_cost_usd == 0.0  # the mock provider's dated default price: nothing is billed
    assert a.min_duration_s == pytest.approx(40.0)  # 40 requests at 60/min
    assert b.min_duration_s == pytest.approx(total_audio * 2)  # 30 audio s per minute


def test_selection_limits_apply_to_the_plan():
    plan = build_plan(parse_config(demo_job()), max_utt=7)
    assert len(plan.utterances) == 7 and all(j.n_items == 7 for j in plan.job_runs)
    again = build_plan(parse_config(demo_job()), max_utt=7)
    assert [u.record.external_id for u in plan.utterances] == [u.record.external_id for u in again.utterances]


def test_min_duration_takes_the_binding_limit():
    pc = ProviderConfig(name="x", rate_limit=RateLimit(requests_per_minute=120, audio_seconds_per_minute=600))
    assert min_duration(pc, 100, 30.0) == pytest.approx(50.0)  # requests bind
    assert min_duration(pc, 10, 3000.0) == pytest.approx(300.0)  # audio binds
    assert min_duration(ProviderConfig(name="x"), 10, 10.0) is None
    assert fmt_duration(3725) == "1h02m05s" and fmt_duration(65) == "1m05s" and fmt_duration(4.2) == "5s"


def test_dry_run_prints_the_plan_and_calls_and_writes_nothing(tmp_path):
    with FaultServer() as srv:
        job = demo_job()
        job["providers"].append({"name": "faulty", "base_url": srv.url})  # in no price table
        path = tmp_path / "job.json"
        path.write_text(json.dumps(job))
        db = tmp_path / "never.db"
        import subprocess
        import sys

        res = subprocess.run(
            [sys.executable, CLI_WRAPPER, "run", "--config", str(path), "--db", f"sqlite:///{db}", "--dry-run"],
            capture_output=True, text=True, cwd=REPO, timeout=120, check=False,
        )
        assert srv.state.log == []
    assert res.returncode == 0, res.stderr
    out = " ".join(res.stdout.split())
    assert "dry run: no provider called, nothing written" in res.stdout
    assert "mock/a" in out and "mock/b" in out and "faulty/default" in out
    assert "60 req/min" in out and "30 audio s/min" in out and "40s" in out
    assert "total: 3 job run(s), 120 work items" in out
    assert "+ unpriced job runs" in out
    assert not db.exists()


def test_dry_run_reports_a_bad_config_as_one_line(tmp_path):
    path = tmp_path / "job.json"
    path.write_text(json.dumps({**demo_job(), "providers": [{"name": "nope"}]}))
    res = run_cli("run", "--config", str(path), "--dry-run")
    assert res.returncode == 2 and res.stderr.strip().startswith("error: unknown provider 'nope'")


def test_resume_dry_run_shows_the_work_left(tmp_path):
    path = tmp_path / "job.json"
    job = {**demo_job(), "providers": [{"name": "mock", "params": {"error_rate": 0.3, "error_kind": "utterance"}}]}
    path.write_text(json.dumps(job))
    db = f"sqlite:///{tmp_path / 'b.db'}"
    first = run_cli("run", "--config", str(path), "--db", db, "--quiet")
    assert first.returncode == 0, first.stderr
    res = run_cli("run", "--resume", "1", "--db", db, "--dry-run")
    assert res.returncode == 0, res.stderr
    row = next(line for line in res.stdout.splitlines() if "mock/default" in line)
    cells = [c.strip() for c in row.split("│") if c.strip()]
    assert cells[1] == "partial" and cells[2] == "40"
    ok, failed = int(cells[3]), int(cells[4])
    assert ok + failed == 40 and failed > 0 and cells[5] == "0"
