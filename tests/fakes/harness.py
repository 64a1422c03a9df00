"""Helpers for running the real CLI against a fake server and reading what it stored."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from spectragram_bench.core.audio import load_audio

from .server import FakeServer, audio_key


def reference_transcripts(server: FakeServer, root: Path) -> int:
    """Teach `server` the reference text of every LibriSpeech-layout file under `root`, keyed by
    its file bytes (what a pre-recorded upload sends) and its 16-bit PCM (what a stream sends)."""
    count = 0
    for trans in root.rglob("*.trans.txt"):
        for line in trans.read_text().splitlines():
            utt, _, text = line.partition(" ")
            flac = trans.parent / f"{utt}.flac"
            if not flac.is_file():
                continue
            server.transcripts[audio_key(flac.read_bytes())] = text.lower()
            pcm = load_audio(str(flac)).resampled(16000).pcm16()  # as the streaming adapter sends it
            server.transcripts[audio_key(pcm)] = text.lower()
            count += 1
    return count


def write_job(path: Path, providers: list[dict[str, Any]], root: Path, **extra: Any) -> Path:
    job = {
        "name": "fake-server-test",
        "providers": providers,
        "datasets": [{"name": "librispeech", "root": str(root), "subsets": ["demo-clean"]}],
        "evaluation": {"normalizer": "basic", "bootstrap_iterations": 50},
        **extra,
    }
    path.write_text(json.dumps(job, indent=2))
    return path


def rows(db_file: Path, sql: str, *args: Any) -> list[sqlite3.Row]:
    with sqlite3.connect(db_file) as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute(sql, args).fetchall()


def files_containing(folder: Path, secret: str) -> list[str]:
    """Names of files under `folder` (database, WAL, logs) whose bytes contain `secret`."""
    needle = secret.encode()
    return [str(p) for p in folder.rglob("*") if p.is_file() and needle in p.read_bytes()]
