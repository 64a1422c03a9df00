"""Text a system invents: over non-speech clips (hallucination) and in repetition loops.

Non-speech clips are utterances marked `"nonspeech": true` (evaluations/inputs.py): their
reference is empty on purpose, so every hypothesis word is invented.
- halluc_wpm: hypothesis words (after the normaliser) per minute of non-speech audio.
- halluc_clips: share of non-speech clips with any output at all.
Repetition loops (speech clips): an n-gram (n <= MAX_N words) repeated back to back at least
LOOP_REPEATS times in the hypothesis, and more times than in the reference (Whisper's failure
mode of repeating a phrase until the window ends).
- repetition: share of utterances with such a loop.
"""

from __future__ import annotations

import numpy as np

from spectragram_bench.evaluations.registry import UtteranceBatch, Values, register_metric, register_values

MAX_N = 5
LOOP_REPEATS = 4


@register_values("nonspeech_output", ("ns_words", "ns_minutes", "ns_any"), utterances="nonspeech")
def nonspeech_values(batch: UtteranceBatch) -> np.ndarray:
    out = np.zeros((len(batch), 3))
    for k, (hyp, seconds) in enumerate(zip(batch.hyps, batch.durations, strict=True)):
        n = len(hyp.split())
        out[k] = (n, seconds / 60.0, float(n > 0))
    return out


@register_metric("halluc_wpm", label="halluc w/min", needs=("nonspeech_output",), unit="per_minute",
                 description="hallucination: words output per minute of non-speech audio")
def hallucinated_words_per_minute(v: Values):
    return v["ns_words"], v["ns_minutes"]


@register_metric("halluc_clips", label="halluc clips", needs=("nonspeech_output",), bootstrap=True, paired=True,
                 description="hallucination: share of non-speech clips with any output")
def hallucinating_clips(v: Values):
    return v["ns_any"], np.ones_like(v["ns_any"])


def longest_run(words: list[str], max_n: int = MAX_N) -> int:
    """The most back-to-back repeats of any n-gram (n <= max_n) in `words` (1 when none repeats)."""
    best = 1 if words else 0
    for n in range(1, max_n + 1):
        for start in range(n):
            run, prev = 1, None
            for i in range(start, len(words) - n + 1, n):
                gram = words[i:i + n]
                run = run + 1 if gram == prev else 1
                prev = gram
                best = max(best, run)
    return best


@register_values("repetition", ("rep_loop",))
def repetition_values(batch: UtteranceBatch) -> np.ndarray:
    out = np.zeros((len(batch), 1))
    for k, (ref, hyp) in enumerate(zip(batch.refs, batch.hyps, strict=True)):
        run = longest_run(hyp.split())
        out[k] = float(run >= LOOP_REPEATS and run > longest_run(ref.split()))
    return out


@register_metric("repetition", label="loops", needs=("repetition",), bootstrap=True,
                 description=f"share of utterances with an n-gram repeated {LOOP_REPEATS}+ times back to back")
def repetition_loops(v: Values):
    return v["rep_loop"], np.ones_like(v["rep_loop"])
