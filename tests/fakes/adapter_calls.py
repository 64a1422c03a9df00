"""Calling one adapter against a fake the way the executor does (one attempt, a fresh event
loop, the client closed afterwards), and running a shipped job file against a fake."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from spectragram_bench.core.audio import AudioClip, load_audio
from spectragram_bench.core.config import ProviderConfig
from spectragram_bench.core.records import WorkItem
from spectragram_bench.providers.base import Provider, ProviderError, Transcript

from .harness import rows

REPO = Path(__file__).resolve().parent.parent.parent
DEMO_ROOT = REPO / "data" / "demo_librispeech" / "LibriSpeech"
FIRST_FLAC = sorted(DEMO_ROOT.rglob("*.flac"))[0]


@dataclass(frozen=True)
class LanguageItem(WorkItem):
    """A work item with the dataset's language (what issue 16 adds to WorkItem itself)."""

    language: str | None = None


def make_provider(cls: type[Provider], server: Any, model: str, **kw: Any) -> Provider:
    params = kw.pop("params", {})
    base_url = kw.pop("base_url", server.base_url)
    p = cls(ProviderConfig(name=cls.name, model=model, base_url=base_url, params=params, **kw))
    p._api_key, p._key_checked = server.api_key, True  # what check_ready reads from the environment
    return p


def transcribe(p: Provider, clip: AudioClip | None = None, *, language: str | None = None) -> Transcript:
    clip = clip or load_audio(str(FIRST_FLAC))
    item = LanguageItem(1, 1, FIRST_FLAC.stem, str(FIRST_FLAC), clip.duration_s, language=language)

    async def once() -> Transcript:
        try:
            return await p.transcribe(clip, item)
        finally:
            await p.aclose()

    return asyncio.run(once())


def error_of(p: Provider, clip: AudioClip | None = None, **kw: Any) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        transcribe(p, clip, **kw)
    return info.value


def run_job_file(name: str, server: Any, tmp_path: Path, env: dict[str, str], run_cli, max_utt: int = 4,
                 **provider_updates: Any) -> tuple[Any, Path, dict]:
    """jobs/<name> unchanged except base_url (the fake), `provider_updates` (a job API's short
    poll_interval_s) and the dataset root made absolute."""
    source = REPO / "jobs" / name
    job = json.loads(source.read_text())
    for p in job["providers"]:
        p.update(base_url=server.base_url, **provider_updates)
    for d in job["datasets"]:
        d["root"] = str((source.parent / d["root"]).resolve())
    path = tmp_path / name
    path.write_text(json.dumps(job))
    db = tmp_path / "bench.db"
    result = run_cli("--config", str(path), "--db", f"sqlite:///{db}", "--max-utt", str(max_utt), env=env)
    return result, db, job


def assert_job_file_ran(result: Any, db: Path, job: dict, max_utt: int = 4) -> None:
    assert result.returncode == 0, result.stderr
    runs = rows(db, "SELECT status FROM job_run")
    assert len(runs) == len(job["providers"]) and {r["status"] for r in runs} == {"completed"}
    ok = rows(db, "SELECT count(*) AS n FROM prediction WHERE status = 'ok'")[0]["n"]
    assert ok == max_utt * len(job["providers"])
    assert len(rows(db, "SELECT * FROM cost_summary")) == len(job["providers"])
