"""Deterministic utterance selection for --max-per-subset and --max-utt.

Each utterance gets a rank from a hash of (seed, external id); the lowest ranks are kept.
The same seed therefore selects the same utterances on every rerun, on every machine,
whatever order the files are listed in, and a larger N selects a superset of a smaller N.
Selection happens before variants are expanded, so every variant scores the same set.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence

from spectragram_bench.core.records import UtteranceRecord


def rank(seed: int, key: str) -> bytes:
    return hashlib.sha256(f"{seed}\x00{key}".encode()).digest()


def select(
    records: Sequence[tuple[str, UtteranceRecord]],
    *,
    max_per_subset: int | None,
    max_utt: int | None,
    seed: int = 0,
) -> list[tuple[str, UtteranceRecord]]:
    """Pick from (dataset key, record) pairs; the result keeps the input order."""
    ranked = sorted(range(len(records)), key=lambda i: rank(seed, f"{records[i][0]}/{records[i][1].external_id}"))
    kept: list[int] = []
    per_subset: dict[tuple[str, str], int] = defaultdict(int)
    for i in ranked:
        ds_key, rec = records[i]
        if max_per_subset is not None and per_subset[(ds_key, rec.subset)] >= max_per_subset:
            continue
        per_subset[(ds_key, rec.subset)] += 1
        kept.append(i)
        if max_utt is not None and len(kept) >= max_utt:
            break
    return [records[i] for i in sorted(kept)]
