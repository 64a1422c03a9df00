"""FLEURS in the layout of the original google/fleurs release, one language folder.

`root` is a language folder, e.g. `fleurs/data/fr_fr`: split files `train.tsv`, `dev.tsv`,
`test.tsv` (no header; columns id, file name, raw transcription, transcription, phonemes,
number of samples, gender) and the audio archives `audio/<split>.tar.gz`, which must be
extracted in place (`tar xzf audio/test.tar.gz -C audio` gives `audio/test/<file>.wav`).
Subsets are the split files (default `test`). The reference is `transcription` (the
normalised text, as the Open ASR Leaderboard scores FLEURS); `options.text: raw` picks
`raw_transcription`. The language comes from the folder (`fr_fr` -> fr, `cmn_hans_cn` -> zh),
else `options.language`. One sentence is read by several speakers: the utterance id is the
wav's name, the sentence id is kept in meta (`sentence_id`), with gender and num_samples.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from spectragram_bench.core.errors import DatasetError
from spectragram_bench.core.records import DatasetInfo, UtteranceRecord
from spectragram_bench.datasets.base import Dataset, LoaderOptions, checksum_files
from spectragram_bench.datasets.languages import fleurs_language
from spectragram_bench.datasets.textlines import read_lines

NAME = "fleurs"
LICENSE = "CC BY 4.0"
COLUMNS = ("id", "file_name", "raw_transcription", "transcription", "phonemes", "num_samples", "gender")


class FleursOptions(LoaderOptions):
    text: Literal["normalized", "raw"] = "normalized"


class Fleurs(Dataset):
    options_model = FleursOptions
    name = NAME

    def __init__(self, root, subsets, options) -> None:
        super().__init__(root, subsets, options)
        splits = sorted(p.stem for p in self.root.glob("*.tsv")) if self.root.is_dir() else []
        if not splits:
            raise DatasetError(f"dataset {NAME!r}: no <split>.tsv under {self.root} (set root to a language folder, e.g. data/fr_fr)")
        self.splits = splits
        self.selected = self.select_subsets(splits, ["test"] if "test" in splits else [])
        self.language = self.opts.language or fleurs_language(self.root.resolve().name)
        for split in self.selected:
            if self._audio_dir(split) is None:
                archive = self.root / "audio" / f"{split}.tar.gz"
                hint = f"; extract it: tar xzf {archive} -C {archive.parent}" if archive.is_file() else ""
                raise DatasetError(f"dataset {NAME!r}: no audio folder for split {split!r} under {self.root} (audio/{split}/){hint}")

    def _audio_dir(self, split: str) -> Path | None:
        return next((d for d in (self.root / "audio" / split, self.root / split) if d.is_dir()), None)

    def info(self) -> DatasetInfo:
        files = [self.root / f"{s}.tsv" for s in self.splits]
        return self.describe(checksum_files(self.root, files), self.opts.license or LICENSE)

    def utterances(self) -> Iterator[UtteranceRecord]:
        for split in self.selected:
            yield from self._read_split(split)

    def _read_split(self, split: str) -> Iterator[UtteranceRecord]:
        tsv = self.root / f"{split}.tsv"
        audio_dir = self._audio_dir(split)
        text_column = "transcription" if self.opts.text == "normalized" else "raw_transcription"
        for lineno, line, error in read_lines(tsv):
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) < 4:
                raise DatasetError(f"{tsv}:{lineno}: {len(fields)} fields; expected {len(COLUMNS)} ({', '.join(COLUMNS)})")
            row = dict(zip(COLUMNS, fields + [""] * (len(COLUMNS) - len(fields)), strict=False))
            text = row[text_column].strip()
            meta = {"sentence_id": row["id"], "gender": row["gender"].strip(), "num_samples": row["num_samples"]}
            if error:
                meta["load_error"] = error
            elif len(fields) != len(COLUMNS):
                meta["load_error"] = f"{tsv}:{lineno}: {len(fields)} fields, expected {len(COLUMNS)}"
            elif not text:
                meta["load_error"] = f"{tsv}:{lineno}: empty {text_column}"
            duration = None
            if row["num_samples"].strip().isdigit():
                duration = int(row["num_samples"]) / 16000.0  # FLEURS is 16 kHz throughout
            yield UtteranceRecord(
                external_id=Path(row["file_name"]).stem, audio_path=str(audio_dir / row["file_name"]),
                ref_text=text, subset=split, duration_s=duration, meta=meta, language=self.language,
            )
