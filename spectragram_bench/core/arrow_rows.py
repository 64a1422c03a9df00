"""Random access to one row of a parquet or Arrow file, for audio that lives inside a dataset.

A Hugging Face copy keeps each clip's bytes in a row (parquet files, or the Arrow files that
`Dataset.save_to_disk` writes). Listing a dataset reads only its text columns; the audio of a
row is read here when that utterance is opened. Parquet is read one row group at a time (the
unit of its compression) and the last few row groups are kept, so opening the rows of a file in
order reads each group once; Arrow files are memory-mapped (nothing is copied until touched).
Memory is bounded by the cache sizes, not by the number of rows (bench/bench_dataset_memory.py).
"""

from __future__ import annotations

import bisect
import threading
from collections import OrderedDict
from typing import Any

from spectragram_bench.core.errors import AudioError

ROW_GROUPS_KEPT = 4
FILES_KEPT = 8
ARROW_FILE_MAGIC = b"ARROW1"


def import_pyarrow():
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError as exc:
        raise AudioError(
            "audio inside parquet/arrow rows needs pyarrow: pip install -e '.[parquet]'"
        ) from exc
    import pyarrow as pa

    return pa


def is_parquet(path: str) -> bool:
    return path.lower().endswith(".parquet")


def open_arrow_table(path: str):
    """The table of an Arrow IPC file (stream format as `save_to_disk` writes it, or file format),
    memory-mapped: zero-copy, pages are read when touched."""
    pa = import_pyarrow()
    source = pa.memory_map(path, "r")
    head = source.read(6)
    source.seek(0)
    reader = pa.ipc.open_file(source) if head == ARROW_FILE_MAGIC else pa.ipc.open_stream(source)
    return reader.read_all()


class _RowCache:
    """LRU caches of open parquet files, decoded row groups and mapped Arrow tables."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.parquet: OrderedDict[str, tuple[Any, list[int]]] = OrderedDict()  # path -> (ParquetFile, group starts)
        self.groups: OrderedDict[tuple[str, int, str], Any] = OrderedDict()  # (path, group, column) -> column chunk
        self.arrow: OrderedDict[str, Any] = OrderedDict()  # path -> Table

    @staticmethod
    def _keep(cache: OrderedDict, key: Any, value: Any, limit: int) -> None:
        cache[key] = value
        cache.move_to_end(key)
        while len(cache) > limit:
            cache.popitem(last=False)

    def _parquet_file(self, path: str) -> tuple[Any, list[int]]:
        if path in self.parquet:
            self.parquet.move_to_end(path)
            return self.parquet[path]
        import_pyarrow()
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        starts, total = [], 0
        for i in range(pf.metadata.num_row_groups):
            starts.append(total)
            total += pf.metadata.row_group(i).num_rows
        starts.append(total)
        self._keep(self.parquet, path, (pf, starts), FILES_KEPT)
        return pf, starts

    def value(self, path: str, row: int, column: str) -> Any:
        """The Python value of `column` in row `row` (0-based, over the whole file)."""
        with self.lock:
            if is_parquet(path):
                pf, starts = self._parquet_file(path)
                if not 0 <= row < starts[-1]:
                    raise AudioError(f"{path}: no row {row} (the file has {starts[-1]} rows)")
                group = bisect.bisect_right(starts, row) - 1
                key = (path, group, column)
                chunk = self.groups.get(key)
                if chunk is None:
                    # one column of one group: arrow's thread pool would not speed it up, and its
                    # per-thread allocations are what made memory grow with every group read
                    chunk = pf.read_row_group(group, columns=[column], use_threads=False).column(0)
                    self._keep(self.groups, key, chunk, ROW_GROUPS_KEPT)
                    import_pyarrow().default_memory_pool().release_unused()
                else:
                    self.groups.move_to_end(key)
                return chunk[row - starts[group]].as_py()
            table = self.arrow.get(path)
            if table is None:
                table = open_arrow_table(path)
                self._keep(self.arrow, path, table, FILES_KEPT)
            else:
                self.arrow.move_to_end(path)
            if not 0 <= row < table.num_rows:
                raise AudioError(f"{path}: no row {row} (the file has {table.num_rows} rows)")
            return table.column(column)[row].as_py()


_CACHE = _RowCache()


def row_value(path: str, row: int, column: str) -> Any:
    """One cell of a parquet/Arrow file. Raises AudioError naming the file for anything unreadable."""
    try:
        return _CACHE.value(path, row, column)
    except AudioError:
        raise
    except FileNotFoundError:
        raise AudioError(f"audio container not found: {path}") from None
    except (KeyError, ValueError, OSError) as exc:  # pyarrow's errors derive from these
        raise AudioError(f"cannot read column {column!r} of row {row} in {path}: {exc}") from None
