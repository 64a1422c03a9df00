"""A local Hugging Face copy: a folder of parquet files, or a `save_to_disk` Arrow folder.

Layouts (`root`):
- parquet: one `.parquet` file, or a folder holding them (recursively), as the Hub stores a
  dataset (`data/test-00000-of-00002.parquet`, `<config>/test/0000.parquet`). The subset of a
  file is the split in its name (`test-00000-of-00002` -> `test`), else its folder's name
  for numbered shards (`test/0000.parquet` -> `test`), else the file's name.
- `Dataset.save_to_disk`: a folder with `state.json` and its `data-*.arrow` files (one subset,
  named by the state's split or the folder); `DatasetDict.save_to_disk`: `dataset_dict.json`
  with one such folder per split.
Subsets: `test` when present, else every one found.

Columns are mapped by options, with the Open ASR Leaderboard's names as defaults: `audio` (an
Audio struct {bytes, path} or {array, sampling_rate}, or plain bytes or a path), `text`,
`id`; `speaker_column` (default: the first of speaker_id/speaker/client_id present) and
`meta_columns` (default: every other scalar column). Rows whose text is one of `skip_texts`
(default the leaderboard's "ignore time segment in scoring") are left out, as it does.

Listing reads only the text columns, batch by batch; an utterance's audio stays in its row
(core/arrow_rows.py reads it when the utterance is opened), so memory does not grow with
the audio. Needs pyarrow (`pip install -e '.[parquet]'`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import Field

from spectragram_bench.core.audio_source import AudioSource
from spectragram_bench.core.errors import DatasetError
from spectragram_bench.core.records import DatasetInfo, UtteranceRecord
from spectragram_bench.datasets.base import Dataset, LoaderOptions

try:
    import pyarrow as pa
    import pyarrow.parquet as pq
except ImportError as exc:  # the registry turns this into one line naming the package
    raise ImportError(f"{exc}; hf_dataset reads parquet/arrow with pyarrow: pip install -e '.[parquet]'") from exc

from spectragram_bench.core.arrow_rows import open_arrow_table

NAME = "hf_dataset"
LEADERBOARD_SKIP = "ignore time segment in scoring"
SPEAKER_COLUMNS = ("speaker_id", "speaker", "client_id")
_SHARD = re.compile(r"^(?P<split>.+?)-\d{5}-of-\d{5}(-[0-9a-f]+)?$")
BATCH_ROWS = 2048


class HfDatasetOptions(LoaderOptions):
    audio_column: str = "audio"
    text_column: str = "text"
    id_column: str = Field("id", description="utterance ids; without this column: <subset>-<row number>")
    speaker_column: str | None = None
    meta_columns: list[str] | None = None
    skip_texts: list[str] = Field(default_factory=lambda: [LEADERBOARD_SKIP])


def split_of(path: Path) -> str:
    m = _SHARD.match(path.stem)
    if m:
        return m.group("split")
    if path.stem.isdigit():
        return path.parent.name
    return path.stem


def _state_files(folder: Path) -> list[Path]:
    state = json.loads((folder / "state.json").read_text())
    return [folder / f["filename"] for f in state.get("_data_files", [])]


def find_files(root: Path) -> dict[str, list[Path]]:
    """subset -> its parquet/arrow files, in order."""
    if root.is_file():
        if root.suffix.lower() not in (".parquet", ".arrow"):
            raise DatasetError(f"dataset {NAME!r}: {root} is neither a .parquet nor an .arrow file")
        return {split_of(root): [root]}
    try:
        if (root / "dataset_dict.json").is_file():
            splits = json.loads((root / "dataset_dict.json").read_text()).get("splits", [])
            return {s: _state_files(root / s) for s in splits if (root / s / "state.json").is_file()}
        if (root / "state.json").is_file():
            state = json.loads((root / "state.json").read_text())
            return {state.get("_split") or root.name: _state_files(root)}
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise DatasetError(f"dataset {NAME!r}: unreadable save_to_disk metadata under {root}: {exc}") from None
    files: dict[str, list[Path]] = {}
    for path in sorted(root.rglob("*.parquet")) or sorted(root.rglob("*.arrow")):
        files.setdefault(split_of(path), []).append(path)
    return files


def schema_of(path: Path) -> pa.Schema:
    if path.suffix.lower() == ".parquet":
        return pq.read_schema(path)
    return open_arrow_table(str(path)).schema


def batches(path: Path, columns: list[str]) -> Iterator[dict[str, list[Any]]]:
    """The columns of `path`, a batch at a time (nested fields as `audio.path` work too)."""
    if path.suffix.lower() == ".parquet":
        for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS, columns=columns, use_threads=False):
            yield batch.to_pydict()
    else:
        for batch in open_arrow_table(str(path)).select(columns).to_batches(BATCH_ROWS):
            yield batch.to_pydict()


def _scalar(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)


class HfDataset(Dataset):
    options_model = HfDatasetOptions
    name = NAME

    def __init__(self, root, subsets, options) -> None:
        super().__init__(root, subsets, options)
        self.files = {s: fs for s, fs in find_files(self.root).items() if fs}
        if not self.files:
            raise DatasetError(
                f"dataset {NAME!r}: no parquet files, save_to_disk folder (state.json) or dataset_dict.json under {self.root}"
            )
        self.selected = self.select_subsets(self.files, ["test"] if "test" in self.files else [])
        self.columns = {s: self._check_columns(self.files[s][0]) for s in self.selected}

    def _check_columns(self, path: Path) -> dict[str, Any]:
        """Which columns to read from files like `path`; a missing required one is fatal."""
        try:
            schema = schema_of(path)
        except (OSError, ValueError) as exc:
            raise DatasetError(f"dataset {NAME!r}: cannot read {path}: {exc}") from None
        names = schema.names
        o = self.opts
        for option, column in (("audio_column", o.audio_column), ("text_column", o.text_column)):
            if column not in names:
                raise DatasetError(f"{path}: no column {column!r} (options.{option}); columns: {names}")
        explicit = set(self.options)
        for option in ("id_column", "speaker_column"):
            column = getattr(o, option)
            if option in explicit and column is not None and column not in names:
                raise DatasetError(f"{path}: no column {column!r} (options.{option}); columns: {names}")
        speaker = o.speaker_column or next((c for c in SPEAKER_COLUMNS if c in names), None)
        taken = {o.audio_column, o.text_column, o.id_column, speaker}
        if o.meta_columns is not None:
            absent = [c for c in o.meta_columns if c not in names]
            if absent:
                raise DatasetError(f"{path}: no column(s) {absent} (options.meta_columns); columns: {names}")
            meta = list(o.meta_columns)
        else:
            meta = [f.name for f in schema if f.name not in taken and _scalar(f.type)]
        return {"id": o.id_column if o.id_column in names else None, "speaker": speaker, "meta": meta}

    def info(self) -> DatasetInfo:
        """The checksum covers the ids and texts of every selected file, each named by its path."""
        digest = hashlib.sha256()
        for subset in self.selected:
            cols = self.columns[subset]
            read = [self.opts.text_column] + ([cols["id"]] if cols["id"] else [])
            for path in self.files[subset]:
                digest.update(path.relative_to(self.root if self.root.is_dir() else self.root.parent).as_posix().encode())
                for batch in batches(path, read):
                    for column in read:
                        digest.update("\x00".join(str(v) for v in batch[column]).encode())
        return self.describe(digest.hexdigest(), self.opts.license)

    def utterances(self) -> Iterator[UtteranceRecord]:
        skip = {t.strip() for t in self.opts.skip_texts}
        for subset in self.selected:
            cols = self.columns[subset]
            read = [self.opts.text_column] + [c for c in (cols["id"], cols["speaker"]) if c] + cols["meta"]
            number = 0
            for path in self.files[subset]:
                file_path = str(path)  # one string shared by every row of the file
                row = 0
                for batch in batches(path, list(dict.fromkeys(read))):
                    for i in range(len(batch[self.opts.text_column])):
                        text = batch[self.opts.text_column][i]
                        rec_row, row, number = row, row + 1, number + 1
                        if isinstance(text, str) and text.strip() in skip:
                            continue
                        yield self._record(subset, file_path, rec_row, number, text, batch, i, cols)

    def _record(self, subset, file_path, row, number, text, batch, i, cols) -> UtteranceRecord:
        ext = batch[cols["id"]][i] if cols["id"] else None
        speaker = batch[cols["speaker"]][i] if cols["speaker"] else None
        meta = {c: batch[c][i] for c in cols["meta"] if batch[c][i] is not None}
        where = f"{file_path} row {row}"
        if not isinstance(text, str):
            meta["load_error"] = f"{where}: transcript is {type(text).__name__}, not text"
        elif not text.strip():
            meta["load_error"] = f"{where}: empty transcript"
        return UtteranceRecord(
            external_id=str(ext) if ext not in (None, "") else f"{subset}-{number:07d}",
            audio_path=file_path,
            ref_text=text.strip() if isinstance(text, str) else "",
            subset=subset,
            speaker=str(speaker) if speaker not in (None, "") else None,
            meta=meta,
            source=AudioSource("parquet" if file_path.endswith(".parquet") else "arrow", file_path, row=row,
                               column=self.opts.audio_column),
            language=self.opts.language,
        )
