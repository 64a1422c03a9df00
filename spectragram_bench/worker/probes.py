"""Probe once per content: what planning learns by decoding an utterance's audio (decodable, not
silent, its duration and sample rate), stored in `audio_probe` keyed by the source and checked
against the file's size and mtime.

Planning decodes every selected file once (0.4 ms each: 40 s at 100k utterances); with the
probes stored, a rerun, a resume or a dry run of a registered dataset only stats its files. A
file whose size or mtime changed is probed again, and planning says so in one line. A source
held in memory, or a file that cannot be stat-ed, is probed and not stored. First-time probing
runs in a bounded process pool (decoding is CPU-bound; threads share one core's GIL).

A row of a parquet/Arrow file is keyed by the file holding it (its row and column), so editing
the file probes its rows again.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from spectragram_bench.core.audio import check_audible
from spectragram_bench.core.audio_source import AudioSource
from spectragram_bench.core.errors import AudioError
from spectragram_bench.core.models import AudioProbe
from spectragram_bench.core.persistence import Database, insert_for

log = logging.getLogger(__name__)

#: below this many files to probe, decoding in-process beats starting a pool
POOL_MIN = 128
#: sources per task sent to a pool process
POOL_CHUNK = 64
#: at most this many processes (and never more than the machine's cores)
MAX_WORKERS = 8
#: keys per lookup statement (SQLite binds at most 32766 parameters, old builds 999)
LOOKUP_CHUNK = 500
#: a ProbeIndex row: size, mtime_ns, duration (nan: none), sample rate (-1: none), silent
INDEX_ROW = np.dtype([("size", "i8"), ("mtime_ns", "i8"), ("duration", "f8"), ("rate", "i8"), ("silent", "?")])


@dataclass(frozen=True, slots=True)
class Probe:
    """What decoding a source found; `error` is the utterance's input failure when it is set."""

    duration_s: float | None
    sample_rate: int | None
    error: str | None = None
    silent: bool = False

    @property
    def decodable(self) -> bool:
        return self.error is None or self.silent


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """Which source (`key`) in which state of its file (`size`, `mtime_ns`)."""

    key: str
    path: str
    size: int
    mtime_ns: int


def probe(source: AudioSource) -> Probe:
    """Decode `source` now: its duration and sample rate, or why it cannot be used."""
    try:
        clip = source.load()
    except AudioError as exc:
        return Probe(None, None, str(exc))
    try:
        check_audible(clip, source.label)
    except AudioError as exc:
        return Probe(clip.duration_s, clip.sample_rate, str(exc), silent=True)
    return Probe(clip.duration_s, clip.sample_rate)


def probe_many(sources: Sequence[AudioSource]) -> list[Probe]:
    """One pool task: a chunk of sources (one task per source would cost more than decoding)."""
    return [probe(s) for s in sources]


def probe_key(source: AudioSource) -> str | None:
    """The key a source's probe is stored under; None when it cannot be kept (memory, no file)."""
    if source.type == "memory" or not source.path:
        return None
    return key_of(source.type, source.path, source.row, source.column, source.offset_s, source.segment_s)


def key_of(kind: str, path: str, row: int | None, column: str, offset_s: float, segment_s: float | None) -> str:
    """probe_key from a source's fields (a plan scan's columns, without building the source)."""
    ident = (kind, path, row, column, offset_s, segment_s)
    return hashlib.sha256(repr(ident).encode("utf-8", "surrogatepass")).hexdigest()


def fingerprint(source: AudioSource) -> Fingerprint | None:
    """The source's identity and its file's state; None when it cannot be kept (memory, no file)."""
    key = probe_key(source)
    if key is None:
        return None
    try:
        st = os.stat(source.path)
    except OSError:
        return None  # probed (it says what is wrong) and not stored: the file may appear later
    return Fingerprint(key, source.path, st.st_size, st.st_mtime_ns)


def _prefixes(keys: np.ndarray) -> np.ndarray:
    """The first 8 bytes of each S64 key as big-endian integers (they sort as the keys do)."""
    return np.frombuffer(np.ascontiguousarray(keys).tobytes(), dtype=">u8").reshape(-1, 8)[:, 0].astype(np.uint64) \
        if len(keys) else np.zeros(0, np.uint64)


class ProbeIndex:
    """Every stored probe in sorted arrays, about 100 bytes a row: looked up a batch at a time
    with one searchsorted, instead of an IN-list statement per 500 keys (at 10^5 stored probes,
    one streamed scan takes a third of the time of the IN lists)."""

    def __init__(self, keys: np.ndarray, values: np.ndarray, errors: dict[int, str]) -> None:
        order = np.argsort(keys)
        self.prefixes = _prefixes(keys[order])  # the keys' first 8 bytes: searched as integers, then the whole key compared
        position = np.empty_like(order)
        position[order] = np.arange(len(order))  # where each read row ends up once sorted
        self.keys = keys[order]
        self.values = values[order]
        self.errors = {int(position[i]): e for i, e in errors.items()}

    @classmethod
    def read(cls, conn) -> ProbeIndex:
        """The whole table through the driver's own cursor (SQLAlchemy's row objects cost more
        than the read itself at this size); plain SQL, the same on SQLite and PostgreSQL."""
        cursor = conn.connection.dbapi_connection.cursor()
        keys: list[np.ndarray] = []
        values: list[np.ndarray] = []
        errors: dict[int, str] = {}
        n = 0
        try:
            cursor.execute("SELECT probe_key, size, mtime_ns, duration_s, sample_rate, error, silent FROM audio_probe")
            while part := cursor.fetchmany(10_000):
                keys.append(np.array([r[0] for r in part], dtype="S64"))
                values.append(np.array(
                    [(r[1], r[2], np.nan if r[3] is None else r[3], -1 if r[4] is None else r[4], bool(r[6])) for r in part],
                    dtype=INDEX_ROW,
                ))
                errors.update((n + i, r[5]) for i, r in enumerate(part) if r[5] is not None)
                n += len(part)
        finally:
            cursor.close()
        if not keys:
            return cls(np.zeros(0, "S64"), np.zeros(0, INDEX_ROW), {})
        return cls(np.concatenate(keys), np.concatenate(values), errors)

    def positions(self, keys: Sequence[str]) -> np.ndarray:
        """Each key's row in the index, -1 where it is not stored."""
        if not len(self.keys) or not len(keys):
            return np.full(len(keys), -1)
        wanted = np.array(keys, dtype="S64")
        at = np.minimum(np.searchsorted(self.prefixes, _prefixes(wanted)), len(self.keys) - 1)
        return np.where(self.keys[at] == wanted, at, -1)

    def probes(self, at: np.ndarray) -> list[Probe]:
        """The probes at rows `at` (all stored)."""
        rows = self.values[at]
        errors = self.errors
        return [
            Probe(None if duration != duration else duration, None if rate < 0 else rate, errors.get(i), silent)
            for i, duration, rate, silent in zip(at.tolist(), rows["duration"].tolist(), rows["rate"].tolist(),
                                                 rows["silent"].tolist(), strict=True)
        ]

    def lookup(self, keys: Sequence[str]) -> dict[str, tuple[int, int, Probe]]:
        at = self.positions(keys)
        found = at >= 0
        at = at[found]
        rows = self.values[at]
        return {
            key: (size, mtime_ns, probe)
            for key, size, mtime_ns, probe in zip(np.asarray(keys, dtype=object)[found].tolist(), rows["size"].tolist(),
                                                  rows["mtime_ns"].tolist(), self.probes(at), strict=True)
        }


class ProbeStore:
    """The `audio_probe` rows of one database; `writable` False (a dry run) only reads them."""

    def __init__(self, db: Database, *, writable: bool = True) -> None:
        self.db = db
        self.writable = writable
        self.usable = True  # False once the table turned out missing (a dry run on an old database)
        self.index: ProbeIndex | None = None  # the whole table, once most of it is wanted (preload)

    def lookup(self, prints: Iterable[Fingerprint]) -> dict[str, tuple[int, int, Probe]]:
        """Stored probes by key: (size, mtime_ns, probe)."""
        keys = sorted({fp.key for fp in prints})
        if not self.usable or not keys:
            return {}
        if self.index is None and len(keys) > 4 * LOOKUP_CHUNK:
            self.preload(len(keys))
        if self.index is not None:
            return self.index.lookup(keys)
        t = AudioProbe.__table__.c
        columns = select(t.probe_key, t.size, t.mtime_ns, t.duration_s, t.sample_rate, t.error, t.silent)
        out: dict[str, tuple[int, int, Probe]] = {}
        try:
            with self.db.engine.connect() as conn:
                for start in range(0, len(keys), LOOKUP_CHUNK):
                    for key, size, mtime_ns, duration, rate, error, silent in conn.execute(
                        columns.where(t.probe_key.in_(keys[start:start + LOOKUP_CHUNK]))
                    ).all():
                        out[key] = (size, mtime_ns, Probe(duration, rate, error, bool(silent)))
        except SQLAlchemyError as exc:
            self._unusable(exc)
            out.clear()
        return out

    def preload(self, expected: int) -> None:
        """About to look up `expected` keys: when that is most of the table (a rerun of a large
        dataset), read the whole table once into a ProbeIndex instead of an IN list per batch."""
        if not self.usable or self.index is not None or expected <= 4 * LOOKUP_CHUNK:
            return
        try:
            with self.db.engine.connect() as conn:
                stored = conn.execute(select(func.count()).select_from(AudioProbe)).scalar_one()
                if stored <= 2 * expected:
                    self.index = ProbeIndex.read(conn)
        except SQLAlchemyError as exc:
            self._unusable(exc)

    def _unusable(self, exc: SQLAlchemyError) -> None:
        self.usable = False
        log.debug("audio probes not read (%s): probing every file", exc)

    def store(self, found: Sequence[tuple[Fingerprint, Probe]]) -> None:
        if not self.writable or not self.usable or not found:
            return
        now = time.time()
        rows = [
            {
                "probe_key": fp.key, "path": fp.path, "size": fp.size, "mtime_ns": fp.mtime_ns,
                "duration_s": p.duration_s, "sample_rate": p.sample_rate, "decodable": p.decodable,
                "silent": p.silent, "error": p.error, "probed_at": now,
            }
            for fp, p in {fp.key: (fp, p) for fp, p in found}.values()
        ]
        stmt = insert_for(self.db.dialect)(AudioProbe)
        stmt = stmt.on_conflict_do_update(
            index_elements=["probe_key"],
            set_={k: stmt.excluded[k] for k in rows[0] if k != "probe_key"},
        )
        with self.db.begin() as conn:
            conn.execute(stmt, rows)


class Prober:
    """Probes for batches of sources: stored ones where the file is unchanged, the rest decoded
    (in a process pool when there are many) and stored. Counts what it did for the plan's log line."""

    def __init__(self, store: ProbeStore | None = None, workers: int | None = None) -> None:
        self.store = store
        self.workers = max(1, min(MAX_WORKERS, workers or os.cpu_count() or 1))
        self._pool: Executor | None = None
        self.reused = 0
        self.probed = 0
        self.changed: list[str] = []

    def __call__(self, sources: Sequence[AudioSource]) -> list[Probe]:
        prints = [fingerprint(s) for s in sources]
        known = self.store.lookup(fp for fp in prints if fp is not None) if self.store is not None else {}
        out: list[Probe | None] = [None] * len(sources)
        todo: list[int] = []
        for i, fp in enumerate(prints):
            hit = known.get(fp.key) if fp is not None else None
            if hit is not None and hit[0] == fp.size and hit[1] == fp.mtime_ns:
                out[i] = hit[2]
                continue
            if hit is not None:
                self.changed.append(fp.path)
            todo.append(i)
        self.reused += len(sources) - len(todo)
        self.probed += len(todo)
        for i, p in zip(todo, self._probe([sources[i] for i in todo]), strict=True):
            out[i] = p
        if self.store is not None:
            self.store.store([(prints[i], out[i]) for i in todo if prints[i] is not None])
        return out  # type: ignore[return-value]

    def unchanged(self, keys: Sequence[str | None], paths: Sequence[str]) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
        """What the stored probes say of sources whose keys are already known (a plan scan's),
        where their files are unchanged, without building the sources: (answered, durations (nan:
        none), errors by position). The rest go through __call__ (it probes them and names the
        changed ones). Only with a preloaded index; otherwise nothing is answered."""
        n = len(keys)
        index = self.store.index if self.store is not None else None
        if index is None or not len(index.keys):
            return np.zeros(n, dtype=bool), np.full(n, np.nan), {}
        at = index.positions([k or "" for k in keys])
        state = np.full((n, 2), -1, dtype=np.int64)
        for i in np.flatnonzero(at >= 0).tolist():
            try:
                st = os.stat(paths[i])
            except OSError:
                continue
            state[i] = (st.st_size, st.st_mtime_ns)
        stored = index.values[np.maximum(at, 0)]
        hit = (at >= 0) & (stored["size"] == state[:, 0]) & (stored["mtime_ns"] == state[:, 1])
        durations = np.where(hit, stored["duration"], np.nan)
        errors = {i: index.errors[j] for i, j in zip(np.flatnonzero(hit).tolist(), at[hit].tolist(), strict=True) if j in index.errors}
        self.reused += int(hit.sum())
        return hit, durations, errors

    def _probe(self, sources: list[AudioSource]) -> list[Probe]:
        if len(sources) < POOL_MIN or self.workers == 1:
            return probe_many(sources)
        if self._pool is None:
            # fork: the children need nothing but this module, already imported (no re-import cost)
            method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context(method))
        chunks = [sources[i:i + POOL_CHUNK] for i in range(0, len(sources), POOL_CHUNK)]
        return [p for chunk in self._pool.map(probe_many, chunks) for p in chunk]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def report(self, what: str) -> None:
        """One line on the reuse; one line naming changed files, if any."""
        if self.changed:
            first = ", ".join(self.changed[:3]) + (f" and {len(self.changed) - 3} more" if len(self.changed) > 3 else "")
            log.warning("%s: %d audio file(s) changed since they were probed (size or mtime), probed again: %s",
                        what, len(self.changed), first)
        if self.reused or self.probed:
            log.info("%s: audio of %d utterance(s) known from earlier probes, %d probed now", what, self.reused, self.probed)


def dry_run_store(url: str) -> ProbeStore | None:
    """The probes of an existing database, read only (a dry run writes nothing, creates no file);
    None when there is no such database or it cannot be opened."""
    from sqlalchemy.engine import make_url

    from spectragram_bench.core.errors import BenchError
    from spectragram_bench.core.persistence import open_database

    try:
        parsed = make_url(url)
    except Exception:  # noqa: BLE001  (a bad URL is the run's error to report, not the dry run's)
        return None
    if parsed.get_backend_name() == "sqlite" and not (parsed.database and os.path.isfile(parsed.database)):
        return None
    try:
        return ProbeStore(open_database(url, upgrade=False), writable=False)
    except BenchError as exc:
        log.info("dry run without stored audio probes: %s", exc)
        return None
