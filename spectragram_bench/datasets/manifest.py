"""Bring your own audio: a NeMo-style JSON-lines manifest or a CSV/TSV file listing clips.

`root` is one manifest file (its stem is the subset name) or a folder of them (each file is a
subset; `subsets` picks some). Relative audio paths are resolved against the manifest's folder.

JSON lines (NeMo): one object per line with `audio_filepath` and `text`; optional `duration`
(seconds), `offset` (seconds into the file: the utterance is then the segment of `duration`
from there), `speaker`, and an id in `utt_id`/`id`; every other key goes to meta.
CSV (`,`) or TSV (`.tsv`, tab): a header row with `path` and `text` (or the JSON names), optional
`speaker`, `id`, `duration`, `offset`; other columns go to meta.
Without an id, the utterance id is the audio file's name without its extension (plus
`@<offset>` for segments); two files with the same name then need explicit ids.
An empty transcript is an input problem, unless the entry says `"nonspeech": true` (a clip without
speech, scored by the hallucination metrics; evaluations/inputs.py); `keywords`, `words` (word
alignments) and `text_formatted` are read by the metrics that need them.
"""

from __future__ import annotations

import csv
import io
import json
import math
from abc import abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from spectragram_bench.core.errors import DatasetError
from spectragram_bench.core.records import DatasetInfo, UtteranceRecord
from spectragram_bench.datasets.base import Dataset, LoaderOptions, checksum_files
from spectragram_bench.datasets.textlines import read_lines
from spectragram_bench.evaluations.inputs import is_nonspeech

PATH_KEYS = ("audio_filepath", "path", "audio_path", "audio", "file")
TEXT_KEYS = ("text", "transcript", "sentence")
ID_KEYS = ("utt_id", "id", "utterance_id")
SPEAKER_KEYS = ("speaker", "speaker_id", "spk")
EXTRA = "\x00extra"  # csv.DictReader key for fields beyond the header


def _first(row: dict[str, Any], keys: tuple[str, ...]) -> tuple[str | None, Any]:
    for k in keys:
        if k in row:
            return k, row[k]
    return None, None


def _seconds(value: Any, name: str) -> float | None:
    """A non-negative number of seconds, or None when absent; ValueError names the bad value."""
    if value is None or value == "":
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} {value!r} is not a number") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{name} {value!r} must be a non-negative number of seconds")
    return seconds


class ManifestOptions(LoaderOptions):
    delimiter: str | None = Field(None, description="CSV/TSV field delimiter; default: tab for .tsv, else comma")


class ManifestDataset(Dataset):
    """Shared by the JSON-lines and CSV loaders: file discovery, paths, ids, checks."""
    options_model = ManifestOptions

    suffixes: ClassVar[tuple[str, ...]]

    def __init__(self, root, subsets, options) -> None:
        super().__init__(root, subsets, options)
        if self.root.is_file():
            self.files = {self.root.stem: self.root}
        else:
            self.files = {}
            for p in sorted(self.root.iterdir()):
                if p.is_file() and p.suffix.lower() in self.suffixes:
                    if p.stem in self.files:
                        raise DatasetError(f"dataset {self.name!r}: two manifests named {p.stem!r} in {self.root}")
                    self.files[p.stem] = p
            if not self.files:
                raise DatasetError(f"dataset {self.name!r}: no {'/'.join(self.suffixes)} manifest in {self.root}")
        self.selected = self.select_subsets(self.files)

    def info(self) -> DatasetInfo:
        """The checksum covers every manifest under root, whichever are selected, each named by its file name."""
        files = [self.files[subset] for subset in sorted(self.files)]
        return self.describe(checksum_files(files[0].parent, files), self.options.get("license"))

    def scan_inputs(self) -> list[Path]:
        """The selected manifests (audio paths in them are not checked while reading)."""
        return [self.files[subset] for subset in self.selected]

    @abstractmethod
    def rows(self, path: Path) -> Iterator[tuple[str, dict[str, Any], str | None]]:
        """(`file:line`, fields, decoding error or None) for each entry of one manifest."""

    def utterances(self) -> Iterator[UtteranceRecord]:
        seen: dict[str, str] = {}
        for subset in self.selected:
            path = self.files[subset]
            for where, row, error in self.rows(path):
                rec = self.record(where, row, error, subset, path.parent)
                if rec.external_id in seen:
                    raise DatasetError(
                        f"dataset {self.name!r}: duplicate utterance id {rec.external_id!r} at {where} "
                        f"(first at {seen[rec.external_id]}); give each entry a unique 'utt_id'"
                    )
                seen[rec.external_id] = where
                yield rec

    def record(self, where: str, row: dict[str, Any], error: str | None, subset: str, base: Path) -> UtteranceRecord:
        path_key, audio = _first(row, PATH_KEYS)
        if not isinstance(audio, str) or not audio.strip():
            raise DatasetError(f"{where}: no audio path (one of {', '.join(PATH_KEYS)})")
        audio_path = Path(audio.strip()).expanduser()
        if not audio_path.is_absolute():
            audio_path = base / audio_path
        text_key, text = _first(row, TEXT_KEYS)
        id_key, ext_id = _first(row, ID_KEYS)
        spk_key, speaker = _first(row, SPEAKER_KEYS)
        meta = {k: v for k, v in row.items() if k not in (path_key, text_key, id_key, spk_key, "duration", "offset")}
        problems = [error] if error else []
        try:
            duration = _seconds(row.get("duration"), "duration")
            offset = _seconds(row.get("offset"), "offset")
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
            duration = offset = None
        if text is None:
            problems.append(f"{where}: no transcript (one of {', '.join(TEXT_KEYS)})")
        elif not isinstance(text, str):
            problems.append(f"{where}: transcript is {type(text).__name__}, not text")
        elif not text.strip() and not is_nonspeech(row):
            problems.append(f"{where}: empty transcript (mark a clip without speech with \"nonspeech\": true)")
        if ext_id in (None, ""):
            ext_id = audio_path.stem if offset is None else f"{audio_path.stem}@{offset:.3f}"
        if problems:
            meta["load_error"] = "; ".join(problems)
        return UtteranceRecord(
            external_id=str(ext_id),
            audio_path=str(audio_path),
            ref_text=text.strip() if isinstance(text, str) else "",
            subset=subset,
            duration_s=duration,
            speaker=str(speaker) if speaker not in (None, "") else None,
            offset_s=offset or 0.0,
            segment_s=duration if offset is not None else None,
            meta=meta,
        )


class JsonLinesManifest(ManifestDataset):
    name = "jsonl_manifest"
    suffixes = (".jsonl", ".json")

    def rows(self, path: Path) -> Iterator[tuple[str, dict[str, Any], str | None]]:
        for lineno, line, error in read_lines(path):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}:{lineno}: invalid JSON: {exc.msg} (column {exc.colno})") from None
            if not isinstance(row, dict):
                raise DatasetError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
            yield f"{path}:{lineno}", row, error


class CsvManifest(ManifestDataset):
    name = "csv_manifest"
    suffixes = (".csv", ".tsv")

    def rows(self, path: Path) -> Iterator[tuple[str, dict[str, Any], str | None]]:
        raw = path.read_bytes().removeprefix(b"\xef\xbb\xbf")
        text = raw.decode("utf-8", errors="surrogateescape")
        delimiter = self.options.get("delimiter") or ("\t" if path.suffix.lower() == ".tsv" else ",")
        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter, restkey=EXTRA)
        header = reader.fieldnames or []
        for keys, label in ((PATH_KEYS, "audio path"), (TEXT_KEYS, "transcript")):
            if not any(k in header for k in keys):
                raise DatasetError(f"{path}: no {label} column (one of {', '.join(keys)}); header has {header}")
        for row in reader:
            where = f"{path}:{reader.line_num}"
            extra = row.pop(EXTRA, None) or []
            if not any((v or "").strip() for v in row.values()) and not extra:
                continue
            n_fields = sum(v is not None for v in row.values()) + len(extra)
            error = f"{where}: {n_fields} fields, the header has {len(header)}" if n_fields != len(header) else None
            fields: dict[str, Any] = {}
            for k, v in row.items():
                if v is None:
                    continue
                if any("\udc80" <= ch <= "\udcff" for ch in v):  # undecodable bytes (surrogateescape)
                    error = error or f"{where}: not valid UTF-8 (column {k!r})"
                    v = v.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace")
                fields[k] = v
            yield where, fields, error
