"""Normalisers are linear in their input: a transcript that is one 10 MB line (a provider
echoing garbage) must not stall an evaluation. Checked by a ratio (doubling the input must
not quadruple the time), never by an absolute timing; and the output stays that of the
whisper-normalizer package."""

from __future__ import annotations

import time

import pytest

from spectragram_bench.core.normalize import BASIC, LIBRISPEECH, WHISPER_BASIC, WHISPER_ENGLISH

#: inputs on which a regex that rescans from every position is quadratic
HOSTILE_UNITS = {
    "unclosed-square-brackets": "[a ",
    "unclosed-angle-brackets": "<",
    "unclosed-parentheses": "(",
    "whitespace-run": " ",
    "one-long-number": "1234567890",  # over 4,300 digits whisper's number normaliser fails outright
    "ordinary-speech": "mr. smith's colour cost twenty five dollars and a half, didn't it? ",
}


def _best_of(normaliser, text: str, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        normaliser(text)
        best = min(best, time.perf_counter() - t0)
    return best


@pytest.mark.parametrize("normaliser", [WHISPER_ENGLISH, WHISPER_BASIC, LIBRISPEECH, BASIC], ids=lambda n: n.name)
@pytest.mark.parametrize("unit", HOSTILE_UNITS.values(), ids=HOSTILE_UNITS.keys())
def test_doubling_the_input_roughly_doubles_the_time(normaliser, unit):
    # grow the input until one pass takes long enough to time reliably, then double it once:
    # linear code takes about 2x, a quadratic step 4x
    # (a shared, loaded machine: a ratio over 3 is measured again, up to three times in all)
    normaliser(unit * 10)  # warm-up: compiled patterns, cached tables
    size = 500
    while True:
        base = _best_of(normaliser, unit * size)
        if base >= 0.04 or size >= 4_000_000:
            break
        size *= 2
    ratios = []
    for _ in range(3):
        ratios.append(_best_of(normaliser, unit * (2 * size)) / _best_of(normaliser, unit * size))
        if ratios[-1] < 3.0:
            break
    assert min(ratios) < 3.0, f"{size} -> {2 * size} units: time x{min(ratios):.1f}"


@pytest.mark.parametrize("text", [
    "a [b (c", "x ) ( y [z] <w", "[a] [b", "(( a ) b)", "((a)", "()", "[]", "<>", "a  '  b", "don 't",
    "it 's   '  fine", " 'quoted' ", "[[a]] ((b)) <<c>>", "(unclosed [mixed> stuff) end]", "\u3000 ' x",
    "mr. smith's $5.50 colour (laughs) [noise] hmm", "a " * 50 + "'",
])
def test_whisper_english_output_is_the_packages(text):
    from whisper_normalizer.english import EnglishTextNormalizer

    assert WHISPER_ENGLISH(text) == EnglishTextNormalizer()(text)


def test_a_runaway_number_is_kept_not_a_crash():
    digits = "1234567890" * 600
    assert WHISPER_ENGLISH(f"twenty five then {digits} and a half") == f"25 then {digits} and a half"
