"""TED-LIUM (releases 1, 2 and 3) in its release layout: talks as `.sph` with `.stm` references.

`root` is the release folder: `<root>/<split>/{sph,stm}/` (releases 1 and 2) or
`<root>/legacy/<split>/{sph,stm}/` (release 3; its `speaker-adaptation/` splits are found
too). Subsets are the split folders (default `test`). Each STM line
`<talk> <channel> <speaker> <start> <end> [<label>] <words>` is one utterance: the segment of
its talk's `.sph` from start to end. Lines whose words are `ignore_time_segment_in_scoring`
are skipped, as the Open ASR Leaderboard (and every TED-LIUM recipe) does; references are
cleaned as ESB prepared them for the leaderboard: `<unk>` dropped and TED-LIUM's split
contractions rejoined ("it 's" -> "it's").

`options.long_form: true` yields one utterance per talk instead (the whole `.sph`, the
reference being its scored segments' words in order) in subsets named `<split>-longform`,
so long-form and segment results never share a row. SPHERE files are read by libsndfile
(uncompressed PCM, as TED-LIUM ships them); a shorten-compressed file is that utterance's
input error: convert it with `sox x.sph x.wav` first.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from spectragram_bench.core.errors import DatasetError
from spectragram_bench.core.records import DatasetInfo, UtteranceRecord
from spectragram_bench.datasets.base import Dataset, LoaderOptions, checksum_files
from spectragram_bench.datasets.textlines import read_lines

NAME = "tedlium"
LICENSE = "CC BY-NC-ND 3.0"
IGNORE = "ignore_time_segment_in_scoring"
LONG_SUFFIX = "-longform"
_SPLIT_CONTRACTION = re.compile(r" '(?=(?:s|re|ve|ll|d|t|m)\b)")


class TedliumOptions(LoaderOptions):
    long_form: bool = False


def clean_reference(words: str) -> str:
    """`<unk>` dropped, "it 's" -> "it's", single spaces."""
    text = " ".join(w for w in words.split() if w != "<unk>")
    return _SPLIT_CONTRACTION.sub("'", text)


def find_splits(root: Path) -> dict[str, Path]:
    splits: dict[str, Path] = {}
    for base in (root, root / "legacy", root / "speaker-adaptation"):
        if base.is_dir():
            for d in sorted(base.iterdir()):
                if (d / "stm").is_dir() and (d / "sph").is_dir() and d.name not in splits:
                    splits[d.name] = d
    return splits


class Tedlium(Dataset):
    options_model = TedliumOptions
    name = NAME

    def __init__(self, root, subsets, options) -> None:
        super().__init__(root, subsets, options)
        self.splits = find_splits(self.root)
        if not self.splits:
            raise DatasetError(
                f"dataset {NAME!r}: no <split>/stm + <split>/sph folders under {self.root} (or its legacy/)"
            )
        suffix = LONG_SUFFIX if self.opts.long_form else ""
        named = {f"{s}{suffix}": d for s, d in self.splits.items()}
        default = [f"test{suffix}"] if f"test{suffix}" in named else []
        self.subset_dirs = named
        self.selected = self.select_subsets(named, default)

    def _stm_files(self, folders) -> list[Path]:
        return sorted(f for d in folders for f in (d / "stm").glob("*.stm"))

    def info(self) -> DatasetInfo:
        return self.describe(checksum_files(self.root, self._stm_files(self.splits.values())), self.opts.license or LICENSE)

    def utterances(self) -> Iterator[UtteranceRecord]:
        for subset in self.selected:
            folder = self.subset_dirs[subset]
            for stm in self._stm_files([folder]):
                segments = list(self._segments(stm, folder, subset))
                if self.opts.long_form:
                    yield from self._talk(stm, folder, subset, segments)
                else:
                    yield from segments

    def _segments(self, stm: Path, folder: Path, subset: str) -> Iterator[UtteranceRecord]:
        for lineno, line, error in read_lines(stm):
            if not line.strip() or line.startswith(";;"):
                continue
            fields = line.split()
            if len(fields) < 5:
                raise DatasetError(f"{stm}:{lineno}: expected '<talk> <channel> <speaker> <start> <end> [<label>] <words>'")
            talk, _channel, speaker, start, end = fields[:5]
            words = fields[6:] if len(fields) > 5 and fields[5].startswith("<") else fields[5:]
            if " ".join(words) == IGNORE:
                continue
            try:
                start_s, end_s = float(start), float(end)
            except ValueError:
                raise DatasetError(f"{stm}:{lineno}: start/end {start!r}/{end!r} are not numbers") from None
            text = clean_reference(" ".join(words))
            meta: dict = {"talk": talk, "stm_line": lineno}
            if error:
                meta["load_error"] = error
            elif end_s <= start_s:
                meta["load_error"] = f"{stm}:{lineno}: segment ends ({end_s}) before it starts ({start_s})"
            elif not text:
                meta["load_error"] = f"{stm}:{lineno}: empty transcript"
            yield UtteranceRecord(
                external_id=f"{talk}-{round(start_s * 100):07d}-{round(end_s * 100):07d}",
                audio_path=str(folder / "sph" / f"{talk}.sph"),
                ref_text=text,
                subset=subset,
                duration_s=max(0.0, end_s - start_s),
                speaker=speaker,
                offset_s=start_s,
                segment_s=max(0.0, end_s - start_s),
                meta=meta,
                language="en" if self.opts.language is None else self.opts.language,
            )

    def _talk(self, stm: Path, folder: Path, subset: str, segments: list[UtteranceRecord]) -> Iterator[UtteranceRecord]:
        if not segments:
            return
        broken = [s.meta["load_error"] for s in segments if "load_error" in s.meta]
        meta: dict = {"talk": stm.stem, "segments": len(segments), "long_form": True}
        if broken:
            meta["load_error"] = broken[0]
        yield UtteranceRecord(
            external_id=stm.stem,
            audio_path=str(folder / "sph" / f"{stm.stem}.sph"),
            ref_text=" ".join(s.ref_text for s in segments if s.ref_text),
            subset=subset,
            speaker=segments[0].speaker,
            meta=meta,
            language=segments[0].language,
        )
