"""Default prices, config overrides, and the cost_summary row written after each job run."""

from __future__ import annotations

import logging

import pytest
from conftest import DEMO_ROOT
from sqlalchemy import select

from spectragram_bench.core.config import ProviderConfig, parse_config
from spectragram_bench.core.models import CostSummary, LatencySample, Prediction, Utterance
from spectragram_bench.core.persistence import open_database
from spectragram_bench.core.pricing import DEFAULT_PRICES, price_for, write_cost_summary
from spectragram_bench.worker.job_runs import run_benchmark


@pytest.mark.parametrize(
    "name, model, mode, usd",
    [
        ("deepgram", "nova-3", "batch", 0.0043),
        ("deepgram", "nova-3-general", "batch", 0.0043),
        ("deepgram", "nova-3", "streaming", 0.0059),
        ("deepgram", "nova-2-meeting", "streaming", 0.0059),
        ("openai", "whisper-1", "batch", 0.006),
        ("openai", "gpt-4o-transcribe", "batch", 0.006),
        ("openai", "gpt-4o-mini-transcribe", "streaming", 0.003),
        ("pocketsphinx", "en-us", "batch", 0.0),
        ("deepgram", "enhanced", "batch", None),
        ("openai_compatible", "whisper-1", "batch", None),  # a self-hosted server has no list price
        ("openai", "gpt-9-transcribe", "batch", None),
    ],
)
def test_default_price_table(name, model, mode, usd):
    price = price_for(ProviderConfig(name=name, model=model, mode=mode))
    assert (price.usd_per_minute if price else None) == usd
    if price:
        assert price.as_of and price.source


def test_every_default_is_dated():
    assert all(len(p.as_of) >= 7 for *_, p in DEFAULT_PRICES)


def test_config_overrides_the_table():
    price = price_for(ProviderConfig(name="deepgram", model="nova-3", price_per_minute_usd=0.01))
    assert price.usd_per_minute == 0.01 and price.source == "price_per_minute_usd in the job file"
    assert price_for(ProviderConfig(name="openai_compatible", model="x", price_per_minute_usd=0.0)).usd_per_minute == 0.0


def _run(db_url: str, provider: dict, max_utt: int = 6):
    config = parse_config({
        "providers": [provider],
        "datasets": [{"name": "librispeech", "root": str(DEMO_ROOT), "subsets": ["demo-clean"]}],
        "evaluation": {"normalizer": "basic", "bootstrap_iterations": 10},
        "max_utt": max_utt,
    })
    db = open_database(db_url)
    outcome = run_benchmark(config, db)
    return db, outcome.job_runs[0].job_run_id, config.providers[0]


def test_cost_row_from_provider_usage_then_audio_duration(db_url):
    db, job_run_id, pc = _run(db_url, {"name": "mock", "model": "m", "price_per_minute_usd": 0.5})
    try:
        with db.session() as s:
            durations = s.execute(
                select(Utterance.duration_s).join(Prediction, Prediction.utt_id == Utterance.utt_id)
                .where(Prediction.job_run_id == job_run_id)
            ).scalars().all()
            cost = s.execute(select(CostSummary).where(CostSummary.job_run_id == job_run_id)).scalar_one()
        total = sum(durations)
        assert len(durations) == 6
        assert cost.seconds_billed == pytest.approx(total, abs=1e-2)
        assert cost.price_usd == pytest.approx(total / 60 * 0.5, rel=1e-3)
        assert cost.extra_json["seconds_from_provider_usage"] == pytest.approx(total, abs=1e-2)
        assert cost.extra_json["seconds_from_audio_duration"] == 0

        # a provider that reports no usage: the audio duration is billed instead, and the row is refreshed
        with db.transaction() as s:
            for lat in s.execute(select(LatencySample).where(LatencySample.job_run_id == job_run_id)).scalars():
                lat.meta_json = {k: v for k, v in lat.meta_json.items() if k != "billed_seconds"}
            write_cost_summary(s, job_run_id, pc)
        with db.session() as s:
            (cost,) = s.execute(select(CostSummary).where(CostSummary.job_run_id == job_run_id)).scalars().all()
        assert cost.extra_json["seconds_from_audio_duration"] == pytest.approx(total, abs=1e-2)
        assert cost.extra_json["seconds_from_provider_usage"] == 0
        assert cost.seconds_billed == pytest.approx(total, abs=1e-2)
    finally:
        db.dispose()


def test_failed_predictions_are_not_billed(sqlite_url):
    db, job_run_id, _ = _run(
        sqlite_url,
        {"name": "mock", "model": "m", "max_attempts": 1, "params": {"error_rate": 0.5, "error_kind": "utterance", "seed": 3}},
        max_utt=12,
    )
    try:
        with db.session() as s:
            ok = s.execute(select(Prediction).where(Prediction.job_run_id == job_run_id, Prediction.status == "ok")).scalars().all()
            cost = s.execute(select(CostSummary).where(CostSummary.job_run_id == job_run_id)).scalar_one()
        assert 0 < len(ok) < 12
        assert cost.extra_json["items_billed"] == len(ok)
        assert cost.price_usd == 0.0 and cost.extra_json["price_source"].startswith("mock provider")
    finally:
        db.dispose()


def test_no_price_no_row_and_a_warning(sqlite_url, caplog):
    db, job_run_id, _ = _run(sqlite_url, {"name": "mock", "model": "m"}, max_utt=2)
    try:
        unpriced = ProviderConfig(name="openai_compatible", model="my-whisper")
        with caplog.at_level(logging.WARNING), db.transaction() as s:
            assert write_cost_summary(s, job_run_id, unpriced) is None
        assert "no price known for openai_compatible/my-whisper" in caplog.text
        assert "set price_per_minute_usd" in caplog.text
    finally:
        db.dispose()
