"""Metrics of what WER's normalisation hides: formatting (case, punctuation), keywords, numbers.

Formatted text is compared after one explicit tokenisation step, `tokenize_formatted`: words
(letters/digits with inner apostrophes, hyphens, periods or commas between digits: "don't",
"3.5", "1,000") and every other non-space character as its own token ("Hello, world." ->
`Hello` `,` `world` `.`). Nothing is lower-cased or removed.

- fwer: WER over those tokens, case-sensitive (kaldialign's split, core/align.py).
- per (punctuation error rate): tokens aligned with words compared case-insensitively; the
  substitutions, deletions and insertions that involve a punctuation token, over the reference's
  punctuation tokens (the usual definition in punctuation-restoration work, e.g. the PER of
  Meister et al. 2023; a punctuation mark replaced by another counts once).
- caser (casing error rate): of the word tokens matched case-insensitively, the share whose
  case differs.
- keywords: each keyword (phrase) of the utterance is counted in the normalised reference and
  hypothesis as whole words; tp = min(ref, hyp), fn = ref - tp, fp = hyp - tp, summed over
  keywords and utterances: recall, precision, F1 and keyword error rate (fn + fp) / (tp + fn).
- num_acc: the reference's number tokens (tokens with a digit, after the normaliser: whisper_english
  turns "four" into "4") found in the hypothesis, as a multiset; over the reference's number tokens.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

import numpy as np
from rapidfuzz.distance import Levenshtein

from spectragram_bench.core import metrics
from spectragram_bench.evaluations.registry import UtteranceBatch, Values, register_metric, register_values

TOKEN = re.compile(r"\w+(?:[-'\u2019.,]\w+)*|[^\w\s]")
DIGIT = re.compile(r"\d")


def tokenize_formatted(text: str) -> list[str]:
    """Words and single punctuation marks, case and punctuation kept (see the module docstring)."""
    return TOKEN.findall(unicodedata.normalize("NFC", text))


def is_punctuation(token: str) -> bool:
    return len(token) == 1 and not token.isalnum() and not token.isspace()


@register_values("formatted_words", ("fw_hits", "fw_substitutions", "fw_deletions", "fw_insertions"))
def formatted_word_values(batch: UtteranceBatch) -> np.ndarray:
    refs = [" ".join(tokenize_formatted(t)) for t in batch.raw_refs]
    hyps = [" ".join(tokenize_formatted(t)) for t in batch.raw_hyps]
    return metrics.word_counts(refs, hyps).table


@register_values("formatting", ("punct_errors", "punct_ref", "case_errors", "case_words"))
def formatting_values(batch: UtteranceBatch) -> np.ndarray:
    out = np.zeros((len(batch), 4))
    ids: dict[str, int] = {}
    for k, (ref_text, hyp_text) in enumerate(zip(batch.raw_refs, batch.raw_hyps, strict=True)):
        ref, hyp = tokenize_formatted(ref_text), tokenize_formatted(hyp_text)
        fold_r = [ids.setdefault(t.casefold(), len(ids)) for t in ref]
        fold_h = [ids.setdefault(t.casefold(), len(ids)) for t in hyp]
        punct_errors = case_errors = case_words = 0
        for tag, i1, i2, j1, j2 in Levenshtein.opcodes(fold_r, fold_h):
            if tag == "equal":
                for r, h in zip(ref[i1:i2], hyp[j1:j2], strict=True):
                    if not is_punctuation(r):
                        case_words += 1
                        case_errors += r != h
            elif tag == "replace":
                punct_errors += sum(is_punctuation(r) or is_punctuation(h) for r, h in zip(ref[i1:i2], hyp[j1:j2], strict=True))
            elif tag == "delete":
                punct_errors += sum(map(is_punctuation, ref[i1:i2]))
            else:
                punct_errors += sum(map(is_punctuation, hyp[j1:j2]))
        out[k] = (punct_errors, sum(map(is_punctuation, ref)), case_errors, case_words)
    return out


def _fw_errors(v: Values) -> np.ndarray:
    return v["fw_substitutions"] + v["fw_deletions"] + v["fw_insertions"]


@register_metric("fwer", label="fWER", needs=("formatted_words",), bootstrap=True, paired=True,
                 description="formatted WER: case and punctuation kept, punctuation marks as tokens")
def fwer(v: Values):
    return _fw_errors(v), v["fw_hits"] + v["fw_substitutions"] + v["fw_deletions"]


@register_metric("per", label="PER", needs=("formatting",), bootstrap=True,
                 description="punctuation error rate: punctuation edits / reference punctuation marks")
def punctuation_error_rate(v: Values):
    return v["punct_errors"], v["punct_ref"]


@register_metric("caser", label="CaseER", needs=("formatting",), bootstrap=True,
                 description="casing error rate: matched words whose case differs / matched words")
def casing_error_rate(v: Values):
    return v["case_errors"], v["case_words"]


def count_phrase(words: list[str], phrase: list[str]) -> int:
    """Occurrences of `phrase` (a word list) in `words`, overlapping ones included."""
    n = len(phrase)
    if n == 0:
        return 0
    return sum(1 for i in range(len(words) - n + 1) if words[i:i + n] == phrase)


@register_values("keywords", ("kw_tp", "kw_fn", "kw_fp"))
def keyword_values(batch: UtteranceBatch) -> np.ndarray:
    out = np.zeros((len(batch), 3))
    norm = batch.normalizer or (lambda s: s)
    for k, (ref, hyp, keywords) in enumerate(zip(batch.refs, batch.hyps, batch.keywords or [[]] * len(batch), strict=True)):
        ref_words, hyp_words = ref.split(), hyp.split()
        for keyword in keywords:
            phrase = norm(keyword).split()
            r, h = count_phrase(ref_words, phrase), count_phrase(hyp_words, phrase)
            tp = min(r, h)
            out[k] += (tp, r - tp, h - tp)
    return out


@register_metric("kw_recall", label="KW recall", needs=("keywords",), direction="higher", bootstrap=True, paired=True,
                 description="keyword recall: keyword occurrences of the reference found in the hypothesis")
def keyword_recall(v: Values):
    return v["kw_tp"], v["kw_tp"] + v["kw_fn"]


@register_metric("kw_precision", label="KW precision", needs=("keywords",), direction="higher",
                 description="keyword precision: keyword occurrences of the hypothesis that are in the reference")
def keyword_precision(v: Values):
    return v["kw_tp"], v["kw_tp"] + v["kw_fp"]


@register_metric("kw_f1", label="KW F1", needs=("keywords",), direction="higher",
                 description="keyword F1: 2 tp / (2 tp + fp + fn)")
def keyword_f1(v: Values):
    return 2 * v["kw_tp"], 2 * v["kw_tp"] + v["kw_fp"] + v["kw_fn"]


@register_metric("kwer", label="KWER", needs=("keywords",), bootstrap=True,
                 description="keyword error rate: (missed + falsely added keywords) / reference keywords")
def keyword_error_rate(v: Values):
    return v["kw_fn"] + v["kw_fp"], v["kw_tp"] + v["kw_fn"]


@register_values("numbers", ("num_ref", "num_hit"))
def number_values(batch: UtteranceBatch) -> np.ndarray:
    out = np.zeros((len(batch), 2))
    for k, (ref, hyp) in enumerate(zip(batch.refs, batch.hyps, strict=True)):
        ref_numbers = Counter(t for t in ref.split() if DIGIT.search(t))
        hyp_numbers = Counter(t for t in hyp.split() if DIGIT.search(t))
        out[k] = (sum(ref_numbers.values()), sum((ref_numbers & hyp_numbers).values()))
    return out


@register_metric("num_acc", label="Numbers", needs=("numbers",), direction="higher", bootstrap=True,
                 description="numbers and digits exact match: reference number tokens found in the hypothesis")
def number_accuracy(v: Values):
    return v["num_hit"], v["num_ref"]
