"""The report's scored predictions without their texts, held as columns.

The plots, the error analysis and the report's sections read every prediction's status, counts,
alignment edits and latency numbers, after the utterance browser has used the texts. Kept as one
object per prediction (a dataclass, two tuples, two count objects and a dict of floats) they were
most of a 100k-utterance report's memory; here they are typed arrays, a few dozen bytes each,
and each is rebuilt as a ScoredPrediction when it is read (`for sp in preds`, `preds[i]`).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

import numpy as np

from spectragram_bench.core import metrics
from spectragram_bench.core.statuses import PredictionStatus
from spectragram_bench.reporting.alignment import HIT, Column
from spectragram_bench.reporting.predictions import LatencyKey, PredictionKey, ScoredPrediction

NAN = float("nan")


def _np(column: array, dtype) -> np.ndarray:
    """A copy (a view would stop the array from growing)."""
    return np.frombuffer(column, dtype).copy() if len(column) else np.zeros(0, dtype)


class _Counts:
    """ErrorCounts as four integer columns (and whether there are any: a failure has none)."""

    def __init__(self) -> None:
        self.present = array("b")
        self.cols = tuple(array("q") for _ in range(4))

    def append(self, c: metrics.ErrorCounts | None) -> None:
        h, s, d, i = self.cols  # spelled out: called twice per prediction
        self.present.append(c is not None)
        h.append(c.hits if c else 0)
        s.append(c.substitutions if c else 0)
        d.append(c.deletions if c else 0)
        i.append(c.insertions if c else 0)

    def get(self, i: int) -> metrics.ErrorCounts | None:
        if not self.present[i]:
            return None
        return metrics.ErrorCounts(*(col[i] for col in self.cols))


class SlimPredictions(Sequence[ScoredPrediction]):
    """What `slim` kept of each scored prediction, in columns; reads give ScoredPredictions
    with no utterance row, no hypothesis and only the alignment's edits."""

    def __init__(self) -> None:
        self._ids = array("q")
        self._runs = array("q")
        self._status = array("H")
        self._where = array("H")  # index into _wheres
        self._statuses: list[str] = []  # the status texts _status indexes
        self._wheres: list[tuple] = []  # (dataset, split, variant_json, eval_version, normalizer)
        self._where_index: dict[tuple, int] = {}
        self._timed = array("b")  # has a latency sample
        self._api_ms = array("d")
        self._numbers: dict[str, array] = {}  # latency meta number -> column (NaN where absent)
        self._words = _Counts()
        self._chars = _Counts()
        self._stored = array("b")
        self._aligned = array("b")  # had alignment columns (else edits are None)
        self._edits: dict[int, list[Column]] = {}  # only predictions with an edit

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, sp: ScoredPrediction) -> None:
        n = len(self._ids)
        p, lat = sp.prediction, sp.latency
        self._ids.append(p.prediction_id)
        self._runs.append(p.job_run_id)
        self._status.append(self._code(p.status))
        where = (sp.dataset, sp.split, sp.variant_json, sp.eval_version, sp.normalizer)
        # the variant's and normaliser's objects are shared by its predictions (and kept alive in _wheres)
        key = (sp.dataset, sp.split, id(sp.variant_json), sp.eval_version, id(sp.normalizer))
        if key not in self._where_index:
            self._where_index[key] = len(self._wheres)
            self._wheres.append(where)
        self._where.append(self._where_index[key])
        self._timed.append(lat is not None)
        api = lat.api_time_ms if lat is not None else None
        self._api_ms.append(NAN if api is None else float(api))
        found = 0
        for name, value in (lat.meta_json or {}).items() if lat is not None else ():
            # a latency meta's top-level numbers (ttft_ms, finalization_ms, audio_s, ...; no bools): its
            # attempt log, wire clocks and streaming timeline stay in the database
            if value.__class__ is float or value.__class__ is int:
                column = self._numbers.get(name)
                if column is None:
                    column = self._numbers[name] = array("d", [NAN]) * n
                column.append(value)
                found += 1
        if found != len(self._numbers):  # the numbers this meta lacks
            for column in self._numbers.values():
                if len(column) == n:
                    column.append(NAN)
        self._words.append(sp.words)
        self._chars.append(sp.chars)
        self._stored.append(sp.stored)
        self._aligned.append(sp.columns is not None)
        if sp.columns is not None and sp.words is not None and sp.words.errors:  # no errors: all hits
            edits = [c for c in sp.columns if c[0] != HIT]
            if edits:
                self._edits[n] = edits

    def _code(self, status: str) -> int:
        try:
            return self._statuses.index(status)
        except ValueError:
            self._statuses.append(status)
            return len(self._statuses) - 1

    def _get(self, i: int) -> ScoredPrediction:
        dataset, split, variant_json, eval_version, normalizer = self._wheres[self._where[i]]
        latency = None
        if self._timed[i]:
            api = self._api_ms[i]
            numbers = {k: col[i] for k, col in self._numbers.items() if not math.isnan(col[i])}
            latency = LatencyKey(None if math.isnan(api) else api, numbers)
        edits = self._edits.get(i, []) if self._aligned[i] else None
        return ScoredPrediction(
            PredictionKey(self._ids[i], self._runs[i], self._statuses[self._status[i]]), None, dataset, split,
            variant_json, latency, eval_version, normalizer, self._words.get(i), self._chars.get(i), edits,
            bool(self._stored[i]),
        )

    @overload
    def __getitem__(self, i: int) -> ScoredPrediction: ...
    @overload
    def __getitem__(self, i: slice) -> list[ScoredPrediction]: ...

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._get(k) for k in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self._get(i)

    def __iter__(self) -> Iterator[ScoredPrediction]:
        for i in range(len(self)):
            yield self._get(i)

    # -- columns, for the built-in sections (a pass over 100k rebuilt predictions costs seconds) --

    def job_runs(self) -> np.ndarray:
        return _np(self._runs, np.int64)

    def ok(self) -> np.ndarray:
        """Which predictions succeeded (sp.ok)."""
        return np.isin(_np(self._status, np.uint16), [i for i, s in enumerate(self._statuses) if s == PredictionStatus.OK])

    def wheres(self) -> tuple[np.ndarray, list[tuple]]:
        """Each prediction's index into the (dataset, split, variant_json, eval_version, normalizer) list."""
        return _np(self._where, np.uint16), self._wheres

    def latency(self, name: str = "api_time_ms") -> np.ndarray:
        """`api_time_ms`, or a number of the latency meta, per prediction (NaN where it has none)."""
        col = self._api_ms if name == "api_time_ms" else self._numbers.get(name)
        return _np(col, np.float64) if col is not None else np.full(len(self), np.nan)

    def normalizers(self) -> dict[int, Any]:
        """Each job run's normaliser, as its last prediction has it."""
        runs, (where, wheres) = self.job_runs(), self.wheres()
        out = {}
        for run in np.unique(runs):
            out[int(run)] = wheres[where[np.flatnonzero(runs == run)[-1]]][4]
        return out

    def edits(self) -> Iterator[tuple[int, list[Column]]]:
        """(job run, edits) of each prediction with an alignment edit, in order."""
        for i, cols in self._edits.items():
            yield self._runs[i], cols


def slimmed(stream: Iterable[ScoredPrediction], into: SlimPredictions) -> Iterator[ScoredPrediction]:
    """Pass `stream` on, keeping what the plots and sections read of each in `into` (one pass
    feeds the browser and the plots)."""
    for sp in stream:
        into.add(sp)
        yield sp
