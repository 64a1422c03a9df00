"""Scoring speed: this harness against jiwer alone on the same 100k utterance pairs.

    python bench/bench_scoring.py [--utterances 100000] [--repeats 3]

Prints seconds (best of --repeats, runs interleaved so load hits both alike) and the ratio
harness / jiwer for word scoring (target <= 1.1) and for word + character scoring, and checks
that the total errors equal jiwer's and the S/D/I split equals kaldialign's (the harness takes
kaldialign's tie rule; jiwer splits tied alignments its own way).
"""

from __future__ import annotations

import argparse
import random
import time

import jiwer
import kaldialign

from spectragram_bench.core import metrics


def synthetic_pairs(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """LibriSpeech-like lengths (median ~17 words), a 10k-word vocabulary, ~8% S/D/I."""
    rng = random.Random(seed)
    vocab = [f"word{i}" for i in range(10_000)]
    refs, hyps = [], []
    for _ in range(n):
        length = max(1, min(120, round(rng.lognormvariate(2.83, 0.7))))
        ref = [rng.choice(vocab) for _ in range(length)]
        hyp = []
        for w in ref:
            r = rng.random()
            if r < 0.02:
                continue
            hyp.append(rng.choice(vocab) if r < 0.07 else w)
            if rng.random() < 0.01:
                hyp.append(rng.choice(vocab))
        refs.append(" ".join(ref))
        hyps.append(" ".join(hyp))
    return refs, hyps


def best(times: list[float]) -> float:
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--utterances", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    refs, hyps = synthetic_pairs(args.utterances)
    timings: dict[str, list[float]] = {k: [] for k in ("jiwer_words", "ours_words", "jiwer_chars", "ours_chars")}
    for _ in range(args.repeats):
        t = time.perf_counter()
        jw = jiwer.process_words(refs, hyps)
        timings["jiwer_words"].append(time.perf_counter() - t)
        t = time.perf_counter()
        ow = metrics.word_counts(refs, hyps).total()
        timings["ours_words"].append(time.perf_counter() - t)
        t = time.perf_counter()
        jc = jiwer.process_characters(refs, hyps)
        timings["jiwer_chars"].append(time.perf_counter() - t)
        t = time.perf_counter()
        oc = metrics.char_counts(refs, hyps).total()
        timings["ours_chars"].append(time.perf_counter() - t)
    same_words = ow.errors == jw.substitutions + jw.deletions + jw.insertions
    same_chars = oc.errors == jc.substitutions + jc.deletions + jc.insertions
    kaldi = [kaldialign.edit_distance(r.split(), h.split()) for r, h in zip(refs, hyps, strict=True)]
    kaldi_sdi = tuple(sum(k[key] for k in kaldi) for key in ("sub", "del", "ins"))
    same_split = (ow.substitutions, ow.deletions, ow.insertions) == kaldi_sdi
    jwt, owt = best(timings["jiwer_words"]), best(timings["ours_words"])
    jct, oct_ = best(timings["jiwer_chars"]), best(timings["ours_chars"])
    print(f"{args.utterances} utterance pairs, {ow.ref_len} reference words, WER {ow.rate:.4f}; "
          f"best of {args.repeats}")
    print(f"words: jiwer.process_words {jwt:.3f} s, harness word_counts {owt:.3f} s, "
          f"ratio harness/jiwer {owt / jwt:.3f} (target <= 1.1); total errors as jiwer: {same_words}; "
          f"S/D/I {ow.substitutions}/{ow.deletions}/{ow.insertions} as kaldialign {kaldi_sdi}: {same_split}")
    print(f"words+chars: jiwer {jwt + jct:.3f} s, harness {owt + oct_:.3f} s, "
          f"ratio {(owt + oct_) / (jwt + jct):.3f}; character errors as jiwer: {same_chars}")


if __name__ == "__main__":
    main()
