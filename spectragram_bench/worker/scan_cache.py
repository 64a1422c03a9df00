"""A loader's rows as planning reads them, kept in the database between plans (`plan_scan`).

Planning reads a dataset twice: every row's id and subset for the seeded selection, then the
selected rows' audio sources to probe them (worker/plan_rows.py). Parsing the loader's
transcripts or manifests is most of a second plan's time at 10^5 rows, and it gives the same
rows while those files are unchanged. So for a loader that names the files its rows come from
(`Dataset.scan_inputs`), the first scan also writes the columns both passes need (COLUMNS) as
one compressed stream, keyed by the loader, its root, subsets and options and each
input file's size and mtime; the next plan of the unchanged dataset (a rerun, a resume, a dry
run) reads those columns instead. An edited transcript changes the key: the loader is read
again and the new scan replaces the old one. Records themselves (texts, meta) are still read
from the loader when they are registered, so nothing here decides what is stored about an
utterance. The audio files are not covered: their probes are (worker/probes.py).

The stream is plain bytes, not Arrow: batches of BATCH rows, each column of a batch zlib-
compressed on its own (ranks as uint64, the rest as JSON lists, so None and any string keep
exactly), so the selection pass decompresses only ranks and subsets. Writing it with Arrow
cost 40 MB of peak RSS at 10^5 rows (its buffers, and the import), more than the whole scan.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import struct
import time
import zlib
from collections.abc import Iterator
from typing import Any

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.exc import SQLAlchemyError

from spectragram_bench.core.audio_source import AudioSource
from spectragram_bench.core.models import PlanScan
from spectragram_bench.core.persistence import Database
from spectragram_bench.core.records import UtteranceRecord
from spectragram_bench.datasets.base import Dataset
from spectragram_bench.worker.probes import key_of

log = logging.getLogger(__name__)

#: bump when COLUMNS, the layout or what a column means changes: older scans then never match
VERSION = 3
COLUMNS = (
    "external_id", "subset", "rank", "source_type", "path", "offset_s", "segment_s",
    "row", "column", "duration_s", "load_error",
)
BATCH = 8192
MAGIC = b"SGSCAN2\n"
_LEN = struct.Struct(">I")


def _ident(ds: Dataset) -> dict[str, Any]:
    cls = type(ds)
    return {
        "version": VERSION, "loader": f"{cls.__module__}.{cls.__qualname__}", "name": ds.name,
        "root": str(ds.root.resolve()), "subsets": list(ds.selected), "options": ds.options,
    }


def scan_keys(ds: Dataset) -> tuple[str, str] | None:
    """(scan key, ident) for the loader's rows now, or None when the loader does not name its
    inputs (it is then read every time). A missing input file is part of the key too."""
    inputs = ds.scan_inputs()
    if inputs is None:
        return None
    ident = _ident(ds)
    states = []
    for path in inputs:
        try:
            st = os.stat(path)
            states.append((str(path), st.st_size, st.st_mtime_ns))
        except OSError:
            states.append((str(path), None, None))
    as_json = lambda v: json.dumps(v, sort_keys=True, default=str).encode()  # noqa: E731
    return hashlib.sha256(as_json([ident, states])).hexdigest(), hashlib.sha256(as_json(ident)).hexdigest()


class ScanWriter:
    """Collects the COLUMNS of a loader's records, in batches, into one compressed stream."""

    def __init__(self, rank_of: str) -> None:
        self.rank_of = rank_of  # the seed and dataset key the ranks were drawn with
        self.batches: list[dict[str, Any]] = []  # per batch: rows and each column's compressed length
        self.parts: list[bytes] = []
        self.columns: dict[str, list] = {name: [] for name in COLUMNS}
        self.n_rows = 0
        self.ok = True  # False once a row cannot be kept (audio held in memory)

    def add(self, rec: UtteranceRecord, rank: int) -> None:
        if not self.ok:
            return
        src = rec.audio
        if src.type == "memory":
            self.ok = False
            return
        c = self.columns
        c["external_id"].append(rec.external_id)
        c["subset"].append(rec.subset)
        c["rank"].append(rank)
        c["source_type"].append(src.type)
        c["path"].append(src.path)
        c["offset_s"].append(src.offset_s)
        c["segment_s"].append(src.segment_s)
        c["row"].append(src.row)
        c["column"].append(src.column)
        c["duration_s"].append(rec.duration_s)
        c["load_error"].append(str(rec.meta["load_error"]) if "load_error" in rec.meta else None)
        self.n_rows += 1
        if len(c["external_id"]) >= BATCH:
            self._flush()

    def _flush(self) -> None:
        c = self.columns
        if not c["external_id"]:
            return
        lengths = []
        for name in COLUMNS:
            raw = np.asarray(c[name], dtype=np.uint64).tobytes() if name == "rank" else json.dumps(c[name]).encode()
            part = zlib.compress(raw, 1)
            self.parts.append(part)
            lengths.append(len(part))
        self.batches.append({"n": len(c["external_id"]), "lengths": lengths})
        self.columns = {name: [] for name in COLUMNS}

    def finish(self) -> bytes | None:
        """The stream, or None when a row could not be kept."""
        self._flush()
        if not self.ok:
            return None
        header = json.dumps({"rank_of": self.rank_of, "columns": COLUMNS, "batches": self.batches}).encode()
        parts, self.parts = self.parts, []  # not held twice
        return b"".join([MAGIC, _LEN.pack(len(header)), header, *parts])


class _Batch:
    """One stored batch: its row count and columns, each decompressed when first asked for."""

    def __init__(self, data: memoryview, n: int, spans: dict[str, tuple[int, int]]) -> None:
        self.data, self.num_rows, self.spans = data, n, spans

    def column(self, name: str) -> Any:
        start, end = self.spans[name]
        raw = zlib.decompress(self.data[start:end])
        return np.frombuffer(raw, dtype=np.uint64) if name == "rank" else json.loads(raw)


def _header(data: bytes) -> tuple[dict[str, Any], int]:
    if not data.startswith(MAGIC):
        raise ValueError("not a plan scan of this version")
    (size,) = _LEN.unpack_from(data, len(MAGIC))
    start = len(MAGIC) + _LEN.size
    return json.loads(data[start:start + size]), start + size


def batches(data: bytes) -> Iterator[_Batch]:
    """The stored batches of up to BATCH rows, in the loader's order."""
    header, offset = _header(data)
    view = memoryview(data)
    for b in header["batches"]:
        spans = {}
        for name, length in zip(header["columns"], b["lengths"], strict=True):
            spans[name] = (offset, offset + length)
            offset += length
        yield _Batch(view, b["n"], spans)


def _unreadable(data: bytes) -> str | None:
    """Why `data` is not a whole scan of this version, or None: every column decompressed once
    and its length checked (1.4 MB at 10^5 rows: tens of ms)."""
    try:
        for b in batches(data):
            for name in COLUMNS:
                if len(b.column(name)) != b.num_rows:
                    return f"column {name} has the wrong length"
    except (ValueError, KeyError, TypeError, zlib.error, struct.error) as exc:
        return str(exc) or type(exc).__name__
    return None


def rank_of(data: bytes) -> str | None:
    """The seed and dataset key the stored ranks were drawn with."""
    return _header(data)[0].get("rank_of")


def selection_columns(data: bytes, with_ranks: bool) -> Iterator[tuple[np.ndarray | None, list[str] | None, list[str]]]:
    """(ranks or None, external ids or None, subsets) per batch: all the selection needs (the ids
    only when the stored ranks were drawn with another seed or key)."""
    for b in batches(data):
        subsets = b.column("subset")
        if with_ranks:
            yield b.column("rank"), None, subsets
        else:
            yield None, b.column("external_id"), subsets


def selected_rows(data: bytes, selected: np.ndarray) -> Iterator[dict[str, list]]:
    """The selected rows' columns for planning's audio check, a batch at a time, with each row's
    probe key (figured from its source again: stored, those hashes were most of the scan)."""
    offset = 0
    for b in batches(data):
        take = np.flatnonzero(selected[offset:offset + b.num_rows]).tolist()
        offset += b.num_rows
        if take:
            cols = {name: _take(b.column(name), take) for name in COLUMNS}
            cols["probe_key"] = [  # probes.probe_key, without building each source
                key_of(*ident) if ident[1] else None
                for ident in zip(cols["source_type"], cols["path"], cols["row"], cols["column"], cols["offset_s"], cols["segment_s"],
                                 strict=True)
            ]
            yield cols


def _take(values: Any, take: list[int]) -> list:
    if len(take) == len(values):
        return values.tolist() if isinstance(values, np.ndarray) else values
    return [values[i] for i in take] if not isinstance(values, np.ndarray) else values[take].tolist()


def source_of(cols: dict[str, list], i: int) -> AudioSource:
    """Row `i` of selected_rows' columns as its audio source."""
    return AudioSource(cols["source_type"][i], cols["path"][i], cols["offset_s"][i], cols["segment_s"][i],
                       cols["row"][i], cols["column"][i])


class ScanCache:
    """The `plan_scan` rows of one database; `writable` False (a dry run) only reads them."""

    def __init__(self, db: Database, *, writable: bool = True) -> None:
        self.db = db
        self.writable = writable

    def load(self, key: str) -> bytes | None:
        """The stored scan, or None (then the loader is read): none stored, or one that does not
        read back whole (a damaged row is a cache miss with a warning, never a failed plan)."""
        try:
            with self.db.engine.connect() as conn:
                data = conn.execute(select(PlanScan.data).where(PlanScan.scan_key == key)).scalar_one_or_none()
        except SQLAlchemyError as exc:  # an old database without the table (a dry run does not migrate)
            log.debug("plan scans not read (%s): reading the loader", exc)
            return None
        if data is not None and (problem := _unreadable(data)) is not None:
            log.warning("plan scan %s in the database is unreadable (%s): reading the dataset's files instead", key[:12], problem)
            return None
        return data

    def store(self, keys: tuple[str, str], ds: Dataset, n_rows: int, data: bytes) -> None:
        """Keep this scan, replacing any earlier one of the same loader, root, subsets and options."""
        if not self.writable:
            return
        key, ident = keys
        try:
            with self.db.begin() as conn:
                conn.execute(delete(PlanScan).where((PlanScan.ident == ident) | (PlanScan.scan_key == key)))
                conn.execute(PlanScan.__table__.insert().values(
                    scan_key=key, ident=ident, loader=ds.name, root=str(ds.root), n_rows=n_rows, data=data,
                    created_at=time.time(),
                ))
        except SQLAlchemyError as exc:  # a cache: losing it costs the next plan a loader read, nothing else
            log.warning("plan scan of dataset %r not kept: %s", ds.name, str(exc).splitlines()[0])
