"""Probe once per content: a rerun or dry run of a registered dataset decodes nothing again, a
changed file is probed again and said so, and the process pool finds what decoding in-process does."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import numpy as np
import soundfile as sf
from conftest import DEMO_ROOT, run_cli
from sqlalchemy import func, select

from spectragram_bench.core.audio_source import AudioSource
from spectragram_bench.core.config import parse_config
from spectragram_bench.core.models import AudioProbe
from spectragram_bench.core.persistence import open_database
from spectragram_bench.worker import probes
from spectragram_bench.worker.plan import build_plan
from spectragram_bench.worker.probes import Prober, ProbeStore


def corpus_copy(tmp_path: Path) -> Path:
    root = tmp_path / "LibriSpeech"
    shutil.copytree(DEMO_ROOT / "demo-clean" / "1001", root / "demo-clean" / "1001")
    return root


def job(root: Path) -> dict:
    return {
        "name": "probe-test", "providers": [{"name": "mock"}],
        "datasets": [{"name": "librispeech", "root": str(root), "subsets": ["demo-clean"]}],
        "evaluation": {"normalizer": "basic", "bootstrap_iterations": 0},
    }


def plan_log(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == probes.__name__]


def test_a_second_plan_decodes_nothing_and_a_changed_file_is_probed_again(sqlite_url, tmp_path, caplog):
    root = corpus_copy(tmp_path)
    config = parse_config(job(root))
    db = open_database(sqlite_url)
    caplog.set_level(logging.INFO, logger=probes.__name__)
    first = build_plan(config, probes=ProbeStore(db))
    assert plan_log(caplog) == ["plan: audio of 0 utterance(s) known from earlier probes, 10 probed now"]
    with db.session() as s:
        assert s.execute(select(func.count()).select_from(AudioProbe)).scalar_one() == 10
    caplog.clear()
    second = build_plan(config, probes=ProbeStore(db))
    assert plan_log(caplog) == ["plan: audio of 10 utterance(s) known from earlier probes, 0 probed now"]
    assert [u.record.duration_s for u in second.utterances] == [u.record.duration_s for u in first.utterances]
    assert all(d and d > 0 for d in (u.record.duration_s for u in second.utterances))

    changed = root / "demo-clean" / "1001" / "100" / "1001-100-0002.flac"
    sf.write(changed, np.zeros(8000, dtype=np.float32), 16000, subtype="PCM_16")  # now silent, 0.5 s
    os.utime(changed, ns=(1, 1))
    caplog.clear()
    third = build_plan(config, probes=ProbeStore(db))
    lines = plan_log(caplog)
    assert len(lines) == 2 and "1 audio file(s) changed since they were probed" in lines[0] and str(changed) in lines[0]
    assert lines[1] == "plan: audio of 9 utterance(s) known from earlier probes, 1 probed now"
    by_id = {u.record.external_id: u.record for u in third.utterances}
    assert "silent" in by_id["1001-100-0002"].meta["load_error"]
    db.dispose()


def test_the_process_pool_finds_what_decoding_here_finds(tmp_path, monkeypatch):
    root = corpus_copy(tmp_path)
    silent = root / "silent.wav"
    sf.write(silent, np.zeros(1600, dtype=np.float32), 16000)
    sources = [AudioSource.file(str(p)) for p in sorted(root.glob("demo-clean/*/*/*.flac"))]
    sources += [AudioSource.file(str(silent)), AudioSource.file(str(root / "missing.flac")),
                AudioSource.file(sources[0].path, 0.5, 0.25)]
    here = probes.probe_many(sources)
    monkeypatch.setattr(probes, "POOL_MIN", 1)
    monkeypatch.setattr(probes, "POOL_CHUNK", 3)
    prober = Prober(None, workers=2)
    try:
        pooled = prober(sources)
        assert prober._pool is not None  # the pool did the work
    finally:
        prober.close()
    assert pooled == here
    assert here[-3].silent and here[-3].decodable and "silent" in here[-3].error
    assert not here[-2].decodable and "not found" in here[-2].error
    assert here[-1].duration_s == 0.25 and here[0].sample_rate == 16000


def test_a_dry_run_reads_the_probes_and_writes_no_database(tmp_path):
    root = corpus_copy(tmp_path)
    job_file = tmp_path / "job.json"
    job_file.write_text(__import__("json").dumps(job(root)))
    absent = tmp_path / "none" / "never.db"
    dry = run_cli("run", "--config", str(job_file), "--dry-run", "--db", f"sqlite:///{absent}")
    assert dry.returncode == 0, dry.stderr
    assert not absent.exists() and not absent.parent.exists()
    db_file = tmp_path / "bench.db"
    ran = run_cli("run", "--config", str(job_file), "--no-report", "--quiet", "--db", f"sqlite:///{db_file}")
    assert ran.returncode == 0, ran.stderr
    size, mtime = db_file.stat().st_size, db_file.stat().st_mtime_ns
    dry = run_cli("run", "--config", str(job_file), "--dry-run", "--db", f"sqlite:///{db_file}")
    assert dry.returncode == 0, dry.stderr
    assert "known from earlier probes, 0 probed now" in dry.stderr + dry.stdout
    assert (db_file.stat().st_size, db_file.stat().st_mtime_ns) == (size, mtime)


def test_a_large_lookup_scans_the_table_once_and_finds_what_an_in_list_finds(tmp_path: Path):
    """Most of the stored probes wanted (a rerun of a large dataset): one scan of the table, the
    same answer as the IN lists a small lookup uses, and only the keys asked for."""
    db = open_database(f"sqlite:///{tmp_path / 'p.db'}")
    store = ProbeStore(db)
    n = 5 * probes.LOOKUP_CHUNK
    prints = [probes.Fingerprint(f"k{i:05d}", f"/a/{i}.flac", 1000 + i, 7 * i) for i in range(n)]
    found = [probes.Probe(0.5 + i / 1000, 16000, "bad" if i % 97 == 0 else None) for i in range(n)]
    store.store(list(zip(prints, found, strict=True)))
    asked = prints[: n - 10] + [probes.Fingerprint("missing", "/b.flac", 1, 1)]
    whole = store.lookup(asked)  # n - 9 keys of n stored: scanned
    assert len(whole) == n - 10 and "missing" not in whole and "k02499" not in whole
    assert whole["k00097"] == (1097, 679, found[97]) and whole["k00001"] == (1001, 7, found[1])
    small = store.lookup(prints[:50])  # a few: IN lists
    assert small == {k: whole[k] for k in small} and len(small) == 50
