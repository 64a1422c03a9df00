"""Bootstrap intervals, paired comparison and MAPSSWE: reproducibility, exactness of the
resampling law, coverage, power and false alarms."""

from __future__ import annotations

import random

import kaldialign
import numpy as np
import pytest

from spectragram_bench.core import bootstrap as B
from spectragram_bench.core import metrics as M


def _corpus(rng: np.random.Generator, utterances: int, wer: float = 0.1):
    lengths = rng.integers(5, 31, utterances)
    p = rng.beta(2, 2 * (1 - wer) / wer, utterances)  # mean `wer`, varying per utterance
    return rng.binomial(lengths, p), lengths


def test_same_seed_same_interval_bit_for_bit_and_another_seed_differs():
    errors, lengths = _corpus(np.random.default_rng(0), 5000)
    a = B.rate_interval(errors, lengths, 2000, seed=7)
    b = B.rate_interval(errors, lengths, 2000, seed=7)
    assert (a.low, a.high, a.mean, a.std) == (b.low, b.high, b.mean, b.std)
    c = B.rate_interval(errors, lengths, 2000, seed=8)
    assert (c.low, c.high) != (a.low, a.high)
    assert a.method == B.UTTERANCE and a.iterations == 2000 and a.seed == 7 and a.units == 5000
    assert a.low < a.estimate < a.high


@pytest.mark.parametrize("utterances", [6, 300, 20_000])
def test_resampling_law_matches_index_draws(utterances):
    """Totals have the mean and variance of n index draws with replacement (sum: n * mean, n * var)."""
    rng = np.random.default_rng(utterances)
    errors, lengths = _corpus(rng, utterances)
    values = np.stack([errors, lengths], axis=1)
    totals = B.resample_totals(values, 20_000, seed=1)
    expected_mean = values.sum(axis=0)
    expected_sd = np.sqrt(utterances * values.var(axis=0))
    # Monte Carlo error of a mean over 20k resamples: sd / sqrt(20k) ~ 0.7% of sd
    assert np.all(np.abs(totals.mean(axis=0) - expected_mean) < 0.03 * expected_sd)
    assert np.allclose(totals.std(axis=0), expected_sd, rtol=0.03)
    # the ratio's spread agrees with numpy's own multinomial resampling of the same rows
    distinct, counts = np.unique(values, axis=0, return_counts=True)
    ref = np.random.default_rng(2).multinomial(utterances, counts / utterances, size=20_000) @ distinct
    ours = totals[:, 0] / totals[:, 1]
    theirs = ref[:, 0] / ref[:, 1]
    assert np.percentile(ours, [2.5, 97.5]) == pytest.approx(np.percentile(theirs, [2.5, 97.5]), rel=0.02)


def test_resample_totals_edge_cases():
    assert B.resample_totals(np.zeros((0, 2), dtype=int), 5, 0).shape == (5, 2)
    one = B.resample_totals(np.array([[3, 7]]), 4, 0)
    assert one.tolist() == [[3, 7]] * 4  # one row drawn once per resample
    with pytest.raises(ValueError):
        B.resample_totals(np.arange(3), 5, 0)


def test_interval_agrees_with_kaldialign_bootstrap():
    rng = random.Random(3)
    vocab = [f"w{i}" for i in range(50)]
    refs, hyps = [], []
    for _ in range(1500):
        ref = [rng.choice(vocab) for _ in range(rng.randint(3, 20))]
        refs.append(ref)
        hyps.append([w if rng.random() > 0.12 else rng.choice(vocab) for w in ref])
    counts = M.word_counts([" ".join(r) for r in refs], [" ".join(h) for h in hyps])
    ours = B.rate_interval(counts.errors, counts.ref_len, 10_000, seed=0)
    theirs = kaldialign.bootstrap_wer_ci(refs, hyps, replications=10_000, seed=0)
    assert ours.estimate == pytest.approx(theirs["wer"], abs=2e-4)  # kaldialign reports the bootstrap mean
    # Kaldi: mean +- 1.96 sd; ours: percentiles. Same law, so close (Monte Carlo noise ~1e-4).
    assert ours.low == pytest.approx(theirs["ci95min"], abs=1e-3)
    assert ours.high == pytest.approx(theirs["ci95max"], abs=1e-3)


def test_speaker_bootstrap_of_singleton_speakers_is_the_utterance_bootstrap():
    errors, lengths = _corpus(np.random.default_rng(4), 800)
    by_utt = B.rate_interval(errors, lengths, 1000, seed=3)
    by_spk = B.rate_interval(errors, lengths, 1000, seed=3, blocks=[f"s{i}" for i in range(800)])
    assert (by_spk.low, by_spk.high) == (by_utt.low, by_utt.high)
    assert by_spk.method == B.SPEAKER


def test_block_totals_group_speakers_and_keep_unknown_apart():
    totals = B.block_totals(np.array([1, 2, 3, 4]), np.array([10, 20, 30, 40]), ["a", None, "a", None])
    assert totals.tolist() == [[4, 40], [2, 20], [4, 40]]


@pytest.mark.slow
def test_utterance_interval_covers_the_true_rate_in_95_percent_of_corpora():
    """1,000 simulated corpora of 400 utterances, true corpus WER 10%: coverage within 93-97%."""
    rng = np.random.default_rng(12345)
    covered = 0
    for r in range(1000):
        errors, lengths = _corpus(rng, 400)
        iv = B.rate_interval(errors, lengths, 1000, seed=r)
        covered += iv.low <= 0.1 <= iv.high
    print(f"coverage of the 95% utterance-level interval: {covered / 10:.1f}%")
    assert 930 <= covered <= 970


@pytest.mark.slow
def test_speaker_interval_keeps_coverage_when_speakers_differ():
    """40 speakers x 10 utterances, each speaker its own error rate (mean 10%): the utterance
    bootstrap is overconfident, the speaker block bootstrap covers."""
    rng = np.random.default_rng(99)
    by_spk = by_utt = 0
    runs = 500
    speaker = np.repeat(np.arange(40), 10)
    for r in range(runs):
        p = rng.beta(2, 18, 40)
        lengths = rng.integers(5, 31, 400)
        errors = rng.binomial(lengths, p[speaker])
        iv = B.rate_interval(errors, lengths, 1000, seed=r, blocks=speaker.tolist())
        by_spk += iv.low <= 0.1 <= iv.high
        iv = B.rate_interval(errors, lengths, 1000, seed=r)
        by_utt += iv.low <= 0.1 <= iv.high
    print(f"coverage with correlated speakers: speaker-level {by_spk / runs:.1%}, utterance-level {by_utt / runs:.1%}")
    assert by_spk / runs >= 0.91
    assert by_utt / runs < 0.8


def _systems(rng: np.random.Generator, utterances: int, wer_a: float, wer_b: float):
    """Two systems with independent substitution errors on the same reference words."""
    lengths = rng.integers(5, 25, utterances)
    alignments_a, alignments_b = [], []
    for n in lengths:
        alignments_a.append(M.WordAlignment(rng.binomial(1, wer_a, n), np.zeros(n + 1, dtype=np.int64)))
        alignments_b.append(M.WordAlignment(rng.binomial(1, wer_b, n), np.zeros(n + 1, dtype=np.int64)))
    errors_a = np.array([a.word_errors.sum() for a in alignments_a])
    errors_b = np.array([b.word_errors.sum() for b in alignments_b])
    return errors_a, errors_b, lengths, alignments_a, alignments_b


def test_paired_test_finds_a_planted_one_point_difference():
    ea, eb, n, aa, ab = _systems(np.random.default_rng(5), 3000, 0.10, 0.09)
    result = B.paired_bootstrap(ea, eb, n, 10_000, seed=0)
    assert result.wer_a - result.wer_b == pytest.approx(result.difference.estimate)
    assert result.difference.low > 0 and result.significant
    assert result.p_b_better > 0.99
    test = B.mapsswe(aa, ab)
    assert test.p_value < 0.01 and test.w > 0


def test_identical_systems_show_no_difference():
    ea, _, n, aa, _ = _systems(np.random.default_rng(6), 2000, 0.10, 0.10)
    result = B.paired_bootstrap(ea, ea, n, 5000, seed=0)
    assert (result.difference.low, result.difference.high) == (0.0, 0.0)
    assert result.p_b_better == 0.0 and not result.significant
    test = B.mapsswe(aa, aa)
    assert test.p_value == 1.0 and test.w == 0.0


@pytest.mark.slow
def test_equally_good_systems_are_rarely_called_different():
    """200 pairs of independent systems with the same 10% WER: both tests reject at ~5%."""
    rng = np.random.default_rng(7)
    boot = mapss = 0
    runs = 200
    for r in range(runs):
        ea, eb, n, aa, ab = _systems(rng, 600, 0.10, 0.10)
        boot += B.paired_bootstrap(ea, eb, n, 1000, seed=r).significant
        mapss += B.mapsswe(aa, ab).p_value < 0.05
    print(f"false alarms over {runs} equal pairs: paired bootstrap {boot}, MAPSSWE {mapss}")
    assert boot <= 20 and mapss <= 20  # expected ~10 each; 20 is > 3 sd above


def test_probability_of_improvement_agrees_with_kaldialign():
    rng = random.Random(11)
    vocab = [f"w{i}" for i in range(40)]
    refs, h1, h2 = [], [], []
    for _ in range(1200):
        ref = [rng.choice(vocab) for _ in range(rng.randint(3, 15))]
        refs.append(ref)
        h1.append([w if rng.random() > 0.10 else rng.choice(vocab) for w in ref])
        h2.append([w if rng.random() > 0.095 else rng.choice(vocab) for w in ref])
    join = [" ".join(r) for r in refs]
    c1 = M.word_counts(join, [" ".join(h) for h in h1])
    c2 = M.word_counts(join, [" ".join(h) for h in h2])
    ours = B.paired_bootstrap(c1.errors, c2.errors, c1.ref_len, 10_000, seed=0)
    theirs = kaldialign.bootstrap_wer_ci(refs, h1, h2, replications=10_000, seed=0)
    assert ours.p_b_better == pytest.approx(theirs["p_s2_improv_over_s1"], abs=0.03)


def test_mapsswe_segments_hand_computed():
    # ref: w0..w7. A errs at w1, w2; B errs at w2 and inserts before w6; both right elsewhere.
    a = M.WordAlignment(np.array([0, 1, 1, 0, 0, 0, 0, 0]), np.zeros(9, dtype=np.int64))
    b = M.WordAlignment(np.array([0, 0, 1, 0, 0, 0, 0, 0]), np.array([0, 0, 0, 0, 0, 0, 1, 0, 0]))
    # segment 1: w1..w2 closed by w3 w4 (2 good words) -> A 2, B 1; segment 2: the insertion -> A 0, B 1
    assert B.segment_errors(a, b) == [(2, 1), (0, 1)]
    # w3 w4 w5 separate the two: a boundary of 4 good words merges them
    assert B.segment_errors(a, b, min_good=3) == [(2, 1), (0, 1)]
    assert B.segment_errors(a, b, min_good=4) == [(2, 2)]
    # an error at the very end closes with the utterance
    c = M.WordAlignment(np.array([0, 0, 1]), np.zeros(4, dtype=np.int64))
    assert B.segment_errors(c, M.WordAlignment(np.zeros(3, dtype=np.int64), np.zeros(4, dtype=np.int64))) == [(1, 0)]


def test_mapsswe_statistic_hand_computed():
    # Z = [1, 1, 0, 2]: mean 1, sd sqrt(2/3), W = 1 / (sd / 2)
    one = np.ones(1, dtype=np.int64)
    zero = np.zeros(1, dtype=np.int64)
    gaps = np.zeros(2, dtype=np.int64)
    aa = [M.WordAlignment(one, gaps), M.WordAlignment(one, gaps), M.WordAlignment(one, gaps),
          M.WordAlignment(one, np.array([1, 0]))]
    ab = [M.WordAlignment(zero, gaps), M.WordAlignment(zero, gaps), M.WordAlignment(one, gaps),
          M.WordAlignment(zero, gaps)]
    test = B.mapsswe(aa, ab)
    assert test.segments == 4 and test.mean == 1.0
    assert test.std == pytest.approx(np.sqrt(2 / 3))
    assert test.w == pytest.approx(1 / (np.sqrt(2 / 3) / 2))
    from math import erfc, sqrt

    assert test.p_value == pytest.approx(erfc(test.w / sqrt(2)))
