"""Bootstrap speed: 10k resamples over 100k utterances, and the speed-up over a plain Python loop.

    python bench/bench_bootstrap.py [--utterances 100000] [--iterations 10000]

Prints the seconds of core/bootstrap.rate_interval at full size (target < 1 s), then a plain
Python loop (n index draws per resample, as in Kaldi's compute-wer-bootci) and the harness on
a smaller size in the same run, their ratio (target >= 50x), and the loop's per-draw cost
extrapolated to the full size.
"""

from __future__ import annotations

import argparse
import os
import random
import time

import numpy as np

from spectragram_bench.core.bootstrap import _categories, rate_interval


def synthetic_counts(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """LibriSpeech-like utterance lengths (median ~17 words) and errors at ~8% WER, varying per utterance."""
    rng = np.random.default_rng(seed)
    lengths = np.clip(np.round(rng.lognormal(np.log(17), 0.7, n)), 1, 120).astype(np.int64)
    return rng.binomial(lengths, rng.beta(1, 11, n)), lengths


def python_loop_interval(errors: list[int], lengths: list[int], iterations: int, seed: int) -> tuple[float, float]:
    rng = random.Random(seed)
    n = len(errors)
    rates = []
    for _ in range(iterations):
        e = r = 0
        for _ in range(n):
            i = rng.randrange(n)
            e += errors[i]
            r += lengths[i]
        rates.append(e / r)
    rates.sort()
    return rates[int(0.025 * iterations)], rates[int(0.975 * iterations) - 1]


def timed(fn, repeats: int = 3) -> tuple[float, object]:
    """Best wall-clock seconds of `repeats` calls, and the last result."""
    best, out = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def cpu_seconds(fn) -> float:
    """CPU seconds of one call, all threads (what the machine's load cannot inflate)."""
    t = time.process_time()
    fn()
    return time.process_time() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--utterances", type=int, default=100_000)
    parser.add_argument("--iterations", type=int, default=10_000)
    parser.add_argument("--small-utterances", type=int, default=10_000)
    parser.add_argument("--small-iterations", type=int, default=100)
    args = parser.parse_args()

    errors, lengths = synthetic_counts(args.utterances)
    distinct = len(_categories(np.stack([errors, lengths], axis=1))[0])
    seconds, iv = timed(lambda: rate_interval(errors, lengths, args.iterations, seed=0))
    cpu = cpu_seconds(lambda: rate_interval(errors, lengths, args.iterations, seed=0))
    print(f"full size: {args.iterations} resamples over {args.utterances} utterances "
          f"({distinct} distinct (errors, length) pairs): {seconds:.3f} s wall (target < 1 s), best of 3, "
          f"{cpu:.3f} CPU s over {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
          f"WER {iv.estimate:.4f}, 95% CI [{iv.low:.4f}, {iv.high:.4f}]")

    se, sl = errors[: args.small_utterances], lengths[: args.small_utterances]
    t_loop, loop_ci = timed(lambda: python_loop_interval(se.tolist(), sl.tolist(), args.small_iterations, 0), 1)
    t_ours, small = timed(lambda: rate_interval(se, sl, args.small_iterations, seed=0))
    print(f"small size: {args.small_iterations} resamples over {args.small_utterances} utterances: "
          f"python loop {t_loop:.3f} s, harness {t_ours:.4f} s, speed-up {t_loop / t_ours:.0f}x (target >= 50x); "
          f"intervals loop [{loop_ci[0]:.4f}, {loop_ci[1]:.4f}] vs harness [{small.low:.4f}, {small.high:.4f}]")
    per_draw = t_loop / (args.small_iterations * args.small_utterances)
    extrapolated = per_draw * args.iterations * args.utterances
    print(f"python loop extrapolated to full size: {extrapolated:.0f} s ({per_draw * 1e9:.0f} ns per draw); "
          f"speed-up at full size {extrapolated / seconds:.0f}x")


if __name__ == "__main__":
    main()
