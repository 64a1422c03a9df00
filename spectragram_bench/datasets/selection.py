"""Deterministic utterance selection for --max-per-subset and --max-utt.

Each utterance gets a rank from a hash of (seed, external id); the lowest ranks are kept.
The same seed therefore selects the same utterances on every rerun, on every machine,
whatever order the files are listed in, and a larger N selects a superset of a smaller N.
Selection happens before variants are expanded, so every variant scores the same set.
The plan applies it to ranks kept as arrays (worker/plan_rows.select).
"""

from __future__ import annotations

import hashlib


def rank(seed: int, key: str) -> bytes:
    return hashlib.sha256(f"{seed}\x00{key}".encode()).digest()
