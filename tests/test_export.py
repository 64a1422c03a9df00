"""`spectragram-bench export`: files in the schema's column names that round-trip to the same numbers."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import DEMO_ROOT, run_cli
from sqlalchemy import func, select

from spectragram_bench.core.models import JobRun, LatencySample, MetricSummary, Prediction
from spectragram_bench.core.persistence import open_database
from spectragram_bench.reporting.export import SCORE_COLUMNS, export_benchmark, table_columns

JOB = {
    "name": "export-demo",
    "providers": [
        {"name": "mock", "model": "a", "params": {"substitution_rate": 0.1, "insertion_rate": 0.05, "seed": 3}},
        {"name": "mock", "model": "b", "max_attempts": 1,
         "params": {"substitution_rate": 0.3, "deletion_rate": 0.1, "error_rate": 0.2, "seed": 4}},
    ],
    "datasets": [{"name": "librispeech", "root": str(DEMO_ROOT), "subsets": ["demo-clean"]}],
    "evaluation": {"normalizer": "basic"},
}


@pytest.fixture(scope="module")
def benchmark(tmp_path_factory) -> str:
    """A real mock run (one system fails some utterances); returns the database URL."""
    tmp = tmp_path_factory.mktemp("export")
    (tmp / "job.json").write_text(json.dumps(JOB))
    url = f"sqlite:///{tmp / 'b.db'}"
    proc = run_cli("run", "--config", "job.json", "--max-utt", "20", "--db", url, "--no-report", cwd=tmp)
    assert proc.returncode in (0, 1), proc.stderr
    assert "report:" not in proc.stdout
    return url


def expected(url: str) -> dict:
    """Per job run from the database: prediction counts, failed counts, WER and latency rows."""
    db = open_database(url)
    out = {}
    with db.session() as s:
        for jr in s.execute(select(JobRun).where(JobRun.benchmark_id == 1)).scalars():
            metric = dict(s.execute(
                select(MetricSummary.metric, MetricSummary.value)
                .where(MetricSummary.job_run_id == jr.job_run_id, MetricSummary.eval_version == jr.eval_version)
            ).all())
            out[jr.job_run_id] = {
                "predictions": s.scalar(select(func.count()).where(Prediction.job_run_id == jr.job_run_id)),
                "latency": s.scalar(select(func.count()).where(LatencySample.job_run_id == jr.job_run_id)),
                "failed": int(metric["n_failed"]), "wer": metric["wer"], "cer": metric["cer"],
            }
    db.dispose()
    return out


def totals(rows: list[dict], conv) -> dict:
    """Per job run, from exported prediction rows: counts and corpus WER/CER from the per-utterance columns."""
    out: dict[int, dict] = {}
    for r in rows:
        t = out.setdefault(int(r["job_run_id"]), {"predictions": 0, "failed": 0, "e": 0, "n": 0, "ce": 0, "cn": 0})
        t["predictions"] += 1
        if r["status"] != "ok":
            t["failed"] += 1
            assert conv(r["ref_words"]) is None and conv(r["substitutions"]) is None
            continue
        t["e"] += conv(r["substitutions"]) + conv(r["deletions"]) + conv(r["insertions"])
        t["n"] += conv(r["ref_words"])
        t["ce"] += conv(r["char_errors"])
        t["cn"] += conv(r["ref_chars"])
    return out


def check_round_trip(url: str, rows: list[dict], latency_rows: int, conv) -> None:
    want = expected(url)
    got = totals(rows, conv)
    assert set(got) == set(want) and len(want) == 2
    assert sum(w["failed"] for w in want.values()) > 0  # the export must carry failures too
    for jr, w in want.items():
        g = got[jr]
        assert g["predictions"] == w["predictions"] and g["failed"] == w["failed"]
        assert g["e"] / g["n"] == w["wer"]  # exact: the same integer sums
        assert g["ce"] / g["cn"] == w["cer"]
    assert latency_rows == sum(w["latency"] for w in want.values())


def _int_or_none(v):
    return None if v in ("", None) else int(v)


def test_csv_round_trip(benchmark: str, tmp_path: Path):
    proc = run_cli("export", "1", "--format", "csv", "--out", str(tmp_path / "csv"), "--db", benchmark)
    assert proc.returncode == 0, proc.stderr
    assert "prediction.csv" in proc.stdout
    with (tmp_path / "csv" / "prediction.csv").open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames
        rows = list(reader)
    assert header == [c.name for c in table_columns(Prediction)] + [n for n, _ in SCORE_COLUMNS]
    with (tmp_path / "csv" / "latency_sample.csv").open(newline="", encoding="utf-8") as f:
        lat = list(csv.DictReader(f))
    assert all(json.loads(r["meta_json"])["attempts"] >= 1 for r in lat)
    check_round_trip(benchmark, rows, len(lat), _int_or_none)
    manifest = json.loads((tmp_path / "csv" / "export.json").read_text())
    assert manifest["tables"]["prediction"]["rows"] == len(rows)
    values_per_utt = 8  # the default metrics' word and character counts
    assert manifest["tables"]["utterance_value"]["rows"] == values_per_utt * sum(1 for r in rows if r["status"] == "ok")
    with (tmp_path / "csv" / "metric_summary.csv").open(newline="", encoding="utf-8") as f:
        metrics_rows = list(csv.DictReader(f))
    wer = {int(r["job_run_id"]): float(r["value"]) for r in metrics_rows if r["metric"] == "wer"}
    assert wer == {jr: w["wer"] for jr, w in expected(benchmark).items()}


def test_parquet_round_trip(benchmark: str, tmp_path: Path):
    proc = run_cli("export", "1", "--format", "parquet", "--out", str(tmp_path / "pq"), "--db", benchmark)
    assert proc.returncode == 0, proc.stderr
    table = pq.read_table(tmp_path / "pq" / "prediction.parquet")
    assert str(table.schema.field("substitutions").type) == "int64"
    assert str(table.schema.field("created_at").type) == "timestamp[us, tz=UTC]"
    lat = pq.read_table(tmp_path / "pq" / "latency_sample.parquet")
    check_round_trip(benchmark, table.to_pylist(), lat.num_rows, lambda v: v)
    ms = pq.read_table(tmp_path / "pq" / "metric_summary.parquet").to_pylist()
    assert {r["job_run_id"]: r["value"] for r in ms if r["metric"] == "wer"} == {
        jr: w["wer"] for jr, w in expected(benchmark).items()
    }


def test_json_lines_round_trip(benchmark: str, tmp_path: Path):
    db = open_database(benchmark)
    manifest = export_benchmark(db, 1, "json", tmp_path / "js")
    db.dispose()
    lines = (tmp_path / "js" / "prediction.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    lat = (tmp_path / "js" / "latency_sample.jsonl").read_text(encoding="utf-8").splitlines()
    check_round_trip(benchmark, rows, len(lat), lambda v: v)
    assert manifest["tables"]["prediction"]["rows"] == len(rows)
    jr = json.loads((tmp_path / "js" / "job_run.jsonl").read_text().splitlines()[0])
    assert isinstance(jr["env_json"], dict) and jr["started_at"].endswith("+00:00")


def test_export_errors_are_one_line(benchmark: str, tmp_path: Path):
    proc = run_cli("export", "9", "--format", "csv", "--out", str(tmp_path / "x"), "--db", benchmark)
    assert proc.returncode == 2 and proc.stderr.strip().startswith("error: benchmark 9 not found")
    assert not (tmp_path / "x").exists()
    (tmp_path / "file").write_text("")
    proc = run_cli("export", "1", "--format", "csv", "--out", str(tmp_path / "file"), "--db", benchmark)
    assert proc.returncode == 2 and "is not a directory" in proc.stderr


def test_counts_are_the_eval_versions_own(benchmark: str, tmp_path: Path):
    """Stored utterance_value rows are exported even when the normaliser is gone; without them, no guess."""
    import shutil

    from sqlalchemy import update

    from spectragram_bench.core.models import UtteranceValue

    shutil.copy(Path(benchmark.removeprefix("sqlite:///")), tmp_path / "copy.db")
    url = f"sqlite:///{tmp_path / 'copy.db'}"
    db = open_database(url)
    with db.transaction() as s:
        s.execute(update(MetricSummary).where(MetricSummary.job_run_id == 1).values(normalizer="gone@1"))
    export_benchmark(db, 1, "json", tmp_path / "stored")
    rows = [json.loads(line) for line in (tmp_path / "stored" / "prediction.jsonl").read_text().splitlines()]
    check_round_trip(url, rows, len((tmp_path / "stored" / "latency_sample.jsonl").read_text().splitlines()), lambda v: v)
    with db.transaction() as s:
        s.query(UtteranceValue).filter_by(job_run_id=1).delete()
    export_benchmark(db, 1, "json", tmp_path / "gone")
    db.dispose()
    rows = [json.loads(line) for line in (tmp_path / "gone" / "prediction.jsonl").read_text().splitlines()]
    run1 = [r for r in rows if r["job_run_id"] == 1 and r["status"] == "ok"]
    assert run1 and all(r["ref_words"] is None and r["normalizer"] == "gone@1" for r in run1)
    assert all(r["ref_words"] is not None for r in rows if r["job_run_id"] == 2 and r["status"] == "ok")
