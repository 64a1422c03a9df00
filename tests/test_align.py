"""core/align.py against kaldialign itself: the same S/D/I split on every pair, ties included."""

from __future__ import annotations

import random

import kaldialign

from spectragram_bench.core import align


def _pairs(n: int, seed: int) -> list[tuple[list[int], list[int]]]:
    """Short sequences over 1-5 symbols, so tied least-cost alignments are common."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        vocab = rng.randint(1, 5)
        out.append(([rng.randrange(vocab) for _ in range(rng.randint(0, 12))],
                    [rng.randrange(vocab) for _ in range(rng.randint(0, 12))]))
    return out


def _sdi(ops) -> tuple[int, int, int]:
    tags = [op for op, _, _ in ops]
    return tags.count(align.SUB), tags.count(align.DEL), tags.count(align.INS)


def test_counts_and_alignment_equal_kaldialign_on_5000_random_pairs():
    pairs = _pairs(5000, seed=7)
    counts = align.edit_counts(pairs)
    tied = 0
    for (ref, hyp), row in zip(pairs, counts, strict=True):
        k = kaldialign.edit_distance(ref, hyp)
        expected = (k["sub"], k["del"], k["ins"])
        assert tuple(int(v) for v in row[1:]) == expected, (ref, hyp)
        assert row[0] == len(ref) - k["sub"] - k["del"]
        assert _sdi(align.alignment(ref, hyp)) == expected, (ref, hyp)
        pairs_k = kaldialign.align(ref, hyp, -1)
        ops = align.alignment(ref, hyp)
        assert [(ref[i] if i is not None else -1, hyp[j] if j is not None else -1) for _, i, j in ops] == pairs_k
        tied += not align.split_is_unique(k["total"], len(ref), len(hyp))
    assert tied > 1000  # the batched dynamic programme was exercised, not only the shortcut


def test_hand_computed_ties():
    assert align.edit_counts([([0, 1], [1, 2])]).tolist() == [[1, 0, 1, 1]]  # a b / b c
    assert align.edit_counts([([0, 1], [2, 3])]).tolist() == [[0, 2, 0, 0]]  # a b / c d: two substitutions
    assert align.edit_counts([([], [1, 2])]).tolist() == [[0, 0, 0, 2]]
    assert align.edit_counts([([0, 0], [])]).tolist() == [[0, 0, 2, 0]]
    assert align.edit_counts([]).shape == (0, 4)


def test_sclite_rule_takes_fewest_substitutions_among_least_error_alignments():
    # ref `b c a`, hyp `c c b c`: sclite 2.4.10 aligns * * b c A / C C b c * (0 S, 1 D, 2 I)
    assert align.edit_counts([([1, 2, 0], [2, 2, 1, 2])], "sclite").tolist() == [[2, 0, 1, 2]]
    assert align.edit_counts([([1, 2, 0], [2, 2, 1, 2])]).tolist() == [[1, 2, 0, 1]]  # kaldialign: 2 S, 1 I
    pairs = _pairs(2000, seed=3)
    ours, kaldi = align.edit_counts(pairs, "sclite"), align.edit_counts(pairs)
    assert (ours[:, 1:].sum(axis=1) == kaldi[:, 1:].sum(axis=1)).all()  # the same least error count
    assert (ours[:, 1] <= kaldi[:, 1]).all() and (ours[:, 1] < kaldi[:, 1]).any()
