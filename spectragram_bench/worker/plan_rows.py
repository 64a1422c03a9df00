"""The utterances of a plan kept as arrays, not as one object per row.

A dataset may have hundreds of thousands of rows (a Hugging Face copy of a training split):
the plan streams each dataset, keeping per row only its selection rank (8 bytes) and, for
the selected rows, their duration and any problem the audio check found. The records
themselves are read again from the loader when they are needed (registration streams them
into the database in batches), which loaders allow: iteration is lazy, rerunnable and in a
stable order. Peak memory therefore grows by bytes per row, not by a record per row
(bench/bench_dataset_memory.py measures it).

Selection is the one datasets/selection.py describes: a rank from sha256(seed, dataset key,
external id), the lowest kept per subset and overall; the rank here is the digest's first
8 bytes (big-endian), which orders rows as the whole digest does unless two rows share
those 8 bytes (probability about n^2 / 2^65).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from itertools import islice
from typing import Any

import numpy as np

from spectragram_bench.core.audio_source import AudioSource
from spectragram_bench.core.config import DatasetConfig
from spectragram_bench.core.errors import BenchError
from spectragram_bench.core.records import UtteranceRecord
from spectragram_bench.core.storable import storable_record
from spectragram_bench.datasets.base import Dataset
from spectragram_bench.datasets.selection import rank as selection_rank
from spectragram_bench.worker import scan_cache
from spectragram_bench.worker.probes import Prober
from spectragram_bench.worker.scan_cache import ScanCache

INSPECT_BATCH = 2048


def rank64(seed: int, key: str) -> int:
    return int.from_bytes(selection_rank(seed, key)[:8], "big")


@dataclass
class DatasetRows:
    """One dataset's rows in a plan: which are selected, and what checking their audio found."""

    index: int
    config: DatasetConfig
    dataset: Dataset
    ranks: np.ndarray  # uint64 per loader row
    subsets: np.ndarray  # int32 per loader row: index into subset_names
    subset_names: list[str]
    selected: np.ndarray | None = None  # bool per loader row
    durations: np.ndarray | None = None  # float64 per selected row (nan: unknown)
    problems: dict[int, str] = field(default_factory=dict)  # selected position -> the audio check's error
    threshold: float | None = None  # long-form: recordings longer than this go to <subset>-longform
    variants: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)  # (spec, runtime)
    scan: bytes | None = None  # the rows' planning columns (worker/scan_cache.py), when the loader allows it

    @property
    def key(self) -> str:
        return f"{self.index}:{self.config.name}"

    @property
    def n_selected(self) -> int:
        return int(self.selected.sum()) if self.selected is not None else 0

    def loader_records(self) -> Iterator[UtteranceRecord]:
        """Every row as the loader gives it, made storable (a hostile id or a NUL: that row's input failure)."""
        return (storable_record(raw, self.config.name) for raw in self.dataset.utterances())

    def selected_records(self) -> Iterator[UtteranceRecord]:
        """The selected rows as the loader gives them (before the audio check)."""
        for i, rec in enumerate(self.loader_records()):
            if i < len(self.selected) and self.selected[i]:
                yield rec

    def records(self) -> Iterator[UtteranceRecord]:
        """The selected rows as checked: durations filled in, problems noted, long ones moved."""
        from spectragram_bench.worker.plan import mark_long_form

        for pos, rec in enumerate(self.selected_records()):
            problem = self.problems.get(pos)
            if problem is not None:
                rec = replace(rec, meta={**rec.meta, "load_error": problem})
            elif rec.duration_s is None and not np.isnan(self.durations[pos]):
                rec = replace(rec, duration_s=float(self.durations[pos]))
            yield mark_long_form(rec, self.threshold)


def scan(index: int, dc: DatasetConfig, ds: Dataset, seed: int, cache: ScanCache | None = None) -> DatasetRows:
    """Pass 1 over a dataset: each row's rank and subset, duplicates refused. With `cache`, an
    unchanged dataset's stored scan is read instead of the loader, and a fresh one is kept."""
    key = f"{index}:{dc.name}"
    keys = scan_cache.scan_keys(ds) if cache is not None else None
    stored = cache.load(keys[0]) if keys is not None else None
    ranks = array("Q")  # 8 bytes a row, not an int object each
    codes = array("i")
    names: dict[str, int] = {}
    prefix = f"{seed}\x00{key}"
    if stored is not None:
        same_draw = scan_cache.rank_of(stored) == prefix
        for drawn, ids, subsets in scan_cache.selection_columns(stored, with_ranks=same_draw):
            if drawn is not None:
                ranks.frombytes(drawn.astype(np.uint64).tobytes())
            else:
                ranks.extend(rank64(seed, f"{key}/{i}") for i in ids)
            codes.extend(names.setdefault(subset, len(names)) for subset in subsets)
    else:
        writer = scan_cache.ScanWriter(prefix) if keys is not None else None
        for raw in ds.utterances():
            rec = storable_record(raw, dc.name)
            ranks.append(rank64(seed, f"{key}/{rec.external_id}"))
            codes.append(names.setdefault(rec.subset, len(names)))
            if writer is not None:
                writer.add(rec, ranks[-1])
    rows = DatasetRows(index, dc, ds, np.frombuffer(ranks, dtype=np.uint64).copy(), np.frombuffer(codes, dtype=np.int32).copy(), list(names))
    _refuse_duplicates(rows)
    if stored is None and keys is not None:
        stored = writer.finish()
        if stored is not None:
            cache.store(keys, ds, writer.n_rows, stored)
    rows.scan = stored
    return rows


def _refuse_duplicates(rows: DatasetRows) -> None:
    """Equal ranks mean equal ids (or an 8-byte collision): name the id, reading the rows again."""
    ordered = np.sort(rows.ranks)
    twice = ordered[1:][ordered[1:] == ordered[:-1]]
    if not len(twice):
        return
    wanted = set(int(r) for r in twice)
    seen: set[str] = set()
    for rec, r in zip(rows.loader_records(), rows.ranks.tolist(), strict=False):
        if r in wanted:
            if rec.external_id in seen:
                dc = rows.config
                raise BenchError(f"dataset {dc.name!r} at {dc.root}: duplicate utterance id {rec.external_id!r}")
            seen.add(rec.external_id)


def select(all_rows: list[DatasetRows], *, max_per_subset: int | None, max_utt: int | None) -> None:
    """Set each dataset's `selected`: the lowest ranks per (dataset, subset) and overall."""
    for rows in all_rows:
        rows.selected = np.ones(len(rows.ranks), dtype=bool) if max_per_subset is None and max_utt is None \
            else np.zeros(len(rows.ranks), dtype=bool)
    if max_per_subset is None and max_utt is None:
        return
    ranks = np.concatenate([r.ranks for r in all_rows]) if all_rows else np.zeros(0, np.uint64)
    owner = np.concatenate([np.full(len(r.ranks), k, dtype=np.int32) for k, r in enumerate(all_rows)])
    local = np.concatenate([np.arange(len(r.ranks)) for r in all_rows])
    subset = np.concatenate([r.subsets.astype(np.int64) + (k << 32) for k, r in enumerate(all_rows)])
    order = np.argsort(ranks, kind="stable")
    if max_per_subset is None:  # the lowest max_utt ranks overall
        for i in order[:max_utt].tolist():
            all_rows[int(owner[i])].selected[int(local[i])] = True
        return
    counts: dict[int, int] = {}
    kept = 0
    for i in order.tolist():
        s = int(subset[i])
        if max_per_subset is not None and counts.get(s, 0) >= max_per_subset:
            continue
        counts[s] = counts.get(s, 0) + 1
        all_rows[int(owner[i])].selected[int(local[i])] = True
        kept += 1
        if max_utt is not None and kept >= max_utt:
            break


def inspect(rows: DatasetRows, prober: Prober, threshold: float | None) -> None:
    """Pass 2: probe each selected row's audio (worker/probes.py: stored probes of unchanged
    files, the rest decoded), keeping its duration and any problem found."""
    rows.durations = np.full(rows.n_selected, np.nan)
    rows.threshold = threshold
    pos = 0
    for batch in _inspect_batches(rows, prober):
        _check(rows, pos, batch, prober)
        pos += len(batch.errors)


@dataclass
class InspectBatch:
    """Selected rows to check: what the loader said (nan: not given) and what stored probes of
    unchanged files already answer (`known`; their rows need no source)."""

    source: Callable[[int], AudioSource]
    durations: np.ndarray
    segments: np.ndarray
    errors: list[str | None]  # the loader's own finding (a bad manifest row): never sent either
    known: np.ndarray  # bool
    known_durations: np.ndarray
    known_errors: dict[int, str]


def _check(rows: DatasetRows, pos: int, batch: InspectBatch, prober: Prober) -> None:
    """The batch's durations and problems into `rows`: the loader's duration, else the segment's,
    else the probe's; a probe's error is the utterance's problem."""
    todo = [i for i, e in enumerate(batch.errors) if e is None and not batch.known[i]]
    found = batch.known_durations.copy()
    failed = dict(batch.known_errors)
    for i, p in zip(todo, prober([batch.source(i) for i in todo]), strict=True):
        found[i] = np.nan if p.duration_s is None else p.duration_s
        if p.error is not None:
            failed[i] = p.error
    for i, e in enumerate(batch.errors):
        if e is not None:
            rows.problems[pos + i] = e
    for i, e in failed.items():
        rows.problems[pos + i] = e
    duration = np.where(np.isnan(batch.durations), np.where(np.isnan(batch.segments), found, batch.segments), batch.durations)
    ok = np.array([e is None and i not in failed for i, e in enumerate(batch.errors)], dtype=bool)
    at = np.flatnonzero(ok)
    rows.durations[pos + at] = duration[at]


def _floats(values: Sequence[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def _inspect_batches(rows: DatasetRows, prober: Prober) -> Iterator[InspectBatch]:
    """The selected rows in batches: from the scan's columns when it has them (with the stored
    probes of unchanged files), else from the loader."""
    if rows.scan is None:
        records = rows.selected_records()
        while batch := list(islice(records, INSPECT_BATCH)):
            n = len(batch)
            yield InspectBatch(
                lambda i, batch=batch: batch[i].audio, _floats([r.duration_s for r in batch]),
                _floats([r.segment_s for r in batch]), [_load_error(r) for r in batch],
                np.zeros(n, dtype=bool), np.full(n, np.nan), {},
            )
        return
    for cols in scan_cache.selected_rows(rows.scan, rows.selected):
        errors = cols["load_error"]
        keys = [k if e is None else None for k, e in zip(cols["probe_key"], errors, strict=True)]
        known, known_durations, known_errors = prober.unchanged(keys, cols["path"])
        yield InspectBatch(
            lambda i, cols=cols: scan_cache.source_of(cols, i), _floats(cols["duration_s"]), _floats(cols["segment_s"]),
            errors, known, known_durations, known_errors,
        )


def _load_error(rec: UtteranceRecord) -> str | None:
    return str(rec.meta["load_error"]) if "load_error" in rec.meta else None
