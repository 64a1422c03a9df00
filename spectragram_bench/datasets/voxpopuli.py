"""VoxPopuli's transcribed (ASR) data in the layout its release scripts produce.

`root` is a language folder, e.g. `transcribed_data/fr`: split files `asr_train.tsv`,
`asr_dev.tsv`, `asr_test.tsv` (header `id raw_text normalized_text speaker_id split gender
is_gold_transcript accent`, tab-separated) and the segments as `<year>/<id>.ogg` (the year is
the id's first four characters). Subsets are `train`, `dev`, `test` (default `test`). The
reference is `normalized_text` (as the Open ASR Leaderboard scores VoxPopuli); `options.text:
raw` picks `raw_text`. The language is the folder's name (`fr`), else `options.language`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from spectragram_bench.core.errors import DatasetError
from spectragram_bench.core.records import DatasetInfo, UtteranceRecord
from spectragram_bench.datasets.base import Dataset, LoaderOptions, checksum_files
from spectragram_bench.datasets.textlines import read_tsv

NAME = "voxpopuli"
LICENSE = "CC0-1.0"
REQUIRED = ("id", "raw_text", "normalized_text")


class VoxPopuliOptions(LoaderOptions):
    text: Literal["normalized", "raw"] = "normalized"


class VoxPopuli(Dataset):
    options_model = VoxPopuliOptions
    name = NAME

    def __init__(self, root, subsets, options) -> None:
        super().__init__(root, subsets, options)
        splits = sorted(p.stem.removeprefix("asr_") for p in self.root.glob("asr_*.tsv")) if self.root.is_dir() else []
        if not splits:
            raise DatasetError(f"dataset {NAME!r}: no asr_<split>.tsv under {self.root} (set root to e.g. transcribed_data/fr)")
        self.splits = splits
        self.selected = self.select_subsets(splits, ["test"] if "test" in splits else [])
        folder = self.root.resolve().name
        self.language = self.opts.language or (folder if len(folder) == 2 and folder.isalpha() else None)

    def info(self) -> DatasetInfo:
        files = [self.root / f"asr_{s}.tsv" for s in self.splits]
        return self.describe(checksum_files(self.root, files), self.opts.license or LICENSE)

    def utterances(self) -> Iterator[UtteranceRecord]:
        for split in self.selected:
            yield from self._read_split(split)

    def _read_split(self, split: str) -> Iterator[UtteranceRecord]:
        tsv = self.root / f"asr_{split}.tsv"
        text_column = "normalized_text" if self.opts.text == "normalized" else "raw_text"
        for lineno, row, problem in read_tsv(tsv, REQUIRED):
            seg = row["id"].strip()
            if not seg:
                raise DatasetError(f"{tsv}:{lineno}: no segment id in the 'id' column")
            text = row[text_column].strip()
            meta = {k: v for k, v in row.items() if k not in ("id", "raw_text", "normalized_text", "speaker_id")}
            if text_column == "normalized_text":
                meta["raw_text"] = row["raw_text"]
            if problem:
                meta["load_error"] = problem
            elif not text:
                meta["load_error"] = f"{tsv}:{lineno}: empty {text_column} for {seg}"
            yield UtteranceRecord(
                external_id=seg, audio_path=str(self.root / seg[:4] / f"{seg}.ogg"), ref_text=text, subset=split,
                speaker=row.get("speaker_id") or None, meta=meta, language=self.language,
            )
