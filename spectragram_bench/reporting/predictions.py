"""A benchmark's predictions with their per-utterance scores, for the report and the export.

Per-utterance counts are the ones the evaluation stored in utterance_value for the job run's
current eval version, so they sum to the leaderboard's numbers exactly. A job run without those
rows is rescored here through core.metrics with the normaliser its eval version names (only
when this install has that exact normaliser; see NormalizerChoice). Word alignments for display
are jiwer's, of the same normalised texts. Failed predictions carry no score: a failure is not
an empty transcript.
"""

from __future__ import annotations

import json
from collections import defaultdict, namedtuple
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from sqlalchemy import Connection, Text, case, cast, func, select
from sqlalchemy.orm import Session

from spectragram_bench.core import metrics
from spectragram_bench.core.errors import ConfigError
from spectragram_bench.core.models import (
    Dataset,
    DatasetVariant,
    JobRun,
    LatencySample,
    MetricSummary,
    Prediction,
    Utterance,
    UtteranceValue,
)
from spectragram_bench.core.normalize import NONE, Normalizer
from spectragram_bench.core.registry import NORMALIZERS
from spectragram_bench.core.statuses import PredictionStatus
from spectragram_bench.reporting.alignment import HIT, Column, align_words


@dataclass(frozen=True)
class NormalizerChoice:
    """The normaliser a job run's numbers were computed with, as far as this install can redo it."""

    stored_tag: str | None  # e.g. "basic@1", as metric_summary.normalizer says
    normalizer: Normalizer
    note: str | None = None  # set when the stored normaliser cannot be reproduced exactly
    steps: tuple[str, ...] = ()  # the steps the evaluation recorded (metric_summary.extra_json), if any

    @property
    def exact(self) -> bool:
        return self.note is None


def resolve_normalizer(stored_tag: str | None, steps: tuple[str, ...] = ()) -> NormalizerChoice:
    if not stored_tag:
        return NormalizerChoice(None, NONE, "no normaliser recorded; texts shown whitespace-split")
    name = stored_tag.rpartition("@")[0] or stored_tag
    try:
        found = NORMALIZERS.get(name)
    except ConfigError:
        return NormalizerChoice(stored_tag, NONE, f"normaliser {stored_tag} is not installed; texts shown whitespace-split", steps)
    if not isinstance(found, Normalizer) or found.tag != stored_tag:
        have = found.tag if isinstance(found, Normalizer) else name
        return NormalizerChoice(
            stored_tag, NONE, f"scores used {stored_tag} but this install has {have}; texts shown whitespace-split", steps
        )
    return NormalizerChoice(stored_tag, found, None, steps)


def _of_version(column, eval_version: str | None):
    """`column` is the job run's current eval version, or `eval_version` when one is asked for."""
    return column == (JobRun.eval_version if eval_version is None else eval_version)


def job_run_normalizers(
    session: Session, job_run_ids: list[int], eval_version: str | None = None
) -> dict[Any, NormalizerChoice]:
    """Each job run's normaliser, from the 'wer' rows of its current eval version (or `eval_version`),
    keyed by job run id and by (job run, dataset, variant): a dataset in another language may have
    used another (core/language.py)."""
    found: dict[Any, tuple[str | None, tuple[str, ...]]] = {i: (None, ()) for i in job_run_ids}
    q = (
        select(MetricSummary.job_run_id, MetricSummary.normalizer, MetricSummary.extra_json,
               MetricSummary.dataset_id, MetricSummary.variant_id)
        .join(JobRun, JobRun.job_run_id == MetricSummary.job_run_id)
        .where(
            MetricSummary.job_run_id.in_(job_run_ids), _of_version(MetricSummary.eval_version, eval_version),
            MetricSummary.metric == "wer",
        )
    )
    for jr_id, tag, extra, ds, var in session.execute(q):
        steps = (extra or {}).get("steps") if isinstance(extra, dict) else None
        found[(jr_id, ds, var)] = (tag, tuple(str(x) for x in steps) if isinstance(steps, list) else ())
        if found[jr_id][0] is None or (isinstance(extra, dict) and extra.get("language") in (None, "en")):
            found[jr_id] = found[(jr_id, ds, var)]
    return {jr_id: resolve_normalizer(tag, steps) for jr_id, (tag, steps) in found.items()}


@dataclass(slots=True)
class ScoredPrediction:
    """`prediction`, `utterance` and `latency` are plain rows of their tables (Core selects, read by
    attribute like the ORM objects, at a fraction of the cost); an utterance's row is shared by
    its job runs' predictions."""

    prediction: Any
    utterance: Any
    dataset: str
    split: str
    variant_json: dict[str, Any]
    latency: Any | None
    eval_version: str | None
    normalizer: NormalizerChoice
    words: metrics.ErrorCounts | None = None  # None when the prediction failed
    chars: metrics.ErrorCounts | None = None
    columns: list[Column] | None = None
    stored: bool = False  # counts read from utterance_value (else recomputed here)
    values: dict[str, float] = field(default_factory=dict)  # the stored per-utterance values beyond the counts

    @property
    def exact(self) -> bool:
        """The counts are the ones the eval version's numbers were summed from."""
        return self.stored or self.normalizer.exact

    @property
    def ok(self) -> bool:
        return self.prediction.status == PredictionStatus.OK

    @property
    def ttft_ms(self) -> float | None:
        meta = (self.latency.meta_json or {}) if self.latency is not None else {}
        value = meta.get("ttft_ms", meta.get("time_to_first_token_ms"))
        return float(value) if isinstance(value, int | float) else None


class PredictionKey(NamedTuple):
    """What a slim prediction keeps of its row."""

    prediction_id: int
    job_run_id: int
    status: str


class LatencyKey(NamedTuple):
    api_time_ms: float | None
    meta_json: dict[str, Any] | None


#: what the report reads of a prediction (the export reads whole rows)
REPORT_COLUMNS = ("prediction_id", "job_run_id", "utt_id", "status", "hyp_text", "error_kind", "error_text", "attempts")

# The rows as named tuples: a Row's attribute lookup costs ten times a tuple's (0.4 us), and a
# report reads a dozen attributes of each prediction and its utterance.
UtteranceRow = namedtuple("UtteranceRow", Utterance.__table__.c.keys())
ReportRow = namedtuple("ReportRow", (*REPORT_COLUMNS, "lat_id", "api_time_ms", "meta_json"))


def _with_latency(conn: Connection, runs: list[int], lo: int, hi: int, narrow: bool) -> Iterator[tuple[Any, Any]]:
    """(prediction, its latency sample or None) of utterances lo..hi, by utterance then job run.
    `narrow`: only REPORT_COLUMNS and the sample's api_time_ms and meta_json, in one joined
    query (each JSON column read is a decode per row, each dict of 100k rows a second)."""
    P, L = Prediction.__table__, LatencySample.__table__
    where = P.c.job_run_id.in_(runs) & P.c.utt_id.between(lo, hi)
    order = (P.c.utt_id, P.c.job_run_id)
    if narrow:
        q = (select(*(P.c[c] for c in REPORT_COLUMNS), L.c.lat_id, L.c.api_time_ms, L.c.meta_json)
             .outerjoin(L, (L.c.job_run_id == P.c.job_run_id) & (L.c.utt_id == P.c.utt_id)))
        for row in map(ReportRow._make, conn.execute(q.where(where).order_by(*order)).all()):
            yield row, (row if row.lat_id is not None else None)  # the row is its sample too (api_time_ms, meta_json)
        return
    lat_where = L.c.job_run_id.in_(runs) & L.c.utt_id.between(lo, hi)
    lats = {(r.job_run_id, r.utt_id): r for r in conn.execute(select(L).where(lat_where))}
    for p in conn.execute(select(P).where(where).order_by(*order)).all():
        yield p, lats.get((p.job_run_id, p.utt_id))


#: utterances scored per step of iter_scored_predictions
CHUNK_UTTS = 2000


def scored_predictions(
    session: Session, benchmark_id: int, *, align: bool = True, chars: bool = True, eval_version: str | None = None
) -> list[ScoredPrediction]:
    """Every prediction of the benchmark, scored per utterance; ordered by utterance, then job run."""
    return list(iter_scored_predictions(session, benchmark_id, align=align, chars=chars, eval_version=eval_version))


def iter_scored_predictions(
    session: Session, benchmark_id: int, *, align: bool = True, chars: bool = True, eval_version: str | None = None,
    chunk: int = CHUNK_UTTS, narrow: bool = False,
) -> Iterator[ScoredPrediction]:
    """scored_predictions, read and scored `chunk` utterances at a time (a range of utt_ids), so a
    caller that consumes them as they come holds one chunk, not the benchmark.

    `align` adds word alignment columns, `chars` character counts (each costs an alignment pass);
    `narrow` reads only the columns the report shows (_with_latency).
    Counts come from the stored per-utterance values where the evaluation wrote them; an
    utterance with no stored error gets its columns from its normalised reference alone.
    """
    runs = dict(
        session.execute(select(JobRun.job_run_id, JobRun.eval_version).where(JobRun.benchmark_id == benchmark_id)).all()
    )
    if not runs:
        return
    if eval_version is not None:
        runs = dict.fromkeys(runs, eval_version)
    normalizers = job_run_normalizers(session, list(runs), eval_version)
    variants = {
        vid: (dname, split, vjson or {})
        for vid, dname, split, vjson in session.execute(
            select(DatasetVariant.variant_id, Dataset.name, DatasetVariant.split, DatasetVariant.variant_json)
            .join(Dataset, Dataset.dataset_id == DatasetVariant.dataset_id)
        )
    }
    P = Prediction.__table__
    in_runs = P.c.job_run_id.in_(list(runs))
    ids = np.array(session.execute(select(P.c.utt_id).where(in_runs).distinct().order_by(P.c.utt_id)).scalars().all(), np.int64)
    conn = session.connection()
    for start in range(0, len(ids), chunk):
        lo, hi = int(ids[start]), int(ids[min(len(ids), start + chunk) - 1])
        fetched = _fetch_range(conn, lo, hi, list(runs), eval_version, narrow)
        yield from _score_range(fetched, runs, normalizers, variants, align=align, chars=chars)


class _Fetched(NamedTuple):
    """What the database holds of one range of utterances."""

    utts: dict[int, Any]
    predictions: list[tuple[Any, Any]]  # (prediction, latency sample or None)
    counts: dict[tuple[int, int], tuple[metrics.ErrorCounts, metrics.ErrorCounts]]
    values: dict[tuple[int, int], dict[str, float]]


def _fetch_range(conn: Connection, lo: int, hi: int, runs: list[int], eval_version: str | None, narrow: bool) -> _Fetched:
    """The rows of utterances lo..hi (utt_ids)."""
    utts = _utterances(conn, lo, hi)
    predictions = list(_with_latency(conn, runs, lo, hi, narrow))
    counts, values = stored_counts(conn, runs, eval_version, UtteranceValue.utt_id.between(lo, hi))
    return _Fetched(utts, predictions, counts, values)


_META = UtteranceRow._fields.index("meta_json")


def _utterances(conn: Connection, lo: int, hi: int) -> dict[int, Any]:
    """Utterances lo..hi by utt_id. Each distinct meta_json text is decoded once and its dict shared
    (read-only): a corpus repeats a few (LibriSpeech's speaker, chapter and subset)."""
    U = Utterance.__table__
    cols = (cast(c, Text).label(c.name) if c.name == "meta_json" else c for c in U.c)
    decoded: dict[str | None, Any] = {None: None}
    out = {}
    for row in conn.execute(select(*cols).where(U.c.utt_id.between(lo, hi))).all():
        text = row[_META]
        if text not in decoded:
            decoded[text] = json.loads(text)
        u = UtteranceRow(*row[:_META], decoded[text], *row[_META + 1:])
        out[u.utt_id] = u
    return out


def _score_range(
    fetched: _Fetched, runs: dict[int, str | None], normalizers: dict[Any, NormalizerChoice],
    variants: dict[int, tuple[str, str, dict[str, Any]]], *, align: bool, chars: bool,
) -> list[ScoredPrediction]:
    """The predictions of one range of utterances, scored."""
    utts, counts, stored = fetched.utts, fetched.counts, fetched.values
    out = []
    by_run: dict[tuple[int, str | None], list[ScoredPrediction]] = defaultdict(list)
    for p, lat in fetched.predictions:
        u, run = utts[p.utt_id], p.job_run_id
        dname, split, vjson = variants[u.variant_id]
        norm = normalizers.get((run, u.dataset_id, u.variant_id)) or normalizers[run]
        sp = ScoredPrediction(p, u, dname, split, vjson, lat, runs[run], norm, values=stored.get((run, u.utt_id), {}))
        out.append(sp)
        if sp.ok:
            by_run[(run, norm.stored_tag)].append(sp)
    for items in by_run.values():
        found = [counts.get((sp.prediction.job_run_id, sp.utterance.utt_id)) for sp in items]
        if all(f is not None for f in found):
            for sp, (w, c) in zip(items, found, strict=True):
                sp.words, sp.chars, sp.stored = w, c, True
        if not align and items[0].stored:
            continue
        norm = items[0].normalizer.normalizer
        if items[0].stored:  # exact counts: only utterances with an error need the hypothesis aligned
            for sp in items:
                if sp.words.errors == 0:
                    sp.columns = [(HIT, w, w) for w in norm(sp.utterance.ref_text).split()]
            items = [sp for sp in items if sp.columns is None]
        refs = [norm(sp.utterance.ref_text) for sp in items]
        hyps = [norm(sp.prediction.hyp_text or "") for sp in items]
        if items and not items[0].stored:
            words = metrics.word_counts(refs, hyps)
            char_errors = metrics.char_counts(refs, hyps) if chars else [None] * len(items)
            for sp, w, c in zip(items, words, char_errors, strict=True):
                sp.words, sp.chars = w, c
        if align:
            for sp, cols in zip(items, align_words(refs, hyps), strict=True):
                sp.columns = cols
    return out


WORD_VALUES = ("hits", "substitutions", "deletions", "insertions")
CHAR_VALUES = ("char_hits", "char_substitutions", "char_deletions", "char_insertions")


def stored_counts(
    conn: Connection, job_run_ids: list[int], eval_version: str | None, where: Any
) -> tuple[dict[tuple[int, int], tuple[metrics.ErrorCounts, metrics.ErrorCounts]], dict[tuple[int, int], dict[str, float]]]:
    """(the word and character counts, the other values) of each (job run, utterance) of
    stored_values: the counts gathered into one row per utterance in SQL (eight rows each were
    most of a report's reads), only where all eight are stored."""
    UV, names = UtteranceValue.__table__, WORD_VALUES + CHAR_VALUES
    q = (
        select(UV.c.job_run_id, UV.c.utt_id, *(func.max(case((UV.c.name == n, UV.c.value))) for n in names))
        .join(JobRun, (JobRun.job_run_id == UV.c.job_run_id) & _of_version(UV.c.eval_version, eval_version))
        .where(UV.c.job_run_id.in_(job_run_ids), UV.c.name.in_(names), where)
        .group_by(UV.c.job_run_id, UV.c.utt_id)
    )
    counts = {}
    made: dict[tuple, metrics.ErrorCounts] = {}  # equal counts share one (frozen) object: most utterances repeat a few

    def error_counts(v: tuple) -> metrics.ErrorCounts:
        found = made.get(v)
        if found is None:
            found = made[v] = metrics.ErrorCounts(*(int(x) for x in v))
        return found

    for row in conn.execute(q).all():
        if None not in row:
            counts[(row[0], row[1])] = (error_counts(row[2:6]), error_counts(row[6:]))
    return counts, stored_values(conn, job_run_ids, eval_version, UV.c.name.not_in(names) & where)


def stored_values(
    conn: Connection, job_run_ids: list[int], eval_version: str | None = None, where: Any = None
) -> dict[tuple[int, int], dict[str, float]]:
    """Every per-utterance value of each job run's current eval version (or `eval_version`), by
    (job run, utterance); `where` narrows it (a range of utterances)."""
    q = (
        select(UtteranceValue.job_run_id, UtteranceValue.utt_id, UtteranceValue.name, UtteranceValue.value)
        .join(JobRun, (JobRun.job_run_id == UtteranceValue.job_run_id) & _of_version(UtteranceValue.eval_version, eval_version))
        .where(UtteranceValue.job_run_id.in_(job_run_ids))
    )
    if where is not None:
        q = q.where(where)
    out: dict[tuple[int, int], dict[str, float]] = defaultdict(dict)
    # Core rows fetched at once: the ORM's, or one fetch per row, cost a second each at 800k rows
    for jr, utt, name, value in conn.execute(q).all():
        out[(jr, utt)][name] = value
    return out
