"""What a dataset's language changes in scoring: the normaliser and the headline metric.

An English normaliser (whisper_english, librispeech: number words, contractions, British
spellings) mangles other languages, so an utterance whose language is known and not English
is normalised by `normalizer_by_language[lang]` from the job, else `whisper_multilingual`
(the Open ASR Leaderboard's multilingual normaliser). A language-neutral normaliser the job
chose (basic, none, whisper_basic, or composed steps) applies to every language as chosen.
Languages written without spaces between words have no meaningful word count, so CER is
their headline metric (stored per group and stated in the report); WER is still stored.
"""

from __future__ import annotations

from collections.abc import Mapping

from spectragram_bench.core.normalize import Normalizer
from spectragram_bench.core.normalize import resolve as resolve_normalizer

#: Pipelines that assume English text.
ENGLISH_ONLY = frozenset({"whisper_english", "librispeech"})
DEFAULT_MULTILINGUAL = "whisper_multilingual"
#: Written without spaces between words (Chinese, Japanese, Thai, Lao, Burmese, Khmer, Tibetan, Dzongkha).
UNSPACED_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "my", "km", "bo", "dz"})


def normalizer_for(base: Normalizer, language: str | None, by_language: Mapping[str, str] | None = None) -> Normalizer:
    """The normaliser for an utterance in `language` when the job's normaliser is `base`."""
    if not language or language == "en":
        return base
    by_language = by_language or {}
    if language in by_language:
        return resolve_normalizer(by_language[language])
    if base.name in ENGLISH_ONLY:
        return resolve_normalizer(DEFAULT_MULTILINGUAL)
    return base


def headline_metric(language: str | None) -> str:
    """`cer` for languages written without spaces, else `wer`."""
    return "cer" if language in UNSPACED_LANGUAGES else "wer"
