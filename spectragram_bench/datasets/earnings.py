"""Earnings-21 and Earnings-22 as revdotcom/speech-datasets releases them: whole earnings
calls (long-form, up to about 2 hours) with their reference transcripts.

`root` is the `earnings21/` or `earnings22/` folder: `media/<file id>.mp3` and
`transcripts/nlp_references/<file id>.nlp` (pipe-separated tokens with a header: token,
speaker, ts, endTs, punctuation, [prepunctuation,] case, tags, ...). Each call is one
utterance, its reference the tokens in order with their punctuation (the normaliser then
removes what it removes). Subsets: `full` (every call with both files; default), `eval10`
(Earnings-21's representative 10 hours, from `eval10-file-metadata.csv`) and `subset10`
(Earnings-22's `subset10/` with its verbatim references). Durations and the call's
metadata (company, sector, country, ...) come from the release's metadata CSV. Calls are
long-form: a provider that cannot take a whole call gets it in VAD-cut chunks
(worker/chunking.py), scored as one recording. Language: en.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

from spectragram_bench.core.errors import DatasetError
from spectragram_bench.core.records import DatasetInfo, UtteranceRecord
from spectragram_bench.datasets.base import Dataset, checksum_files
from spectragram_bench.datasets.textlines import read_lines

NAME = "earnings"
LICENSE = "CC BY-SA 4.0"
MEDIA_SUFFIXES = (".mp3", ".wav", ".flac")
METADATA_FILES = ("earnings21-file-metadata.csv", "metadata.csv")
ID_COLUMNS = ("file_id", "File ID")
LENGTH_COLUMNS = ("audio_length", "File Length (seconds)")


def nlp_text(path: Path) -> tuple[str, str | None]:
    """The reference of one .nlp file and the first problem found (or None)."""
    header: list[str] | None = None
    words: list[str] = []
    problem = None
    for _lineno, line, error in read_lines(path):
        if not line.strip():
            continue
        problem = problem or error
        fields = line.split("|")
        if header is None:
            header = fields
            if "token" not in header:
                raise DatasetError(f"{path}: no 'token' column in the header {header}")
            continue
        row = dict(zip(header, fields, strict=False))
        token = row.get("token", "").strip()
        if token:
            words.append(f"{row.get('prepunctuation', '')}{token}{row.get('punctuation', '')}")
    return " ".join(words), problem


class Earnings(Dataset):
    name = NAME

    def __init__(self, root, subsets, options) -> None:
        super().__init__(root, subsets, options)
        found: dict[str, tuple[Path, Path, set[str] | None]] = {}
        if (self.root / "media").is_dir() and (self.root / "transcripts" / "nlp_references").is_dir():
            found["full"] = (self.root / "media", self.root / "transcripts" / "nlp_references", None)
        eval10 = self.root / "eval10-file-metadata.csv"
        if "full" in found and eval10.is_file():
            found["eval10"] = (*found["full"][:2], set(self._metadata(eval10)))
        sub10 = self.root / "subset10"
        if (sub10 / "media").is_dir() and (sub10 / "verbatim_transcripts" / "nlp_references").is_dir():
            found["subset10"] = (sub10 / "media", sub10 / "verbatim_transcripts" / "nlp_references", None)
        if not found:
            raise DatasetError(
                f"dataset {NAME!r}: no media/ + transcripts/nlp_references/ under {self.root} "
                "(set root to the earnings21 or earnings22 folder of revdotcom/speech-datasets)"
            )
        self.found = found
        self.selected = self.select_subsets(found, ["full"] if "full" in found else [])
        meta_file = next((self.root / f for f in METADATA_FILES if (self.root / f).is_file()), None)
        self.metadata = self._metadata(meta_file) if meta_file else {}

    @staticmethod
    def _metadata(path: Path) -> dict[str, dict[str, str]]:
        text = path.read_bytes().decode("utf-8", errors="replace").removeprefix("\ufeff")
        rows = list(csv.DictReader(io.StringIO(text)))
        column = next((c for c in ID_COLUMNS if rows and c in rows[0]), None)
        if column is None:
            raise DatasetError(f"{path}: no file id column ({' or '.join(ID_COLUMNS)})")
        return {r[column].strip(): r for r in rows}

    def _nlp_files(self, subset: str) -> list[Path]:
        _media, nlp_dir, only = self.found[subset]
        return sorted(p for p in nlp_dir.glob("*.nlp") if only is None or p.stem in only)

    def info(self) -> DatasetInfo:
        files = sorted({p for s in self.found for p in self._nlp_files(s)})
        return self.describe(checksum_files(self.root, files), self.opts.license or LICENSE)

    def utterances(self) -> Iterator[UtteranceRecord]:
        for subset in self.selected:
            media = self.found[subset][0]
            for nlp in self._nlp_files(subset):
                call = nlp.stem
                audio = next((media / f"{call}{s}" for s in MEDIA_SUFFIXES if (media / f"{call}{s}").exists()),
                             media / f"{call}.mp3")
                text, problem = nlp_text(nlp)
                row = self.metadata.get(call, {})
                length = next((row[c] for c in LENGTH_COLUMNS if row.get(c)), None)
                meta = {k: v for k, v in row.items() if k not in ID_COLUMNS} | {"long_form": True}
                if problem:
                    meta["load_error"] = problem
                elif not text:
                    meta["load_error"] = f"{nlp}: no tokens"
                try:
                    duration = float(length) if length else None
                except ValueError:
                    duration = None
                yield UtteranceRecord(
                    external_id=call, audio_path=str(audio), ref_text=text, subset=subset, duration_s=duration,
                    meta=meta, language=self.opts.language or "en",
                )
