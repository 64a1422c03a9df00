"""The registered metrics on hand-computed cases (and published definitions where one exists)."""

from __future__ import annotations

import numpy as np
import pytest

from spectragram_bench.core.normalize import BASIC, WHISPER_ENGLISH
from spectragram_bench.evaluations.registry import UtteranceBatch, compute_values, figure, get_metric
from spectragram_bench.evaluations.text_metrics import tokenize_formatted


def batch(raw_refs, raw_hyps, normalizer=BASIC, *, durations=None, meta=None, hyp_words=None, keywords=None,
          nonspeech=None) -> UtteranceBatch:
    n = len(raw_refs)
    return UtteranceBatch(
        [normalizer(t) for t in raw_refs], [normalizer(t) for t in raw_hyps], list(raw_refs), list(raw_hyps),
        durations or [1.0] * n, meta or [{}] * n, hyp_words or [None] * n,
        np.array(nonspeech or [False] * n), keywords or [[]] * n, normalizer,
    )


def value(name: str, b: UtteranceBatch) -> float | None:
    metric = get_metric(name)
    return figure(metric, compute_values(b, list(metric.needs))).value


def test_tokenisation_is_explicit():
    assert tokenize_formatted("Hello, Mr. O'Neil: it's 3.5 km - 1,000 m!") == [
        "Hello", ",", "Mr", ".", "O'Neil", ":", "it's", "3.5", "km", "-", "1,000", "m", "!"]


def test_formatted_wer_punctuation_and_casing_by_hand():
    b = batch(["The cat sat.", "Yes, it did!"], ["the cat sat", "Yes it did!"])
    # tokens: [The cat sat .] vs [the cat sat]: 1 sub (The/the) + 1 del (.) = 2 of 4
    #         [Yes , it did !] vs [Yes it did !]: 1 del (,) of 5  -> fWER 3/9
    assert value("fwer", b) == pytest.approx(3 / 9)
    # punctuation: ref marks . , ! = 3; deleted . and , -> 2/3
    assert value("per", b) == pytest.approx(2 / 3)
    # casing: matched words The/the cat sat Yes it did = 6, one differs
    assert value("caser", b) == pytest.approx(1 / 6)
    assert value("wer", b) == 0.0  # the normalised WER sees none of it


def test_punctuation_substitution_counts_once():
    b = batch(["Stop. Go"], ["Stop, Go"])
    assert value("per", b) == pytest.approx(1.0)


def test_keywords_recall_precision_f1_and_error_rate():
    b = batch(["call acme corp today about acme", "nothing here"], ["call acne corp today about acme", "acme rocks"],
              keywords=[["acme", "corp"], ["acme"]])
    # utt 1: acme ref 2 hyp 1 -> tp1 fn1; corp ref 1 hyp 1 -> tp1. utt 2: acme ref 0 hyp 1 -> fp1
    assert value("kw_recall", b) == pytest.approx(2 / 3)
    assert value("kw_precision", b) == pytest.approx(2 / 3)
    assert value("kw_f1", b) == pytest.approx(4 / 6)
    assert value("kwer", b) == pytest.approx(2 / 3)


def test_keyword_phrases_are_whole_words_after_normalising():
    b = batch(["New York is big", "newyorker"], ["new york is big", "new york"], keywords=[["New York"], ["New York"]])
    assert value("kw_recall", b) == 1.0 and value("kw_precision", b) == pytest.approx(1 / 2)


def test_numbers_exact_match_after_whisper_normaliser():
    b = batch(["Four hours and fifty bonds", "Room 12 at 5"], ["4 hours and fifteen bonds", "room 21 at 5"],
              WHISPER_ENGLISH)
    # normalised ref numbers: 4, 50 | 12, 5 ; hyp: 4, 15 | 21, 5  -> hits 4 and 5 of 4
    assert value("num_acc", b) == pytest.approx(2 / 4)


def test_hallucination_on_nonspeech_clips_only():
    b = batch(["", "", "", "hello"], ["thank you for watching", "", "you", "hello there"],
              durations=[30.0, 30.0, 60.0, 2.0], nonspeech=[True, True, True, False])
    ns = b.subset(b.nonspeech)
    assert value("halluc_wpm", ns) == pytest.approx(5 / 2.0)  # 5 words over 2 minutes
    assert value("halluc_clips", ns) == pytest.approx(2 / 3)


def test_repetition_loops():
    b = batch(["a b c d", "so so so so", "x y"],
              ["a b c d the end the end the end the end", "so so so so", "x y y y"])
    # utt 1: "the end" x4 -> loop; utt 2: in the reference as often -> none; utt 3: y x3 < 4 -> none
    assert value("repetition", b) == pytest.approx(1 / 3)


def test_word_timestamp_offsets_of_matched_words():
    ref = [{"word": "Hello", "start": 0.10, "end": 0.50}, {"word": "world", "start": 0.60, "end": 1.00}]
    hyp = [{"word": "hello", "start": 0.20, "end": 0.45}, {"word": "word", "start": 0.60, "end": 0.90}]
    b = batch(["Hello world"], ["hello word"], meta=[{"words": ref}], hyp_words=[hyp])
    assert value("ts_start_mae", b) == pytest.approx(0.10)  # only "hello" matches
    assert value("ts_end_mae", b) == pytest.approx(0.05)
    assert value("ts_start_mae", batch(["a"], ["a"])) is None  # no alignments: no figure


def test_registry_clash_and_unknown_metric():
    from spectragram_bench.core.errors import ConfigError
    from spectragram_bench.evaluations.registry import register_values

    with pytest.raises(ValueError, match="already belong"):
        register_values("clash", ("hits",))(lambda b: None)
    with pytest.raises(ConfigError, match="unknown metric 'nope'"):
        get_metric("nope")
