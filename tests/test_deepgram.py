"""The Deepgram adapter against a fake Deepgram speaking the real wire format (HTTP + websocket)."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import DEMO_ROOT, REPO, run_cli
from fakes import Fault
from fakes.cases import FAULT_CASES
from fakes.harness import files_containing, reference_transcripts, rows, write_job

from spectragram_bench.core.audio import AudioClip, load_audio
from spectragram_bench.core.config import ProviderConfig
from spectragram_bench.core.errors import ConfigError
from spectragram_bench.core.records import WorkItem
from spectragram_bench.core.redaction import redact
from spectragram_bench.core.speech_spans import remember
from spectragram_bench.providers.base import ErrorKind, ProviderError
from spectragram_bench.providers.deepgram import DeepgramProvider, query_string
from spectragram_bench.providers.deepgram_live import DeepgramLive

FIRST_FLAC = sorted(DEMO_ROOT.rglob("*.flac"))[0]


def provider(server, mode: str = "batch", **kw) -> DeepgramProvider | DeepgramLive:
    params = kw.pop("params", {})
    cls = DeepgramLive if mode == "streaming" else DeepgramProvider
    p = cls(ProviderConfig(name="deepgram", model="nova-3", mode=mode, base_url=server.base_url, params=params, **kw))
    p._api_key, p._key_checked = server.api_key, True  # what check_ready reads from the environment
    return p


def transcribe(p: DeepgramProvider, clip: AudioClip | None = None, span: dict | None = None, language: str | None = None):
    clip = clip or load_audio(str(FIRST_FLAC))
    item = WorkItem(1, 1, FIRST_FLAC.stem, str(FIRST_FLAC), clip.duration_s, variant={"test_clip": id(clip)}, language=language)
    remember(item, span or {"start_ms": 0.0, "end_ms": clip.duration_s * 1000, "source": "test"})

    async def once():
        try:
            return await p.transcribe(clip, item)
        finally:
            await p.aclose()

    return asyncio.run(once())


def error_of(p: DeepgramProvider, clip: AudioClip | None = None) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        transcribe(p, clip)
    return info.value


# -- configuration -----------------------------------------------------------------------------


def test_query_string_spells_booleans_and_repeats_lists():
    q = query_string({"model": "nova-3", "smart_format": True, "diarize": False, "keyterm": ["Deepgram", "nova"], "x": None})
    assert q == "model=nova-3&smart_format=true&diarize=false&keyterm=Deepgram&keyterm=nova"


@pytest.mark.parametrize(
    "mode, model, params, words",
    [
        ("batch", "default", {}, 'set "model"'),
        ("batch", "nova-3", {"model": "nova-2"}, "not params.model"),
        ("batch", "nova-3", {"pace": 2}, "streaming"),
        ("batch", "nova-3", {"encoding": "linear16"}, "params.encoding is for streaming"),
        ("streaming", "nova-3", {"encoding": "mulaw"}, "linear16"),
        ("streaming", "nova-3", {"pace": -1}, "pace >= 0"),
        ("streaming", "nova-3", {"sample_rate": "16k"}, "sample_rate must be an integer"),
        ("streaming", "nova-3", {"channels": 2}, "channels must be 1"),
        ("streaming", "nova-3", {"frame_ms": "fast"}, "must be numbers"),
        ("batch", "nova-3", {"redact": {"pci": True}}, "not an object"),
    ],
)
def test_config_errors_are_one_line(mode, model, params, words):
    with pytest.raises(ConfigError) as info:
        (DeepgramLive if mode == "streaming" else DeepgramProvider)(
            ProviderConfig(name="deepgram", model=model, mode=mode, params=params))
    assert words in str(info.value) and "\n" not in str(info.value)


def test_missing_key_names_the_variable(monkeypatch):
    monkeypatch.delenv("MY_DG_KEY", raising=False)
    p = DeepgramProvider(ProviderConfig(name="deepgram", model="nova-3", api_key_env="MY_DG_KEY"))
    with pytest.raises(ConfigError, match="MY_DG_KEY is not set"):
        p.check_ready()


def test_model_params_record_what_changes_the_output(fake_deepgram):
    p = provider(fake_deepgram, "streaming", params={"keyterm": ["Quincy"], "smart_format": True, "pace": 0})
    params = redact(p.model_params())
    assert params["keyterm"] == ["Quincy"]  # a keyterm is not a secret
    assert params["model"] == "nova-3" and params["smart_format"] is True
    assert params["encoding"] == "linear16" and params["sample_rate"] == 16000 and params["interim_results"] is True
    assert params["pace"] == 0.0 and params["frame_ms"] == 50
    assert params["base_url"] == fake_deepgram.base_url
    assert fake_deepgram.api_key not in json.dumps(params)


# -- pre-recorded ------------------------------------------------------------------------------


def test_prerecorded_request_and_reply(fake_deepgram):
    p = provider(fake_deepgram, params={"smart_format": True, "punctuate": True, "language": "en", "keyterm": ["fox", "dog"]})
    t = transcribe(p)
    (req,) = fake_deepgram.requests
    assert req.method == "POST" and req.path == "/v1/listen"
    assert req.headers["Authorization"] == f"Token {fake_deepgram.api_key}"
    assert req.content_type == "audio/flac"
    assert req.body_bytes == FIRST_FLAC.stat().st_size  # the file as it is, not re-encoded
    assert req.query == [("model", "nova-3"), ("smart_format", "true"), ("punctuate", "true"), ("language", "en"),
                         ("keyterm", "fox"), ("keyterm", "dog")]
    assert t.text == "The quick brown fox jumps over the lazy dog."
    assert t.model_revision == "general-nova-3/2024-12-20.0"
    duration = load_audio(str(FIRST_FLAC)).duration_s
    assert t.billed_seconds == pytest.approx(duration, abs=1e-6)
    assert t.usage == {"type": "duration", "seconds": pytest.approx(duration, abs=1e-6), "channels": 1}
    assert t.words[0] == {"word": "the", "start": 0.0, "end": t.words[0]["end"], "confidence": 0.98, "punctuated_word": "The"}
    assert len(t.words) == 9 and t.meta["request_id"]


def test_modified_audio_is_uploaded_as_wav(fake_deepgram):
    clip = AudioClip(load_audio(str(FIRST_FLAC)).samples * 0.5, 16000, None)  # a variant: no source file
    transcribe(provider(fake_deepgram), clip)
    assert fake_deepgram.requests[0].content_type == "audio/wav"


@pytest.mark.parametrize("fault, kind, retry_after", FAULT_CASES)
def test_prerecorded_error_classes(fake_deepgram, fault, kind, retry_after):
    fake_deepgram.inject(fault)
    err = error_of(provider(fake_deepgram))
    assert err.kind == kind
    assert err.retry_after_s == retry_after
    assert fake_deepgram.pending_faults == 0 and len(fake_deepgram.requests) == 1


def test_wrong_key_is_fatal_and_not_echoed(fake_deepgram):
    p = provider(fake_deepgram)
    p._api_key = "dg-wrong-key-987654321"
    err = error_of(p)
    assert (err.kind, err.status) == (ErrorKind.FATAL, 401)
    assert "Invalid credentials" in str(err) and "dg-wrong-key" not in str(err)


def test_undecodable_audio_is_a_400_for_this_utterance(fake_deepgram, tmp_path):
    bogus = tmp_path / "bogus.wav"
    bogus.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
    clip = AudioClip(np.zeros(1600, dtype=np.float32), 16000, str(bogus))  # the source file is sent as-is
    err = error_of(provider(fake_deepgram), clip)
    assert (err.kind, err.status) == (ErrorKind.UTTERANCE, 400)
    assert "corrupt or unsupported data" in str(err)


def test_slow_reply_times_out_as_retryable(fake_deepgram):
    fake_deepgram.inject(Fault.slow(3.0))
    err = error_of(provider(fake_deepgram, timeout_s=0.3))
    assert err.kind == ErrorKind.RETRYABLE and "timeout" in str(err)


def test_reply_without_results_is_an_utterance_error(fake_deepgram):
    fake_deepgram.inject(Fault(status=200, body={"metadata": {"request_id": "x"}}))
    err = error_of(provider(fake_deepgram))
    assert err.kind == ErrorKind.UTTERANCE and "unexpected reply shape" in str(err)


# -- live streaming ----------------------------------------------------------------------------


def test_stream_sends_paced_linear16_and_closes(fake_deepgram):
    clip = load_audio(str(FIRST_FLAC))
    t = transcribe(provider(fake_deepgram, "streaming", params={"pace": 0, "language": "en"}), clip)
    (req,) = fake_deepgram.requests
    q = req.query_dict()
    assert q == {"model": ["nova-3"], "encoding": ["linear16"], "sample_rate": ["16000"], "channels": ["1"],
                 "interim_results": ["true"], "language": ["en"]}
    assert req.headers["Authorization"] == f"Token {fake_deepgram.api_key}"
    samples = len(clip.samples)
    assert req.audio_bytes == 2 * samples
    assert req.frames == math.ceil(samples / 800) == t.meta["frames_sent"]  # 50 ms frames
    assert req.control == ["CloseStream"]
    assert t.text == fake_deepgram.default_text
    assert t.model_revision == "general-nova-3/2024-12-20.0"
    assert t.billed_seconds == pytest.approx(clip.duration_s, abs=1e-3)
    assert [w["word"] for w in t.words] == fake_deepgram.default_text.split()


def test_stream_clock_measures_from_the_speech_boundaries_not_the_request(fake_deepgram):
    """At 1x real time the fake sends empty interim Results until 0.4 s after the first frame,
    then words, and its final 0.3 s after CloseStream (right after the last frame). With the
    speech span set to [0.2 s, end of clip]: ttfp ~ 0.4 - 0.2 s, finalization ~ 0.3 s. A clock
    started at the request would add the handshake and the whole clip (~2.5 s) to finalization."""
    fake_deepgram.first_partial_delay_s = 0.4
    fake_deepgram.final_delay_s = 0.3
    fake_deepgram.partial_every_s = 0.25
    clip = load_audio(str(FIRST_FLAC))
    t = transcribe(provider(fake_deepgram, "streaming"), clip,
                   span={"start_ms": 200.0, "end_ms": clip.duration_s * 1000, "source": "test"})
    m = t.meta
    print(f"\nDeepgram live: ttfp {m['ttfp_ms']} ms (programmed ~200), finalization {m['finalization_ms']} ms "
          f"(programmed 300), connect {m['connect_ms']} ms")
    assert 150 <= m["ttfp_ms"] <= 200 + 350
    assert 300 <= m["finalization_ms"] <= 300 + 250
    assert m["connect_ms"] is not None and m["connect_ms"] > 0
    finals = [e for e in m["timeline"] if e["final"]]
    assert finals and finals[-1]["audio_ms"] == pytest.approx(clip.duration_s * 1000, abs=1)
    partials = [e for e in m["timeline"] if not e["final"] and e["chars"]]
    assert partials and all(e["t_ms"] >= e["audio_ms"] - 1 for e in partials)  # 1x: never ahead of the audio
    assert m["revisions"] == 0  # the fake's partials only grow


def _short_tone(seconds: float) -> AudioClip:
    t = np.arange(int(seconds * 16000)) / 16000
    return AudioClip((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 16000, None)


# One 50 ms frame paced at 0.025 x real time goes out 2 s after connecting; the fake closes an
# idle socket after 0.8 s (the real service: 10 s). Wide margins, as the machine may be loaded.
SPARSE = {"pace": 0.025, "frame_ms": 50}


def test_keepalive_holds_the_socket_open_while_audio_is_sparse(fake_deepgram):
    fake_deepgram.idle_timeout_s = 0.8
    t = transcribe(provider(fake_deepgram, "streaming", params={**SPARSE, "keepalive_s": 0.1}), _short_tone(0.05))
    req = fake_deepgram.requests[0]
    assert req.frames == 1 and req.keepalives >= 5 and t.meta["keepalives_sent"] == req.keepalives
    assert req.control[-1] == "CloseStream" and set(req.control[:-1]) == {"KeepAlive"}


def test_without_keepalive_the_idle_socket_is_closed_and_retryable(fake_deepgram):
    fake_deepgram.idle_timeout_s = 0.8
    err = error_of(provider(fake_deepgram, "streaming", params={**SPARSE, "keepalive_s": 30}), _short_tone(0.05))
    assert err.kind == ErrorKind.RETRYABLE and "1011" in str(err) and "NET-0001" in str(err)


@pytest.mark.parametrize(
    "fault, kind, retry_after",
    [
        pytest.param(Fault.http(401), ErrorKind.FATAL, None, id="handshake-401"),
        pytest.param(Fault.http(402), ErrorKind.FATAL, None, id="handshake-402"),
        pytest.param(Fault.http(429, retry_after="3"), ErrorKind.RATE_LIMITED, 3.0, id="handshake-429"),
        pytest.param(Fault.http(503), ErrorKind.RETRYABLE, None, id="handshake-503"),
        pytest.param(Fault.connection_reset(), ErrorKind.RETRYABLE, None, id="handshake-reset"),
        pytest.param(Fault.close_stream(1011, "NET-0000"), ErrorKind.RETRYABLE, None, id="close-1011"),
        pytest.param(Fault.close_stream(1008, "DATA-0000"), ErrorKind.UTTERANCE, None, id="close-1008"),
    ],
)
def test_stream_error_classes(fake_deepgram, fault, kind, retry_after):
    fake_deepgram.inject(fault)
    err = error_of(provider(fake_deepgram, "streaming", params={"pace": 0}))
    assert err.kind == kind
    assert err.retry_after_s == retry_after


def test_stream_wrong_key_is_fatal(fake_deepgram):
    p = provider(fake_deepgram, "streaming", params={"pace": 0})
    p._api_key = "dg-wrong-key-987654321"
    err = error_of(p)
    assert (err.kind, err.status) == (ErrorKind.FATAL, 401)
    assert "dg-wrong-key" not in str(err)


# -- end to end through the CLI ----------------------------------------------------------------


def _env(server) -> dict[str, str]:
    return {"DEEPGRAM_API_KEY": server.api_key}


@pytest.mark.slow
def test_cli_batch_and_streaming_into_sqlite(fake_deepgram, tmp_path):
    reference_transcripts(fake_deepgram, DEMO_ROOT)
    job = write_job(tmp_path / "job.json", [
        {"name": "deepgram", "model": "nova-3", "base_url": fake_deepgram.base_url, "concurrency": 3,
         "params": {"smart_format": True, "punctuate": True, "language": "en"}},
        {"name": "deepgram", "model": "nova-3", "mode": "streaming", "label": "deepgram/nova-3 live",
         "base_url": fake_deepgram.base_url, "concurrency": 3, "params": {"pace": 0, "language": "en"}},
    ], DEMO_ROOT, max_utt=6)
    db = tmp_path / "bench.db"
    result = run_cli("--config", str(job), "--db", f"sqlite:///{db}", env=_env(fake_deepgram))
    assert result.returncode == 0, result.stderr

    preds = rows(db, "SELECT p.*, u.duration_s, j.label FROM prediction p JOIN utterance u USING (utt_id) "
                     "JOIN job_run j USING (job_run_id) ORDER BY p.job_run_id, p.utt_id")
    assert len(preds) == 12 and all(r["status"] == "ok" for r in preds)
    for r in preds:
        words = json.loads(r["words_json"])
        usage = json.loads(r["usage_json"])
        assert usage["type"] == "duration" and usage["seconds"] == pytest.approx(r["duration_s"], abs=1e-3)
        assert words and all({"word", "start", "end", "confidence"} <= set(w) for w in words)
        assert " ".join(w["word"] for w in words).lower().replace(".", "") == r["hyp_text"].lower().replace(".", "")
    runs = rows(db, "SELECT j.*, m.revision, m.params_json FROM job_run j JOIN model m USING (model_id) ORDER BY job_run_id")
    assert [r["status"] for r in runs] == ["completed", "completed"]
    assert {r["model_revision"] for r in runs} == {"general-nova-3/2024-12-20.0"}
    assert {r["revision"] for r in runs} == {"general-nova-3/2024-12-20.0"}
    wer = rows(db, "SELECT job_run_id, value FROM metric_summary WHERE metric = 'wer' ORDER BY job_run_id")
    assert [w["value"] for w in wer] == [0.0, 0.0]  # the fake returned each reference

    costs = rows(db, "SELECT * FROM cost_summary ORDER BY job_run_id")
    audio_s = sum(r["duration_s"] for r in preds[:6])
    for cost, price in zip(costs, (0.0043, 0.0059), strict=True):
        extra = json.loads(cost["extra_json"])
        assert cost["seconds_billed"] == pytest.approx(audio_s, abs=1e-2)
        assert cost["price_usd"] == pytest.approx(audio_s / 60 * price, rel=1e-3)
        assert extra["usd_per_minute"] == price and extra["seconds_from_provider_usage"] == pytest.approx(audio_s, abs=1e-2)
        assert extra["price_as_of"] and extra["items_billed"] == 6

    live = rows(db, "SELECT meta_json FROM latency_sample WHERE job_run_id = ?", runs[1]["job_run_id"])
    metas = [json.loads(r["meta_json"]) for r in live]
    assert len(metas) == 6 and all(m["finalization_ms"] is not None and m["connect_ms"] is not None for m in metas)
    assert all(m["speech_span"]["detector"] == "silero-vad" and m["timeline"] for m in metas)
    streamed = rows(db, "SELECT metric, value FROM metric_summary WHERE job_run_id = ? AND metric LIKE 'stream_%'",
                    runs[1]["job_run_id"])
    assert {"stream_finalization_ms_p50", "stream_finalization_ms_p99", "stream_connect_ms_p50",
            "stream_revisions_mean"} <= {r["metric"] for r in streamed}
    assert all(m["billed_seconds"] > 0 and m["request_id"] for m in metas)

    assert files_containing(tmp_path, fake_deepgram.api_key) == []
    assert fake_deepgram.api_key not in result.stderr + result.stdout


@pytest.mark.slow
def test_cli_wrong_key_stops_the_job_run_after_the_first_reply(fake_deepgram, tmp_path):
    wrong = "dg-wrong-key-ABCDEF0123456789"
    job = write_job(tmp_path / "job.json", [
        {"name": "deepgram", "model": "nova-3", "base_url": fake_deepgram.base_url, "concurrency": 3},
    ], DEMO_ROOT)
    db = tmp_path / "bench.db"
    result = run_cli("--config", str(job), "--db", f"sqlite:///{db}", env={"DEEPGRAM_API_KEY": wrong})
    assert result.returncode == 1
    error_lines = [line for line in result.stderr.splitlines() if "401" in line]
    assert len(error_lines) == 1 and "Invalid credentials" in error_lines[0], result.stderr
    assert len(fake_deepgram.requests) == 1  # the account's first attempt runs alone: one request, not 3 or 40
    (run,) = rows(db, "SELECT status, error_text FROM job_run")
    assert run["status"] == "failed" and "HTTP 401" in run["error_text"]
    preds = rows(db, "SELECT status, error_kind FROM prediction")
    assert len(preds) == 1 and {(p["status"], p["error_kind"]) for p in preds} == {("failed", "fatal")}
    assert files_containing(tmp_path, wrong) == [] and wrong not in result.stderr + result.stdout


@pytest.mark.slow
def test_cli_missing_key_fails_before_any_work(fake_deepgram, tmp_path):
    job = write_job(tmp_path / "job.json", [{"name": "deepgram", "model": "nova-3", "base_url": fake_deepgram.base_url}], DEMO_ROOT)
    db = tmp_path / "bench.db"
    result = run_cli("--config", str(job), "--db", f"sqlite:///{db}", env={"DEEPGRAM_API_KEY": ""})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: $.providers[0]: provider 'deepgram/nova-3': the API key variable DEEPGRAM_API_KEY is not set; "
        "export DEEPGRAM_API_KEY=... (or name another variable in api_key_env)"
    ]
    assert fake_deepgram.requests == []
    assert rows(db, "SELECT count(*) AS n FROM benchmark")[0]["n"] == 0


@pytest.mark.slow
def test_cli_faults_are_retried_or_recorded(fake_deepgram, tmp_path):
    """One slot, three utterances: a 400; a success; then 429 -> 503 -> reset exhausts the last
    one's 3 attempts. (Last, because a backoff holds up no other utterance: while it sleeps, the
    next one is sent, and it would take the next fault.)"""
    fake_deepgram.inject(Fault.http(400), Fault(), Fault.http(429, retry_after="0"), Fault.http(503),
                         Fault.connection_reset())
    job = write_job(tmp_path / "job.json", [
        {"name": "deepgram", "model": "nova-3", "base_url": fake_deepgram.base_url, "concurrency": 1, "max_attempts": 3},
    ], DEMO_ROOT, max_utt=3)
    db = tmp_path / "bench.db"
    result = run_cli("--config", str(job), "--db", f"sqlite:///{db}", env=_env(fake_deepgram))
    assert result.returncode == 0, result.stderr  # partial is not a failed run
    preds = rows(db, "SELECT status, error_kind, error_text, attempts FROM prediction ORDER BY prediction_id")
    outcome = sorted((p["status"], p["error_kind"], p["attempts"]) for p in preds)
    assert outcome == [("failed", "retryable", 3), ("failed", "utterance", 1), ("ok", None, 1)]
    gave_up = next(p for p in preds if p["error_kind"] == "retryable")
    assert "gave up after 3 attempts" in gave_up["error_text"]
    assert rows(db, "SELECT status FROM job_run")[0]["status"] == "partial"
    assert len(fake_deepgram.requests) == 5


@pytest.mark.slow
def test_job_file_runs_against_the_fake(fake_deepgram, tmp_path):
    """jobs/deepgram_librispeech.json unchanged except base_url (and pace 0 so the test is quick)."""
    source = REPO / "jobs" / "deepgram_librispeech.json"
    job = json.loads(source.read_text())
    for p in job["providers"]:
        p["base_url"] = fake_deepgram.base_url
        if p.get("mode") == "streaming":
            p["params"]["pace"] = 0
    for d in job["datasets"]:
        d["root"] = str((source.parent / d["root"]).resolve())
    path = tmp_path / "deepgram_librispeech.json"
    path.write_text(json.dumps(job))
    db = tmp_path / "bench.db"
    result = run_cli("--config", str(path), "--db", f"sqlite:///{db}", "--max-per-subset", "4", env=_env(fake_deepgram))
    assert result.returncode == 0, result.stderr
    runs = rows(db, "SELECT status FROM job_run")
    assert len(runs) == len(job["providers"]) and {r["status"] for r in runs} == {"completed"}
    assert rows(db, "SELECT count(*) AS n FROM prediction WHERE status = 'ok'")[0]["n"] == 4 * len(job["providers"])
    assert len(rows(db, "SELECT * FROM cost_summary")) == len(job["providers"])


def test_job_file_is_valid_and_points_at_the_demo_corpus():
    from spectragram_bench.core.config import load_config

    config = load_config(REPO / "jobs" / "deepgram_librispeech.json")
    assert {p.name for p in config.providers} == {"deepgram"}
    assert Path(config.datasets[0].root) == DEMO_ROOT
    assert "LibriSpeech" in (config.description or "")
