"""Export a benchmark's rows as CSV, Parquet or JSON Lines files, one file per table.

Column names and types are the schema's (core/models.py), so a pandas or polars user joins the
files exactly as they would join the tables. `prediction` gains the per-utterance scores of the
job run's current eval version, or of `eval_version` (hits, substitutions, deletions, insertions,
ref_words, char_errors, ref_chars: utterance_value's, else recomputed; empty for failed
predictions, and where neither utterance_value nor this install's normalisers give them
exactly): corpus WER is sum(substitutions + deletions + insertions) / sum(ref_words), as in
metric_summary. utterance_value has every per-utterance value of every metric, one row each.
JSON columns are JSON text in CSV and Parquet, nested objects in JSON Lines.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, Integer, select
from sqlalchemy.orm import Session

from spectragram_bench import __version__
from spectragram_bench.core.defaults import EXPORT_FORMATS as FORMATS  # noqa: E402  format -> file extension
from spectragram_bench.core.errors import BenchError
from spectragram_bench.core.models import (
    Base,
    Benchmark,
    BootstrapResult,
    CostSummary,
    Dataset,
    DatasetVariant,
    Evaluation,
    JobRun,
    LatencySample,
    MetricSummary,
    Model,
    Prediction,
    Provider,
    Utterance,
    UtteranceValue,
)
from spectragram_bench.core.persistence import Database
from spectragram_bench.core.redaction import redact
from spectragram_bench.datasets.variants import variant_sort_key
from spectragram_bench.reporting.predictions import scored_predictions

#: the columns `prediction` gains: per-utterance scores, named like their metric_summary metrics
SCORE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("eval_version", "str"), ("normalizer", "str"), ("hits", "int"), ("substitutions", "int"),
    ("deletions", "int"), ("insertions", "int"), ("ref_words", "int"), ("char_errors", "int"), ("ref_chars", "int"),
)


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    kind: str  # int | float | bool | str | datetime | json


def table_columns(model: type[Base]) -> list[ColumnSpec]:
    out = []
    for c in model.__table__.columns:
        t = c.type
        kind = (
            "json" if isinstance(t, JSON) else "datetime" if isinstance(t, DateTime)
            else "float" if isinstance(t, Float) else "int" if isinstance(t, Integer)
            else "bool" if isinstance(t, Boolean) else "str"
        )
        out.append(ColumnSpec(c.name, kind))
    return out


def _utc(v: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return v.replace(tzinfo=UTC) if v is not None and v.tzinfo is None else v


def row_of(obj: Base, columns: list[ColumnSpec]) -> dict[str, Any]:
    row = {c.name: getattr(obj, c.name) for c in columns}
    for c in columns:
        if c.kind == "datetime":
            row[c.name] = _utc(row[c.name])
    return row


# -- writers ---------------------------------------------------------------------------------------

def _text(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if kind == "json":
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    if kind == "datetime":
        return value.isoformat()
    if kind == "float":
        return repr(float(value))  # shortest exact round-trip form
    if kind == "bool":
        return "true" if value else "false"
    return str(value)


def write_csv(path: Path, columns: list[ColumnSpec], rows: Iterable[dict[str, Any]]) -> int:
    n = 0
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow([c.name for c in columns])
        for row in rows:
            w.writerow([_text(row[c.name], c.kind) for c in columns])
            n += 1
    return n


def write_jsonl(path: Path, columns: list[ColumnSpec], rows: Iterable[dict[str, Any]]) -> int:
    n = 0
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            out = {c.name: (row[c.name].isoformat() if c.kind == "datetime" and row[c.name] is not None else row[c.name]) for c in columns}
            f.write(json.dumps(out, ensure_ascii=False, default=str) + "\n")
            n += 1
    return n


#: the README's install command for the parquet extra (pyarrow, and pandas for its snippet)
PARQUET_INSTALL = "pip install -e '.[parquet]'"


def _pyarrow():
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise BenchError(f"Parquet export needs pyarrow: {PARQUET_INSTALL} (from the repository, as the README says; "
                         "or --format csv|json)") from None
    return pa, pq


def write_parquet(path: Path, columns: list[ColumnSpec], rows: Iterable[dict[str, Any]], batch: int = 10_000) -> int:
    pa, pq = _pyarrow()
    types = {"int": pa.int64(), "float": pa.float64(), "str": pa.string(), "bool": pa.bool_(), "json": pa.string(), "datetime": pa.timestamp("us", tz="UTC")}
    schema = pa.schema([pa.field(c.name, types[c.kind]) for c in columns])
    n = 0
    with pq.ParquetWriter(str(path), schema) as writer:
        chunk: list[dict[str, Any]] = []

        def flush() -> None:
            data = {
                c.name: [(_text(r[c.name], "json") if r[c.name] is not None else None) if c.kind == "json" else r[c.name] for r in chunk]
                for c in columns
            }
            writer.write_table(pa.table(data, schema=schema))

        for row in rows:
            chunk.append(row)
            n += 1
            if len(chunk) >= batch:
                flush()
                chunk = []
        if chunk or n == 0:
            flush()
    return n


WRITERS = {"csv": write_csv, "parquet": write_parquet, "json": write_jsonl}


# -- what is exported ------------------------------------------------------------------------------

def _rows(session: Session, model: type[Base], *where) -> Iterator[dict[str, Any]]:
    cols = table_columns(model)
    pk = model.__table__.primary_key.columns.values()[0]
    for obj in session.execute(select(model).where(*where).order_by(pk)).scalars():
        yield row_of(obj, cols)


def _variant_ordered(rows: Iterable[dict[str, Any]], rank: dict[int, int], *first: str) -> list[dict[str, Any]]:
    """Rows by their `first` columns, then their variant's numeric parameter (0, 5, 10, 20 dB), then as stored."""
    return sorted(rows, key=lambda r: (*(r[c] or 0 for c in first), rank.get(r["variant_id"], -1)))


def prediction_rows(session: Session, benchmark_id: int, eval_version: str | None = None) -> Iterator[dict[str, Any]]:
    cols = table_columns(Prediction)
    scored = sorted(scored_predictions(session, benchmark_id, align=False, eval_version=eval_version),
                    key=lambda sp: sp.prediction.prediction_id)
    for sp in scored:
        row = row_of(sp.prediction, cols)
        # counts only where they are the eval version's own (stored, or rescored with its normaliser)
        w, c = (sp.words, sp.chars) if sp.exact else (None, None)
        row.update(
            eval_version=sp.eval_version,
            normalizer=sp.normalizer.stored_tag,
            hits=w.hits if w else None, substitutions=w.substitutions if w else None,
            deletions=w.deletions if w else None, insertions=w.insertions if w else None,
            ref_words=w.ref_len if w else None, char_errors=c.errors if c else None, ref_chars=c.ref_len if c else None,
        )
        yield row


def export_benchmark(
    db: Database, benchmark_id: int, fmt: str, out_dir: str | Path, eval_version: str | None = None
) -> dict[str, Any]:
    """Write one file per table into `out_dir` and an export.json manifest; returns the manifest.

    With `eval_version`, the evaluation tables hold only that version's rows."""
    if fmt not in FORMATS:
        raise BenchError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    if fmt == "parquet":
        _pyarrow()  # fail before writing anything
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise BenchError(f"export output {out} exists and is not a directory")
    ext, write = FORMATS[fmt], WRITERS[fmt]
    manifest: dict[str, Any] = {
        "benchmark_id": benchmark_id, "format": fmt, "exported_at": datetime.now(UTC).isoformat(),
        "spectragram_bench_version": __version__, "eval_version": eval_version, "tables": {},
    }
    with db.session() as s:
        bench = s.get(Benchmark, benchmark_id)
        if bench is None:
            raise BenchError(f"benchmark {benchmark_id} not found in {db.location}")
        runs = select(JobRun.job_run_id).where(JobRun.benchmark_id == benchmark_id)

        def scored(model):
            keep = [model.job_run_id.in_(runs)]
            if eval_version is not None:
                keep.append(model.eval_version == eval_version)
            return _rows(s, model, *keep)

        utts = select(Prediction.utt_id).where(Prediction.job_run_id.in_(runs))
        bench_cols = table_columns(Benchmark)
        bench_row = row_of(bench, bench_cols)
        bench_row["config_json"] = redact(bench_row["config_json"])
        variants = sorted(_rows(s, DatasetVariant, DatasetVariant.variant_id.in_(select(Utterance.variant_id).where(Utterance.utt_id.in_(utts)))),
                          key=lambda r: (r["dataset_id"], r["split"], variant_sort_key(r["variant_json"]), r["variant_id"]))
        rank = {r["variant_id"]: i for i, r in enumerate(variants)}
        job_cols = table_columns(JobRun)
        pred_cols = table_columns(Prediction) + [ColumnSpec(n, k) for n, k in SCORE_COLUMNS]
        tables: list[tuple[str, list[ColumnSpec], Iterable[dict[str, Any]]]] = [
            ("benchmark", bench_cols, [bench_row]),
            ("job_run", job_cols, ({**r, "env_json": redact(r["env_json"])} for r in _rows(s, JobRun, JobRun.benchmark_id == benchmark_id))),
            ("provider", table_columns(Provider), _rows(s, Provider, Provider.provider_id.in_(select(JobRun.provider_id).where(JobRun.benchmark_id == benchmark_id)))),
            ("model", table_columns(Model), ({**r, "params_json": redact(r["params_json"])} for r in _rows(s, Model, Model.model_id.in_(select(JobRun.model_id).where(JobRun.benchmark_id == benchmark_id))))),
            ("dataset", table_columns(Dataset), _rows(s, Dataset, Dataset.dataset_id.in_(select(Utterance.dataset_id).where(Utterance.utt_id.in_(utts))))),
            ("dataset_variant", table_columns(DatasetVariant), variants),
            ("utterance", table_columns(Utterance), _rows(s, Utterance, Utterance.utt_id.in_(utts))),
            ("prediction", pred_cols, prediction_rows(s, benchmark_id, eval_version)),
            ("evaluation", table_columns(Evaluation), scored(Evaluation)),
            ("utterance_value", table_columns(UtteranceValue), scored(UtteranceValue)),
            ("latency_sample", table_columns(LatencySample), _rows(s, LatencySample, LatencySample.job_run_id.in_(runs))),
            ("metric_summary", table_columns(MetricSummary), _variant_ordered(scored(MetricSummary), rank, "job_run_id", "dataset_id")),
            ("bootstrap_result", table_columns(BootstrapResult), _variant_ordered(scored(BootstrapResult), rank, "job_run_id", "dataset_id")),
            ("cost_summary", table_columns(CostSummary), _rows(s, CostSummary, CostSummary.job_run_id.in_(runs))),
        ]
        try:
            out.mkdir(parents=True, exist_ok=True)
            for name, cols, rows in tables:
                path = out / f"{name}.{ext}"
                tmp = path.with_name(path.name + ".tmp")
                count = write(tmp, cols, rows)
                tmp.replace(path)
                manifest["tables"][name] = {"file": path.name, "rows": count}
            (out / "export.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            raise BenchError(f"cannot write export to {out}: {exc.strerror or exc}") from None
    return manifest
