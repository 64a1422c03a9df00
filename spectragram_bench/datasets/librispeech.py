"""LibriSpeech in its OpenSLR 12 layout, any subset (dev-clean ... train-other-500).

`<root>/<subset>/<speaker>/<chapter>/<spk>-<chap>-<utt>.flac` with `<spk>-<chap>.trans.txt`;
`root` is the folder holding the subsets (the `LibriSpeech/` folder of the download) or the
folder the archives were extracted into. SPEAKERS.TXT, when present beside the subsets, adds
sex, the speaker's subset and name to each utterance's meta. The checksum covers the
transcripts of every subset under root, so an edited copy is noticed on the next run.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

from spectragram_bench.core.errors import DatasetError
from spectragram_bench.core.records import DatasetInfo, UtteranceRecord
from spectragram_bench.datasets.base import Dataset, checksum_files
from spectragram_bench.datasets.textlines import read_lines

log = logging.getLogger(__name__)

LICENSE = "CC BY 4.0"
AUDIO_SUFFIXES = (".flac", ".wav")


def read_speakers(path: Path) -> dict[str, dict[str, str]]:
    """SPEAKERS.TXT rows `14 | F | train-clean-360 | 25.03 | Name` keyed by speaker id."""
    speakers: dict[str, dict[str, str]] = {}
    if not path.is_file():
        return speakers
    for _, line, _ in read_lines(path):
        if not line.strip() or line.lstrip().startswith(";"):
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) >= 3:
            speakers[parts[0]] = {"sex": parts[1], "speaker_subset": parts[2]}
            if len(parts) >= 5:
                speakers[parts[0]]["speaker_name"] = parts[4]
    return speakers


def _entries(folder: Path) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as it:
            return list(it)
    except OSError:
        return []


def _folders(folder: Path) -> list[Path]:
    return [folder / e.name for e in _entries(folder) if e.is_dir()]


def _subsets(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir() and any(p.glob("*/*/*.trans.txt")))


class LibriSpeech(Dataset):
    name = "librispeech"

    def __init__(self, root, subsets, options) -> None:
        super().__init__(root, subsets, options)
        if not self.root.is_dir():
            raise DatasetError(f"dataset 'librispeech': root {str(self.root)!r} is not a folder")
        if not _subsets(self.root) and (self.root / "LibriSpeech").is_dir():
            self.root = self.root / "LibriSpeech"  # the folder the archives were extracted into
        available = _subsets(self.root)
        if not available:
            raise DatasetError(
                f"dataset 'librispeech': no subsets under {self.root} "
                "(expected <root>/<subset>/<speaker>/<chapter>/<spk>-<chap>.trans.txt)"
            )
        self.available = available
        self.selected = self.select_subsets(available)
        self._speakers = read_speakers(self.root / "SPEAKERS.TXT")

    def _transcript_files(self, subsets: list[str]) -> list[Path]:
        """`<subset>/*/*/*.trans.txt`. A chapter holding its release name `<spk>-<chap>.trans.txt`
        is not listed (one stat instead of a listing of every clip: 0.3 s at 10^5 clips); any
        other chapter folder is searched for *.trans.txt."""
        found = []
        for subset in subsets:
            for speaker in _folders(self.root / subset):
                for chapter in _folders(speaker):
                    release = chapter / f"{speaker.name}-{chapter.name}.trans.txt"
                    if release.is_file():
                        found.append(release)
                    else:
                        found.extend(chapter / e.name for e in _entries(chapter) if e.name.endswith(".trans.txt") and e.is_file())
        return sorted(found)

    def info(self) -> DatasetInfo:
        """The checksum covers the transcripts of every subset under root, whichever are selected,
        so that runs selecting different subsets compare against the same fingerprint."""
        return self.describe(checksum_files(self.root, self._transcript_files(self.available)), LICENSE)

    def scan_inputs(self) -> list[Path]:
        """The transcripts, their chapter folders (whose listing picks .flac or .wav) and SPEAKERS.TXT."""
        transcripts = self._transcript_files(self.selected)
        return [*transcripts, *(t.parent for t in transcripts), self.root / "SPEAKERS.TXT"]

    def utterances(self) -> Iterator[UtteranceRecord]:
        for trans in self._transcript_files(self.selected):
            subset = trans.relative_to(self.root).parts[0]
            yield from self._read_chapter(trans, subset)

    def _read_chapter(self, trans: Path, subset: str) -> Iterator[UtteranceRecord]:
        folder = str(trans.parent)
        try:
            present = set(os.listdir(folder))  # one listing per chapter, not a stat per suffix and file
        except OSError:
            present = set()
        for lineno, line, error in read_lines(trans):
            if not line.strip():
                continue
            utt_id, _, text = line.strip().partition(" ")
            speaker, chapter, *_ = utt_id.split("-") + ["", ""]
            name = next((f"{utt_id}{s}" for s in AUDIO_SUFFIXES if f"{utt_id}{s}" in present), f"{utt_id}.flac")
            audio = os.path.join(folder, name)
            meta = {"speaker_id": speaker, "chapter_id": chapter, "subset": subset, **self._speakers.get(speaker, {})}
            if error:
                meta["load_error"] = error
            elif not text.strip():
                meta["load_error"] = f"{trans}:{lineno}: empty transcript for {utt_id}"
            yield UtteranceRecord(
                external_id=utt_id,
                audio_path=str(audio),
                ref_text=text.strip(),
                subset=subset,
                speaker=speaker or None,
                meta=meta,
            )
