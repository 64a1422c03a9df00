"""Exactly-once across crashes and interruptions: kill -9 at random points then --resume;
Ctrl-C once (in-flight requests finish) and twice (stop at once)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import DEMO_ROOT, REPO
from fault_fake import FaultServer
from sqlalchemy import func, select

from spectragram_bench.core.models import JobRun, Prediction, Utterance, WorkItemRow
from spectragram_bench.core.persistence import open_database

CLI = [sys.executable, str(REPO / "tests" / "fault_cli.py")]
N_UTT = 40  # the demo corpus


def write_job(tmp_path: Path, url: str, **provider) -> Path:
    job = {
        "name": "resume-test",
        "providers": [{"name": "faulty", "base_url": url, "concurrency": 4, "timeout_s": 30, **provider}],
        "datasets": [{"name": "librispeech", "root": str(DEMO_ROOT), "subsets": ["demo-clean"]}],
        "evaluation": {"normalizer": "basic"},
    }
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job))
    return path


def start(args: list[str], tmp_path: Path, tag: str) -> tuple[subprocess.Popen, Path]:
    out = tmp_path / f"{tag}.log"
    env = {k: v for k, v in os.environ.items() if k != "SPECTRAGRAM_DB_URL"}
    proc = subprocess.Popen([*CLI, *args], stdout=out.open("w"), stderr=subprocess.STDOUT, cwd=REPO, env=env)
    return proc, out


def wait_for_requests(srv: FaultServer, n: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(srv.state.log) < n:
        if proc.poll() is not None:
            return
        assert time.monotonic() < deadline, f"server saw {len(srv.state.log)} requests, waited for {n}"
        time.sleep(0.005)


def wait_for_committed(sqlite_url: str, n: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    """Poll the SQLite file (WAL: readers do not block the writer) until n predictions are committed."""
    import sqlite3

    path = sqlite_url.removeprefix("sqlite:///")
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, "the run ended before the kill point"
        try:
            with sqlite3.connect(path) as conn:
                if conn.execute("SELECT count(*) FROM prediction WHERE status = 'ok'").fetchone()[0] >= n:
                    return
        except sqlite3.OperationalError:
            pass  # not created yet
        assert time.monotonic() < deadline, f"fewer than {n} predictions committed"
        time.sleep(0.02)


def recorded_ok(db_url: str) -> set[str]:
    db = open_database(db_url)
    with db.session() as s:
        rows = s.execute(
            select(Utterance.external_id).join(Prediction, Prediction.utt_id == Utterance.utt_id).where(Prediction.status == "ok")
        ).scalars().all()
    db.dispose()
    return set(rows)


@pytest.mark.slow
def test_kill_9_at_random_points_then_resume_requests_nothing_twice(tmp_path, sqlite_url):
    rng = random.Random(20261125)
    with FaultServer(latency_s=0.15) as srv:
        job = write_job(tmp_path, srv.url)
        args = ["run", "--config", str(job), "--db", sqlite_url, "--quiet"]
        kills: list[tuple[int, int]] = []
        seen_before: list[set[str]] = []
        for phase in range(4):
            before = recorded_ok(sqlite_url) if phase else set()
            mark = len(srv.state.log)
            proc, out = start(args if phase == 0 else ["run", "--resume", "1", "--db", sqlite_url, "--quiet"], tmp_path, f"p{phase}")
            if phase < 3:
                # kill once a few more predictions are committed, plus a random few ms (mid-batch)
                wait_for_committed(sqlite_url, min(len(before) + rng.randint(2, 6), N_UTT - 8), proc)
                time.sleep(rng.uniform(0, 0.1))
                proc.kill()  # SIGKILL: no cleanup of any kind
                proc.wait()
                time.sleep(0.2)
                kills.append((len(before), len(srv.state.log) - mark))
            else:
                assert proc.wait(timeout=120) == 0, out.read_text()
            assert phase == 0 or len(before) > len(seen_before[-1]), "each kill left more recorded work"
            seen_before.append(before)
            again = [r.utt for r in srv.state.log[mark:] if r.utt in before]
            assert not again, f"phase {phase} (kills after {kills}) requested already-recorded utterances {again}"
    db = open_database(sqlite_url)
    with db.session() as s:
        per_utt = s.execute(select(Prediction.utt_id, func.count()).group_by(Prediction.utt_id)).all()
        assert len(per_utt) == N_UTT and all(n == 1 for _, n in per_utt)
        assert s.execute(select(func.count()).select_from(Prediction).where(Prediction.status == "ok")).scalar_one() == N_UTT
        run = s.execute(select(JobRun)).scalar_one()
        assert run.status == "completed" and run.ended_at is not None
        assert set(s.execute(select(WorkItemRow.state)).scalars()) == {"done"}
    db.dispose()
    assert len(kills) == 3


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_first_interrupt_lets_in_flight_finish_and_prints_the_resume_hint(tmp_path, sqlite_url, sig):
    with FaultServer(latency_s=0.4) as srv:
        job = write_job(tmp_path, srv.url)
        proc, out = start(["run", "--config", str(job), "--db", sqlite_url, "--quiet"], tmp_path, "int")
        wait_for_requests(srv, 6, proc)
        proc.send_signal(sig)
        code = proc.wait(timeout=60)
        text = out.read_text()
        sent = {r.utt for r in srv.state.log}
        assert code == 130, text
        assert f"resume with: spectragram-bench run --resume 1 --config {job} --db" in text
        ok = recorded_ok(sqlite_url)
        assert ok == sent, "every request in flight at the interrupt finished and was recorded"
        assert len(sent) < N_UTT
        db = open_database(sqlite_url)
        with db.session() as s:
            run = s.execute(select(JobRun)).scalar_one()
            assert run.status == "interrupted" and run.ended_at is not None
            assert "leased" not in set(s.execute(select(WorkItemRow.state)).scalars())
        db.dispose()
        mark = len(srv.state.log)
        proc, out = start(["run", "--resume", "1", "--config", str(job), "--db", sqlite_url, "--quiet"], tmp_path, "res")
        assert proc.wait(timeout=120) == 0, out.read_text()
        assert not [r for r in srv.state.log[mark:] if r.utt in ok]
    assert recorded_ok(sqlite_url) == {u for u in sent} | {r.utt for r in srv.state.log}
    assert len(recorded_ok(sqlite_url)) == N_UTT


@pytest.mark.slow
def test_second_interrupt_stops_at_once_and_keeps_what_finished(tmp_path, sqlite_url):
    with FaultServer(latency_s=20) as srv:
        job = write_job(tmp_path, srv.url)
        proc, out = start(["run", "--config", str(job), "--db", sqlite_url, "--quiet"], tmp_path, "int2")
        wait_for_requests(srv, 4, proc)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=15)  # well under the 20 s the server would take, and the 30 s grace
        text = out.read_text()
        assert code == 130, text
        assert "second interrupt" in text and "resume with" in text
    db = open_database(sqlite_url)
    with db.session() as s:
        assert s.execute(select(func.count()).select_from(Prediction)).scalar_one() == 0
        run = s.execute(select(JobRun)).scalar_one()
        assert run.status == "interrupted"
        assert set(s.execute(select(WorkItemRow.state)).scalars()) == {"pending"}, "abandoned items released for the resume"
    db.dispose()


def test_resume_refuses_a_job_file_that_changes_the_work(tmp_path, sqlite_url):
    with FaultServer() as srv:
        job = write_job(tmp_path, srv.url)
        proc, out = start(["run", "--config", str(job), "--db", sqlite_url, "--quiet", "--max-utt", "3"], tmp_path, "a")
        assert proc.wait(timeout=120) == 0, out.read_text()
        other = json.loads(job.read_text())
        other["providers"][0]["model"] = "other-model"
        other["providers"][0]["concurrency"] = 1  # allowed to change
        job.write_text(json.dumps(other))
        proc, out = start(["run", "--resume", "1", "--config", str(job), "--db", sqlite_url], tmp_path, "b")
        assert proc.wait(timeout=60) == 2
        text = out.read_text()
        assert "error: the job file does not match benchmark 1: $.providers[0].model: 'default' was stored, 'other-model' given" in text
        proc, out = start(["run", "--resume", "7", "--db", sqlite_url], tmp_path, "c")
        assert proc.wait(timeout=60) == 2 and "error: no benchmark 7 in" in out.read_text()
        # nothing left to do: a resume of a completed benchmark requests nothing
        mark = len(srv.state.log)
        proc, out = start(["run", "--resume", "1", "--db", sqlite_url, "--quiet"], tmp_path, "d")
        assert proc.wait(timeout=60) == 0, out.read_text()
        assert len(srv.state.log) == mark


def test_resume_closes_a_run_killed_between_its_last_commit_and_its_evaluation(tmp_path, sqlite_url):
    from sqlalchemy import update

    from spectragram_bench.core.models import MetricSummary

    with FaultServer() as srv:
        job = write_job(tmp_path, srv.url)
        proc, out = start(["run", "--config", str(job), "--db", sqlite_url, "--quiet", "--max-utt", "4"], tmp_path, "a")
        assert proc.wait(timeout=120) == 0, out.read_text()
        db = open_database(sqlite_url)
        with db.transaction() as s:  # the state a kill -9 right after the last commit leaves
            s.execute(update(JobRun).values(status="running", ended_at=None))
            s.execute(MetricSummary.__table__.delete())
        mark = len(srv.state.log)
        proc, out = start(["run", "--resume", "1", "--db", sqlite_url, "--quiet"], tmp_path, "b")
        assert proc.wait(timeout=60) == 0, out.read_text()
        assert len(srv.state.log) == mark
        with db.session() as s:
            run = s.execute(select(JobRun)).scalar_one()
            assert run.status == "completed" and run.ended_at is not None
            assert s.execute(select(func.count()).select_from(MetricSummary)).scalar_one() > 0
        db.dispose()
