"""jobs/streaming_latency.json end to end through the CLI against the seven fake live vendors
(real websockets on 127.0.0.1), at 1x real time over two demo utterances, with the real Silero
VAD finding the speech boundaries."""

from __future__ import annotations

import json
import re

import pytest
from conftest import REPO, run_cli
from fakes.fake_assemblyai_live import FakeAssemblyAILive
from fakes.fake_elevenlabs_live import FakeElevenLabsLive
from fakes.fake_gladia_live import FakeGladiaLive
from fakes.fake_openai_realtime import FakeOpenAIRealtime
from fakes.fake_soniox_live import FakeSonioxLive
from fakes.fake_speechmatics_live import FakeSpeechmaticsLive
from fakes.harness import files_containing, rows

from spectragram_bench.reporting.browser_data import unpack

FAKES = {
    "assemblyai": (FakeAssemblyAILive, "ASSEMBLYAI_API_KEY"),
    "speechmatics": (FakeSpeechmaticsLive, "SPEECHMATICS_API_KEY"),
    "openai_realtime": (FakeOpenAIRealtime, "OPENAI_API_KEY"),
    "elevenlabs": (FakeElevenLabsLive, "ELEVENLABS_API_KEY"),
    "soniox": (FakeSonioxLive, "SONIOX_API_KEY"),
    "gladia": (FakeGladiaLive, "GLADIA_API_KEY"),
}


@pytest.mark.slow
def test_streaming_job_file_runs_against_the_fakes(fake_deepgram, tmp_path):
    job = json.loads((REPO / "jobs" / "streaming_latency.json").read_text())
    servers = {name: cls().start() for name, (cls, _) in FAKES.items()}
    try:
        env = {"DEEPGRAM_API_KEY": fake_deepgram.api_key}
        for p in job["providers"]:
            server = fake_deepgram if p["name"] == "deepgram" else servers[p["name"]]
            p["base_url"] = server.base_url
            if p["name"] != "deepgram":
                env[FAKES[p["name"]][1]] = server.api_key
        job["datasets"][0]["root"] = str(REPO / "data" / "demo_librispeech" / "LibriSpeech")
        path = tmp_path / "streaming.json"
        path.write_text(json.dumps(job))
        db = tmp_path / "bench.db"
        report = tmp_path / "report.html"
        result = run_cli("--config", str(path), "--db", f"sqlite:///{db}", "--max-utt", "2",
                         "--report", str(report), env=env)
    finally:
        for server in servers.values():
            server.stop()
    assert result.returncode == 0, result.stderr
    runs = rows(db, "SELECT job_run_id, label, status FROM job_run ORDER BY job_run_id")
    assert len(runs) == 7 and all(r["status"] == "completed" for r in runs), [dict(r) for r in runs]
    preds = rows(db, "SELECT status FROM prediction")
    assert len(preds) == 14 and all(p["status"] == "ok" for p in preds)
    fin = rows(db, "SELECT job_run_id, value FROM metric_summary WHERE metric = 'stream_finalization_ms_p50'")
    assert len(fin) == 7 and all(r["value"] is not None for r in fin)
    metas = [json.loads(r["meta_json"]) for r in rows(db, "SELECT meta_json FROM latency_sample")]
    assert all(m["speech_span"]["detector"] == "silero-vad" and m["speech_span"]["end_ms"] for m in metas)
    spans = [json.loads(r["meta_json"])["speech_span"] for r in rows(db, "SELECT meta_json FROM utterance")]
    assert len(spans) == 2 and all(s["detector"] == "silero-vad" and s["version"] == "6.2.3" for s in spans)
    assert "streaming latency" in result.stdout
    html = report.read_text()
    assert "plot-finalization-cdf" in html and "plot-wer-finalization" in html and 'id="streaming"' in html
    pages = [unpack(p) for p in re.findall(r'<script type="text/plain" class="utt-page">([^<]*)</script>', html)]
    # a page is a list of utterances, each {job_run_id: that system's details}
    timelines = [d["st"] for page in pages for utt in page for d in utt.values() if "st" in d]
    assert len(timelines) == 14 and all(t["ev"] and t["sp"][1] for t in timelines)  # each streamed hypothesis's timeline
    for secret in [fake_deepgram.api_key, *(s.api_key for s in servers.values())]:
        assert files_containing(tmp_path, secret) == []
