"""Text every supported database stores: NUL and lone surrogates in transcripts, hostile
manifest ids (longer than the column, control characters, NUL) and NUL in a reference give
the same results on SQLite and PostgreSQL, and a run with them completes and resumes."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO
from fault_fake import FaultServer
from fixtures.corpora import make_jsonl
from sqlalchemy import select

from spectragram_bench.core.models import JobRun, LatencySample, Prediction, Utterance
from spectragram_bench.core.persistence import open_database

CLI = [sys.executable, str(REPO / "tests" / "fault_cli.py")]
LONG_ID = "x" * 20_000


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "SPECTRAGRAM_DB_URL"}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=300)


def _outcome(db_url: str) -> dict:
    db = open_database(db_url)
    with db.session() as s:
        rows = s.execute(
            select(Utterance.external_id, Utterance.ref_text, Prediction.status, Prediction.error_kind,
                   Prediction.error_text, Prediction.hyp_text)
            .join(Prediction, Prediction.utt_id == Utterance.utt_id).order_by(Utterance.utt_id)
        ).all()
        metas = s.execute(select(LatencySample.meta_json)).scalars().all()
        runs = s.execute(select(JobRun.status, JobRun.error_text)).all()
    db.dispose()
    return {"rows": [tuple(r) for r in rows], "metas": metas, "runs": [tuple(r) for r in runs]}


def test_nul_transcripts_and_hostile_ids_complete_and_resume(db_url, tmp_path: Path):
    manifest = make_jsonl(tmp_path / "corpus", [
        {"audio_filepath": "a.wav", "text": "alpha one", "utt_id": "ok-1"},
        {"audio_filepath": "b.wav", "text": "bravo two", "utt_id": "nul-reply"},
        {"audio_filepath": "c.wav", "text": "charlie", "utt_id": LONG_ID},
        {"audio_filepath": "d.wav", "text": "delta", "utt_id": "nul\x00id"},
        {"audio_filepath": "e.wav", "text": "echo", "utt_id": "esc\x1b[31mred"},
        {"audio_filepath": "f.wav", "text": "fox\x00trot", "utt_id": "nul-ref"},
    ])
    with FaultServer(script={"nul-reply": ["nul"]}) as srv:
        job = tmp_path / "job.json"
        job.write_text(json.dumps({
            "name": "hostile", "providers": [{"name": "faulty", "base_url": srv.url, "concurrency": 2}],
            "datasets": [{"name": "jsonl_manifest", "root": str(manifest)}], "evaluation": {"normalizer": "basic"},
        }))
        first = _cli("--config", str(job), "--db", db_url, "--quiet", "--no-report")
        assert "Traceback" not in first.stderr, first.stderr
        assert first.returncode == 0, first.stderr  # partial (four inputs failed) is not an error exit
        after_first = _outcome(db_url)
        resumed = _cli("run", "--resume", "1", "--db", db_url, "--quiet", "--no-report")
        assert "Traceback" not in resumed.stderr, resumed.stderr
        assert resumed.returncode == 0, resumed.stderr
        after_resume = _outcome(db_url)
        requested = {r.utt for r in srv.state.log}

    rows = {r[0]: r for r in after_first["rows"]}
    assert len(rows) == 6
    assert rows["ok-1"][2:5] == ("ok", None, None)
    nul = rows["nul-reply"]
    assert nul[2] == "ok" and nul[5] == "bravo two \ufffdend\ufffd"  # scored, with the refused characters marked
    raw = "bravo two \x00end\ud800".encode("utf-8", "surrogatepass")
    assert {"characters": 2, "raw_sha256": hashlib.sha256(raw).hexdigest()} in [m.get("text_replaced") for m in after_first["metas"]]
    failed = {ext: r for ext, r in rows.items() if r[2] != "ok"}
    assert len(failed) == 4 and all(r[3] == "input" for r in failed.values())
    texts = sorted(r[4] for r in failed.values())
    assert any("is 20000 characters (at most 500)" in t for t in texts)
    assert sum("contains a control character" in t for t in texts) == 2
    assert any("reference text has 1 NUL" in t for t in texts)
    assert all(ext.startswith("invalid-id-") for ext in failed if ext != "nul-ref")
    assert all("\n" not in t and len(t) < 400 for t in texts)  # one line each
    assert requested == {"ok-1", "nul-reply"}  # nothing hostile was sent
    assert after_first["runs"] == [("partial", "4 of 6 items failed")]
    assert after_resume == after_first  # the resume retried the input failures: same outcome, nothing lost
