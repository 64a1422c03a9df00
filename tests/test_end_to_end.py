"""The demo job end to end through the real CLI, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from spectragram_bench.core import models as m
from spectragram_bench.core.persistence import open_database
from tests.conftest import DEMO_ROOT, REPO, run_cli

DEMO_JOB = REPO / "jobs" / "demo_librispeech.json"
FILLED_TABLES = (
    m.Provider, m.Model, m.Dataset, m.DatasetVariant, m.Utterance, m.Benchmark, m.JobRun,
    m.Prediction, m.LatencySample, m.MetricSummary,
)


def count(session, table) -> int:
    return session.execute(select(func.count()).select_from(table)).scalar_one()


@pytest.mark.slow
def test_demo_job_end_to_end(db_url: str) -> None:
    proc = run_cli("--config", str(DEMO_JOB), "--db", db_url)
    assert proc.returncode == 0, proc.stderr
    assert "WER" in proc.stdout and "pocketsphinx/en-us" in proc.stdout
    assert "database:" in proc.stdout.splitlines()[-1]

    db = open_database(db_url)
    try:
        with db.session() as s:
            for table in FILLED_TABLES:
                assert count(s, table) > 0, f"{table.__tablename__} is empty"
            assert count(s, m.Utterance) == 44  # 40 spoken, 4 non-speech noise clips
            assert count(s, m.Prediction) == 44
            assert count(s, m.LatencySample) == 44
            run = s.execute(select(m.JobRun)).scalar_one()
            assert run.status == "completed" and run.ended_at is not None
            assert run.env_json["packages"]["pocketsphinx"]
            assert run.host_info_json["cpu_count"] >= 1
            assert run.model_revision.startswith("pocketsphinx-")
            by_dataset = {}
            for name, metric, value in s.execute(
                select(m.Dataset.name, m.MetricSummary.metric, m.MetricSummary.value)
                .join(m.Dataset, m.Dataset.dataset_id == m.MetricSummary.dataset_id)
            ):
                by_dataset.setdefault(name, {})[metric] = value
            speech, nonspeech = by_dataset["librispeech"], by_dataset["jsonl_manifest"]
            assert 0.1 < speech["wer"] < 0.6, speech["wer"]
            assert speech["n_utterances"] == 40 and speech["n_nonspeech"] == 0
            assert speech["fwer"] > speech["wer"]  # case and punctuation are errors too
            assert speech["kw_recall"] is not None and speech["num_acc"] is not None
            assert nonspeech["n_nonspeech"] == 4 and nonspeech["wer"] is None
            assert nonspeech["halluc_clips"] is not None and nonspeech["halluc_wpm"] is not None
            pred = s.execute(select(m.Prediction).limit(1)).scalar_one()
            assert pred.status == "ok" and pred.hyp_text and pred.words_json
            lat = s.execute(select(m.LatencySample).limit(1)).scalar_one()
            assert lat.api_time_ms > 0 and lat.total_time_ms >= lat.api_time_ms and lat.rtf > 0

        # the database itself rejects a second prediction for the same (job_run_id, utt_id)
        with pytest.raises(IntegrityError), db.transaction() as s:
            s.execute(
                text("INSERT INTO prediction (job_run_id, utt_id, status, hyp_text, attempts, created_at) "
                     "VALUES (:j, :u, 'ok', 'dup', 1, CURRENT_TIMESTAMP)"),
                {"j": pred.job_run_id, "u": pred.utt_id},
            )
    finally:
        db.dispose()


def mock_job(tmp_path: Path, root: Path, **provider) -> Path:
    job = {
        "name": "mock-job",
        "providers": [{"name": "mock", "model": "m1", "concurrency": 8, **provider}],
        "datasets": [{"name": "librispeech", "root": str(root)}],
        "evaluation": {"normalizer": "basic"},
    }
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job))
    return path


def test_mock_run_records_failures_and_goes_on(tmp_path: Path, sqlite_url: str) -> None:
    job = mock_job(
        tmp_path, DEMO_ROOT,
        params={"error_rate": 0.3, "error_kind": "utterance", "substitution_rate": 0.1, "seed": 3},
    )
    proc = run_cli("--config", str(job), "--db", sqlite_url)
    assert proc.returncode == 0, proc.stderr
    db = open_database(sqlite_url)
    with db.session() as s:
        statuses = dict(s.execute(select(m.Prediction.status, func.count()).group_by(m.Prediction.status)).all())
        assert statuses["ok"] + statuses["failed"] == 40 and statuses["failed"] > 0
        failed = s.execute(select(m.Prediction).where(m.Prediction.status == "failed")).scalars().all()
        assert all(p.hyp_text is None and p.error_kind == "utterance" and p.error_text for p in failed)
        assert s.execute(select(m.JobRun.status)).scalar_one() == "partial"
        n_failed = s.execute(select(m.MetricSummary.value).where(m.MetricSummary.metric == "n_failed")).scalar_one()
        assert n_failed == statuses["failed"]
        n_scored = s.execute(select(m.MetricSummary.value).where(m.MetricSummary.metric == "n_utterances")).scalar_one()
        assert n_scored == statuses["ok"]  # failures are not scored as empty transcripts
    db.dispose()


def test_selection_flags_are_deterministic(tmp_path: Path, sqlite_url: str) -> None:
    job = mock_job(tmp_path, DEMO_ROOT)
    chosen = []
    for _ in range(2):
        proc = run_cli("--config", str(job), "--db", sqlite_url, "--max-utt", "7", "--max-per-subset", "5")
        assert proc.returncode == 0, proc.stderr
    db = open_database(sqlite_url)
    with db.session() as s:
        for run_id in s.execute(select(m.JobRun.job_run_id).order_by(m.JobRun.job_run_id)).scalars():
            ids = s.execute(
                select(m.Utterance.external_id).join(m.Prediction, m.Prediction.utt_id == m.Utterance.utt_id)
                .where(m.Prediction.job_run_id == run_id)
            ).scalars().all()
            chosen.append(sorted(ids))
    db.dispose()
    assert len(chosen) == 2 and chosen[0] == chosen[1]
    assert len(chosen[0]) == 5  # one subset: --max-per-subset 5 binds before --max-utt 7


def test_corrupt_and_missing_audio_are_recorded_per_utterance(tmp_path: Path, sqlite_url: str) -> None:
    root = tmp_path / "LibriSpeech"
    shutil.copytree(DEMO_ROOT / "demo-clean" / "1002", root / "demo-clean" / "1002")
    chapter = root / "demo-clean" / "1002" / "200"
    (chapter / "1002-200-0001.flac").write_bytes(b"not audio at all")
    (chapter / "1002-200-0002.flac").unlink()
    job = mock_job(tmp_path, root)
    proc = run_cli("--config", str(job), "--db", sqlite_url)
    assert proc.returncode == 0, proc.stderr
    db = open_database(sqlite_url)
    with db.session() as s:
        rows = dict(
            s.execute(
                select(m.Utterance.external_id, m.Prediction.error_text)
                .join(m.Prediction, m.Prediction.utt_id == m.Utterance.utt_id)
                .where(m.Prediction.status == "failed")
            ).all()
        )
        assert set(rows) == {"1002-200-0001", "1002-200-0002"}
        assert "1002-200-0001.flac" in rows["1002-200-0001"]
        assert "1002-200-0002.flac" in rows["1002-200-0002"]
        assert s.execute(select(func.count()).where(m.Prediction.status == "ok")).scalar_one() == 8
    db.dispose()


def test_pocketsphinx_hypothesis_does_not_depend_on_decoding_order() -> None:
    """The same audio gives the same transcript whatever the decoder heard before."""
    from spectragram_bench.core.audio import load_audio
    from spectragram_bench.core.config import ProviderConfig
    from spectragram_bench.core.records import WorkItem
    from spectragram_bench.providers.pocketsphinx_provider import PocketSphinxProvider

    files = sorted(DEMO_ROOT.glob("demo-clean/*/*/*.flac"))[:6]
    clips = [load_audio(str(f)) for f in files]
    item = WorkItem(0, 0, "x", "", None)

    def decode(order):
        provider = PocketSphinxProvider(ProviderConfig(name="pocketsphinx"))
        return {i: provider.transcribe_blocking(clips[i], item).text for i in order}

    forward = decode(range(len(clips)))
    backward = decode(reversed(range(len(clips))))
    assert forward == backward
