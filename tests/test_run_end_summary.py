"""What `run` prints at its end: the failures by kind with an example each, and after Ctrl-C or
SIGTERM a PARTIAL leaderboard over the done items (computed, never stored)."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from spectragram_bench.core import models as m
from spectragram_bench.core.persistence import open_database
from tests.conftest import DEMO_ROOT, REPO, run_cli

N_UTT = 40


def mock_job(tmp_path: Path, **params) -> Path:
    job = {
        "name": "end-summary",
        "providers": [{"name": "mock", "model": "m1", "concurrency": 2, "params": params}],
        "datasets": [{"name": "librispeech", "root": str(DEMO_ROOT), "subsets": ["demo-clean"]}],
        "evaluation": {"normalizer": "basic", "bootstrap_iterations": 50},
    }
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job))
    return path


def ok_predictions(db_path: Path) -> int:
    try:
        with sqlite3.connect(db_path) as conn:
            return conn.execute("SELECT count(*) FROM prediction WHERE status = 'ok'").fetchone()[0]
    except sqlite3.OperationalError:
        return 0  # not created yet


def test_failures_are_summarised_by_kind_with_an_example(tmp_path, sqlite_url):
    job = mock_job(tmp_path, error_rate=0.3, error_kind="utterance", seed=3)
    proc = run_cli("run", "--config", str(job), "--db", sqlite_url, "--no-report")
    assert proc.returncode == 0, proc.stderr
    db = open_database(sqlite_url)
    with db.session() as s:
        failed = s.execute(select(func.count()).select_from(m.Prediction).where(m.Prediction.status == "failed")).scalar_one()
    db.dispose()
    assert 0 < failed < N_UTT
    out = proc.stderr  # the summary is diagnostics: stderr, after the leaderboard on stdout
    head = f"job run 1 (mock/m1) partial: {failed} of {N_UTT} items failed"
    assert head in out
    after = out[out.index(head):].splitlines()
    assert re.match(rf"\s+utterance\s+{failed}\s+e\.g\. \S+: HTTP 503: mock failure \(attempt 1\)$", after[1]), after[:3]
    assert "leaderboard" in proc.stdout and "failures by kind" not in proc.stdout


def test_no_failure_summary_when_nothing_failed(tmp_path, sqlite_url):
    proc = run_cli("run", "--config", str(mock_job(tmp_path)), "--db", sqlite_url, "--no-report")
    assert proc.returncode == 0, proc.stderr
    assert "failures by kind" not in proc.stdout and "items failed" not in proc.stdout + proc.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_prints_a_partial_leaderboard_and_stores_no_metrics(tmp_path, sig):
    db_path = tmp_path / "bench.db"
    job = mock_job(tmp_path, latency_ms=150, substitution_rate=0.2, seed=1)
    env = {k: v for k, v in os.environ.items() if k != "SPECTRAGRAM_DB_URL"}
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "app.py"), "run", "--config", str(job), "--db", f"sqlite:///{db_path}", "--quiet", "--no-report"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env,
    )
    deadline = time.monotonic() + 60
    while ok_predictions(db_path) < 6:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no predictions committed within 60 s"
        time.sleep(0.02)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    done = ok_predictions(db_path)
    assert 6 <= done < N_UTT
    assert f"PARTIAL leaderboard: interrupted, {done} of {N_UTT} items done" in out
    assert f"PARTIAL: job run 1 (mock/m1): {done} of {N_UTT} items done" in out
    rows = [line for line in out.splitlines() if "mock/m1" in line and "librispeech" in line]
    assert rows and re.search(r"\d+\.\d", rows[0]), out  # the row has numbers: its WER over the done items
    assert "resume with" in err
    db = open_database(f"sqlite:///{db_path}")
    with db.session() as s:
        assert s.execute(select(m.JobRun.status)).scalar_one() == "interrupted"
        assert s.execute(select(m.JobRun.eval_version)).scalar_one() is None
        assert s.execute(select(func.count()).select_from(m.MetricSummary)).scalar_one() == 0
    db.dispose()


def test_the_report_gives_a_partial_run_its_reasons(tmp_path, sqlite_url):
    job = mock_job(tmp_path, error_rate=0.3, error_kind="utterance", seed=3)
    report = tmp_path / "r.html"
    proc = run_cli("run", "--config", str(job), "--db", sqlite_url, "--report", str(report))
    assert proc.returncode == 0, proc.stderr
    page = report.read_text()
    found = re.search(r"(\d+) of 40 items failed \u2014 utterance (\d+) \(e\.g\. [\w-]+: HTTP 503: mock failure", page)
    assert found and found.group(1) == found.group(2), page[page.find("Run error"):][:2000]
