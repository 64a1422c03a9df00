"""A job run whose process died (kill -9) is shown as `interrupted (stale)` with its heartbeat's
age by `list` and `report`, and `run --resume` takes it over even when its leases name another
host; a live run's heartbeat keeps it `running`."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select, text

from spectragram_bench.core import models as m
from spectragram_bench.core.defaults import STALE_AFTER_S
from spectragram_bench.core.liveness import shown_status
from spectragram_bench.core.persistence import open_database
from tests.conftest import DEMO_ROOT, REPO, migrate, run_cli

N_UTT = 40


def test_shown_status_by_heartbeat_age():
    now = 1_000_000.0
    assert shown_status("running", now - 5, now=now) == "running"
    assert shown_status("running", now - STALE_AFTER_S - 1, now=now) == "interrupted (stale, heartbeat 2m01s ago)"
    assert shown_status("running", now - 3 * 3600 - 120, now=now) == "interrupted (stale, heartbeat 3h02m ago)"
    assert shown_status("completed", now - 10_000, now=now) == "completed"  # only a running one can be stale
    started = datetime.fromtimestamp(now - 600, UTC).replace(tzinfo=None)  # as SQLite gives it back
    assert shown_status("running", None, started, now=now) == "interrupted (stale, heartbeat 10m00s ago)"
    assert shown_status("running", None, None, now=now) == "interrupted (stale, no heartbeat)"


def committed(db_path: Path) -> int:
    try:
        with sqlite3.connect(db_path) as conn:
            return conn.execute("SELECT count(*) FROM prediction WHERE status = 'ok'").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_kill_9_shows_stale_and_resume_takes_it_over(tmp_path):
    db_path = tmp_path / "bench.db"
    url = f"sqlite:///{db_path}"
    job = tmp_path / "job.json"
    job.write_text(json.dumps({
        "name": "liveness",
        "providers": [{"name": "mock", "model": "m1", "concurrency": 2, "params": {"latency_ms": 700}}],
        "datasets": [{"name": "librispeech", "root": str(DEMO_ROOT), "subsets": ["demo-clean"]}],
        "evaluation": {"normalizer": "basic", "bootstrap_iterations": 0},
    }))
    env = {k: v for k, v in os.environ.items() if k != "SPECTRAGRAM_DB_URL"}
    proc = subprocess.Popen([sys.executable, str(REPO / "app.py"), "run", "--config", str(job), "--db", url, "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO, env=env)
    deadline = time.monotonic() + 60
    while committed(db_path) < 4:
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    live = run_cli("list", "--db", url)
    proc.kill()  # SIGKILL: no cleanup, the job run stays `running` in the database
    proc.wait()
    assert live.returncode == 0 and " running " in live.stdout and "(stale" not in live.stdout, live.stdout

    with sqlite3.connect(db_path) as conn:
        status, beat = conn.execute("SELECT status, heartbeat_at FROM job_run").fetchone()
        assert status == "running" and abs(time.time() - beat) < 60
        # ten minutes pass; the dead process's leases look like another host's, so only the
        # heartbeat can tell the resume that nobody holds them any more
        conn.execute("UPDATE job_run SET heartbeat_at = heartbeat_at - 600")
        conn.execute("UPDATE work_item SET lease_owner = 'elsewhere:1:dead', lease_expires_at = ? WHERE state = 'leased'",
                      (time.time() + 3600,))
        leased = conn.execute("SELECT count(*) FROM work_item WHERE state = 'leased'").fetchone()[0]
    assert leased > 0

    listed = run_cli("list", "--db", url)
    assert listed.returncode == 0, listed.stderr
    assert "interrupted (stale, heartbeat 10m" in listed.stdout, listed.stdout
    reported = run_cli("report", "1", "--db", url, "--out", str(tmp_path / "r.html"))
    assert reported.returncode == 0, reported.stderr
    assert "job run 1 (mock/m1): interrupted (stale, heartbeat 10m" in reported.stdout
    assert f"of {N_UTT} items done; resume with: spectragram-bench run --resume 1 --db {url}" in reported.stdout

    resumed = run_cli("run", "--resume", "1", "--db", url, "--quiet", "--no-report")
    assert resumed.returncode == 0, resumed.stderr
    assert f"taking it over ({leased} leased items released)" in resumed.stderr
    db = open_database(url)
    with db.session() as s:
        run = s.execute(select(m.JobRun)).scalar_one()
        assert run.status == "completed" and run.heartbeat_at > time.time() - 60
        ok = s.execute(select(func.count()).select_from(m.Prediction).where(m.Prediction.status == "ok")).scalar_one()
        assert ok == N_UTT
    db.dispose()


def test_migration_heartbeat_adds_an_empty_column(sqlite_url):
    db = open_database(sqlite_url)
    with db.engine.begin() as conn:
        migrate(conn, "downgrade", "audio_probes")
    with db.engine.connect() as conn:
        assert "heartbeat_at" not in {r[1] for r in conn.execute(text("PRAGMA table_info(job_run)"))}
    db.dispose()
    db = open_database(sqlite_url)  # opening migrates to head
    with db.engine.connect() as conn:
        assert "heartbeat_at" in {r[1] for r in conn.execute(text("PRAGMA table_info(job_run)"))}
        diff = compare_metadata(MigrationContext.configure(conn), m.Base.metadata)
    assert [d for d in diff if "heartbeat" in str(d)] == []
    db.dispose()
