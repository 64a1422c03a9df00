"""Prediction reuse: a rerun with --reuse (or "reuse_predictions": true) sends nothing for audio
already transcribed by the same provider, model, params and adapter version, scores the same,
costs nothing and keeps reused items out of latency; never the default, never across audio that
differs in a byte."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
from conftest import DEMO_ROOT, REPO, migrate
from fault_fake import FaultServer
from sqlalchemy import func, select

from spectragram_bench.core import models as m
from spectragram_bench.core.persistence import open_database

CLI = [sys.executable, str(REPO / "tests" / "fault_cli.py")]
N_UTT = 40


def run(args: list[str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "SPECTRAGRAM_DB_URL"}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=REPO, env=env, timeout=300, check=False)


def write_job(tmp_path: Path, url: str, root: Path = DEMO_ROOT, **extra) -> Path:
    job = {
        "name": "reuse-test",
        "providers": [{"name": "faulty", "base_url": url, "concurrency": 4}],
        "datasets": [{"name": "librispeech", "root": str(root), "subsets": ["demo-clean"]}],
        "evaluation": {"normalizer": "basic", "bootstrap_iterations": 0},
        **extra,
    }
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job))
    return path


def predictions(url: str, job_run_id: int) -> dict[str, tuple[int, int | None, str | None]]:
    """external id -> (prediction id, reused_from, sent_sha256)."""
    db = open_database(url)
    with db.session() as s:
        rows = s.execute(
            select(m.Utterance.external_id, m.Prediction.prediction_id, m.Prediction.reused_from, m.Prediction.sent_sha256)
            .join(m.Utterance, m.Utterance.utt_id == m.Prediction.utt_id)
            .where(m.Prediction.job_run_id == job_run_id, m.Prediction.status == "ok")
        ).all()
    db.dispose()
    return {ext: (pid, src, sha) for ext, pid, src, sha in rows}


def latency_samples(url: str, job_run_id: int) -> int:
    db = open_database(url)
    with db.session() as s:
        n = s.execute(select(func.count()).select_from(m.LatencySample).where(m.LatencySample.job_run_id == job_run_id)).scalar_one()
    db.dispose()
    return n


def test_rerun_with_reuse_sends_nothing(tmp_path, sqlite_url):
    with FaultServer() as srv:
        job = write_job(tmp_path, srv.url)
        first = run(["run", "--config", str(job), "--db", sqlite_url, "--quiet", "--no-report"])
        assert first.returncode == 0, first.stderr
        assert len(srv.state.log) == N_UTT
        again = run(["run", "--config", str(job), "--db", sqlite_url, "--quiet", "--no-report", "--reuse"])
        assert again.returncode == 0, again.stderr
        assert len(srv.state.log) == N_UTT, "the rerun with --reuse sent requests"
    one, two = predictions(sqlite_url, 1), predictions(sqlite_url, 2)
    assert len(one) == len(two) == N_UTT
    assert all(sha and len(sha) == 64 for _, _, sha in one.values())
    assert {ext: src for ext, (_, src, _) in two.items()} == {ext: pid for ext, (pid, _, _) in one.items()}
    assert {ext: sha for ext, (_, _, sha) in two.items()} == {ext: sha for ext, (_, _, sha) in one.items()}
    assert latency_samples(sqlite_url, 1) == N_UTT and latency_samples(sqlite_url, 2) == 0
    assert f"reused predictions: faulty/default {N_UTT} of {N_UTT}" in again.stdout
    assert "reused predictions" not in first.stdout


def test_reuse_is_never_the_default_and_a_changed_file_is_sent_again(tmp_path, sqlite_url):
    root = tmp_path / "LibriSpeech"
    shutil.copytree(DEMO_ROOT, root)
    with FaultServer() as srv:
        job = write_job(tmp_path, srv.url, root)
        assert run(["run", "--config", str(job), "--db", sqlite_url, "--quiet", "--no-report"]).returncode == 0
        plain = run(["run", "--config", str(job), "--db", sqlite_url, "--quiet", "--no-report"])
        assert plain.returncode == 0, plain.stderr
        assert len(srv.state.log) == 2 * N_UTT, "without --reuse every item is requested again"
        changed = next(root.rglob("*.flac"))
        samples, rate = sf.read(changed)
        sf.write(changed, samples * 0.99, rate)  # same words, different bytes
        mark = len(srv.state.log)
        job = write_job(tmp_path, srv.url, root, reuse_predictions=True)  # the job file's switch
        third = run(["run", "--config", str(job), "--db", sqlite_url, "--quiet", "--no-report"])
        assert third.returncode == 0, third.stderr
        sent = [r.utt for r in srv.state.log[mark:]]
    assert sent == [changed.stem]
    reused = predictions(sqlite_url, 3)
    assert reused[changed.stem][1] is None and sum(src is not None for _, src, _ in reused.values()) == N_UTT - 1


def test_no_reuse_across_adapter_versions(tmp_path, sqlite_url):
    with FaultServer() as srv:
        job = write_job(tmp_path, srv.url)
        assert run(["run", "--config", str(job), "--db", sqlite_url, "--quiet", "--no-report"]).returncode == 0
        db = open_database(sqlite_url)
        with db.transaction() as s:  # as if job run 1 had been made by an older version of the adapter
            s.get(m.JobRun, 1).adapter_version = "0"
        db.dispose()
        again = run(["run", "--config", str(job), "--db", sqlite_url, "--quiet", "--no-report", "--reuse"])
        assert again.returncode == 0, again.stderr
        assert len(srv.state.log) == 2 * N_UTT


def test_workers_reuse_when_the_enqueued_job_says_so(tmp_path, sqlite_url):
    with FaultServer() as srv:
        job = write_job(tmp_path, srv.url)
        assert run(["run", "--config", str(job), "--db", sqlite_url, "--quiet", "--no-report"]).returncode == 0
        job = write_job(tmp_path, srv.url, reuse_predictions=True)
        queued = run(["enqueue", "--config", str(job), "--db", sqlite_url])
        assert queued.returncode == 0, queued.stderr
        worked = run(["worker", "--db", sqlite_url, "--quiet"])
        assert worked.returncode == 0, worked.stderr
        assert len(srv.state.log) == N_UTT, "the worker sent requests for audio already transcribed"
    assert sum(src is not None for _, src, _ in predictions(sqlite_url, 2).values()) == N_UTT


def wer_of(stdout: str) -> str:
    row = next(line for line in stdout.splitlines() if "pocketsphinx/en-us" in line and "librispeech" in line)
    return re.findall(r"\d+\.\d+%", row)[0]


@pytest.mark.slow
def test_demo_rerun_with_reuse_makes_no_engine_call_and_prints_the_same_wer(tmp_path):
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    demo = REPO / "jobs" / "demo_librispeech.json"
    app = [sys.executable, str(REPO / "app.py")]
    env = {k: v for k, v in os.environ.items() if k != "SPECTRAGRAM_DB_URL"}

    def demo_run(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([*app, "--config", str(demo), "--db", url, "--no-report", *extra],
                              capture_output=True, text=True, cwd=REPO, env=env, timeout=900, check=False)

    first = demo_run()
    assert first.returncode == 0, first.stderr
    second = demo_run("--reuse")
    assert second.returncode == 0, second.stderr
    assert wer_of(first.stdout) == wer_of(second.stdout)
    db = open_database(url)
    with db.session() as s:
        n, n_reused = s.execute(
            select(func.count(), func.count(m.Prediction.reused_from)).where(m.Prediction.job_run_id == 2)
        ).one()
        assert n == n_reused == 44  # every prediction copied: no attempt reached the engine
    db.dispose()
    assert latency_samples(url, 2) == 0
    assert "reused predictions: pocketsphinx/en-us 44 of 44" in second.stdout


def test_migration_prediction_reuse_matches_the_models(sqlite_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import text

    db = open_database(sqlite_url)
    with db.engine.begin() as conn:
        migrate(conn, "downgrade", "heartbeat")
    with db.engine.connect() as conn:
        assert "sent_sha256" not in {r[1] for r in conn.execute(text("PRAGMA table_info(prediction)"))}
    db.dispose()
    db = open_database(sqlite_url)  # opening migrates to head
    with db.engine.connect() as conn:
        assert {"sent_sha256", "reused_from"} <= {r[1] for r in conn.execute(text("PRAGMA table_info(prediction)"))}
        diff = compare_metadata(MigrationContext.configure(conn), m.Base.metadata)
    assert diff == []
    db.dispose()
