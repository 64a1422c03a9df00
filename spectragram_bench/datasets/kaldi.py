"""Kaldi data directories: `text` and `wav.scp`, optionally `segments`, `utt2spk`, `spk2gender`.

`root` is one data directory (a single subset named after it) or a folder of them (e.g.
`data/` holding `test/` and `dev/`; `subsets` picks some). wav.scp must hold plain file
paths; relative ones are resolved against `options.base_dir` (itself relative to the data
directory; default: the data directory). A piped command or an ark offset in wav.scp is that
utterance's recorded error: convert such entries to files first.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pydantic import Field

from spectragram_bench.core.errors import DatasetError
from spectragram_bench.core.records import DatasetInfo, UtteranceRecord
from spectragram_bench.datasets.base import Dataset, LoaderOptions, checksum_files
from spectragram_bench.datasets.textlines import read_lines

REQUIRED = ("text", "wav.scp")
OPTIONAL = ("segments", "utt2spk", "spk2gender")


def _is_data_dir(p: Path) -> bool:
    return all((p / f).is_file() for f in REQUIRED)


def read_table(path: Path) -> dict[str, tuple[str, str | None, str]]:
    """`key value...` lines as key -> (value, decoding error, `file:line`); absent file -> {}."""
    table: dict[str, tuple[str, str | None, str]] = {}
    if not path.is_file():
        return table
    for lineno, line, error in read_lines(path):
        if not line.strip():
            continue
        key, _, value = line.strip().partition(" ")
        if key in table:
            raise DatasetError(f"{path}:{lineno}: {key!r} listed twice (first at {table[key][2]})")
        table[key] = (value.strip(), error, f"{path}:{lineno}")
    return table


class KaldiOptions(LoaderOptions):
    base_dir: str = Field(".", description="where relative wav.scp paths start, relative to the data dir")


class KaldiDataDir(Dataset):
    options_model = KaldiOptions
    name = "kaldi"

    def __init__(self, root, subsets, options) -> None:
        super().__init__(root, subsets, options)
        if _is_data_dir(self.root):
            self.dirs = {self.root.name: self.root}
        else:
            self.dirs = {p.name: p for p in sorted(self.root.iterdir()) if p.is_dir() and _is_data_dir(p)}
            if not self.dirs:
                raise DatasetError(f"dataset 'kaldi': {self.root} is not a data directory (needs text and wav.scp) nor holds any")
        self.selected = self.select_subsets(self.dirs)

    def info(self) -> DatasetInfo:
        """The checksum covers every data directory under root, whichever are selected; files are
        named `<data dir>/<file>` (a root that is itself a data directory is named after it)."""
        files = [
            self.dirs[subset] / f
            for subset in sorted(self.dirs)
            for f in REQUIRED + OPTIONAL
            if (self.dirs[subset] / f).is_file()
        ]
        holder = next(iter(self.dirs.values())).parent  # the folder holding the data directories
        return self.describe(checksum_files(holder, files), self.options.get("license"))

    def utterances(self) -> Iterator[UtteranceRecord]:
        for subset in self.selected:
            yield from self._read_dir(subset, self.dirs[subset])

    def _read_dir(self, subset: str, data_dir: Path) -> Iterator[UtteranceRecord]:
        base = data_dir / str(self.options.get("base_dir", "."))
        text = read_table(data_dir / "text")
        wavs = read_table(data_dir / "wav.scp")
        segments = read_table(data_dir / "segments")
        utt2spk = read_table(data_dir / "utt2spk")
        genders = read_table(data_dir / "spk2gender")
        for utt, (words, error, where) in text.items():
            problems = [error] if error else []
            if not words:
                problems.append(f"{where}: empty transcript for {utt}")
            offset, segment, rec = 0.0, None, utt
            if segments:
                if utt not in segments:
                    problems.append(f"{data_dir / 'segments'}: no entry for {utt}")
                else:
                    seg, _, seg_where = segments[utt]
                    parts = seg.split()
                    try:
                        rec, start, end = parts[0], float(parts[1]), float(parts[2])
                        offset, segment = start, end - start
                        if segment <= 0:
                            problems.append(f"{seg_where}: segment end {end} is not after start {start}")
                    except (IndexError, ValueError):
                        problems.append(f"{seg_where}: expected '<utt> <recording> <start> <end>'")
            audio = ""
            if rec not in wavs:
                problems.append(f"{data_dir / 'wav.scp'}: no entry for recording {rec}")
            else:
                entry, _, wav_where = wavs[rec]
                if entry.endswith("|") or entry.startswith("ark") or ":" in Path(entry).name:
                    problems.append(f"{wav_where}: piped or ark entries are not supported; list plain audio files")
                else:
                    p = Path(entry).expanduser()
                    audio = str(p if p.is_absolute() else (base / p).resolve())
            speaker = utt2spk.get(utt, (None,))[0]
            meta = {"recording": rec}
            if speaker and speaker in genders:
                meta["gender"] = genders[speaker][0]
            if problems:
                meta["load_error"] = "; ".join(problems)
            yield UtteranceRecord(
                external_id=utt,
                audio_path=audio or str(data_dir / "wav.scp"),
                ref_text=words,
                subset=subset,
                duration_s=segment,
                speaker=speaker or None,
                offset_s=offset,
                segment_s=segment,
                meta=meta,
            )
