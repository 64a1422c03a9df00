"""Word alignments for display, and the most frequent errors of a system.

The alignment is jiwer's (`process_words`, the same aligner core/metrics.py counts with), turned
into columns a viewer can print: (op, reference word, hypothesis word) with op one of
'=' (hit), 's' (substitution), 'd' (deletion: no hypothesis word), 'i' (insertion: no reference word).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import jiwer

HIT, SUB, DEL, INS = "=", "s", "d", "i"
_OPS = {"equal": HIT, "substitute": SUB, "delete": DEL, "insert": INS}

Column = tuple[str, str | None, str | None]


def align_words(refs: Sequence[str], hyps: Sequence[str]) -> list[list[Column]]:
    """Column alignments of already-normalised texts, one list per pair."""
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    if not refs:
        return []
    out = jiwer.process_words(list(refs), list(hyps))
    aligned: list[list[Column]] = []
    for ref_words, hyp_words, chunks in zip(out.references, out.hypotheses, out.alignments, strict=True):
        columns: list[Column] = []
        for chunk in chunks:
            op = _OPS[chunk.type]
            if op == INS:
                columns.extend((INS, None, w) for w in hyp_words[chunk.hyp_start_idx : chunk.hyp_end_idx])
            elif op == DEL:
                columns.extend((DEL, w, None) for w in ref_words[chunk.ref_start_idx : chunk.ref_end_idx])
            else:
                pairs = zip(
                    ref_words[chunk.ref_start_idx : chunk.ref_end_idx],
                    hyp_words[chunk.hyp_start_idx : chunk.hyp_end_idx],
                    strict=True,
                )
                columns.extend((op, r, h) for r, h in pairs)
        aligned.append(columns)
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
