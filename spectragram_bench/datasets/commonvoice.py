"""Mozilla Common Voice in its release layout.

`root` is a language folder of a release, e.g. `~/data/cv-corpus-17.0-2024-03-15/en`, holding
`clips/*.mp3` and the split files `test.tsv`, `dev.tsv`, `train.tsv`, `validated.tsv`, ...
Subsets name split files (default: `test`; `validated` overlaps train/dev/test, so mixing it
with them is refused). Every TSV column other than `path` and `sentence` (client_id, up_votes,
down_votes, age, gender, accents/accent, variant, locale, segment, sentence_id ...) is kept in
the utterance's meta; client_id is the speaker. Durations come from `clip_durations.tsv`
when present. The mp3 clips are decoded by libsndfile (>= 1.1, shipped in soundfile's wheels).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import soundfile as sf

from spectragram_bench.core.errors import DatasetError
from spectragram_bench.core.records import DatasetInfo, UtteranceRecord
from spectragram_bench.datasets.base import Dataset, checksum_files
from spectragram_bench.datasets.textlines import read_lines, read_tsv

LICENSE = "CC0-1.0"
REQUIRED_COLUMNS = ("path", "sentence")
DEFAULT_SPLITS = ("test",)
#: TSV files of a release that do not list clips.
NOT_SPLITS = {"clip_durations", "reported", "validated_sentences", "unvalidated_sentences"}


class CommonVoice(Dataset):
    name = "commonvoice"

    def __init__(self, root, subsets, options) -> None:
        super().__init__(root, subsets, options)
        where = f"dataset 'commonvoice' at {self.root}"
        if "language" in self.options:
            self.root = self.root / str(self.options["language"])
            where = f"dataset 'commonvoice' at {self.root}"
            if not self.root.is_dir():
                raise DatasetError(f"{where}: language folder does not exist")
        available = sorted(p.stem for p in self.root.glob("*.tsv") if p.stem not in NOT_SPLITS)
        if not available:
            langs = sorted(p.name for p in self.root.iterdir() if p.is_dir() and (p / "clips").is_dir())
            hint = f"; set root to a language folder, e.g. {self.root / langs[0]}" if langs else ""
            raise DatasetError(f"{where}: no split .tsv files (expected a release's language folder){hint}")
        if not (self.root / "clips").is_dir():
            raise DatasetError(f"{where}: no clips/ folder beside the .tsv files")
        self.available = available
        default = [s for s in DEFAULT_SPLITS if s in available] or available[:1]
        self.selected = self.select_subsets(available, default)
        if "MP3" not in sf.available_formats():
            raise DatasetError(
                f"{where}: this libsndfile ({sf.__libsndfile_version__}) cannot decode mp3; "
                "install soundfile >= 0.12 from its wheels (bundles libsndfile >= 1.1)"
            )

    def info(self) -> DatasetInfo:
        """The checksum covers every split file, whichever are selected (streamed: they can be large)."""
        split_files = [self.root / f"{split}.tsv" for split in self.available]
        return self.describe(checksum_files(self.root, split_files), LICENSE)

    def scan_inputs(self) -> list[Path]:
        """The selected split files and clip_durations.tsv."""
        return [*(self.root / f"{split}.tsv" for split in self.selected), self.root / "clip_durations.tsv"]

    def _durations(self) -> dict[str, float]:
        """clip_durations.tsv (`clip<TAB>duration[ms]`), when the release has it."""
        path = self.root / "clip_durations.tsv"
        durations: dict[str, float] = {}
        if not path.is_file():
            return durations
        for lineno, line, _ in read_lines(path):
            parts = line.split("\t")
            if lineno == 1 or len(parts) < 2:
                continue
            try:
                durations[parts[0]] = float(parts[1]) / 1000.0
            except ValueError:
                continue  # a bad row only means that clip's duration is read from its header
        return durations

    def utterances(self) -> Iterator[UtteranceRecord]:
        durations = self._durations()
        seen: dict[str, str] = {}
        for split in self.selected:
            for where, rec in self._read_split(split, durations):
                if rec.external_id in seen:
                    raise DatasetError(
                        f"dataset 'commonvoice': clip {rec.external_id!r} listed twice ({seen[rec.external_id]} and {where}); "
                        "choose splits that do not overlap (validated.tsv contains train, dev and test)"
                    )
                seen[rec.external_id] = where
                yield rec

    def _read_split(self, split: str, durations: dict[str, float]) -> Iterator[tuple[str, UtteranceRecord]]:
        tsv = self.root / f"{split}.tsv"
        for lineno, row, problem in read_tsv(tsv, REQUIRED_COLUMNS):
            if not row["path"].strip():
                raise DatasetError(f"{tsv}:{lineno}: no clip path in the 'path' column")
            clip = row["path"].strip()
            text = row["sentence"].strip()
            meta = {k: v for k, v in row.items() if k not in REQUIRED_COLUMNS}
            meta["split"] = split
            if problem:
                meta["load_error"] = problem
            elif not text:
                meta["load_error"] = f"{tsv}:{lineno}: empty sentence for {clip}"
            yield f"{tsv.name}:{lineno}", UtteranceRecord(
                external_id=Path(clip).stem if clip.endswith(".mp3") else clip,
                audio_path=str(self.root / "clips" / clip),
                ref_text=text,
                subset=split,
                duration_s=durations.get(clip),
                speaker=row.get("client_id") or None,
                meta=meta,
            )
