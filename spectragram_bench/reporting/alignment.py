"""Word alignments for display, and the most frequent errors of a system.

The alignment is core/align.py's (kaldialign's tie rule, the one core/metrics.py counts with), turned
into columns a viewer can print: (op, reference word, hypothesis word) with op one of
'=' (hit), 's' (substitution), 'd' (deletion: no hypothesis word), 'i' (insertion: no reference word).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from spectragram_bench.core import align

HIT, SUB, DEL, INS = "=", "s", "d", "i"
_OPS = {align.HIT: HIT, align.SUB: SUB, align.DEL: DEL, align.INS: INS}

Column = tuple[str, str | None, str | None]


def align_words(refs: Sequence[str], hyps: Sequence[str]) -> list[list[Column]]:
    """Column alignments of already-normalised texts, one list per pair."""
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    aligned: list[list[Column]] = []
    for ref, hyp in zip(refs, hyps, strict=True):
        ref_words, hyp_words = ref.split(), hyp.split()
        aligned.append([
            (_OPS[op], ref_words[i] if i is not None else None, hyp_words[j] if j is not None else None)
            for op, i, j in align.alignment(ref_words, hyp_words)
        ])
    return aligned


@dataclass
class ErrorFrequencies:
    """How often each substitution (ref -> hyp), deletion and insertion occurred."""

    substitutions: Counter[tuple[str, str]] = field(default_factory=Counter)
    deletions: Counter[str] = field(default_factory=Counter)
    insertions: Counter[str] = field(default_factory=Counter)

    def add(self, columns: Iterable[Column]) -> None:
        for op, ref, hyp in columns:
            if op == SUB:
                self.substitutions[(ref, hyp)] += 1
            elif op == DEL:
                self.deletions[ref] += 1
            elif op == INS:
                self.insertions[hyp] += 1


def error_frequencies(alignments: Iterable[Sequence[Column]]) -> ErrorFrequencies:
    freq = ErrorFrequencies()
    for columns in alignments:
        freq.add(columns)
    return freq
