"""sclite's sign and Wilcoxon tests over speakers and McNemar on sentence errors, hand-computed."""

from __future__ import annotations

import numpy as np
import pytest

from spectragram_bench.core import significance as sig


def test_sign_test_counts_speakers_and_drops_ties():
    a = {"s1": 0.1, "s2": 0.2, "s3": 0.3, "s4": 0.5}
    b = {"s1": 0.2, "s2": 0.1, "s3": 0.4, "s4": 0.5, "s5": 0.9}  # s5 only in B: not compared
    t = sig.sign_test(a, b)
    assert (t.a_better, t.b_better, t.ties) == (2, 1, 1)
    assert t.p_value == pytest.approx(1.0)
    six = sig.sign_test({k: 0.1 for k in "abcdef"}, {k: 0.2 for k in "abcdef"})
    assert six.p_value == pytest.approx(2 * 0.5**6)  # all six speakers favour A
    assert sig.sign_test({"a": 0.1}, {"a": 0.1}).p_value is None


def test_wilcoxon_exact_small_sample():
    a = {k: 0.5 for k in "abcde"}
    b = {k: 0.5 - d for k, d in zip("abcde", (0.01, 0.02, 0.03, 0.04, 0.05), strict=True)}
    w = sig.wilcoxon_test(a, b)
    assert w.speakers == 5 and w.p_value == pytest.approx(2 / 32)  # every difference one way: 2 of 2^5 sign patterns


def test_mcnemar_exact_binomial():
    errors_a = np.array([1, 1, 1, 1, 1, 1, 1, 0, 2, 0, 0])
    errors_b = np.array([0, 0, 0, 0, 0, 0, 0, 3, 1, 0, 0])
    m = sig.mcnemar(errors_a, errors_b)
    assert (m.a_only_wrong, m.b_only_wrong) == (7, 1)
    assert m.p_value == pytest.approx(2 * (1 + 8) / 256)


def test_speaker_rates_sum_before_dividing():
    rates = sig.speaker_rates(np.array([1, 3, 2]), np.array([10, 10, 0]), ["x", "x", None])
    assert rates == {"x": pytest.approx(0.2)}
