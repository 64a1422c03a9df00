"""Edit counts and rates: hand-computed cases, and identical totals to jiwer and kaldialign."""

from __future__ import annotations

import random

import jiwer
import kaldialign
import numpy as np
import pytest

from spectragram_bench.core import metrics as M


def test_hand_computed_word_counts():
    # the cat sat on the mat / the cat sit on mat: sat->sit (S), second "the" deleted (D)
    c = M.word_counts(["the cat sat on the mat"], ["the cat sit on mat"])[0]
    assert (c.hits, c.substitutions, c.deletions, c.insertions) == (4, 1, 1, 0)
    assert c.ref_len == 6 and c.hyp_len == 5 and c.errors == 2
    assert c.rate == pytest.approx(2 / 6)
    assert c.mer == pytest.approx(2 / 6)  # errors / (H + S + D + I)
    assert c.wip == pytest.approx((4 / 6) * (4 / 5))
    assert c.wil == pytest.approx(1 - (4 / 6) * (4 / 5))


def test_hand_computed_insertion_and_char_counts():
    c = M.word_counts(["a b"], ["a x b"])[0]
    assert (c.hits, c.substitutions, c.deletions, c.insertions) == (2, 0, 0, 1)
    ch = M.char_counts(["abc"], ["abd"])[0]
    assert (ch.hits, ch.substitutions, ch.deletions, ch.insertions) == (2, 1, 0, 0)
    # spaces are characters: "a b" -> "ab" deletes the space
    ch = M.char_counts(["a b"], ["ab"])[0]
    assert (ch.hits, ch.deletions, ch.ref_len) == (2, 1, 3)


def test_corpus_rate_is_a_ratio_of_sums_not_a_mean_of_rates():
    counts = M.word_counts(["a", "a b c d e f g h i j"], ["b", "a b c d e f g h i j"])
    # per-utterance rates 1.0 and 0.0 (mean 0.5); corpus 1 error / 11 words
    assert M.total(counts).rate == pytest.approx(1 / 11)


def test_empty_references_count_insertions_without_dividing_by_zero():
    counts = M.word_counts(["", "", "a b"], ["x y", "", "a b"])
    assert counts[0] == M.ErrorCounts(0, 0, 0, 2)
    assert counts[0].rate == float("inf")  # kaldialign's convention, not a division by zero
    assert counts[1] == M.ErrorCounts() and counts[1].rate == 0.0
    assert counts[1].mer == 0.0 and counts[1].wip == 1.0  # jiwer's conventions
    assert counts[0].mer == 1.0 and counts[0].wip == 0.0
    t = M.total(counts)
    assert (t.insertions, t.ref_len) == (2, 2)
    assert t.rate == 1.0  # the insertions still count against the corpus
    assert counts.sentence_error_rate() == pytest.approx(1 / 3)
    assert M.total(M.word_counts([], [])).rate == 0.0
    assert M.word_counts([], []).sentence_error_rate() is None


def test_empty_hypothesis_is_all_deletions():
    c = M.word_counts(["a b c"], [""])[0]
    assert (c.hits, c.deletions, c.insertions) == (0, 3, 0)
    assert c.wip == 0.0


def test_mismatched_lengths_are_rejected():
    with pytest.raises(ValueError, match="2 references but 1 hypotheses"):
        M.word_counts(["a", "b"], ["a"])


def _random_pairs(n: int, seed: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    vocab = ["the", "a", "cat", "dog", "sat", "on", "mat", "of", "and", "to", "in", "it", "is", "x", "y"]
    refs, hyps = [], []
    for _ in range(n):
        ref = [rng.choice(vocab) for _ in range(rng.randint(0, 15))]
        hyp = []
        for w in ref:
            r = rng.random()
            if r < 0.1:
                continue
            hyp.append(rng.choice(vocab) if r < 0.25 else w)
            if rng.random() < 0.08:
                hyp.append(rng.choice(vocab))
        if rng.random() < 0.05:
            hyp = [rng.choice(vocab) for _ in range(rng.randint(0, 5))]
        refs.append(" ".join(ref))
        hyps.append(" ".join(hyp))
    return refs, hyps


def test_word_counts_equal_kaldialign_split_and_jiwer_totals():
    """S/D/I per utterance exactly kaldialign's (its tie rule); total errors and WER as jiwer."""
    refs, hyps = _random_pairs(3000, seed=1)
    ours = M.word_counts(refs, hyps)
    for i, (r, h) in enumerate(zip(refs, hyps, strict=True)):
        k = kaldialign.edit_distance(r.split(), h.split())
        assert (ours[i].substitutions, ours[i].deletions, ours[i].insertions) == (k["sub"], k["del"], k["ins"]), i
    theirs = jiwer.process_words(refs, hyps)
    t = ours.total()
    assert t.errors == theirs.substitutions + theirs.deletions + theirs.insertions
    assert t.rate == pytest.approx(theirs.wer, abs=1e-15)


def test_tie_split_as_kaldialign_and_sclite():
    """ref `a b`, hyp `b c`: 1 deletion + 1 insertion (kaldialign, sclite), not 2 substitutions."""
    c = M.word_counts(["a b"], ["b c"])[0]
    assert (c.hits, c.substitutions, c.deletions, c.insertions) == (1, 0, 1, 1)


def test_char_counts_identical_to_jiwer():
    refs, hyps = _random_pairs(2000, seed=2)
    ours = M.char_counts(refs, hyps).total()
    theirs = jiwer.process_characters(refs, hyps)
    assert (ours.hits, ours.substitutions, ours.deletions, ours.insertions) == (
        theirs.hits, theirs.substitutions, theirs.deletions, theirs.insertions
    )
    assert ours.rate == pytest.approx(jiwer.cer(refs, hyps), abs=1e-15)


def test_error_totals_identical_to_kaldialign():
    refs, hyps = _random_pairs(3000, seed=3)
    ours = M.word_counts(refs, hyps)
    theirs = kaldialign.batch_error_rate([r.split() for r in refs], [h.split() for h in hyps])
    t = ours.total()
    # the minimum edit distance is unique; how ties split it into S/D/I may differ between tools
    assert t.errors == theirs["total"]
    assert t.ref_len == theirs["ref_len"]
    assert t.rate == pytest.approx(theirs["err_rate"], abs=1e-15)
    per_utt = [kaldialign.edit_distance(r.split(), h.split())["total"] for r, h in zip(refs, hyps, strict=True)]
    assert ours.errors.tolist() == per_utt
    chars = M.char_counts(refs, hyps).total()
    assert chars.errors == kaldialign.batch_error_rate(refs, hyps)["total"]


def test_word_alignment_positions():
    vocab = M.Vocabulary()
    ref, hyp = vocab.encode("a b c d"), vocab.encode("x a c d e")
    al = M.word_alignment(ref, hyp)
    assert al.word_errors.tolist() == [0, 1, 0, 0]  # b deleted
    assert al.insertions.tolist() == [1, 0, 0, 0, 1]  # x before a, e at the end


def test_latency_stats_and_rtfx():
    stats = M.latency_stats([100, 200, 300, 400, None, float("nan")])
    assert stats["mean"] == 250 and stats["max"] == 400
    assert stats["p50"] == 250 and stats["p90"] == pytest.approx(np.percentile([100, 200, 300, 400], 90))
    assert M.latency_stats([]) == {}
    assert M.rtfx(3600, 36) == 100
    assert M.rtfx(10, 0) is None
