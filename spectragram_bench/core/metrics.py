"""Word and character error counts, and the corpus rates built from them.

Alignment is jiwer's (rapidfuzz underneath). Every aggregate is a sum of per-utterance
counts: corpus WER = total errors / total reference words, never a mean of per-utterance rates.
An empty reference scores its hypothesis words as insertions over zero reference words; a
rate over zero reference units is reported as 0.0 when there are no errors and inf otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import jiwer
import numpy as np


@dataclass(frozen=True)
class ErrorCounts:
    """Edit operations of one alignment (or a sum of them)."""

    hits: int = 0
    substitutions: int = 0
    deletions: int = 0
    insertions: int = 0

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def ref_len(self) -> int:
        return self.hits + self.substitutions + self.deletions

    @property
    def rate(self) -> float:
        return error_rate(self.errors, self.ref_len)

    def __add__(self, other: ErrorCounts) -> ErrorCounts:
        return ErrorCounts(
            self.hits + other.hits,
            self.substitutions + other.substitutions,
            self.deletions + other.deletions,
            self.insertions + other.insertions,
        )


def error_rate(errors: int | float, ref_len: int | float) -> float:
    if ref_len == 0:
        return 0.0 if errors == 0 else float("inf")
    return float(errors) / float(ref_len)


def _counts_from(output) -> list[ErrorCounts]:
    counts = []
    for alignment in output.alignments:
        h = s = d = i = 0
        for chunk in alignment:
            ref_n = chunk.ref_end_idx - chunk.ref_start_idx
            hyp_n = chunk.hyp_end_idx - chunk.hyp_start_idx
            if chunk.type == "equal":
                h += ref_n
            elif chunk.type == "substitute":
                s += ref_n
            elif chunk.type == "delete":
                d += ref_n
            else:
                i += hyp_n
        counts.append(ErrorCounts(h, s, d, i))
    return counts


def word_counts(refs: Sequence[str], hyps: Sequence[str]) -> list[ErrorCounts]:
    """Per-utterance word edit counts of already-normalised texts."""
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    if not refs:
        return []
    return _counts_from(jiwer.process_words(list(refs), list(hyps)))


def char_counts(refs: Sequence[str], hyps: Sequence[str]) -> list[ErrorCounts]:
    """Per-utterance character edit counts (spaces count as characters, as in jiwer.cer)."""
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    if not refs:
        return []
    return _counts_from(jiwer.process_characters(list(refs), list(hyps)))


def total(counts: Sequence[ErrorCounts]) -> ErrorCounts:
    out = ErrorCounts()
    for c in counts:
        out = out + c
    return out


PERCENTILES = (50, 90, 95, 99)


def latency_stats(values_ms: Sequence[float]) -> dict[str, float]:
    """mean, p50, p90, p95, p99 and max (linear interpolation, numpy's default)."""
    arr = np.asarray(values_ms, dtype=float)
    if arr.size == 0:
        return {}
    stats = {"mean": float(arr.mean()), "max": float(arr.max())}
    for p, v in zip(PERCENTILES, np.percentile(arr, PERCENTILES), strict=True):
        stats[f"p{p}"] = float(v)
    return stats
