"""Shared helpers for the benchmarks: a synthetic LibriSpeech-layout corpus, databases, output.

Benchmarks print figures and ratios against a baseline measured in the same run; they assert
nothing (CI runs them with --smoke as a smoke test).
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import soundfile as sf

WORDS = "the quick brown fox jumps over a lazy dog while seven bright stars shine above quiet hills".upper().split()
DEFAULT_PG_ADMIN = os.environ.get("SPECTRAGRAM_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def make_corpus(n: int, root: Path | None = None, seconds: float = 0.5) -> Path:
    """n short FLAC utterances in the LibriSpeech layout (100 per chapter); reused when present."""
    root = root or Path(tempfile.gettempdir()) / f"spectragram-bench-corpus-{n}"
    subset = root / "bench-clean"
    marker = root / ".complete"
    if marker.exists():
        return root
    rng = np.random.default_rng(0)
    samples = (rng.standard_normal(int(16000 * seconds)) * 0.01).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, samples, 16000, format="FLAC", subtype="PCM_16")
    flac = buf.getvalue()  # every clip is the same: encoded once, written n times
    for start in range(0, n, 100):
        chapter = start // 100
        folder = subset / "9000" / str(chapter)
        folder.mkdir(parents=True, exist_ok=True)
        lines = []
        for i in range(start, min(n, start + 100)):
            utt = f"9000-{chapter}-{i:04d}"
            (folder / f"{utt}.flac").write_bytes(flac)
            words = [WORDS[(i * 7 + k) % len(WORDS)] for k in range(6 + i % 6)]
            lines.append(f"{utt} {' '.join(words)}")
        (folder / f"9000-{chapter}.trans.txt").write_text("\n".join(lines) + "\n")
    marker.write_text("ok")
    return root


def job(corpus: Path, providers: list[dict], name: str = "bench") -> dict:
    return {
        "name": name,
        "providers": providers,
        "datasets": [{"name": "librispeech", "root": str(corpus), "subsets": ["bench-clean"]}],
        "evaluation": {"normalizer": "basic", "bootstrap_iterations": 0},
    }


@contextmanager
def database(kind: str, workdir: Path):
    """A fresh SQLite file or a throwaway PostgreSQL database; yields its URL."""
    if kind == "sqlite":
        path = workdir / f"bench-{uuid.uuid4().hex[:8]}.db"
        yield f"sqlite:///{path}"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    import psycopg

    name = f"sb_bench_{uuid.uuid4().hex[:10]}"
    admin = DEFAULT_PG_ADMIN.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--smoke", action="store_true", help="small sizes: checks the benchmark runs (CI)")
    return p


def machine() -> str:
    return f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, Python {platform.python_version()}"


def timed_run(corpus: Path, providers: list[dict], name: str, n: int, db_kind: str, workdir: Path) -> tuple[float, float]:
    """Run a benchmark of `n` utterances: (end-to-end wall seconds, the job run's execution seconds)."""
    import time

    from sqlalchemy import select

    from spectragram_bench.core.config import parse_config
    from spectragram_bench.core.models import JobRun
    from spectragram_bench.core.persistence import open_database
    from spectragram_bench.worker.job_runs import run_benchmark

    config = parse_config(job(corpus, providers, name=name))
    with database(db_kind, workdir) as url:
        t0 = time.perf_counter()
        db = open_database(url)
        outcome = run_benchmark(config, db, max_utt=n, progress="none")
        wall = time.perf_counter() - t0
        with db.session() as s:
            run = s.execute(select(JobRun)).scalar_one()
            exec_s = (run.ended_at - run.started_at).total_seconds()
        db.dispose()
    assert outcome.job_runs[0].status == "completed", outcome
    return wall, exec_s
