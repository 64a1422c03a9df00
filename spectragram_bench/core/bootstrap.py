"""Bootstrap confidence intervals of corpus error rates, paired system comparison, and MAPSSWE.

Bisani & Ney (2004): draw the test set's n utterances with replacement B times; each draw
gives W* = sum(e*) / sum(n*); the 95% interval is the 2.5th..97.5th percentile of W*
(percentile method; Kaldi's compute-wer-bootci prints mean +- 1.96 sd instead, kept in
`Interval.std`). The speaker-level (block) bootstrap draws speakers with replacement and
takes all of their utterances, because one speaker's utterances are correlated.

Vectorised without approximation: a draw of n rows with replacement only matters through
how many times each distinct row value is drawn, and those counts are one multinomial draw
over the distinct values. With few distinct (errors, length) values, as in any real test set,
`Generator.multinomial` over them replaces the n index draws per resample; otherwise rows are
drawn by index in memory-bounded chunks. Both are driven by `numpy.random.default_rng(seed)`,
so the same data, iterations and seed give the same interval bit for bit (on one numpy
version; the version is stored with each result).

The paired comparison of systems A and B uses the same draws for both (one draw of the rows
(e_A - e_B, n)): dW* = sum(e_A - e_B)* / sum(n*), its percentile interval, and the
probability of improvement P(B better) = #{dW* > 0} / B, the quantity Kaldi's
compute-wer-bootci and kaldialign.bootstrap_wer_ci print as p_s2_improv_over_s1.

MAPSSWE is sclite's matched-pairs sentence-segment word error test (see `mapsswe`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from spectragram_bench.core.metrics import WordAlignment

CONFIDENCE = 0.95
UTTERANCE = "utterance_percentile"
SPEAKER = "speaker_percentile"
PAIRED = "paired_utterance_percentile"

CHUNK = 500  # resamples per independent random stream; fixed, so results do not depend on the machine
POOL_MAX = 7  # categories with at most this many rows are drawn by index (cheaper than a Poisson draw)
GATHER = 100_000  # index draws gathered at once (16 bytes each): the transient stays a few MB


def resample_totals(values: np.ndarray, iterations: int, seed: int) -> np.ndarray:
    """Column sums of `iterations` resamples (n rows drawn with replacement) of the rows of `values`.

    `values` is an (n, m) integer array; returns an (iterations, m) float64 array (exact for
    sums below 2**53). Exact, not an approximation, by Poisson splitting:

    1. rows with equal values form a category; a category with count c gets an independent
       Poisson(c * s) count, s = 1 - 3 / sqrt(n); the rows of small categories share one
       Poisson(pool * s) count, spread over them by uniform index draws (the same law);
    2. given their total t, such counts are Multinomial(t, c / n): a resample whose t exceeds n
       (probability ~0.1%) is drawn again, which conditions on t only and keeps that law;
    3. n - t further rows drawn uniformly (independent multinomial draws) complete it to
       Multinomial(n, c / n), exactly the law of n index draws with replacement.

    The cost per resample is one Poisson draw per frequent value plus a few thousand index
    draws, instead of n index draws. Resamples run in chunks of CHUNK with their own streams
    spawned from `seed` (in threads; numpy releases the GIL), so the result is bit for bit the
    same on any machine with the same numpy.
    """
    values = np.asarray(values, dtype=np.int64)
    if values.ndim != 2:
        raise ValueError("values must be a 2-D array (rows to resample x columns to sum)")
    n, m = values.shape
    iterations = max(int(iterations), 0)
    if n == 0 or iterations == 0:
        return np.zeros((iterations, m))
    distinct, inverse, counts = _categories(values)
    frequent = counts > POOL_MAX
    scale = max(0.0, 1.0 - 3.0 / math.sqrt(n))
    plan = _Plan(
        n=n,
        lam=counts[frequent] * scale,
        frequent_values=distinct[frequent].astype(np.int64),
        m=m,
        pool=_pack(values[~frequent[inverse]].T),
        pool_lam=float(np.count_nonzero(~frequent[inverse])) * scale,
        everything=_pack(values.T),
    )
    streams = np.random.SeedSequence(seed).spawn(-(-iterations // CHUNK))
    sizes = [min(CHUNK, iterations - k * CHUNK) for k in range(len(streams))]
    workers = min(len(streams), os.cpu_count() or 1)
    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            parts = list(pool.map(plan.draw, streams, sizes))
    else:
        parts = [plan.draw(s, b) for s, b in zip(streams, sizes, strict=True)]
    return np.concatenate(parts)


@dataclass(frozen=True)
class _Plan:
    n: int
    lam: np.ndarray  # Poisson means of the frequent categories
    frequent_values: np.ndarray  # (categories, m) int64
    m: int
    pool: list[np.ndarray]  # rows of the small categories, packed by _pack
    pool_lam: float
    everything: list[np.ndarray]  # all rows, packed

    def draw(self, stream: np.random.SeedSequence, b: int) -> np.ndarray:
        rng = np.random.default_rng(stream)
        counts = rng.poisson(self.lam, size=(b, len(self.lam)))
        pooled = rng.poisson(self.pool_lam, size=b)
        taken = counts.sum(axis=1) + pooled
        over = np.flatnonzero(taken > self.n)
        while over.size:
            counts[over] = rng.poisson(self.lam, size=(over.size, len(self.lam)))
            pooled[over] = rng.poisson(self.pool_lam, size=over.size)
            taken[over] = counts[over].sum(axis=1) + pooled[over]
            over = over[taken[over] > self.n]
        totals = _counts_times(counts, self.frequent_values)
        totals += _index_draw_sums(rng, self.pool, self.m, pooled)
        totals += _index_draw_sums(rng, self.everything, self.m, self.n - taken)
        return totals


def _pack(columns: np.ndarray) -> list[np.ndarray]:
    """Columns in pairs as one complex array each (real, imaginary): one gather fetches both."""
    m = len(columns)
    return [
        columns[c].astype(np.float64) + 1j * (columns[c + 1] if c + 1 < m else 0)
        for c in range(0, m, 2)
    ]


def _counts_times(counts: np.ndarray, values: np.ndarray) -> np.ndarray:
    """counts @ values in integers (exact, and numpy's own loop: a float product would call BLAS,
    whose first call allocates a 32 MB work buffer), then as float64 (exact below 2**53)."""
    return (counts @ values).astype(np.float64)


def _index_draw_sums(rng: np.random.Generator, packed: list[np.ndarray], m: int, draws: np.ndarray) -> np.ndarray:
    """Row i: column sums of draws[i] rows picked uniformly (with replacement) from `packed`.
    The picks are drawn at once (one stream order) and gathered GATHER at a time, whole rows each."""
    out = np.zeros((len(draws), m))
    rows = len(packed[0]) if packed else 0
    total = int(draws.sum())
    if total == 0 or rows == 0:
        return out
    picked = rng.integers(0, rows, size=total, dtype=np.uint32)
    starts = np.concatenate([[0], np.cumsum(draws)[:-1]])
    nonempty = np.flatnonzero(draws > 0)
    ends = np.cumsum(draws[nonempty])
    edges = np.unique(np.concatenate([[0], np.searchsorted(ends, np.arange(GATHER, total, GATHER)), [len(nonempty)]]))
    for lo, hi in zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True):
        block = nonempty[lo:hi]
        first, last = int(starts[block[0]]), int(starts[block[-1]] + draws[block[-1]])
        for k, pair in enumerate(packed):
            # reduceat sums each row's slice (exact: integer parts); rows with no draws stay 0
            sums = np.add.reduceat(pair[picked[first:last]], starts[block] - first)
            out[block, 2 * k] = sums.real
            if 2 * k + 1 < m:
                out[block, 2 * k + 1] = sums.imag
    return out


def _categories(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct rows, each row's category and each category's count (one 1-D sort when it fits)."""
    low = values.min(axis=0)
    span = values.max(axis=0) - low + 1
    if float(np.prod(span.astype(np.float64))) < 2**62:
        keys = np.ravel_multi_index(tuple((values - low).T), tuple(int(v) for v in span))
        _, first, inverse, counts = np.unique(keys, return_index=True, return_inverse=True, return_counts=True)
        return values[first], inverse.reshape(-1), counts
    distinct, inverse, counts = np.unique(values, axis=0, return_inverse=True, return_counts=True)
    return distinct, inverse.reshape(-1), counts


def _ratios(totals: np.ndarray) -> np.ndarray:
    """Column 0 / column 1 per resample; NaN where a resample has no reference units."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(totals[:, 1] > 0, totals[:, 0] / np.where(totals[:, 1] > 0, totals[:, 1], 1), np.nan)


def _percentiles(samples: np.ndarray, confidence: float) -> tuple[float | None, float | None]:
    finite = samples[~np.isnan(samples)]
    if finite.size == 0:
        return None, None
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


@dataclass(frozen=True)
class Interval:
    """A bootstrap interval of a corpus rate, with what it takes to reproduce it."""

    estimate: float | None
    low: float | None
    high: float | None
    mean: float | None
    std: float | None
    method: str
    iterations: int
    seed: int
    confidence: float
    units: int  # utterances (or speakers) resampled
    numpy_version: str = field(default=np.__version__)

    def extra(self) -> dict:
        return {
            "estimate": self.estimate, "mean": self.mean, "std": self.std, "confidence": self.confidence,
            "units": self.units, "numpy": self.numpy_version,
        }


def block_totals(errors: np.ndarray, ref_len: np.ndarray, blocks: Sequence) -> np.ndarray:
    """(errors, reference units) summed per block, blocks in order of first appearance.

    A block label None is an utterance of unknown speaker: it forms a block of its own.
    """
    ids: dict = {}
    inverse = np.fromiter(
        (ids.setdefault(b if b is not None else (None, i), len(ids)) for i, b in enumerate(blocks)),
        dtype=np.int64, count=len(blocks),
    )
    k = len(ids)
    return np.stack(
        [np.bincount(inverse, weights=errors, minlength=k), np.bincount(inverse, weights=ref_len, minlength=k)],
        axis=1,
    ).astype(np.int64)


def rate_interval(
    errors: Sequence[int] | np.ndarray,
    ref_len: Sequence[int] | np.ndarray,
    iterations: int,
    seed: int,
    *,
    blocks: Sequence | None = None,
    confidence: float = CONFIDENCE,
) -> Interval:
    """Percentile bootstrap interval of sum(errors) / sum(ref_len).

    Resamples utterances, or with `blocks` (one label per utterance, e.g. its speaker) resamples
    whole blocks.
    """
    errors = np.asarray(errors, dtype=np.int64)
    ref_len = np.asarray(ref_len, dtype=np.int64)
    if errors.shape != ref_len.shape:
        raise ValueError("errors and ref_len must have one value per utterance each")
    if blocks is not None:
        if len(blocks) != len(errors):
            raise ValueError("blocks must have one label per utterance")
        values = block_totals(errors, ref_len, blocks)
        method = SPEAKER
    else:
        values = np.stack([errors, ref_len], axis=1)
        method = UTTERANCE
    n_ref = int(ref_len.sum())
    estimate = float(errors.sum()) / n_ref if n_ref else None
    samples = _ratios(resample_totals(values, iterations, seed))
    low, high = _percentiles(samples, confidence)
    finite = samples[~np.isnan(samples)]
    return Interval(
        estimate, low, high,
        float(finite.mean()) if finite.size else None,
        float(finite.std(ddof=1)) if finite.size > 1 else None,
        method, iterations, seed, confidence, len(values),
    )


@dataclass(frozen=True)
class PairedComparison:
    """A vs B on the same utterances: difference WER_A - WER_B (positive: B makes fewer errors)."""

    wer_a: float | None
    wer_b: float | None
    difference: Interval
    p_b_better: float | None  # P(dW* > 0) over the resamples

    @property
    def significant(self) -> bool:
        d = self.difference
        return d.low is not None and (d.low > 0 or d.high < 0)


def paired_bootstrap(
    errors_a: Sequence[int] | np.ndarray,
    errors_b: Sequence[int] | np.ndarray,
    ref_len: Sequence[int] | np.ndarray,
    iterations: int,
    seed: int,
    *,
    confidence: float = CONFIDENCE,
) -> PairedComparison:
    """Paired bootstrap of the corpus WER difference of two systems scored on the same utterances."""
    errors_a = np.asarray(errors_a, dtype=np.int64)
    errors_b = np.asarray(errors_b, dtype=np.int64)
    ref_len = np.asarray(ref_len, dtype=np.int64)
    if not (errors_a.shape == errors_b.shape == ref_len.shape):
        raise ValueError("both systems need counts for the same utterances")
    n_ref = int(ref_len.sum())
    diff = errors_a - errors_b
    samples = _ratios(resample_totals(np.stack([diff, ref_len], axis=1), iterations, seed))
    low, high = _percentiles(samples, confidence)
    finite = samples[~np.isnan(samples)]
    interval = Interval(
        float(diff.sum()) / n_ref if n_ref else None, low, high,
        float(finite.mean()) if finite.size else None,
        float(finite.std(ddof=1)) if finite.size > 1 else None,
        PAIRED, iterations, seed, confidence, len(ref_len),
    )
    return PairedComparison(
        float(errors_a.sum()) / n_ref if n_ref else None,
        float(errors_b.sum()) / n_ref if n_ref else None,
        interval,
        float(np.count_nonzero(samples > 0)) / iterations if iterations > 0 else None,
    )


# --- MAPSSWE -------------------------------------------------------------------------------

MIN_GOOD = 2  # sclite's default: a segment ends after 2 words both systems got right


def segment_errors(a: WordAlignment, b: WordAlignment, min_good: int = MIN_GOOD) -> list[tuple[int, int]]:
    """(errors of A, errors of B) per segment of one utterance.

    Walk the reference in order (gap before word 0, word 0, gap, word 1, ..., final gap). An
    error of either system (a substituted or deleted word, an insertion in a gap) opens a
    segment or extends it; `min_good` consecutive words both systems got right close it; the
    end of the utterance closes it too. Segments where neither system erred do not exist.
    """
    segments: list[tuple[int, int]] = []
    err_a = err_b = good = 0
    open_ = False
    n = len(a.word_errors)
    wa, wb = a.word_errors.tolist(), b.word_errors.tolist()
    ia, ib = a.insertions.tolist(), b.insertions.tolist()
    for k in range(n + 1):
        if ia[k] or ib[k]:
            open_, good = True, 0
            err_a += ia[k]
            err_b += ib[k]
        if k == n:
            break
        if wa[k] or wb[k]:
            open_, good = True, 0
            err_a += wa[k]
            err_b += wb[k]
        elif open_:
            good += 1
            if good >= min_good:
                segments.append((err_a, err_b))
                err_a = err_b = good = 0
                open_ = False
    if open_:
        segments.append((err_a, err_b))
    return segments


@dataclass(frozen=True)
class Mapsswe:
    """sclite's MAPSSWE: Z_j = errors of A - errors of B in segment j; W = mean / (sd / sqrt(m))."""

    segments: int
    mean: float | None
    std: float | None
    w: float | None
    p_value: float | None  # two-tailed, normal approximation; None with fewer than 2 segments


def mapsswe(alignments_a: Sequence[WordAlignment], alignments_b: Sequence[WordAlignment], min_good: int = MIN_GOOD) -> Mapsswe:
    """The test over all utterances (pairs of alignments of A and B against the same reference)."""
    z: list[int] = []
    for a, b in zip(alignments_a, alignments_b, strict=True):
        z.extend(ea - eb for ea, eb in segment_errors(a, b, min_good))
    m = len(z)
    if m == 0:
        return Mapsswe(0, None, None, None, 1.0)  # no errors anywhere: nothing differs
    zs = np.asarray(z, dtype=float)
    mu = float(zs.mean())
    if m < 2:
        return Mapsswe(m, mu, None, None, None)
    sigma = float(zs.std(ddof=1))
    if sigma == 0:
        w = 0.0 if mu == 0 else math.copysign(math.inf, mu)
    else:
        w = mu / (sigma / math.sqrt(m))
    return Mapsswe(m, mu, sigma, w, math.erfc(abs(w) / math.sqrt(2)))
