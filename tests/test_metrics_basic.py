"""Word/char error counts: hand-computed cases and agreement with jiwer on random strings."""

from __future__ import annotations

import random

import jiwer
import pytest

from spectragram_bench.core import metrics
from spectragram_bench.core.metrics import ErrorCounts


@pytest.mark.parametrize(
    ("ref", "hyp", "expected"),
    [
        ("a b c", "a b c", ErrorCounts(3, 0, 0, 0)),
        ("a b c", "a x c", ErrorCounts(2, 1, 0, 0)),
        ("a b c", "a c", ErrorCounts(2, 0, 1, 0)),
        ("a b c", "a b c d", ErrorCounts(3, 0, 0, 1)),
        ("a b c", "", ErrorCounts(0, 0, 3, 0)),
        ("", "x y", ErrorCounts(0, 0, 0, 2)),
        ("", "", ErrorCounts(0, 0, 0, 0)),
        ("the cat sat", "a cat sat down", ErrorCounts(2, 1, 0, 1)),
    ],
)
def test_hand_computed_word_counts(ref: str, hyp: str, expected: ErrorCounts) -> None:
    assert metrics.word_counts([ref], [hyp]) == [expected]


def test_corpus_wer_is_total_errors_over_total_words_not_a_mean() -> None:
    counts = metrics.word_counts(["a", "a b c d e f g h i j"], ["b", "a b c d e f g h i j"])
    corpus = metrics.total(counts)
    assert corpus.rate == pytest.approx(1 / 11)
    assert corpus.rate != pytest.approx((1.0 + 0.0) / 2)


def test_empty_reference_rates_do_not_divide_by_zero() -> None:
    assert metrics.error_rate(0, 0) == 0.0
    assert metrics.error_rate(2, 0) == float("inf")


def test_character_counts() -> None:
    (c,) = metrics.char_counts(["abc"], ["abd"])
    assert (c.hits, c.substitutions, c.deletions, c.insertions) == (2, 1, 0, 0)


def test_agrees_with_jiwer_on_random_strings() -> None:
    rng = random.Random(7)
    vocab = "a b c d e f g".split()
    refs = [" ".join(rng.choices(vocab, k=rng.randint(1, 12))) for _ in range(2000)]
    hyps = [" ".join(rng.choices(vocab, k=rng.randint(0, 12))) for _ in range(2000)]
    ours = metrics.total(metrics.word_counts(refs, hyps))
    ref = jiwer.process_words(refs, hyps)
    # the edit total and the lengths equal jiwer's; the S/D/I split follows kaldialign's tie rule
    # (tests/test_align.py), which jiwer's does not
    assert ours.errors == ref.substitutions + ref.deletions + ref.insertions
    assert ours.hits + ours.substitutions + ours.deletions == ref.hits + ref.substitutions + ref.deletions
    assert ours.hits + ours.substitutions + ours.insertions == ref.hits + ref.substitutions + ref.insertions
    assert ours.rate == pytest.approx(jiwer.wer(refs, hyps))
    assert metrics.total(metrics.char_counts(refs, hyps)).rate == pytest.approx(jiwer.cer(refs, hyps))


def test_latency_stats() -> None:
    stats = metrics.latency_stats([10, 20, 30, 40, 50])
    assert stats["p50"] == 30 and stats["max"] == 50 and stats["mean"] == 30
    assert metrics.latency_stats([]) == {}
