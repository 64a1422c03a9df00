"""sclite's speaker-level tests and McNemar's test on sentence errors, for `compare`.

NIST sclite (`sc_stats`) runs, beside MAPSSWE, a sign test and a Wilcoxon signed-rank test over
speakers: each speaker's word error rate under system A against system B. The sign test counts
the speakers where A is better and where B is better (ties dropped) and asks how likely so
lopsided a split is under a fair coin (two-sided exact binomial); the Wilcoxon test ranks the
speakers' differences by size (scipy.stats.wilcoxon, two-sided, zero differences dropped as
sclite does). McNemar's test (sclite's `-t mcn`) pairs the utterances: b = A wrong and B right,
c = A right and B wrong; its exact form is the two-sided binomial test of b against b + c.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class SignTest:
    a_better: int  # speakers with the lower error rate under A
    b_better: int
    ties: int
    p_value: float | None  # None without a speaker that differs


@dataclass(frozen=True)
class Wilcoxon:
    speakers: int  # with a non-zero difference
    statistic: float | None
    p_value: float | None


@dataclass(frozen=True)
class McNemar:
    a_only_wrong: int  # b: A has an error, B none
    b_only_wrong: int  # c
    p_value: float | None


def speaker_rates(errors: np.ndarray, ref_len: np.ndarray, speakers: Sequence) -> dict:
    """Each known speaker's error rate (sum / sum); a speaker without reference units is left out."""
    sums: dict = {}
    for e, n, s in zip(errors.tolist(), ref_len.tolist(), speakers, strict=True):
        if s is None:
            continue
        te, tn = sums.get(s, (0, 0))
        sums[s] = (te + e, tn + n)
    return {s: e / n for s, (e, n) in sums.items() if n > 0}


def sign_test(rates_a: dict, rates_b: dict) -> SignTest:
    common = sorted(rates_a.keys() & rates_b.keys(), key=str)
    a_better = sum(1 for s in common if rates_a[s] < rates_b[s])
    b_better = sum(1 for s in common if rates_b[s] < rates_a[s])
    ties = len(common) - a_better - b_better
    n = a_better + b_better
    p = float(stats.binomtest(a_better, n, 0.5).pvalue) if n else None
    return SignTest(a_better, b_better, ties, p)


def wilcoxon_test(rates_a: dict, rates_b: dict) -> Wilcoxon:
    common = sorted(rates_a.keys() & rates_b.keys(), key=str)
    diff = np.array([rates_a[s] - rates_b[s] for s in common], dtype=float)
    diff = diff[diff != 0]
    if diff.size == 0:
        return Wilcoxon(0, None, None)
    result = stats.wilcoxon(diff, zero_method="wilcox", alternative="two-sided")
    return Wilcoxon(int(diff.size), float(result.statistic), float(result.pvalue))


def mcnemar(errors_a: np.ndarray, errors_b: np.ndarray) -> McNemar:
    wrong_a, wrong_b = np.asarray(errors_a) > 0, np.asarray(errors_b) > 0
    b = int(np.count_nonzero(wrong_a & ~wrong_b))
    c = int(np.count_nonzero(~wrong_a & wrong_b))
    p = float(stats.binomtest(b, b + c, 0.5).pvalue) if b + c else None
    return McNemar(b, c, p)
