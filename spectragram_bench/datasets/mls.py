"""Multilingual LibriSpeech (OpenSLR 94) in its release layout, flac or opus.

`root` is a language folder, e.g. `mls_french` (or `mls_french_opus`):
`<root>/<split>/transcripts.txt` (`<speaker>_<book>_<segment><TAB><text>` per line) and
`<root>/<split>/audio/<speaker>/<book>/<speaker>_<book>_<segment>.flac` (or `.opus`).
Subsets are the split folders (default `test`). The language comes from the folder name
(`mls_french` -> fr), else `options.language`. Opus files are decoded by libsndfile (>= 1.0.29).
"""

from __future__ import annotations

from collections.abc import Iterator

from spectragram_bench.core.errors import DatasetError
from spectragram_bench.core.records import DatasetInfo, UtteranceRecord
from spectragram_bench.datasets.base import Dataset, checksum_files
from spectragram_bench.datasets.languages import MLS_LANGUAGES
from spectragram_bench.datasets.textlines import read_lines

NAME = "mls"
LICENSE = "CC BY 4.0"
AUDIO_SUFFIXES = (".flac", ".opus")


def language_of(folder: str) -> str | None:
    """`mls_french_opus` -> fr."""
    parts = folder.lower().split("_")
    return next((MLS_LANGUAGES[p] for p in parts if p in MLS_LANGUAGES), None)


class MultilingualLibriSpeech(Dataset):
    name = NAME

    def __init__(self, root, subsets, options) -> None:
        super().__init__(root, subsets, options)
        self.splits = sorted(d.name for d in self.root.iterdir() if (d / "transcripts.txt").is_file()) if self.root.is_dir() else []
        if not self.splits:
            raise DatasetError(f"dataset {NAME!r}: no <split>/transcripts.txt under {self.root} (set root to e.g. mls_french)")
        self.selected = self.select_subsets(self.splits, ["test"] if "test" in self.splits else [])
        self.language = self.opts.language or language_of(self.root.resolve().name)

    def info(self) -> DatasetInfo:
        files = [self.root / s / "transcripts.txt" for s in self.splits]
        return self.describe(checksum_files(self.root, files), self.opts.license or LICENSE)

    def utterances(self) -> Iterator[UtteranceRecord]:
        for split in self.selected:
            yield from self._read_split(split)

    def _read_split(self, split: str) -> Iterator[UtteranceRecord]:
        trans = self.root / split / "transcripts.txt"
        for lineno, line, error in read_lines(trans):
            if not line.strip():
                continue
            utt_id, _, text = line.partition("\t")
            utt_id = utt_id.strip()
            parts = utt_id.split("_")
            if len(parts) != 3:
                raise DatasetError(f"{trans}:{lineno}: id {utt_id!r} is not <speaker>_<book>_<segment>")
            speaker, book, _ = parts
            folder = self.root / split / "audio" / speaker / book
            audio = next((folder / f"{utt_id}{s}" for s in AUDIO_SUFFIXES if (folder / f"{utt_id}{s}").exists()),
                         folder / f"{utt_id}.flac")
            meta = {"book_id": book}
            if error:
                meta["load_error"] = error
            elif not text.strip():
                meta["load_error"] = f"{trans}:{lineno}: empty transcript for {utt_id}"
            yield UtteranceRecord(
                external_id=utt_id, audio_path=str(audio), ref_text=text.strip(), subset=split,
                speaker=speaker, meta=meta, language=self.language,
            )
