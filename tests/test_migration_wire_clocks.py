"""Migration wire_clocks on a database written before it: every stored number unchanged, the new
columns empty, and the schema afterwards exactly what the models declare."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from conftest import DEMO_ROOT, migrate
from sqlalchemy import select, text

from spectragram_bench.core.config import parse_config
from spectragram_bench.core.models import Base
from spectragram_bench.core.persistence import open_database
from spectragram_bench.worker.job_runs import run_benchmark


def alembic(db, *step: str) -> None:
    with db.engine.begin() as conn:
        migrate(conn, *step)


def numbers(db) -> list[tuple]:
    with db.engine.connect() as conn:
        lat = conn.execute(text("SELECT utt_id, api_time_ms, total_time_ms, rtf FROM latency_sample ORDER BY utt_id")).all()
        metrics = conn.execute(text("SELECT metric, value FROM metric_summary ORDER BY metric")).all()
        runs = conn.execute(text("SELECT job_run_id, status, started_at, ended_at FROM job_run")).all()
    return [tuple(r) for r in [*lat, *metrics, *runs]]


def test_a_database_from_before_wire_clocks_migrates_with_its_numbers_unchanged(db_url):
    config = parse_config({
        "name": "old", "providers": [{"name": "mock", "params": {"latency_ms": 1}}],
        "datasets": [{"name": "librispeech", "root": str(DEMO_ROOT), "subsets": ["demo-clean"]}],
        "evaluation": {"normalizer": "basic", "bootstrap_iterations": 0},
    })
    db = open_database(db_url)
    run_benchmark(config, db, max_utt=10, progress="none")
    alembic(db, "downgrade", "metric_values")  # the schema just before: no queue_ms, no harness columns
    before = numbers(db)
    db.dispose()
    db = open_database(db_url)  # opening migrates to head
    assert numbers(db) == before and len(before) > 10
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM latency_sample WHERE queue_ms IS NOT NULL")).scalar() == 0
        assert conn.execute(text("SELECT loop_lag_p99_ms, harness_bound FROM job_run")).one() == (None, None)
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diff if "wire" in str(d) or "queue_ms" in str(d) or "harness" in str(d) or "lag" in str(d)] == []
    with db.session() as s:
        assert s.execute(select(Base.metadata.tables["job_run"].c.harness_bound)).scalar() is None
    db.dispose()
