"""Running a job-based adapter the way a job run does: the executor's job lifecycle over real
HTTP against a fake, with a short poll interval and fast retries."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from spectragram_bench.core.config import ProviderConfig
from spectragram_bench.core.records import PredictionResult, WorkItem
from spectragram_bench.providers.jobs import JobProvider
from spectragram_bench.worker.exec_infer import Executor, RetryPolicy

DEMO_ROOT = Path(__file__).resolve().parent.parent.parent / "data" / "demo_librispeech" / "LibriSpeech"
FLACS = sorted(DEMO_ROOT.rglob("*.flac"))


def job_provider(cls: type[JobProvider], server: Any, model: str, **kw: Any) -> JobProvider:
    kw.setdefault("poll_interval_s", 0.01)
    kw.setdefault("base_url", server.base_url)
    p = cls(ProviderConfig(name=cls.name, model=model, **kw))
    p._api_key, p._key_checked = server.api_key, True  # what check_ready reads from the environment
    return p


def demo_items(n: int = 1) -> list[WorkItem]:
    return [WorkItem(1, i + 1, f.stem, str(f), None) for i, f in enumerate(FLACS[:n])]


def run_jobs(p: JobProvider, work: list[WorkItem], max_attempts: int = 3) -> tuple[list[PredictionResult], Executor]:
    """Every item through the executor; (results in the order they finished, the executor)."""
    results: list[PredictionResult] = []

    async def go() -> Executor:
        ex = Executor(p, results.append, concurrency=p.config.concurrency, timeout_s=p.config.timeout_s,
                      retry=RetryPolicy(max_attempts=max_attempts, base_delay_s=0.01))
        try:
            await ex.run(work)
        finally:
            ex.close()
            await p.aclose()
        return ex

    return results, asyncio.run(go())
