"""Minimum-edit alignment with kaldialign's tie rule, so S/D/I split as the reference tools do.

Among the alignments of least cost (unit costs), several may split the errors differently:
ref `a b`, hyp `b c` is 2 substitutions or 1 deletion + 1 insertion. kaldialign (Kaldi's
`LevenshteinAlignment`/`LevenshteinEditDistance`, extensions/kaldi_align.cpp) walks back from
the end and at each cell takes the diagonal (match or substitution) only when it is strictly
cheaper than both a deletion and an insertion, else the deletion when strictly cheaper than the
insertion, else the insertion. sclite agrees with it wherever sclite's own alignment is minimal.

sclite (sctk 2.4.10) splits differently: among the least-error alignments it takes one with the
fewest substitutions (ref `b c a`, hyp `c c b c`: sclite 2 insertions + 1 deletion, kaldialign
2 substitutions + 1 insertion). `rule="sclite"` does that, with costs error x K + substitution
(K larger than any substitution count), which fixes S/D/I whatever the tie order.

Speed: the split is fixed whenever distance - |len(ref) - len(hyp)| < 2 (every least-cost
alignment then has the same S, D and I), which rapidfuzz's distance decides; only the other
pairs get the full dynamic programme, run for a batch of pairs at once in numpy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rapidfuzz.distance import Levenshtein

HIT, SUB, DEL, INS = "=", "S", "D", "I"
_CELL_BUDGET = 4_000_000  # DP cells held in memory per batch


def split_is_unique(distance: int, ref_len: int, hyp_len: int) -> bool:
    """Every least-cost alignment has the same S/D/I when this holds (see the module docstring)."""
    return distance - abs(ref_len - hyp_len) < 2


RULES = ("kaldialign", "sclite")


def edit_counts(pairs: Sequence[tuple[Sequence, Sequence]], rule: str = "kaldialign") -> np.ndarray:
    """(hits, S, D, I) per pair as an (n, 4) int64 array: kaldialign's split exactly, or sclite's.

    A pair is two sequences of hashable symbols (word lists, strings, ints)."""
    if rule not in RULES:
        raise ValueError(f"unknown alignment rule {rule!r}; use one of {', '.join(RULES)}")
    out = np.zeros((len(pairs), 4), dtype=np.int64)
    tied: list[int] = []
    distance = Levenshtein.distance
    for k, (ref, hyp) in enumerate(pairs):
        m, n = len(ref), len(hyp)
        d = distance(ref, hyp)
        if split_is_unique(d, m, n):
            dels, ins = max(m - n, 0), max(n - m, 0)
            subs = d - dels - ins
            out[k] = (m - subs - dels, subs, dels, ins)
        else:
            tied.append(k)
    if tied:
        tied.sort(key=lambda k: (len(pairs[k][0]), len(pairs[k][1])))
        chunk: list[int] = []
        widest = 0
        for k in tied:
            ref, hyp = pairs[k]
            wider = max(widest, len(hyp))
            if chunk and (len(chunk) + 1) * (len(ref) + 1) * (wider + 1) > _CELL_BUDGET:
                out[chunk] = _batch_counts([pairs[j] for j in chunk], rule)
                chunk, wider = [], len(hyp)
            chunk.append(k)
            widest = wider
        out[chunk] = _batch_counts([pairs[j] for j in chunk], rule)
    return out


def _batch_counts(pairs: list[tuple[Sequence[int], Sequence[int]]], rule: str = "kaldialign") -> np.ndarray:
    b = len(pairs)
    ref_lens = np.array([len(r) for r, _ in pairs])
    hyp_lens = np.array([len(h) for _, h in pairs])
    mm, nn = int(ref_lens.max()), int(hyp_lens.max())
    refs = np.full((b, max(mm, 1)), -1, dtype=np.int64)
    hyps = np.full((b, max(nn, 1)), -2, dtype=np.int64)
    ids: dict = {}  # symbols (words, characters, ints) -> ints shared by the batch
    for k, (r, h) in enumerate(pairs):
        refs[k, :len(r)] = [ids.setdefault(x, len(ids)) for x in r]
        hyps[k, :len(h)] = [ids.setdefault(x, len(ids)) for x in h]
    if rule == "sclite":  # error x K + substitution: fewest errors, then fewest substitutions
        indel = mm + nn + 1
        sub, dtype = indel + 1, np.int64
    else:
        indel, sub = 1, 1
        dtype = np.int16 if mm + nn < 2**15 else np.int32
    cost = np.empty((mm + 1, b, nn + 1), dtype=dtype)  # one contiguous slab per reference position
    cols = np.arange(nn + 1, dtype=dtype) * indel
    cost[0] = cols
    row = np.empty((b, nn + 1), dtype=dtype)
    for m in range(1, mm + 1):
        prev = cost[m - 1]
        row[:, 0] = m * indel
        np.add(prev[:, :-1], (refs[:, m - 1, None] != hyps[:, :nn]) * sub, out=row[:, 1:], casting="unsafe")
        np.minimum(row[:, 1:], prev[:, 1:] + indel, out=row[:, 1:])
        row -= cols
        np.minimum.accumulate(row, axis=1, out=cost[m])
        cost[m] += cols
    counts = np.zeros((b, 4), dtype=np.int64)
    m, n = ref_lens.copy(), hyp_lens.copy()
    rows = np.arange(b)
    while True:
        active = (m > 0) | (n > 0)
        if not active.any():
            break
        mi, ni = np.maximum(m - 1, 0), np.maximum(n - 1, 0)
        mismatch = refs[rows, mi] != hyps[rows, ni]
        diag = cost[mi, rows, ni] + mismatch * sub
        dele = cost[mi, rows, n] + indel
        ins = cost[m, rows, ni] + indel
        both = (m > 0) & (n > 0)
        take_diag = both & (diag < np.minimum(dele, ins))
        take_del = active & ~take_diag & ((n == 0) | (both & (dele < ins)))
        take_ins = active & ~take_diag & ~take_del
        counts[:, 0] += take_diag & ~mismatch
        counts[:, 1] += take_diag & mismatch
        counts[:, 2] += take_del
        counts[:, 3] += take_ins
        m = m - (take_diag | take_del)
        n = n - (take_diag | take_ins)
    return counts


def alignment(ref: Sequence, hyp: Sequence) -> list[tuple[str, int | None, int | None]]:
    """The kaldialign alignment of one pair as (op, ref index, hyp index), in order."""
    mm, nn = len(ref), len(hyp)
    cost = [[0] * (nn + 1) for _ in range(mm + 1)]
    cost[0] = list(range(nn + 1))
    for m in range(1, mm + 1):
        prev, cur = cost[m - 1], cost[m]
        cur[0] = m
        r = ref[m - 1]
        for n in range(1, nn + 1):
            cur[n] = min(prev[n - 1] + (r != hyp[n - 1]), prev[n] + 1, cur[n - 1] + 1)
    ops: list[tuple[str, int | None, int | None]] = []
    m, n = mm, nn
    while m or n:
        if m == 0:
            ops.append((INS, None, n - 1))
            n -= 1
            continue
        if n == 0:
            ops.append((DEL, m - 1, None))
            m -= 1
            continue
        same = ref[m - 1] == hyp[n - 1]
        diag = cost[m - 1][n - 1] + (not same)
        dele, ins = cost[m - 1][n] + 1, cost[m][n - 1] + 1
        if diag < min(dele, ins):
            ops.append((HIT if same else SUB, m - 1, n - 1))
            m, n = m - 1, n - 1
        elif dele < ins:
            ops.append((DEL, m - 1, None))
            m -= 1
        else:
            ops.append((INS, None, n - 1))
            n -= 1
    ops.reverse()
    return ops
