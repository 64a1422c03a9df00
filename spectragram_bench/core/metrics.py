"""Word and character edit counts per utterance, and the corpus rates built from their sums.

Alignment is minimum-edit (Levenshtein) on word ids with kaldialign's tie rule (core/align.py),
so S/D/I split as kaldialign and sclite split them; rapidfuzz decides the pairs whose split is
unique, so scoring 100k utterances stays near `jiwer.process_words` (bench/bench_scoring.py).
Totals of errors equal jiwer's; jiwer splits tied alignments differently. Character counts keep
rapidfuzz's split (see `char_counts`). Texts are expected already normalised:
words are `str.split()`, characters are every character of the text (spaces included, as
in `jiwer.cer`).

Every aggregate is a sum of per-utterance counts: corpus WER = total errors / total
reference words, never a mean of per-utterance rates.

Empty references: an utterance with no reference words contributes its hypothesis words as
insertions and nothing to the denominator. A rate over zero reference units is never a
division by zero: it is 0.0 without errors and inf with some (kaldialign's convention); the
evaluation pipeline stores such a rate as NULL and keeps the counts. MER, WIL and WIP follow
jiwer's conventions for those edge cases.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz.distance import Levenshtein

from spectragram_bench.core import align


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
    def hyp_len(self) -> int:
        return self.hits + self.substitutions + self.insertions

    @property
    def rate(self) -> float:
        """errors / reference units (0.0 or inf when there are no reference units)."""
        return error_rate(self.errors, self.ref_len)

    @property
    def mer(self) -> float:
        """Match error rate: errors / (hits + S + D + I); jiwer's value for empty input."""
        denominator = self.hits + self.errors
        if self.ref_len == 0:
            return 0.0 if self.hyp_len == 0 else 1.0
        return self.errors / denominator

    @property
    def wip(self) -> float:
        """Word information preserved: (H / ref words) * (H / hyp words), as jiwer."""
        if self.ref_len == 0:
            return 1.0 if self.hyp_len == 0 else 0.0
        if self.hyp_len == 0:
            return 0.0
        return (self.hits / self.ref_len) * (self.hits / self.hyp_len)

    @property
    def wil(self) -> float:
        """Word information lost: 1 - WIP."""
        return 1.0 - self.wip

    def __add__(self, other: ErrorCounts) -> ErrorCounts:
        return ErrorCounts(
            self.hits + other.hits,
            self.substitutions + other.substitutions,
            self.deletions + other.deletions,
            self.insertions + other.insertions,
        )


def error_rate(errors: float, ref_len: float) -> float:
    """errors / ref_len; over no reference units 0.0 without errors, inf with some (as kaldialign)."""
    if ref_len == 0:
        return 0.0 if errors == 0 else math.inf
    return float(errors) / float(ref_len)


HITS, SUBSTITUTIONS, DELETIONS, INSERTIONS = range(4)


class Counts(Sequence[ErrorCounts]):
    """Per-utterance edit counts: a sequence of ErrorCounts stored as one int64 table with
    columns hits, S, D, I (one row per utterance), so sums and resampling stay vectorised."""

    __hash__ = None  # type: ignore[assignment]

    def __init__(self, table: np.ndarray) -> None:
        self.table = table

    def __len__(self) -> int:
        return len(self.table)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return Counts(self.table[i])
        return ErrorCounts(*(int(v) for v in self.table[i]))

    def __iter__(self):
        return (ErrorCounts(*(int(v) for v in row)) for row in self.table)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Counts):
            return np.array_equal(self.table, other.table)
        if isinstance(other, Sequence):
            return list(self) == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"Counts({list(self)!r})"

    @property
    def errors(self) -> np.ndarray:
        t = self.table
        return t[:, SUBSTITUTIONS] + t[:, DELETIONS] + t[:, INSERTIONS]

    @property
    def ref_len(self) -> np.ndarray:
        t = self.table
        return t[:, HITS] + t[:, SUBSTITUTIONS] + t[:, DELETIONS]

    def total(self) -> ErrorCounts:
        return ErrorCounts(*(int(v) for v in self.table.sum(axis=0)))

    def sentence_error_rate(self) -> float | None:
        """Share of utterances with at least one error (None for no utterances)."""
        if len(self) == 0:
            return None
        return float(np.count_nonzero(self.errors)) / len(self)


def _count(pairs: Iterable[tuple[Sequence, Sequence]], rule: str = "kaldialign") -> Counts:
    """S/D/I with kaldialign's tie rule, or sclite's (core/align.py); hits = reference length - S - D."""
    return Counts(align.edit_counts(list(pairs), rule))


def _count_fast(pairs: Iterable[tuple[Sequence, Sequence]], n: int) -> Counts:
    """S/D/I from rapidfuzz's edit operations (its own split of tied alignments, same totals)."""
    out = np.zeros((n, 4), dtype=np.int64)
    editops = Levenshtein.editops
    for k, (ref, hyp) in enumerate(pairs):
        tags = [op[0] for op in editops(ref, hyp).as_list()]
        s = tags.count("replace")
        d = tags.count("delete")
        out[k] = (len(ref) - s - d, s, d, len(tags) - s - d)
    return Counts(out)


class Vocabulary:
    """Word -> int ids shared by every text aligned together (rapidfuzz compares ids exactly)."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}

    def encode(self, text: str) -> list[int]:
        ids = self._ids
        get = ids.setdefault
        return [get(w, len(ids)) for w in text.split()]


def _check(refs: Sequence[str], hyps: Sequence[str]) -> None:
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")


def word_counts(refs: Sequence[str], hyps: Sequence[str], rule: str = "kaldialign") -> Counts:
    """Per-utterance word edit counts of already-normalised texts (`rule`: see core/align.py)."""
    _check(refs, hyps)
    return _count(((r.split(), h.split()) for r, h in zip(refs, hyps, strict=True)), rule)


def char_counts(refs: Sequence[str], hyps: Sequence[str]) -> Counts:
    """Per-utterance character edit counts (spaces count as characters, as in jiwer.cer).

    Totals are exact; tied alignments split as rapidfuzz splits them, not by kaldialign's rule
    (the exact rule on characters costs about 7x in numpy; see core/align.py).
    """
    _check(refs, hyps)
    return _count_fast(((r.strip(), h.strip()) for r, h in zip(refs, hyps, strict=True)), len(refs))


def total(counts: Counts | Iterable[ErrorCounts]) -> ErrorCounts:
    if isinstance(counts, Counts):
        return counts.total()
    out = ErrorCounts()
    for c in counts:
        out = out + c
    return out


@dataclass(frozen=True)
class WordAlignment:
    """Where one hypothesis went wrong against its reference, in reference positions.

    `word_errors[k]` is 1 when reference word k was substituted or deleted; `insertions[g]` is
    the number of hypothesis words inserted before reference word g (g = len(ref): at the end).
    """

    word_errors: np.ndarray
    insertions: np.ndarray


def word_alignment(ref: Sequence[int], hyp: Sequence[int]) -> WordAlignment:
    word_errors = np.zeros(len(ref), dtype=np.int64)
    insertions = np.zeros(len(ref) + 1, dtype=np.int64)
    position = 0  # the reference word the next insertion stands before
    for op, i, _ in align.alignment(ref, hyp):
        if op == align.INS:
            insertions[position] += 1
            continue
        if op != align.HIT:
            word_errors[i] = 1
        position = i + 1
    return WordAlignment(word_errors, insertions)


def word_alignments(refs: Sequence[str], hyps: Sequence[str]) -> list[WordAlignment]:
    """Per-utterance word alignments of already-normalised texts (what MAPSSWE needs)."""
    _check(refs, hyps)
    vocab = Vocabulary()
    return [word_alignment(vocab.encode(r), vocab.encode(h)) for r, h in zip(refs, hyps, strict=True)]


# --- latency -------------------------------------------------------------------------------

PERCENTILES = (50, 90, 95, 99)


def latency_stats(values_ms: Sequence[float]) -> dict[str, float]:
    """mean, p50, p90, p95, p99 and max (linear interpolation, numpy's default); {} for no values."""
    arr = np.asarray([v for v in values_ms if v is not None and math.isfinite(v)], dtype=float)
    if arr.size == 0:
        return {}
    stats = {"mean": float(arr.mean()), "max": float(arr.max())}
    for p, v in zip(PERCENTILES, np.percentile(arr, PERCENTILES), strict=True):
        stats[f"p{p}"] = float(v)
    return stats


def rtfx(audio_seconds: float, processing_seconds: float) -> float | None:
    """Inverse real-time factor (Open ASR Leaderboard): total audio seconds / total processing seconds."""
    if processing_seconds <= 0:
        return None
    return audio_seconds / processing_seconds
