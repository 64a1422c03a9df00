"""Plan scans (worker/scan_cache.py): an unchanged dataset is planned again from its stored
columns, with exactly the plan reading the loader gives; an edited transcript is read again."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import DEMO_ROOT, migrate, run_cli
from sqlalchemy import func, select

from spectragram_bench.core.config import parse_config
from spectragram_bench.core.models import PlanScan
from spectragram_bench.core.persistence import open_database
from spectragram_bench.datasets.librispeech import LibriSpeech
from spectragram_bench.worker import scan_cache
from spectragram_bench.worker.plan import build_plan
from spectragram_bench.worker.probes import ProbeStore

CHAPTER = Path("demo-clean") / "1001" / "100"
TRANSCRIPT = CHAPTER / "1001-100.trans.txt"


def corpus_copy(tmp_path: Path) -> Path:
    root = tmp_path / "LibriSpeech"
    shutil.copytree(DEMO_ROOT / "demo-clean" / "1001", root / "demo-clean" / "1001")
    return root


def job(root: Path, **extra) -> dict:
    return {
        "name": "scan-test", "providers": [{"name": "mock"}],
        "datasets": [{"name": "librispeech", "root": str(root), "subsets": ["demo-clean"]}],
        "evaluation": {"normalizer": "basic", "bootstrap_iterations": 0}, **extra,
    }


def planned(plan) -> list[tuple]:
    """Everything the plan decided per utterance, in plan order."""
    return [
        (u.record.external_id, u.record.subset, u.record.duration_s, u.record.ref_text, u.record.meta.get("load_error"))
        for u in plan.iter_utterances()
    ]


def scans(db) -> int:
    with db.session() as s:
        return s.execute(select(func.count()).select_from(PlanScan)).scalar_one()


def break_corpus(root: Path) -> None:
    """One empty transcript line (the loader's problem) and one missing clip (the probe's)."""
    lines = (root / TRANSCRIPT).read_text().splitlines()
    first_id = lines[0].split(" ", 1)[0]
    lines[0] = first_id
    (root / TRANSCRIPT).write_text("\n".join(lines) + "\n")
    (root / CHAPTER / f"{lines[1].split(' ', 1)[0]}.flac").unlink()


@pytest.mark.parametrize("limits", [{}, {"max_utt": 6}, {"max_per_subset": 4}])
def test_a_second_plan_from_the_stored_scan_is_the_plan_the_loader_gives(db_url, tmp_path, limits):
    root = corpus_copy(tmp_path)
    break_corpus(root)
    config = parse_config(job(root, **limits))
    db = open_database(db_url)
    from_loader = build_plan(config)  # no database: the loader, every file decoded
    first = build_plan(config, probes=ProbeStore(db))
    assert scans(db) == 1
    second = build_plan(config, probes=ProbeStore(db))
    assert second.rows[0].scan == first.rows[0].scan is not None
    assert planned(second) == planned(first) == planned(from_loader)
    assert np.array_equal(second.rows[0].ranks, from_loader.rows[0].ranks)
    assert second.rows[0].problems == from_loader.rows[0].problems
    assert len(second.rows[0].problems) == 2 or limits
    other_seed = parse_config({**job(root, **limits), "selection_seed": 7})
    assert planned(build_plan(other_seed, probes=ProbeStore(db))) == planned(build_plan(other_seed))
    db.dispose()


def test_an_edited_transcript_is_read_again_and_replaces_the_scan(sqlite_url, tmp_path):
    root = corpus_copy(tmp_path)
    config = parse_config(job(root))
    db = open_database(sqlite_url)
    build_plan(config, probes=ProbeStore(db))
    trans = root / TRANSCRIPT
    lines = trans.read_text().splitlines()
    ext_id, _, _ = lines[2].partition(" ")
    lines[2] = f"{ext_id} A NEW REFERENCE"
    trans.write_text("\n".join(lines[:-1]) + "\n")  # one text edited, the last line dropped
    again = build_plan(config, probes=ProbeStore(db))
    assert planned(again) == planned(build_plan(config))
    assert {u.record.external_id: u.record.ref_text for u in again.iter_utterances()}[ext_id] == "A NEW REFERENCE"
    assert len(again.utterances) == 9 and scans(db) == 1  # the edited dataset's scan replaced the first
    db.dispose()


def test_the_scan_key_follows_the_loaders_inputs_and_options(tmp_path):
    root = corpus_copy(tmp_path)
    ds = LibriSpeech(str(root), ["demo-clean"], {})
    key, ident = scan_cache.scan_keys(ds)
    assert scan_cache.scan_keys(LibriSpeech(str(root), ["demo-clean"], {})) == (key, ident)
    assert scan_cache.scan_keys(LibriSpeech(str(root), ["demo-clean"], {"language": "en"}))[1] != ident
    (root / "SPEAKERS.TXT").write_text("1001 | F | demo-clean | 1.0 | Someone\n")  # adds meta: a new key
    with_speakers, same_ident = scan_cache.scan_keys(ds)
    assert same_ident == ident and with_speakers != key
    (root / CHAPTER / "1001-100-0000.flac").rename(root / CHAPTER / "moved.flac")  # the listing picks suffixes
    assert scan_cache.scan_keys(ds)[0] not in (key, with_speakers)


def test_a_dry_run_reads_the_stored_scan_and_writes_nothing(tmp_path):
    root = corpus_copy(tmp_path)
    job_file = tmp_path / "job.json"
    job_file.write_text(json.dumps(job(root)))
    db_file = tmp_path / "bench.db"
    dry = run_cli("run", "--config", str(job_file), "--dry-run", "--db", f"sqlite:///{db_file}")
    assert dry.returncode == 0, dry.stderr
    assert not db_file.exists()  # nothing kept without a database
    db = open_database(f"sqlite:///{db_file}")
    build_plan(parse_config(job(root)), probes=ProbeStore(db))
    db.dispose()
    size, mtime = db_file.stat().st_size, db_file.stat().st_mtime_ns
    dry = run_cli("run", "--config", str(job_file), "--dry-run", "--db", f"sqlite:///{db_file}")
    assert dry.returncode == 0, dry.stderr
    assert "10 work items" in dry.stdout and "known from earlier probes, 0 probed now" in dry.stderr + dry.stdout
    assert (db_file.stat().st_size, db_file.stat().st_mtime_ns) == (size, mtime)


def test_stored_probes_answer_unchanged_files_and_a_changed_one_is_probed_again(sqlite_url, tmp_path, caplog, monkeypatch):
    """The whole-table path (ProbeIndex; a rerun of a large dataset), made to apply to ten files."""
    import logging

    import soundfile as sf

    from spectragram_bench.worker import probes

    monkeypatch.setattr(probes, "LOOKUP_CHUNK", 1)
    root = corpus_copy(tmp_path)
    config = parse_config(job(root))
    db = open_database(sqlite_url)
    first = build_plan(config, probes=ProbeStore(db))
    caplog.set_level(logging.INFO, logger=probes.__name__)
    store = ProbeStore(db)
    second = build_plan(config, probes=store)
    assert store.index is not None and planned(second) == planned(first)
    assert [r.getMessage() for r in caplog.records if r.name == probes.__name__] == [
        "plan: audio of 10 utterance(s) known from earlier probes, 0 probed now"]
    changed = root / CHAPTER / "1001-100-0002.flac"
    sf.write(changed, np.zeros(8000, dtype=np.float32), 16000, subtype="PCM_16")  # now silent
    caplog.clear()
    third = build_plan(config, probes=ProbeStore(db))
    lines = [r.getMessage() for r in caplog.records if r.name == probes.__name__]
    assert "1 audio file(s) changed since they were probed" in lines[0] and str(changed) in lines[0]
    assert lines[1] == "plan: audio of 9 utterance(s) known from earlier probes, 1 probed now"
    assert planned(third) == planned(build_plan(config))
    assert "silent" in {u.record.external_id: u.record for u in third.iter_utterances()}["1001-100-0002"].meta["load_error"]
    db.dispose()


def test_migration_drops_scans_of_the_older_format(sqlite_url):
    """0010 empties plan_scan: a scan stored by an older version (an Arrow stream) is never read."""
    from sqlalchemy import text

    db = open_database(sqlite_url)
    with db.engine.begin() as conn:
        migrate(conn, "downgrade", "plan_scans")
        conn.execute(text("INSERT INTO plan_scan (scan_key, ident, loader, root, n_rows, data, created_at) "
                          "VALUES ('k', 'i', 'librispeech', '/r', 1, x'4152524f57', 0)"))
    db.dispose()
    db = open_database(sqlite_url)  # opening migrates to head
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM plan_scan")).scalar() == 0
    db.dispose()


def test_a_manifest_of_segments_with_an_unusual_name_plans_again_from_its_scan(db_url, tmp_path, caplog):
    """Segments (offset, duration) and a file name outside ASCII survive the stored scan, and the
    probe keys figured again from it find the stored probes: nothing is decoded twice."""
    import logging

    import soundfile as sf

    name = 'clip "\u00e9t\u00e9" \u2013 1.wav'  # quotes, accents, a dash, spaces
    sf.write(tmp_path / name, np.sin(np.arange(16000 * 3) / 5.0).astype(np.float32) * 0.3, 16000)
    rows = [{"audio_filepath": name, "text": f"segment {i}", "offset": i * 1.0, "duration": 0.8} for i in range(3)]
    rows.append({"audio_filepath": name, "text": "the whole file"})
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = parse_config({
        "name": "segments", "providers": [{"name": "mock"}],
        "datasets": [{"name": "jsonl_manifest", "root": str(manifest)}],
        "evaluation": {"normalizer": "basic", "bootstrap_iterations": 0},
    })
    db = open_database(db_url)
    first = build_plan(config, probes=ProbeStore(db))
    assert scans(db) == 1
    with caplog.at_level(logging.INFO):
        second = build_plan(config, probes=ProbeStore(db))
    assert planned(second) == planned(first) == planned(build_plan(config))
    assert [u.record.audio for u in second.iter_utterances()] == [u.record.audio for u in first.iter_utterances()]
    assert "audio of 4 utterance(s) known from earlier probes, 0 probed now" in caplog.text
    db.dispose()


def test_a_damaged_stored_scan_is_a_cache_miss_with_one_warning(db_url, tmp_path, caplog):
    """A plan_scan row that does not read back (truncated, or not a scan at all) makes the plan
    read the loader, with one warning line; the plan is the loader's, and a good scan replaces it."""
    import logging

    root = corpus_copy(tmp_path)
    config = parse_config(job(root))
    db = open_database(db_url)
    first = build_plan(config, probes=ProbeStore(db))
    good = first.rows[0].scan
    for damaged in (good[: len(good) // 2], b"not a scan"):
        with db.engine.begin() as conn:
            conn.execute(PlanScan.__table__.update().values(data=damaged))
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            again = build_plan(config, probes=ProbeStore(db))
        assert planned(again) == planned(first)
        warned = [r.getMessage() for r in caplog.records if "plan scan" in r.getMessage()]
        assert len(warned) == 1 and "unreadable" in warned[0] and "reading the dataset's files instead" in warned[0]
        with db.engine.connect() as conn:
            assert conn.execute(select(PlanScan.data)).scalar_one() == good
    db.dispose()
