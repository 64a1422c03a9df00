"""Normalisers: each step against documented examples, whole pipelines against their references."""

from __future__ import annotations

import random

import pytest

from spectragram_bench.core import normalize as N
from spectragram_bench.core.config import parse_config
from spectragram_bench.core.errors import ConfigError
from spectragram_bench.core.registry import NORMALIZERS

WHISPER = N.WHISPER_ENGLISH


@pytest.mark.parametrize(
    ("step", "text", "expected"),
    [
        (N.lowercase, "HE HOPED", "he hoped"),
        (N.remove_bracketed, "a [noise] b <unk> c (laughs) d", "a  b  c  d"),
        (N.remove_fillers, "um so uh hmm i mean mhm", " so   i mean "),
        (N.join_apostrophes, "don 't", "don't"),
        (N.expand_contractions, "won't", "will not"),
        (N.expand_contractions, "let's", "let us"),
        (N.expand_contractions, "she's been", "she has been"),
        (N.expand_contractions, "they're", "they are"),
        (N.remove_digit_commas, "10,000 and 1,5", "10000 and 15"),
        (N.remove_periods, "mr. smith paid 5.50.", "mr  smith paid 5.50 "),
        (N.strip_symbols_keep_numeric, "café, $5 & 10%!", "cafe  $5   10% "),
        (N.numbers_to_digits, "twenty five dollars and fifty cents", "$25.50"),
        (N.numbers_to_digits, "nineteen ninety nine", "1999"),
        (N.numbers_to_digits, "two point five million", "2500000"),
        (N.numbers_to_digits, "thirty first", "31st"),
        (N.numbers_to_digits, "seventy six per cent", "76%"),
        (N.numbers_to_digits, "forty eight and a half dollars", "$48.5"),
        (N.numbers_to_digits, "$0.36", "¢36"),
        (N.numbers_to_digits, "double oh seven", "007"),
        (N.british_to_american, "colour mobilisation", "color mobilization"),
        (N.drop_detached_symbols, "$ a . b 5% x %", "  a   b 5% x  "),
        (N.collapse_whitespace, "  a \t b\n", "a b"),
        (N.unify_apostrophes, "don\u2019t", "don't"),
        (N.split_hyphens, "well-known", "well known"),
        (N.strip_symbols, "a,b!c", "a b c"),
        (N.strip_diacritics, "naïve café", "naive cafe"),
        (N.strip_punctuation, "'quoted' don't, stop.", " quoted  don't  stop "),
    ],
)
def test_step_documented_examples(step, text, expected):
    assert step(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # openai/whisper's documented behaviour ("'s" expands to " is", as in whisper itself)
        ("Mr. Smith's $5.50 colour", "mister smith is $5.50 color"),
        ("Let's", "let us"),
        ("he's like", "he is like"),
        ("she's been like", "she has been like"),
        ("10km", "10 km"),
        ("RC232", "rc 232"),
        ("Mr. Park visited Assoc. Prof. Kim Jr.", "mister park visited associate professor kim junior"),
        ("I won't pay twenty five dollars and fifty cents.", "i will not pay $25.50"),
        ("Hmm [noise] it's (laughs) the 1960s", "it is the 1960s"),
        ("Ten thousand dollars", "$10000"),
        ("two dollars and seventy cents", "$2.70"),
        ("It is 5 per cent", "it is 5%"),
        ("Café naïve", "cafe naive"),
        ("HE HOPED THERE WOULD BE STEW FOR DINNER", "he hoped there would be stew for dinner"),
        ("", ""),
    ],
)
def test_whisper_english_documented_examples(text, expected):
    assert WHISPER(text) == expected


def _whisper_corpus(n: int) -> list[str]:
    """Random sentences mixing the constructs every step handles."""
    pieces = [
        "Mr.", "Dr", "St.", "won't", "can't", "I'm", "they've", "she's been", "he'd", "y'all", "gonna",
        "twenty", "five", "hundred", "and", "a", "half", "dollars", "cents", "pounds", "per", "cent",
        "percent", "point", "oh", "double", "first", "nineteen", "ninety", "$5", "£3.50", "10,000",
        "3.14", "1960s", "colour", "organise", "theatre", "Café", "naïve", "[noise]", "<unk>", "(laughs)",
        "um", "uh", "hmm", "well-known", "stop.", "what?", "yes!", "hello,", "the", "cat", "one", "ones",
        "minus", "two", "thousand", "million", "third", "O'Brien", "rock'n'roll", "50%", "don 't", "€20",
    ]
    rng = random.Random(7)
    return [" ".join(rng.choice(pieces) for _ in range(rng.randint(0, 14))) for _ in range(n)]


def test_whisper_english_matches_the_whisper_normalizer_package():
    from whisper_normalizer.english import EnglishTextNormalizer

    reference = EnglishTextNormalizer()
    for text in _whisper_corpus(3000):
        # the package leaves a space at the ends in some cases; words are what WER sees
        assert WHISPER(text) == " ".join(reference(text).split()), text


def test_whisper_basic_matches_the_whisper_normalizer_package():
    from whisper_normalizer.basic import BasicTextNormalizer

    reference = BasicTextNormalizer()
    normalizer = NORMALIZERS.get("whisper_basic")
    for text in _whisper_corpus(1000) + ["Ça va? Très bien [rires] (x) ÉTÉ", "ℌello\u00a0world"]:
        assert normalizer(text) == " ".join(reference(text).split()), text


def test_librispeech_style_references_and_hypotheses_meet():
    n = NORMALIZERS.get("librispeech")
    assert n("HE DIDN'T KNOW THE WELL KNOWN MAN") == "he didn't know the well known man"
    assert n("He didn\u2019t know the well-known man.") == "he didn't know the well known man"
    assert n("'QUOTED' WORDS") == "quoted words"


def test_basic_and_none():
    assert N.BASIC("Hello,  WORLD! Naïve") == "hello world naive"
    assert N.NONE("  Hello,  WORLD! ") == "Hello, WORLD!"


def test_every_builtin_has_a_name_and_version_tag():
    tags = {NORMALIZERS.get(name).tag for name in NORMALIZERS.names()}
    assert {"whisper_english@1", "whisper_basic@1", "librispeech@1", "basic@1", "none@1"} <= tags


def test_whisper_english_step_names_in_whisper_order():
    assert WHISPER.step_names == [
        "lowercase", "remove_bracketed", "remove_fillers", "join_apostrophes", "expand_contractions",
        "remove_digit_commas", "remove_periods", "strip_symbols_keep_numeric", "numbers_to_digits",
        "british_to_american", "drop_detached_symbols", "collapse_whitespace",
    ]


def test_composed_pipeline_from_steps():
    n = N.from_steps(["lowercase", "numbers_to_digits", "collapse_whitespace"])
    assert n("Twenty  Five") == "25"
    assert n.name == "steps" and n.version.startswith("1-")
    assert n.step_names == ["lowercase", "numbers_to_digits", "collapse_whitespace"]
    # the version is a digest of the step list: another order is another pipeline
    other = N.from_steps(["numbers_to_digits", "lowercase", "collapse_whitespace"])
    assert other.tag != n.tag
    assert N.from_steps(["lowercase", "numbers_to_digits", "collapse_whitespace"]).tag == n.tag


def test_composed_pipeline_from_config():
    config = parse_config(
        {
            "providers": [{"name": "mock"}],
            "datasets": [{"name": "librispeech", "root": "."}],
            "evaluation": {"normalizer_steps": ["lowercase", "strip_punctuation", "collapse_whitespace"]},
        }
    )
    n = N.resolve(config.evaluation.normalizer, config.evaluation.normalizer_steps)
    assert n("Hello, World!") == "hello world"
    assert n.name == "steps"
    assert N.resolve("librispeech").tag == "librispeech@1"


def test_unknown_step_and_unknown_normalizer_are_one_clear_line():
    with pytest.raises(ConfigError, match="unknown step.*'shout'"):
        N.from_steps(["lowercase", "shout"])
    with pytest.raises(ConfigError, match="at least one step"):
        N.from_steps([])
    with pytest.raises(ConfigError, match="unknown normalizer 'klingon'"):
        N.resolve("klingon")
