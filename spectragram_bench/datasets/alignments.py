"""Published word alignments attached to any loader's utterances (`options.alignments`).

A dataset entry's `"options": {"alignments": PATH}` names either

- a CTM file (NIST `<utterance> <channel> <start> <duration> <word> [<confidence>]`, as Kaldi and
  sclite write it; `;;` comments and blank lines skipped; times in seconds from the start of the
  utterance's audio; the channel is not used), or
- a folder of Praat TextGrids, one per utterance named `<utterance id>.TextGrid` anywhere below
  it (the Montreal Forced Aligner's layout, `<speaker>/<chapter>/<utt>.TextGrid` for LibriSpeech,
  mirroring the audio tree), read for their "words" tier (datasets/textgrid.py); or one TextGrid.

Each utterance is looked up by its id, then by its audio file's name for a whole-file utterance;
its words become meta `words` ([{"word", "start", "end"}] in seconds, silence left out), which the
word-timing metrics and `"speech_span": "alignment"` read (core/speech_spans.py). A path that does not
exist, or a folder without any TextGrid, is one fatal DatasetError line; past that nothing here
stops a run: a line that does not parse, an utterance id the dataset does not have, a TextGrid
without a words tier are each one warning line naming the file and line, and one line counts the
utterances the file lacks. Those utterances keep what the loader gave them and carry the reason in
meta `alignment_error`, so a streaming adapter measures them from the VAD and stores why.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from spectragram_bench.core.errors import DatasetError
from spectragram_bench.core.records import UtteranceRecord
from spectragram_bench.core.speech_spans import alignment_bounds
from spectragram_bench.datasets.textgrid import SILENCE, AlignmentError, textgrid_words
from spectragram_bench.datasets.textlines import read_lines

log = logging.getLogger(__name__)

CTM_LINE = "<utterance> <channel> <start> <duration> <word> [<confidence>]"
#: sclite's reference-alternation tags: timeless (`*`), not words
ALTERNATION = frozenset({"<ALT_BEGIN>", "<ALT>", "<ALT_END>"})
#: bad lines (or ids) named one by one before the rest are counted in one line
LISTED = 5
#: what an utterance without a usable alignment gets
FALLBACK = "gets no word timings (streaming latency falls back to the VAD)"


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def ctm_problem(fields: list[str]) -> str | None:
    """What is wrong with one CTM line split into fields, or None."""
    if len(fields) not in (5, 6):
        return f"{len(fields)} fields, a CTM line is '{CTM_LINE}'"
    if fields[4] in ALTERNATION and fields[2] == fields[3] == "*":
        return None
    start, duration = _number(fields[2]), _number(fields[3])
    if start is None or duration is None:
        bad = fields[2] if start is None else fields[3]
        return f"{'start' if start is None else 'duration'} {bad!r} is not a number of seconds"
    if start < 0 or duration < 0:
        return f"negative {'start' if start < 0 else 'duration'} ({fields[2]} {fields[3]})"
    if len(fields) == 6 and _number(fields[5]) is None:
        return f"confidence {fields[5]!r} is not a number"
    return None


class Alignments:
    """The word alignments at one path, attached to a dataset's records as they stream past."""

    def __init__(self, path: str, dataset: str) -> None:
        self.path = Path(path).expanduser()
        self.dataset = dataset
        if not self.path.exists():
            raise DatasetError(f"dataset {dataset!r}: options.alignments: {str(self.path)!r} does not exist")
        self.textgrids = self.path.is_dir() or self.path.suffix.lower() == ".textgrid"
        self._ctm: tuple[dict[str, list[dict[str, Any]]], dict[str, int], dict[str, str]] | None = None
        self._grids: dict[str, Path] | None = None
        self._said: set[str] = set()

    def _warn(self, message: str) -> None:
        if message not in self._said:  # the plan reads a dataset several times: each line once
            self._said.add(message)
            log.warning("%s", message)

    # --- the two sources -----------------------------------------------------------------------

    def ctm(self) -> tuple[dict[str, list[dict[str, Any]]], dict[str, int], dict[str, str]]:
        """(words by utterance id, first line of each id, why an id's alignment is unusable)."""
        if self._ctm is not None:
            return self._ctm
        words: dict[str, list[dict[str, Any]]] = {}
        first: dict[str, int] = {}
        broken: dict[str, str] = {}
        bad = 0
        for lineno, line, error in read_lines(self.path):
            text = line.strip()
            if not text or text.startswith(";;"):
                continue
            fields = text.split()
            first.setdefault(fields[0], lineno)
            problem = error.split(": ", 1)[-1] if error else ctm_problem(fields)
            if problem is not None:
                where = f"{self.path}:{lineno}: {problem}"
                broken.setdefault(fields[0], where)
                bad += 1
                if bad <= LISTED:
                    self._warn(f"alignments {where}; utterance {fields[0]!r} {FALLBACK}")
                continue
            if fields[4] in ALTERNATION or fields[4].lower() in SILENCE:
                words.setdefault(fields[0], [])
                continue
            start, duration = float(fields[2]), float(fields[3])
            word: dict[str, Any] = {"word": fields[4], "start": round(start, 6), "end": round(start + duration, 6)}
            if len(fields) == 6:
                word["confidence"] = float(fields[5])
            words.setdefault(fields[0], []).append(word)
        if bad > LISTED:
            self._warn(f"alignments {self.path}: {bad - LISTED} more lines that do not parse ({bad} in all)")
        for utt, found in words.items():
            found.sort(key=lambda w: (w["start"], w["end"]))
            if not found and utt not in broken:
                broken[utt] = f"{self.path}:{first[utt]}: only silence for {utt!r}"
        self._ctm = (words, first, broken)
        return self._ctm

    def grids(self) -> dict[str, Path]:
        """Each TextGrid under the folder by its file name without `.TextGrid`."""
        if self._grids is not None:
            return self._grids
        if not self.path.is_dir():
            self._grids = {self.path.stem: self.path}
            return self._grids
        found: dict[str, Path] = {}
        for p in sorted(self.path.rglob("*")):
            if p.suffix.lower() != ".textgrid" or not p.is_file():
                continue
            if p.stem in found:
                self._warn(f"alignments {p}: a second TextGrid for {p.stem!r} (the first, {found[p.stem]}, is used)")
                continue
            found[p.stem] = p
        if not found:
            raise DatasetError(f"dataset {self.dataset!r}: options.alignments: no .TextGrid files under {self.path}")
        self._grids = found
        return found

    # --- attaching ---------------------------------------------------------------------------

    def lookup(self, rec: UtteranceRecord) -> tuple[str | None, list[dict[str, Any]] | None, str | None]:
        """(the key it was found under, its words, or why there are none) for one record."""
        keys = [rec.external_id]
        if not rec.offset_s and rec.segment_s is None and rec.source is None and rec.audio_path:
            stem = Path(rec.audio_path).stem
            if stem != rec.external_id:
                keys.append(stem)
        if self.textgrids:
            grids = self.grids()
            key = next((k for k in keys if k in grids), None)
            if key is None:
                return None, None, None
            try:
                return key, textgrid_words(grids[key]), None
            except AlignmentError as exc:
                self._warn(f"alignments {exc}; utterance {rec.external_id!r} {FALLBACK}")
                return key, None, str(exc)
        words, first, broken = self.ctm()
        key = next((k for k in keys if k in first), None)
        if key is None:
            return None, None, None
        return key, (None if key in broken else words[key]), broken.get(key)

    def attach(self, records: Iterable[UtteranceRecord]) -> Iterator[UtteranceRecord]:
        """The records with their words; after a whole pass, one line each for the file's ids the
        dataset lacks and for the utterances the file lacks."""
        used: set[str] = set()
        missing: list[str] = []
        total = 0
        for rec in records:
            total += 1
            if rec.meta.get("words_source") == str(self.path):  # a loader calling its parent's utterances()
                yield rec
                continue
            key, words, problem = self.lookup(rec)
            if key is not None:
                used.add(key)
            meta = {k: v for k, v in rec.meta.items() if k != "alignment_error"}
            if words is not None:
                meta.update(words=words, words_source=str(self.path))
            elif problem is not None:
                meta["alignment_error"] = problem
            elif alignment_bounds(meta.get("words")) is None:  # a manifest's own `words` still count
                meta["alignment_error"] = f"no alignment for {rec.external_id!r} in {self.path}"
                missing.append(rec.external_id)
            yield replace(rec, meta=meta)
        self._summarise(used, missing, total)

    def _summarise(self, used: set[str], missing: list[str], total: int) -> None:
        if self.textgrids:
            unknown = [(str(p), k) for k, p in self.grids().items() if k not in used]
        else:
            unknown = [(f"{self.path}:{line}", k) for k, line in self.ctm()[1].items() if k not in used]
        if unknown:
            where, key = unknown[0]
            more = f" ({len(unknown) - 1} more ids of the alignments are not either; ignored)" if len(unknown) > 1 else ""
            self._warn(f"alignments {where}: utterance {key!r} is not in dataset {self.dataset!r}{more}")
        if missing:
            listed = ", ".join(missing[:LISTED]) + (", ..." if len(missing) > LISTED else "")
            self._warn(f"alignments {self.path}: no alignment for {len(missing)} of {total} utterances of dataset "
                       f"{self.dataset!r} ({listed}); each {FALLBACK}")
