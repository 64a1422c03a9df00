"""Several worker processes on one PostgreSQL queue: leases, a worker killed with -9, shared
rate limits, evaluation exactly once; and the rate limiter against a server that enforces it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import DEMO_ROOT, REPO
from fault_fake import FaultServer, FaultyProvider
from sqlalchemy import func, select

from spectragram_bench.core.config import parse_config
from spectragram_bench.core.models import JobRun, Prediction, WorkItemRow
from spectragram_bench.core.persistence import open_database
from spectragram_bench.core.registry import PROVIDERS
from spectragram_bench.worker import leases
from spectragram_bench.worker.job_runs import run_benchmark

PROVIDERS.register("faulty", FaultyProvider)
CLI = [sys.executable, str(REPO / "tests" / "fault_cli.py")]
N_UTT = 40


def job_dict(url: str, **provider) -> dict:
    return {
        "name": "workers",
        "providers": [{"name": "faulty", "base_url": url, "timeout_s": 30, **provider}],
        "datasets": [{"name": "librispeech", "root": str(DEMO_ROOT), "subsets": ["demo-clean"]}],
        "evaluation": {"normalizer": "basic"},
    }


def cli(args: list[str], out: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "SPECTRAGRAM_DB_URL"}
    return subprocess.Popen([*CLI, *args], stdout=out.open("w"), stderr=subprocess.STDOUT, cwd=REPO, env=env)


@pytest.mark.slow
@pytest.mark.postgres
def test_three_workers_one_killed_complete_everything_once_and_evaluate_once(tmp_path, pg_url):
    rps = 8.0  # 40 items take 5 s: every worker is up before the work runs out
    # burst = 1 s of tolerance: a process stalled by the (shared, 2-core) scheduler may send
    # its due requests late and together; three uncoordinated workers would send 3x the rate
    with FaultServer(latency_s=0.1, enforce_rps=rps, burst=rps) as srv:
        job = tmp_path / "job.json"
        job.write_text(json.dumps(job_dict(srv.url, concurrency=3, rate_limit={"requests_per_minute": rps * 60})))
        enq = cli(["enqueue", "--config", str(job), "--db", pg_url], tmp_path / "enqueue.log")
        assert enq.wait(timeout=120) == 0, (tmp_path / "enqueue.log").read_text()
        assert "benchmark 1 enqueued: 1 job run(s) x 40 work items" in (tmp_path / "enqueue.log").read_text()
        assert srv.state.log == [], "enqueue calls no provider"
        logs = [tmp_path / f"w{i}.log" for i in range(3)]
        workers = [cli(["worker", "--db", pg_url, "--lease-s", "2", "--poll-s", "0.3", "--quiet"], log) for log in logs]
        deadline = time.monotonic() + 60
        while not any(r.pid == workers[0].pid for r in srv.state.log):
            assert time.monotonic() < deadline and workers[0].poll() is None, "worker 0 never sent a request"
            time.sleep(0.01)
        time.sleep(0.3)
        workers[0].kill()  # -9 mid-run, holding leases and requests in flight
        workers[0].wait()
        for w, log in zip(workers[1:], logs[1:], strict=True):
            assert w.wait(timeout=180) == 0, log.read_text()
        requests = list(srv.state.log)
        rejected = srv.state.rejected_by_rate
    outputs = [log.read_text() for log in logs]
    assert sum(o.count("evaluated") for o in outputs) == 1, outputs
    assert {r.pid for r in requests} == {w.pid for w in workers}, outputs
    db = open_database(pg_url)
    with db.session() as s:
        per_utt = s.execute(select(Prediction.utt_id, func.count()).group_by(Prediction.utt_id)).all()
        assert len(per_utt) == N_UTT and all(n == 1 for _, n in per_utt)
        assert s.execute(select(func.count()).select_from(Prediction).where(Prediction.status == "ok")).scalar_one() == N_UTT
        assert set(s.execute(select(WorkItemRow.state)).scalars()) == {"done"}
        run = s.execute(select(JobRun)).scalar_one()
        assert run.status == "completed" and run.ended_at is not None and run.eval_version
        taken_over = s.execute(select(func.count()).select_from(WorkItemRow).where(WorkItemRow.leases > 1)).scalar_one()
    db.dispose()
    # a second transcription of an utterance only ever follows one the killed worker sent and
    # never recorded (requests the server rejected for the rate are not transcriptions)
    first_sender: dict[str, int | None] = {}
    for r in (r for r in requests if r.fault != "rate"):
        if r.utt in first_sender:
            assert first_sender[r.utt] == workers[0].pid, f"{r.utt} requested twice by live workers"
        first_sender.setdefault(r.utt, r.pid)
    assert taken_over >= 1, "the killed worker's leases expired and were taken over"
    assert rejected == 0, f"three workers together stayed under the shared rate limit: {[(r.at, r.pid, r.fault) for r in requests]}"
    assert Counter(r.utt for r in requests).most_common(1)[0][1] <= 2


@pytest.mark.slow
def test_rate_limit_against_a_server_enforcing_it_gets_no_429(db_url):
    """R requests/s configured, the server enforcing R/s (token bucket, burst R/2): no 429.
    The control run without the limit is rejected: the server does enforce."""
    rps = 20.0
    with FaultServer(enforce_rps=rps, burst=rps / 2) as srv:
        config = parse_config(job_dict(srv.url, concurrency=8, rate_limit={"requests_per_minute": rps * 60}))
        db = open_database(db_url)
        outcome = run_benchmark(config, db, progress="none")
        assert outcome.exit_code == 0 and outcome.job_runs[0].status == "completed"
        assert srv.state.rejected_by_rate == 0 and len(srv.state.log) == N_UTT
    with FaultServer(enforce_rps=rps, burst=rps / 2) as srv:
        control = parse_config(job_dict(srv.url, concurrency=8, max_attempts=1))
        run_benchmark(control, db, progress="none")
        assert srv.state.rejected_by_rate > 0
    db.dispose()


def test_lease_skip_locked_hands_each_item_to_one_owner(db_url):
    """Concurrent leases never return the same item twice; expired leases are taken over."""
    import threading

    with FaultServer() as srv:
        config = parse_config(job_dict(srv.url, concurrency=2))
        from spectragram_bench.worker.plan import build_plan
        from spectragram_bench.worker.registration import build_providers, materialise

        db = open_database(db_url)
        _bid, (jr,), _runtime = materialise(db, build_plan(config), build_providers(config))
    got: dict[str, list[int]] = {}

    def take(owner: str) -> None:
        mine = []
        while ids := leases.lease(db, jr, owner, 3, 60):
            assert len(ids) <= 3, ids
            mine.extend(ids)
        got[owner] = mine

    threads = [threading.Thread(target=take, args=(f"o{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    all_ids = [i for ids in got.values() for i in ids]
    assert len(all_ids) == N_UTT and len(set(all_ids)) == N_UTT
    assert leases.lease(db, jr, "late", 5, 60) == []
    # o0's lease expires: its items go to the next owner who asks
    with db.transaction() as s:
        s.execute(WorkItemRow.__table__.update().where(WorkItemRow.lease_owner == "o0").values(lease_expires_at=0))
    retaken = leases.lease(db, jr, "late", 100, 60)
    assert sorted(retaken) == sorted(got["o0"])
    assert leases.release(db, "late") == len(retaken)
    db.dispose()


def test_lease_cursor_starts_past_the_last_id_and_wraps_for_what_is_behind(db_url):
    """A leaser's cursor (its last leased id) skips the finished items before it; items released
    behind the cursor are still leased, once the items ahead run short."""
    with FaultServer() as srv:
        config = parse_config(job_dict(srv.url, concurrency=2))
        from spectragram_bench.worker.plan import build_plan
        from spectragram_bench.worker.registration import build_providers, materialise

        db = open_database(db_url)
        _bid, (jr,), _runtime = materialise(db, build_plan(config), build_providers(config))
    first = leases.lease(db, jr, "a", 2, 60)
    ahead = leases.lease(db, jr, "a", 2, 60, after=first[-1])
    assert first[-1] < ahead[0] and len(ahead) == 2
    assert leases.release(db, "a") == 4  # all four back to pending, two of them behind the cursor
    got = leases.lease(db, jr, "a", N_UTT, 60, after=ahead[-1])
    assert sorted(got) == sorted(set(got)) and len(got) == N_UTT  # the rest ahead, then the wrap
    assert leases.lease(db, jr, "a", 5, 60, after=got[-1]) == []
    db.dispose()
