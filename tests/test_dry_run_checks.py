"""`run --dry-run` makes the real run's checks: every unknown name at once (non-zero exit, before
anything is paid), and every input problem the run would record, with counts and examples;
duplicate dataset entries are refused and a `label` tells two roots of one loader apart."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import soundfile as sf
from sqlalchemy import func, select

from spectragram_bench.core import models as m
from spectragram_bench.core.persistence import open_database
from tests.conftest import DEMO_ROOT, run_cli


def write_job(tmp_path: Path, **fields) -> Path:
    job = {
        "providers": [{"name": "mock"}],
        "datasets": [{"name": "librispeech", "root": str(DEMO_ROOT), "subsets": ["demo-clean"]}],
        "evaluation": {"normalizer": "basic", "bootstrap_iterations": 0},
        **fields,
    }
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job))
    return path


def test_dry_run_lists_every_bad_name_and_the_run_stops_before_anything(tmp_path, sqlite_url):
    job = write_job(
        tmp_path,
        providers=[{"name": "mock"}, {"name": "nosuchvendor"}],
        datasets=[{"name": "librispeech", "root": str(DEMO_ROOT), "options": {"bogus": 1}}],
        evaluation={"normalizer": "nope", "metrics": ["wer", "nosuch", {"name": "cer", "normalizer": "alsonot"}]},
    )
    dry = run_cli("run", "--config", str(job), "--dry-run", "--db", sqlite_url)
    assert dry.returncode == 2, dry.stderr
    listed = [line.strip() for line in dry.stderr.splitlines()[1:]]
    assert [line.split(":")[0] for line in listed] == [
        "$.evaluation.normalizer", "$.evaluation.metrics[1]", "$.evaluation.metrics[2].normalizer",
        "$.providers[1]", "$.datasets[0]",
    ], dry.stderr
    assert "unknown normalizer 'nope'" in listed[0] and "unknown metric 'nosuch'" in listed[1]
    assert "'alsonot'" in listed[2] and "unknown provider 'nosuchvendor'" in listed[3]
    assert "options.bogus" in listed[4]
    real = run_cli("run", "--config", str(job), "--db", sqlite_url)
    lines = [line for line in real.stderr.splitlines() if line.strip()]
    assert real.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: 5 problems: $.evaluation.normalizer")
    db = open_database(sqlite_url)
    with db.session() as s:
        assert s.execute(select(func.count()).select_from(m.Benchmark)).scalar_one() == 0  # nothing written
    db.dispose()


def test_a_metric_typo_stops_the_run_before_any_request(tmp_path, sqlite_url):
    job = write_job(tmp_path, evaluation={"normalizer": "basic", "metrics": ["wer", "wre"]})
    proc = run_cli("run", "--config", str(job), "--db", sqlite_url)
    assert proc.returncode == 2 and "$.evaluation.metrics[1]: unknown metric 'wre'" in proc.stderr
    db = open_database(sqlite_url)
    with db.session() as s:
        assert s.execute(select(func.count()).select_from(m.Prediction)).scalar_one() == 0
    db.dispose()


def test_dry_run_reports_the_input_problems_the_run_records(tmp_path, sqlite_url):
    root = tmp_path / "LibriSpeech"
    shutil.copytree(DEMO_ROOT, root)
    clean = root / "demo-clean"
    (clean / "1001/100/1001-100-0001.flac").write_bytes(b"not audio")
    (clean / "1002/200/1002-200-0002.flac").unlink()
    sf.write(clean / "1003/300/1003-300-0001.flac", np.zeros(16000), 16000)
    sf.write(clean / "1003/300/1003-300-0002.flac", np.zeros(16000), 16000)
    trans = clean / "1004/400/1004-400.trans.txt"
    trans.write_text("".join("1004-400-0003\n" if line.startswith("1004-400-0003 ") else line
                             for line in trans.read_text().splitlines(keepends=True)))  # an empty transcript
    job = write_job(tmp_path, datasets=[{"name": "librispeech", "root": str(root), "subsets": ["demo-clean"]}])
    dry = run_cli("run", "--config", str(job), "--dry-run", "--db", sqlite_url)
    assert dry.returncode == 0, dry.stderr
    counted = dict(re.findall(r"librispeech: (\w[\w ]*?)\s+(\d+)  e\.g\. ", dry.stdout))
    assert counted == {"silent audio": "2", "missing audio": "1", "undecodable audio": "1", "bad dataset row": "1"}, dry.stdout
    assert "inputs: 5 of 40 utterances would fail without being sent" in dry.stdout
    assert "e.g. audio file not found: " in dry.stdout and "1002-200-0002.flac" in dry.stdout

    real = run_cli("run", "--config", str(job), "--db", sqlite_url, "--no-report")
    assert real.returncode == 0, real.stderr
    db = open_database(sqlite_url)
    with db.session() as s:
        failed = s.execute(
            select(m.Utterance.external_id).join(m.Prediction, m.Prediction.utt_id == m.Utterance.utt_id)
            .where(m.Prediction.status == "failed", m.Prediction.error_kind == "input")
        ).scalars().all()
    db.dispose()
    assert sorted(failed) == ["1001-100-0001", "1002-200-0002", "1003-300-0001", "1003-300-0002", "1004-400-0003"]


def test_a_clean_dataset_says_so(tmp_path, sqlite_url):
    dry = run_cli("run", "--config", str(write_job(tmp_path)), "--dry-run", "--db", sqlite_url)
    assert dry.returncode == 0 and "inputs: no problem found" in dry.stdout


def test_duplicate_dataset_entries_are_refused(tmp_path, sqlite_url):
    entry = {"name": "librispeech", "root": str(DEMO_ROOT)}
    job = write_job(tmp_path, datasets=[entry, {"name": "jsonl_manifest", "root": str(DEMO_ROOT)}, entry])
    for args in (["--dry-run"], []):
        proc = run_cli("run", "--config", str(job), "--db", sqlite_url, *args)
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert proc.returncode == 2 and len(lines) == 1, proc.stderr
        assert "$.datasets[2] repeats $.datasets[0]" in lines[0]


def test_a_label_tells_two_roots_of_one_loader_apart(tmp_path, sqlite_url):
    other = tmp_path / "copy"
    shutil.copytree(DEMO_ROOT / "demo-clean" / "1001", other / "demo-clean" / "1001")
    a = {"name": "librispeech", "root": str(DEMO_ROOT), "subsets": ["demo-clean"]}
    b = {"name": "librispeech", "root": str(other), "subsets": ["demo-clean"]}
    job = write_job(tmp_path, datasets=[a, {**b, "label": "librispeech-copy"}])
    proc = run_cli("run", "--config", str(job), "--db", sqlite_url, "--no-report", "--wide")
    assert proc.returncode == 0, proc.stderr
    assert "librispeech-copy/demo-clean" in proc.stdout and "librispeech/demo-clean" in proc.stdout
