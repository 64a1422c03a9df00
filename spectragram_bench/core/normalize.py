"""Text normalisation: named, versioned pipelines of small named steps.

Every metric row stores the normaliser's tag (`name@version`), so changing a pipeline means
bumping its version, and old numbers stay attributable to the pipeline that made them.

Pipelines:
- `whisper_english@1`: openai/whisper's EnglishTextNormalizer as packaged by PyPI's
  `whisper-normalizer` 0.1.15 (pinned: its number normaliser, British->American word list,
  contraction table and symbol stripper are used as they are, step by step). This is the
  normaliser of the Open ASR Leaderboard and of most published English WERs. Known
  differences from openai/whisper's main branch, inherited from that package on purpose so
  that numbers match it: four extra contractions (kinda, sorta, dunno, cause), no step that
  re-attaches a currency sign separated by a space ("$ 5" -> "5", main gives "$5").
  Its contraction rule turns "'s" into " is", so "Mr. Smith's $5.50 colour" becomes
  "mister smith is $5.50 color" (as in openai/whisper).
- `whisper_basic@1`: BasicTextNormalizer (other languages): brackets removed, symbols and
  marks to spaces (NFKC; precomposed letters such as "é" are kept), lower case.
- `whisper_multilingual@1`: the Open ASR Leaderboard's BasicMultilingualTextNormalizer with
  remove_diacritics=False (its multilingual setting): whisper_basic plus dropping whatever is
  neither a word character nor a space. The default for speech that is not English
  (core/language.py), as the English pipelines would mangle it.
- `librispeech@1`: LibriSpeech's upper-case reference style to plain lower-case words:
  curly apostrophes unified, hyphens split, punctuation dropped (apostrophes inside words kept).
- `basic@1`: lower case, diacritics and punctuation stripped. `none@1`: whitespace only.
- `steps(...)`: a pipeline composed in the job config from the step names in `STEPS`.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

from spectragram_bench.core.errors import ConfigError

Step = Callable[[str], str]

WHISPER_NORMALIZER_VERSION = "0.1.15"


# --- generic steps -------------------------------------------------------------------------


def lowercase(text: str) -> str:
    return text.lower()


def collapse_whitespace(text: str) -> str:
    """Single spaces between words, none at the ends."""
    return " ".join(text.split())


_NON_WORD = re.compile(r"[^\w\s']|_")
_LONE_APOSTROPHE = re.compile(r"(?<!\w)'|'(?!\w)")


def strip_punctuation(text: str) -> str:
    """Replace every symbol except apostrophes inside words with a space."""
    text = _NON_WORD.sub(" ", text)
    return _LONE_APOSTROPHE.sub(" ", text) if "'" in text else text  # most texts have none


def strip_diacritics(text: str) -> str:
    if text.isascii():  # nothing to decompose: the common case, and the per-character pass is slow
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


_APOSTROPHES = re.compile("[\u2018\u2019\u02bc`\u00b4]")


def unify_apostrophes(text: str) -> str:
    """Typographic apostrophes (’ ‘ ʼ ` ´) become the ASCII one, so "don’t" matches "don't"."""
    return _APOSTROPHES.sub("'", text)


_HYPHENS = re.compile("[-\u2010\u2011\u2012\u2013\u2014]")


def split_hyphens(text: str) -> str:
    """"well-known" -> "well known" (LibriSpeech references write compounds apart)."""
    return _HYPHENS.sub(" ", text)


# --- openai/whisper steps (EnglishTextNormalizer / BasicTextNormalizer, in their order) -----


_BRACKETED = re.compile(r"[<\[][^>\]]*[>\]]")
_PARENTHESISED = re.compile(r"\(([^)]+?)\)")


def _sub_up_to_last_closer(pattern: re.Pattern[str], text: str, closers: str) -> str:
    """`pattern.sub("", text)` for a pattern that ends at one of `closers`, in linear time.

    An opener with no closer after it can never match, yet the regex engine would scan to
    the end of the text from each such opener: quadratic on "((((..." (seconds on a few
    kilobytes). Only the text up to the last closer can hold a match, so only it is searched;
    the result is the same.
    """
    last = max(text.rfind(c) for c in closers)
    if last < 0:
        return text
    return pattern.sub("", text[: last + 1]) + text[last + 1 :]


def remove_bracketed(text: str) -> str:
    """Drop `[...]`, `<...>` and `(...)` with their content (noise tags, speaker notes)."""
    text = _sub_up_to_last_closer(_BRACKETED, text, ">]")
    return _sub_up_to_last_closer(_PARENTHESISED, text, ")")


_FILLERS = re.compile(r"\b(hmm|mm|mhm|mmm|uh|um)\b")


def remove_fillers(text: str) -> str:
    """Drop hesitations: hmm, mm, mhm, mmm, uh, um (lower-case input)."""
    return _FILLERS.sub("", text)


#: whisper's r"\s+'", anchored at the start of a whitespace run: the same matches, but a long run
#: not followed by an apostrophe is scanned once instead of once per position (quadratic)
_SPACE_BEFORE_APOSTROPHE = re.compile(r"(?<!\s)\s+'")


def join_apostrophes(text: str) -> str:
    """"don 't" -> "don't"."""
    return _SPACE_BEFORE_APOSTROPHE.sub("'", text)


@cache
def _whisper_english():
    """whisper-normalizer's EnglishTextNormalizer: its tables and sub-normalisers are reused."""
    import whisper_normalizer
    from whisper_normalizer.english import EnglishTextNormalizer

    if whisper_normalizer.__version__ != WHISPER_NORMALIZER_VERSION:
        raise ConfigError(
            f"normalizer whisper_english@1 needs whisper-normalizer=={WHISPER_NORMALIZER_VERSION}, "
            f"found {whisper_normalizer.__version__}: reinstall spectragram-bench"
        )
    normalizer = EnglishTextNormalizer()
    contractions = tuple((re.compile(p), r) for p, r in normalizer.replacers.items())
    return normalizer, contractions


def expand_contractions(text: str) -> str:
    """won't -> will not, mr -> mister, 's been -> has been, n't -> not, 're -> are, ... (lower case)."""
    _, contractions = _whisper_english()
    for pattern, replacement in contractions:
        text = pattern.sub(replacement, text)
    return text


_DIGIT_COMMA = re.compile(r"(\d),(\d)")


def remove_digit_commas(text: str) -> str:
    """"10,000" -> "10000"."""
    return _DIGIT_COMMA.sub(r"\1\2", text)


_PERIOD_NOT_BEFORE_DIGIT = re.compile(r"\.([^0-9]|$)")


def remove_periods(text: str) -> str:
    """Drop periods not followed by a digit (keeps "5.50")."""
    return _PERIOD_NOT_BEFORE_DIGIT.sub(r" \1", text)


def strip_symbols_keep_numeric(text: str) -> str:
    """Symbols, punctuation and diacritics to spaces, except . % $ ¢ € £ (numbers need them)."""
    from whisper_normalizer.basic import remove_symbols_and_diacritics

    return remove_symbols_and_diacritics(text, keep=".%$¢€£")


#: digit runs whisper's number normaliser cannot take (Python refuses int() of over 4,300
#: digits, and whisper asserts on it); kept as they are
_LONG_DIGIT_RUN = re.compile(r"[0-9]{1000,}")
_PLACEHOLDER_BASE = 0xF0000  # supplementary private use area: never in a transcript, not a digit


def numbers_to_digits(text: str) -> str:
    """Spelled-out numbers, ordinals, "and a half", currencies and cents to digits: "twenty five dollars" -> "$25".

    A run of 1,000 or more digits (a runaway reply) is left as it is instead of crashing
    the evaluation; every other text is normalised exactly as whisper-normalizer does."""
    normalizer, _ = _whisper_english()
    runs = _LONG_DIGIT_RUN.findall(text)
    if not runs:
        return normalizer.standardize_numbers(text)
    counter = iter(range(len(runs)))
    protected = _LONG_DIGIT_RUN.sub(lambda _m: f" {chr(_PLACEHOLDER_BASE + next(counter))} ", text)
    out = normalizer.standardize_numbers(protected)
    return re.sub(f"[{chr(_PLACEHOLDER_BASE)}-{chr(_PLACEHOLDER_BASE + len(runs) - 1)}]",
                  lambda m: runs[ord(m.group()) - _PLACEHOLDER_BASE], out)


def british_to_american(text: str) -> str:
    """British spellings to American from whisper's word list: "colour" -> "color"."""
    normalizer, _ = _whisper_english()
    return normalizer.standardize_spellings(text)


_DETACHED_PREFIX = re.compile(r"[.$¢€£]([^0-9])")
_DETACHED_PERCENT = re.compile(r"([^0-9])%")


def drop_detached_symbols(text: str) -> str:
    """Drop . $ ¢ € £ not followed by a digit and % not preceded by one."""
    return _DETACHED_PERCENT.sub(r"\1 ", _DETACHED_PREFIX.sub(r" \1", text))


def strip_symbols(text: str) -> str:
    """Whisper's BasicTextNormalizer cleaning: NFKC, then marks, symbols and punctuation to spaces."""
    from whisper_normalizer.basic import remove_symbols

    return remove_symbols(text)


_NOT_WORD_OR_SPACE = re.compile(r"[^\w\s]")


def strip_non_word(text: str) -> str:
    """Drop every character that is neither a word character nor a space (the Open ASR
    Leaderboard's last multilingual step; after strip_symbols it catches what NFKC left)."""
    return _NOT_WORD_OR_SPACE.sub("", text)


# --- pipelines -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Normalizer:
    name: str
    version: str
    steps: tuple[Step, ...]

    def __call__(self, text: str) -> str:
        for step in self.steps:
            text = step(text)
        return text

    @property
    def tag(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def step_names(self) -> list[str]:
        return [step.__name__ for step in self.steps]


def compose(name: str, version: str, steps: Sequence[Step]) -> Normalizer:
    return Normalizer(name, version, tuple(steps))


STEPS: dict[str, Step] = {
    step.__name__: step
    for step in (
        lowercase, collapse_whitespace, strip_punctuation, strip_diacritics, unify_apostrophes,
        split_hyphens, remove_bracketed, remove_fillers, join_apostrophes, expand_contractions,
        remove_digit_commas, remove_periods, strip_symbols_keep_numeric, numbers_to_digits,
        british_to_american, drop_detached_symbols, strip_symbols, strip_non_word,
    )
}
"""Steps a job config may compose into a pipeline (`evaluation.normalizer_steps`)."""

NONE = Normalizer("none", "1", (collapse_whitespace,))
BASIC = Normalizer("basic", "1", (lowercase, strip_diacritics, strip_punctuation, collapse_whitespace))
WHISPER_ENGLISH = Normalizer(
    "whisper_english",
    "1",
    (
        lowercase, remove_bracketed, remove_fillers, join_apostrophes, expand_contractions,
        remove_digit_commas, remove_periods, strip_symbols_keep_numeric, numbers_to_digits,
        british_to_american, drop_detached_symbols, collapse_whitespace,
    ),
)
WHISPER_BASIC = Normalizer(
    "whisper_basic", "1", (lowercase, remove_bracketed, strip_symbols, lowercase, collapse_whitespace)
)
WHISPER_MULTILINGUAL = Normalizer(
    "whisper_multilingual", "1",
    (lowercase, remove_bracketed, strip_symbols, lowercase, strip_non_word, collapse_whitespace),
)
LIBRISPEECH = Normalizer(
    "librispeech",
    "1",
    (lowercase, unify_apostrophes, split_hyphens, strip_diacritics, strip_punctuation, collapse_whitespace),
)


def from_steps(step_names: Sequence[str]) -> Normalizer:
    """A pipeline composed from named steps; its version is a digest of the step list."""
    unknown = [s for s in step_names if s not in STEPS]
    if unknown:
        raise ConfigError(
            f"evaluation.normalizer_steps: unknown step(s) {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(sorted(STEPS))}"
        )
    if not step_names:
        raise ConfigError("evaluation.normalizer_steps: give at least one step")
    digest = hashlib.sha256(",".join(step_names).encode()).hexdigest()[:10]
    return Normalizer("steps", f"1-{digest}", tuple(STEPS[s] for s in step_names))


def resolve(name: str, steps: Sequence[str] | None = None) -> Normalizer:
    """The registered pipeline `name`, or the pipeline composed from `steps` when given."""
    if steps:
        return from_steps(steps)
    from spectragram_bench.core.registry import NORMALIZERS

    return NORMALIZERS.get(name)
