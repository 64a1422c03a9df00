"""Database outages ridden out: a PostgreSQL refusing connections (a TCP proxy in front of the
real server, stopped and restarted) and a SQLite write lock held by another connection, in
the middle of a run. Within `db_retry_s` the run completes with every item requested once;
past it the run stops as interrupted with one line saying how to resume, and the resume
completes it. No database error is ever recorded as a provider failure."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from conftest import DEMO_ROOT
from db_outage import TcpProxy, sqlite_write_lock
from fault_fake import FaultServer
from sqlalchemy import func, select
from test_resume import start as start_cli

from spectragram_bench.core.models import JobRun, Prediction, WorkItemRow
from spectragram_bench.core.persistence import open_database

N_UTT = 40  # the demo corpus


def write_job(tmp_path: Path, url: str, *, db_retry_s: float | None = None, rate_limited: bool = False) -> Path:
    provider = {"name": "faulty", "base_url": url, "concurrency": 2, "timeout_s": 30}
    if rate_limited:  # on PostgreSQL the schedule lives in the database: the shared pacer is in the outage too
        provider["rate_limit"] = {"requests_per_minute": 6000}
    job = {
        "name": "outage-test", "providers": [provider],
        "datasets": [{"name": "librispeech", "root": str(DEMO_ROOT), "subsets": ["demo-clean"]}],
        "evaluation": {"normalizer": "basic", "bootstrap_iterations": 50},
    }
    if db_retry_s is not None:
        job["db_retry_s"] = db_retry_s
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job))
    return path


def start(args: list[str], tmp_path: Path, tag: str) -> tuple[subprocess.Popen, Path]:
    return start_cli([*args, "--quiet", "--no-report"], tmp_path, tag)


def counts(db_url: str) -> dict:
    db = open_database(db_url)
    with db.session() as s:
        by_status = dict(s.execute(select(Prediction.status, func.count()).group_by(Prediction.status)).all())
        runs = s.execute(select(JobRun.status)).scalars().all()
        kinds = s.execute(select(Prediction.error_kind).where(Prediction.status != "ok")).scalars().all()
    db.dispose()
    return {"ok": by_status.get("ok", 0), "failed": sum(v for k, v in by_status.items() if k != "ok"),
            "runs": runs, "kinds": kinds}


def wait_for_ok(db_url: str, n: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, "the run ended before the outage"
        try:
            if counts(db_url)["ok"] >= n:
                return
        except Exception:
            pass  # not created yet
        assert time.monotonic() < deadline, f"fewer than {n} predictions committed"
        time.sleep(0.1)


def finish(proc: subprocess.Popen, log: Path, timeout: float = 300) -> str:
    proc.wait(timeout)
    text = log.read_text()
    assert "Traceback" not in text, text
    return text


def record(tag: str, **facts) -> None:
    """The counts the issue asks to report, printed for `pytest -s`."""
    print(f"\n[outage] {tag}: " + ", ".join(f"{k}={v}" for k, v in facts.items()))


def check_completed_once(db_url: str, srv: FaultServer) -> dict:
    c = counts(db_url)
    assert c == {"ok": N_UTT, "failed": 0, "runs": ["completed"], "kinds": []}, c
    return c


def leased(db_url: str) -> int:
    db = open_database(db_url)
    with db.session() as s:
        n = s.execute(select(func.count()).select_from(WorkItemRow).where(WorkItemRow.state == "leased")).scalar_one()
    db.dispose()
    return n


def check_interrupted_then_resume(
    db_url: str, srv: FaultServer, text: str, proc, tmp_path: Path, tag: str, *, back_in_time: bool,
) -> None:
    """`back_in_time`: the database returned while the run was closing, so it could record
    everything (interrupted, leases released, every finished result stored); otherwise the
    job run may still read `running` (nothing could be written) and the resume takes it over."""
    assert proc.returncode == 130, text
    line = [ln for ln in text.splitlines() if ln.startswith("interrupted:")]
    assert len(line) == 1 and "the database was unavailable for" in line[0] and "resume with:" in line[0], text
    before = counts(db_url)
    assert before["failed"] == 0 and before["kinds"] == [], before  # never a provider failure
    if back_in_time:
        assert before["runs"] == ["interrupted"] and leased(db_url) == 0, before
        assert "every finished result is stored" in line[0]
        assert before["ok"] == len(srv.state.log), "every reply received was stored"
    else:
        assert before["runs"][0] in ("interrupted", "running"), before
    sent_before = len(srv.state.log)
    proc, log = start(["run", "--resume", "1", "--db", db_url], tmp_path, f"{tag}-resume")
    finish(proc, log)
    assert proc.returncode == 0, log.read_text()
    check_completed_once(db_url, srv)
    resumed = len(srv.state.log) - sent_before
    assert resumed == N_UTT - before["ok"]  # exactly what was not stored is requested again
    record(tag, items=N_UTT, predictions_before_resume=before["ok"], failures=before["failed"],
           requests_before_resume=sent_before, resumed_requests=resumed, predictions_after=N_UTT,
           status_before=before["runs"][0])


# -- SQLite: a write lock held by another connection -------------------------------------------


def _sqlite_lock_run(tmp_path: Path, srv: FaultServer, lock_s: float, db_retry_s: float | None) -> tuple[str, str, subprocess.Popen]:
    path = tmp_path / "bench.db"
    db_url = f"sqlite:///{path}"
    job = write_job(tmp_path, srv.url, db_retry_s=db_retry_s)
    proc, log = start(["--config", str(job), "--db", db_url], tmp_path, "run")
    wait_for_ok(db_url, 8, proc)
    with sqlite_write_lock(str(path)):
        time.sleep(lock_s)
    return db_url, finish(proc, log), proc


def test_sqlite_lock_shorter_than_db_retry_completes(tmp_path: Path):
    with FaultServer(latency_s=0.25) as srv:
        db_url, text, proc = _sqlite_lock_run(tmp_path, srv, lock_s=4, db_retry_s=10)
    assert proc.returncode == 0, text
    check_completed_once(db_url, srv)
    assert len(srv.state.log) == N_UTT  # nothing requested twice
    record("sqlite lock 4 s, db_retry_s 10", items=N_UTT, predictions=N_UTT, failures=0, resumed=0)


def test_sqlite_lock_longer_than_db_retry_interrupts_cleanly_and_resumes(tmp_path: Path):
    with FaultServer(latency_s=0.25) as srv:
        db_url, text, proc = _sqlite_lock_run(tmp_path, srv, lock_s=7, db_retry_s=4)
        check_interrupted_then_resume(db_url, srv, text, proc, tmp_path, "sqlite lock 7 s, db_retry_s 4", back_in_time=True)


@pytest.mark.slow
def test_sqlite_lock_of_35_seconds_with_the_default_db_retry_completes(tmp_path: Path):
    with FaultServer(latency_s=0.25) as srv:
        db_url, text, proc = _sqlite_lock_run(tmp_path, srv, lock_s=35, db_retry_s=None)
    assert proc.returncode == 0, text
    check_completed_once(db_url, srv)
    assert len(srv.state.log) == N_UTT
    record("sqlite lock 35 s, default db_retry_s 60", items=N_UTT, predictions=N_UTT, failures=0, resumed=0)


# -- PostgreSQL: connections refused and reset ---------------------------------------------------


@pytest.mark.postgres
def test_postgres_refusing_for_4_seconds_completes(pg_url: str, tmp_path: Path):
    proxy = TcpProxy().start()
    via_proxy = pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    try:
        with FaultServer(latency_s=0.25) as srv:
            job = write_job(tmp_path, srv.url, rate_limited=True)
            proc, log = start(["--config", str(job), "--db", via_proxy], tmp_path, "run")
            wait_for_ok(pg_url, 8, proc)
            proxy.outage(4.0).join()
            text = finish(proc, log)
        assert proc.returncode == 0, text
        assert "database unavailable" in text  # it did see the outage
        check_completed_once(pg_url, srv)
        assert len(srv.state.log) == N_UTT
        record("postgres refused 4 s, default db_retry_s 60", items=N_UTT, predictions=N_UTT, failures=0, resumed=0)
    finally:
        proxy.stop()


@pytest.mark.postgres
@pytest.mark.parametrize("outage_s, db_retry_s, back_in_time", [(7.0, 4.0, True), (12.0, 1.5, False)],
                         ids=["back-while-closing", "away-past-closing"])
def test_postgres_outage_longer_than_db_retry_interrupts_cleanly_and_resumes(
    pg_url: str, tmp_path: Path, outage_s: float, db_retry_s: float, back_in_time: bool,
):
    proxy = TcpProxy().start()
    via_proxy = pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    try:
        with FaultServer(latency_s=0.25) as srv:
            job = write_job(tmp_path, srv.url, rate_limited=True, db_retry_s=db_retry_s)
            proc, log = start(["--config", str(job), "--db", via_proxy], tmp_path, "run")
            wait_for_ok(pg_url, 8, proc)
            back = proxy.outage(outage_s)
            text = finish(proc, log)
            back.join()
            check_interrupted_then_resume(via_proxy, srv, text, proc, tmp_path,
                                          f"postgres refused {outage_s:g} s, db_retry_s {db_retry_s:g}", back_in_time=back_in_time)
    finally:
        proxy.stop()
