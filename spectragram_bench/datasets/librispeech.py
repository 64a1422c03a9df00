"""LibriSpeech in its OpenSLR layout.

`<root>/<subset>/<speaker>/<chapter>/<spk>-<chap>-<utt>.flac` with `<spk>-<chap>.trans.txt`;
`root` is the folder holding the subsets (the `LibriSpeech/` folder of the download), and any
subset name is accepted. SPEAKERS.TXT, when present beside the subsets, adds sex and subset.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path

from spectragram_bench.core.errors import DatasetError
from spectragram_bench.core.records import DatasetInfo, UtteranceRecord
from spectragram_bench.datasets.base import Dataset

log = logging.getLogger(__name__)

LICENSE = "CC BY 4.0"
AUDIO_SUFFIXES = (".flac", ".wav")


def read_speakers(path: Path) -> dict[str, dict[str, str]]:
    """SPEAKERS.TXT rows `14 | F | train-clean-360 | 25.03 | Name` keyed by speaker id."""
    speakers: dict[str, dict[str, str]] = {}
    if not path.is_file():
        return speakers
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip() or line.lstrip().startswith(";"):
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) >= 3:
            speakers[parts[0]] = {"sex": parts[1], "speaker_subset": parts[2]}
            if len(parts) >= 5:
                speakers[parts[0]]["speaker_name"] = parts[4]
    return speakers


class LibriSpeech(Dataset):
    name = "librispeech"

    def __init__(self, root, subsets, options) -> None:
        super().__init__(root, subsets, options)
        available = sorted(p.name for p in self.root.iterdir() if p.is_dir() and any(p.glob("*/*/*.trans.txt")))
        if not available:
            raise DatasetError(
                f"dataset 'librispeech': no subsets under {self.root} "
                "(expected <root>/<subset>/<speaker>/<chapter>/<spk>-<chap>.trans.txt)"
            )
        missing = [s for s in self.subsets if s not in available]
        if missing:
            raise DatasetError(
                f"dataset 'librispeech': subset(s) {missing} not found under {self.root}; found: {available}"
            )
        self.selected = self.subsets or available
        self._speakers = read_speakers(self.root / "SPEAKERS.TXT")

    def _transcript_files(self) -> list[Path]:
        return sorted(f for subset in self.selected for f in (self.root / subset).glob("*/*/*.trans.txt"))

    def info(self) -> DatasetInfo:
        digest = hashlib.sha256()
        for f in self._transcript_files():
            digest.update(f.relative_to(self.root).as_posix().encode())
            digest.update(f.read_bytes())
        return DatasetInfo(
            name=self.name,
            source=str(self.root.resolve()),
            license=LICENSE,
            checksum=digest.hexdigest(),
            notes=f"subsets: {', '.join(self.selected)}",
        )

    def utterances(self) -> Iterator[UtteranceRecord]:
        for trans in self._transcript_files():
            subset = trans.relative_to(self.root).parts[0]
            yield from self._read_chapter(trans, subset)

    def _read_chapter(self, trans: Path, subset: str) -> Iterator[UtteranceRecord]:
        try:
            lines = trans.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as exc:
            raise DatasetError(f"dataset 'librispeech': {trans} is not UTF-8 ({exc.reason} at byte {exc.start})") from None
        for lineno, line in enumerate(lines, 1):
            if not line.strip():
                continue
            utt_id, _, text = line.strip().partition(" ")
            speaker, chapter, *_ = utt_id.split("-") + ["", ""]
            audio = next((trans.parent / f"{utt_id}{s}" for s in AUDIO_SUFFIXES if (trans.parent / f"{utt_id}{s}").exists()), trans.parent / f"{utt_id}.flac")
            meta = {"speaker_id": speaker, "chapter_id": chapter, "subset": subset, **self._speakers.get(speaker, {})}
            if not text.strip():
                meta["load_error"] = f"{trans}:{lineno}: empty transcript for {utt_id}"
            yield UtteranceRecord(
                external_id=utt_id,
                audio_path=str(audio),
                ref_text=text.strip(),
                subset=subset,
                speaker=speaker or None,
                meta=meta,
            )
