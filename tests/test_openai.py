"""The OpenAI adapter (and OpenAI-compatible servers) against a fake speaking the real wire format."""

from __future__ import annotations

import asyncio
import json
import time

import numpy as np
import pytest
import soundfile as sf
from conftest import DEMO_ROOT, REPO, run_cli
from fakes import Fault
from fakes.cases import FAULT_CASES
from fakes.harness import files_containing, reference_transcripts, rows, write_job

from spectragram_bench.core.audio import AudioClip, load_audio
from spectragram_bench.core.config import ProviderConfig
from spectragram_bench.core.errors import ConfigError
from spectragram_bench.core.records import WorkItem
from spectragram_bench.core.redaction import redact
from spectragram_bench.providers.base import ErrorKind, ProviderError
from spectragram_bench.providers.openai_whisper import (
    MAX_UPLOAD_BYTES,
    OpenAICompatibleProvider,
    OpenAIProvider,
    form_fields,
)

FIRST_FLAC = sorted(DEMO_ROOT.rglob("*.flac"))[0]


def provider(server, model: str = "whisper-1", mode: str = "batch", cls=OpenAIProvider, **kw) -> OpenAIProvider:
    params = kw.pop("params", {})
    kw.setdefault("base_url", server.base_url)
    p = cls(ProviderConfig(name=cls.name, model=model, mode=mode, params=params, **kw))
    p._api_key, p._key_checked = server.api_key, True  # what check_ready reads from the environment
    return p


def transcribe(p: OpenAIProvider, clip: AudioClip | None = None):
    clip = clip or load_audio(str(FIRST_FLAC))
    item = WorkItem(1, 1, FIRST_FLAC.stem, str(FIRST_FLAC), clip.duration_s)

    async def once():
        try:
            return await p.transcribe(clip, item)
        finally:
            await p.aclose()

    return asyncio.run(once())


def error_of(p: OpenAIProvider, clip: AudioClip | None = None) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        transcribe(p, clip)
    return info.value


# -- configuration -----------------------------------------------------------------------------


def test_form_fields_use_brackets_and_true_false():
    """As openai-python encodes multipart forms (qs, array_format="brackets")."""
    assert form_fields({"model": "m", "timestamp_granularities": ["word", "segment"], "stream": True,
                        "temperature": 0, "prompt": None,
                        "chunking_strategy": {"type": "server_vad", "silence_duration_ms": 500, "x": {"y": False}}}) == {
        "model": "m", "timestamp_granularities[]": ["word", "segment"], "stream": "true", "temperature": "0",
        "chunking_strategy[type]": "server_vad", "chunking_strategy[silence_duration_ms]": "500",
        "chunking_strategy[x][y]": "false",
    }
    assert form_fields({"chunking_strategy": "auto"}) == {"chunking_strategy": "auto"}


def test_chunking_strategy_object_reaches_the_server_as_bracketed_fields(fake_openai):
    t = transcribe(provider(fake_openai, "gpt-4o-transcribe",
                            params={"chunking_strategy": {"type": "server_vad", "prefix_padding_ms": 300}}))
    (req,) = fake_openai.requests
    assert req.fields["chunking_strategy[type]"] == ["server_vad"] and req.fields["chunking_strategy[prefix_padding_ms]"] == ["300"]
    assert req.status == 200 and t.text


@pytest.mark.parametrize(
    "model, mode, params, words",
    [
        ("default", "batch", {}, 'set "model"'),
        ("whisper-1", "batch", {"stream": True}, '"mode": "streaming"'),
        ("whisper-1", "streaming", {}, "does not stream"),
        ("whisper-1", "batch", {"response_format": "srt"}, "must be one of"),
        ("gpt-4o-transcribe", "batch", {"timestamp_granularities": ["word"]}, "needs response_format verbose_json"),
        ("whisper-1", "batch", {"max_upload_mb": 0}, "max_upload_mb must be > 0"),
        ("gpt-4o-transcribe", "batch", {"response_format": "verbose_json"}, "json or text only"),
        ("whisper-1", "batch", {"model": "x"}, "remove them from params"),
    ],
)
def test_config_errors_are_one_line(model, mode, params, words):
    with pytest.raises(ConfigError) as info:
        OpenAIProvider(ProviderConfig(name="openai", model=model, mode=mode, params=params))
    assert words in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("base_url, url", [
    (None, "https://api.openai.com/v1/audio/transcriptions"),
    ("http://127.0.0.1:8000", "http://127.0.0.1:8000/v1/audio/transcriptions"),  # a bare host: /v1 added
    ("http://127.0.0.1:8000/v1/", "http://127.0.0.1:8000/v1/audio/transcriptions"),
    ("https://gw.example/v1/openai", "https://gw.example/v1/openai/audio/transcriptions"),  # as the SDK reads it
    ("https://api.groq.com/openai/v1", "https://api.groq.com/openai/v1/audio/transcriptions"),
])
def test_base_url_is_read_as_the_openai_sdk_reads_it(base_url, url, tmp_path):
    p = OpenAIProvider(ProviderConfig(name="openai", model="whisper-1", base_url=base_url))
    p._api_key, p._key_checked = "k", True
    assert p.request_parts(load_audio(str(FIRST_FLAC)))["url"] == url


def test_a_base_url_with_a_path_reaches_the_server_there():
    from fakes.fake_openai import FakeOpenAI

    with FakeOpenAI(api_base="/v1/openai") as server:
        t = transcribe(provider(server, base_url=f"{server.base_url}/v1/openai"))
    (req,) = server.requests
    assert req.path == "/v1/openai/audio/transcriptions" and req.status == 200 and t.text


def test_base_url_must_be_http():
    with pytest.raises(ConfigError, match="must be an http:// or https:// URL"):
        OpenAIProvider(ProviderConfig(name="openai", model="whisper-1", base_url="ftp://example.com"))


def test_missing_key_names_the_variable(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY is not set"):
        OpenAIProvider(ProviderConfig(name="openai", model="whisper-1")).check_ready()


def test_defaults_per_model_and_recorded_params(fake_openai):
    whisper = provider(fake_openai, params={"language": "en", "prompt": "LibriSpeech", "temperature": 0})
    assert redact(whisper.model_params()) == {
        "response_format": "verbose_json", "timestamp_granularities": ["word"], "language": "en",
        "prompt": "LibriSpeech", "temperature": 0, "stream": False, "max_upload_mb": 25.0,
        "base_url": fake_openai.base_url,
    }
    assert provider(fake_openai, "gpt-4o-transcribe").model_params()["response_format"] == "json"
    assert provider(fake_openai, "gpt-4o-mini-transcribe", "streaming").model_params()["stream"] is True


# -- batch -------------------------------------------------------------------------------------


def test_whisper1_verbose_json_with_words(fake_openai):
    t = transcribe(provider(fake_openai, params={"language": "en", "temperature": 0}))
    (req,) = fake_openai.requests
    assert req.headers["Authorization"] == f"Bearer {fake_openai.api_key}"
    assert req.content_type.startswith("multipart/form-data; boundary=")
    assert req.fields == {"model": ["whisper-1"], "response_format": ["verbose_json"], "language": ["en"],
                          "temperature": ["0"], "timestamp_granularities[]": ["word"]}
    assert (req.file_name, req.file_type) == (FIRST_FLAC.name, "audio/flac")
    assert t.text == fake_openai.default_text
    assert [w["word"] for w in t.words] == t.text.split() and {"start", "end"} <= set(t.words[0])
    assert t.usage == {"type": "duration", "seconds": 3} and t.billed_seconds == 3.0
    assert t.model_revision == "whisper-1"
    assert t.meta["request_id"].startswith("req_") and t.meta["processing_ms"] == 42.0


def test_gpt4o_json_with_token_usage(fake_openai):
    t = transcribe(provider(fake_openai, "gpt-4o-transcribe"))
    assert fake_openai.requests[0].fields["response_format"] == ["json"]
    assert t.words is None
    assert t.usage["type"] == "tokens" and t.usage["input_token_details"]["audio_tokens"] > 0
    assert t.billed_seconds is None  # token-billed: the cost row prices the audio duration instead


def test_text_response_format(fake_openai):
    t = transcribe(provider(fake_openai, params={"response_format": "text"}))
    assert t.text == fake_openai.default_text and t.usage is None


@pytest.mark.parametrize("fault, kind, retry_after", FAULT_CASES)
def test_error_classes(fake_openai, fault, kind, retry_after):
    fake_openai.inject(fault)
    err = error_of(provider(fake_openai))
    assert err.kind == kind
    assert err.retry_after_s == retry_after
    assert fake_openai.pending_faults == 0 and len(fake_openai.requests) == 1


def test_real_rejections_are_classified(fake_openai):
    """Not scripted: the fake's own checks (unknown model, wrong key) produce the status."""
    err = error_of(provider(fake_openai, "whisper-9"))
    assert (err.kind, err.status) == (ErrorKind.FATAL, 404) and "model_not_found" in str(err)
    p = provider(fake_openai)
    p._api_key = "sk-wrong-0000000000000000XYZ9"
    err = error_of(p)
    assert (err.kind, err.status) == (ErrorKind.FATAL, 401) and "invalid_api_key" in str(err)
    assert "sk-wrong-0000000000000000XYZ9" not in str(err)


def test_insufficient_quota_is_fatal_not_a_rate_limit(fake_openai):
    fake_openai.quota_exhausted = True
    err = error_of(provider(fake_openai))
    assert err.kind == ErrorKind.FATAL and err.status == 429
    assert "You exceeded your current quota" in str(err) and "(insufficient_quota)" in str(err)
    fake_openai.quota_exhausted = False
    fake_openai.inject(Fault.http(429))  # a plain rate limit stays retryable
    assert error_of(provider(fake_openai)).kind == ErrorKind.RATE_LIMITED


@pytest.mark.slow
def test_cli_insufficient_quota_stops_the_run_after_one_reply_with_one_line(fake_openai, tmp_path):
    fake_openai.quota_exhausted = True
    job = write_job(tmp_path / "job.json", [
        {"name": "openai", "model": "whisper-1", "base_url": fake_openai.base_url, "concurrency": 4},
    ], DEMO_ROOT)
    db = tmp_path / "bench.db"
    result = run_cli("--config", str(job), "--db", f"sqlite:///{db}", env=_env(fake_openai))
    assert result.returncode == 1
    assert len(fake_openai.requests) == 1  # not five retries per utterance
    lines = [line for line in result.stderr.splitlines() if "insufficient_quota" in line]
    assert len(lines) == 1 and "HTTP 429: You exceeded your current quota" in lines[0], result.stderr
    (run,) = rows(db, "SELECT status FROM job_run")
    assert run["status"] == "failed"


def test_a_key_echoed_by_the_server_is_scrubbed(fake_openai):
    fake_openai.echo_key = True
    p = provider(fake_openai)
    p._api_key = "sk-wrong-echoed-1234567890"
    err = error_of(p)
    assert "sk-wrong-echoed-1234567890" not in str(err) and "Incorrect API key provided: ***" in str(err)


def test_slow_reply_times_out_as_retryable(fake_openai):
    fake_openai.inject(Fault.slow(3.0))
    err = error_of(provider(fake_openai, timeout_s=0.3))
    assert err.kind == ErrorKind.RETRYABLE and "timeout" in str(err)


# -- the 25 MiB upload limit -------------------------------------------------------------------


def _wav_clip(tmp_path, samples: np.ndarray, sample_rate: int = 16000) -> AudioClip:
    path = tmp_path / "long.wav"
    sf.write(path, samples, sample_rate, subtype="PCM_16")
    return load_audio(str(path))


@pytest.mark.slow
def test_a_wav_over_25_mib_is_reencoded_to_flac_under_the_limit(fake_openai, tmp_path):
    seconds = MAX_UPLOAD_BYTES / (2 * 16000) + 30  # about 14 minutes of 16-bit mono: over 25 MiB as WAV
    t = np.arange(int(seconds * 16000)) / 16000
    clip = _wav_clip(tmp_path, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32))
    assert (tmp_path / "long.wav").stat().st_size > MAX_UPLOAD_BYTES
    transcribe(provider(fake_openai), clip)
    (req,) = fake_openai.requests
    assert (req.file_name, req.file_type) == ("long.flac", "audio/flac")
    assert 0 < req.body_bytes < MAX_UPLOAD_BYTES


def test_audio_over_the_limit_even_as_flac_is_failed_before_upload(fake_openai, tmp_path):
    noise = np.random.default_rng(0).uniform(-0.9, 0.9, 16000).astype(np.float32)  # FLAC cannot shrink noise
    clip = _wav_clip(tmp_path, noise)
    err = error_of(provider(fake_openai, params={"max_upload_mb": 0.02}), clip)
    assert err.kind == ErrorKind.UTTERANCE and "over the 0.02 MiB upload limit; not sent" in str(err)
    assert fake_openai.requests == []


def test_the_limit_counts_the_whole_request_body_not_just_the_file(fake_openai, tmp_path):
    """A file just under the limit whose form fields and boundaries push the body over it is sent
    as FLAC: the server's limit is on the request it reads (413 otherwise)."""
    tone = (0.3 * np.sin(2 * np.pi * 220 * np.arange(16000) / 16000)).astype(np.float32)
    clip = _wav_clip(tmp_path, tone)
    size = (tmp_path / "long.wav").stat().st_size
    p = provider(fake_openai, params={"max_upload_mb": (size + 100) / 2**20, "prompt": "x" * 500})
    t = transcribe(p, clip)
    (req,) = fake_openai.requests
    assert (req.file_name, req.file_type) == ("long.flac", "audio/flac")  # the WAV alone would have fit
    assert req.body_bytes <= p.max_upload_bytes and t.text


def test_a_wav_over_a_configured_limit_is_sent_as_flac(fake_openai, tmp_path):
    tone = (0.3 * np.sin(2 * np.pi * 220 * np.arange(16000) / 16000)).astype(np.float32)
    clip = _wav_clip(tmp_path, tone)  # 32 KB as WAV, a few KB as FLAC
    t = transcribe(provider(fake_openai, params={"max_upload_mb": 0.02}), clip)
    (req,) = fake_openai.requests
    assert (req.file_name, req.file_type) == ("long.flac", "audio/flac")
    assert req.body_bytes < 0.02 * 2**20 and t.text  # the server decoded it


# -- streaming (server-sent events) ------------------------------------------------------------


@pytest.mark.parametrize("trailing_done", [True, False], ids=["with-DONE", "without-DONE"])
def test_stream_time_to_first_delta_against_a_known_delay(fake_openai, trailing_done):
    """The fake sends the headers, then the first delta 0.3 s later: a TTFT measured from the start
    of the request cannot be below that (time to headers would be)."""
    delay_s = 0.3
    fake_openai.first_partial_delay_s = delay_s
    fake_openai.delta_gap_s = 0.02
    fake_openai.trailing_done = trailing_done
    started = time.perf_counter()
    t = transcribe(provider(fake_openai, "gpt-4o-mini-transcribe", "streaming"))
    elapsed_ms = (time.perf_counter() - started) * 1000
    assert fake_openai.requests[0].fields["stream"] == ["true"]
    ttft, final, headers = t.meta["time_to_first_token_ms"], t.meta["time_to_final_ms"], t.meta["time_to_headers_ms"]
    print(f"\nOpenAI SSE ({'with' if trailing_done else 'without'} [DONE]): known first-delta delay "
          f"{delay_s * 1000:.0f} ms -> measured TTFT {ttft:.1f} ms (headers {headers:.1f} ms, done {final:.1f} ms)")
    assert headers < ttft and delay_s * 1000 <= ttft < final < elapsed_ms
    assert t.meta["done_marker"] is trailing_done
    assert t.meta["deltas"] == len(fake_openai.default_text.split())
    assert t.text == fake_openai.default_text and t.usage["type"] == "tokens"


def test_stream_cut_before_done_is_retryable(fake_openai):
    fake_openai.inject(Fault.malformed_json())  # one delta, then a broken event, then the end
    err = error_of(provider(fake_openai, "gpt-4o-mini-transcribe", "streaming"))
    assert err.kind == ErrorKind.RETRYABLE and "malformed JSON in a stream event" in str(err)


def test_stream_error_reply_is_classified(fake_openai):
    fake_openai.inject(Fault.http(429, retry_after_ms="800"))
    err = error_of(provider(fake_openai, "gpt-4o-mini-transcribe", "streaming"))
    assert (err.kind, err.retry_after_s) == (ErrorKind.RATE_LIMITED, 0.8)


def test_stream_ignored_by_the_server_is_read_as_one_reply(fake_openai):
    """An OpenAI-compatible server that ignores stream=true and answers JSON."""
    fake_openai.models.add("whisper-large-v3")
    t = transcribe(provider(fake_openai, "whisper-large-v3", "streaming", cls=OpenAICompatibleProvider))
    assert t.text == fake_openai.default_text
    assert t.meta["stream_ignored"] is True and t.meta["time_to_final_ms"] > 0


# -- OpenAI-compatible servers -----------------------------------------------------------------


def test_compatible_needs_base_url_but_no_key(fake_openai, monkeypatch):
    with pytest.raises(ConfigError, match="needs \"base_url\""):
        OpenAICompatibleProvider(ProviderConfig(name="openai_compatible", model="whisper-large-v3"))
    p = OpenAICompatibleProvider(ProviderConfig(name="openai_compatible", model="m", base_url=fake_openai.base_url))
    p.check_ready()  # no key needed
    assert p.headers() == {}
    monkeypatch.delenv("LOCAL_STT_KEY", raising=False)
    keyed = OpenAICompatibleProvider(ProviderConfig(name="openai_compatible", model="m", base_url=fake_openai.base_url,
                                                    api_key_env="LOCAL_STT_KEY"))
    with pytest.raises(ConfigError, match="LOCAL_STT_KEY is not set"):
        keyed.check_ready()


# -- end to end through the CLI ----------------------------------------------------------------


def _env(server) -> dict[str, str]:
    return {"OPENAI_API_KEY": server.api_key}


@pytest.mark.slow
def test_cli_three_models_into_sqlite(fake_openai, tmp_path):
    reference_transcripts(fake_openai, DEMO_ROOT)
    job = write_job(tmp_path / "job.json", [
        {"name": "openai", "model": "whisper-1", "base_url": fake_openai.base_url, "concurrency": 3,
         "params": {"language": "en"}},
        {"name": "openai", "model": "gpt-4o-transcribe", "base_url": fake_openai.base_url, "concurrency": 3},
        {"name": "openai", "model": "gpt-4o-mini-transcribe", "mode": "streaming", "label": "mini stream",
         "base_url": fake_openai.base_url, "concurrency": 3},
    ], DEMO_ROOT, max_utt=5)
    db = tmp_path / "bench.db"
    result = run_cli("--config", str(job), "--db", f"sqlite:///{db}", env=_env(fake_openai))
    assert result.returncode == 0, result.stderr

    preds = rows(db, "SELECT p.*, u.duration_s FROM prediction p JOIN utterance u USING (utt_id) ORDER BY job_run_id, utt_id")
    assert len(preds) == 15 and all(p["status"] == "ok" for p in preds)
    whisper, gpt4o, stream = preds[:5], preds[5:10], preds[10:]
    for p in whisper:
        words = json.loads(p["words_json"])
        assert [w["word"] for w in words] == p["hyp_text"].split()
        assert json.loads(p["usage_json"]) == {"type": "duration", "seconds": int(-(-p["duration_s"] // 1))}
    for p in gpt4o + stream:
        assert json.loads(p["words_json"]) is None and json.loads(p["usage_json"])["type"] == "tokens"
    runs = rows(db, "SELECT job_run_id, status, model_revision FROM job_run ORDER BY job_run_id")
    assert [(r["status"], r["model_revision"]) for r in runs] == [
        ("completed", "whisper-1"), ("completed", "gpt-4o-transcribe"), ("completed", "gpt-4o-mini-transcribe")]
    assert [w["value"] for w in rows(db, "SELECT value FROM metric_summary WHERE metric = 'wer' ORDER BY job_run_id")] == [0.0] * 3

    costs = rows(db, "SELECT * FROM cost_summary ORDER BY job_run_id")
    assert len(costs) == 3
    billed_whisper = sum(int(-(-p["duration_s"] // 1)) for p in whisper)  # whisper-1 usage: whole seconds
    audio_s = sum(p["duration_s"] for p in gpt4o)
    expected = [(billed_whisper, 0.006, "usage"), (audio_s, 0.006, "audio"), (audio_s, 0.003, "audio")]
    for cost, (seconds, price, source) in zip(costs, expected, strict=True):
        extra = json.loads(cost["extra_json"])
        assert cost["seconds_billed"] == pytest.approx(seconds, abs=1e-2)
        assert cost["price_usd"] == pytest.approx(seconds / 60 * price, rel=1e-3)
        key = "seconds_from_provider_usage" if source == "usage" else "seconds_from_audio_duration"
        assert extra[key] == pytest.approx(seconds, abs=1e-2)

    metas = [json.loads(r["meta_json"]) for r in rows(db, "SELECT meta_json FROM latency_sample WHERE job_run_id = ?", runs[2]["job_run_id"])]
    assert len(metas) == 5 and all(m["time_to_first_token_ms"] > 0 and m["done_marker"] for m in metas)
    assert files_containing(tmp_path, fake_openai.api_key) == []
    assert fake_openai.api_key not in result.stderr + result.stdout


@pytest.mark.slow
def test_cli_wrong_key_stops_the_job_run_and_never_leaks(fake_openai, tmp_path):
    fake_openai.echo_key = True  # the worst case: the server repeats the key in its error message
    wrong = "sk-wrong-0123456789ABCDEFGHIJ"
    job = write_job(tmp_path / "job.json", [
        {"name": "openai", "model": "whisper-1", "base_url": fake_openai.base_url, "concurrency": 2},
    ], DEMO_ROOT)
    db = tmp_path / "bench.db"
    result = run_cli("--config", str(job), "--db", f"sqlite:///{db}", env={"OPENAI_API_KEY": wrong})
    assert result.returncode == 1
    error_lines = [line for line in result.stderr.splitlines() if "401" in line]
    assert len(error_lines) == 1 and "Incorrect API key provided: ***" in error_lines[0], result.stderr
    assert len(fake_openai.requests) == 1  # the account's first attempt runs alone
    (run,) = rows(db, "SELECT status FROM job_run")
    assert run["status"] == "failed"
    assert files_containing(tmp_path, wrong) == [] and wrong not in result.stderr + result.stdout


@pytest.mark.slow
def test_cli_missing_key_fails_before_any_work(fake_openai, tmp_path):
    job = write_job(tmp_path / "job.json", [{"name": "openai", "model": "whisper-1", "base_url": fake_openai.base_url}], DEMO_ROOT)
    result = run_cli("--config", str(job), "--db", f"sqlite:///{tmp_path / 'b.db'}", env={"OPENAI_API_KEY": " "})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: $.providers[0]: provider 'openai/whisper-1': the API key variable OPENAI_API_KEY is not set; "
        "export OPENAI_API_KEY=... (or name another variable in api_key_env)"
    ]
    assert fake_openai.requests == []


@pytest.mark.slow
def test_cli_self_hosted_server_without_a_price(fake_openai, tmp_path):
    fake_openai.models.add("Systran/faster-whisper-small")
    fake_openai.api_key = None  # an open self-hosted server
    job = write_job(tmp_path / "job.json", [
        {"name": "openai_compatible", "model": "Systran/faster-whisper-small", "base_url": fake_openai.base_url,
         "params": {"response_format": "verbose_json"}},
        {"name": "openai_compatible", "model": "Systran/faster-whisper-small", "base_url": fake_openai.base_url,
         "label": "priced", "price_per_minute_usd": 0.001},
    ], DEMO_ROOT, max_utt=3)
    db = tmp_path / "bench.db"
    result = run_cli("--config", str(job), "--db", f"sqlite:///{db}", env={"OPENAI_API_KEY": ""})
    assert result.returncode == 0, result.stderr
    assert "no price known for openai_compatible/Systran/faster-whisper-small" in result.stderr
    assert all("Authorization" not in r.headers for r in fake_openai.requests)
    costs = rows(db, "SELECT c.*, j.label FROM cost_summary c JOIN job_run j USING (job_run_id)")
    assert [c["label"] for c in costs] == ["priced"]
    assert json.loads(costs[0]["extra_json"])["price_source"] == "price_per_minute_usd in the job file"
    params = json.loads(rows(db, "SELECT params_json FROM model ORDER BY model_id")[0]["params_json"])
    assert params["base_url"] == fake_openai.base_url and params["response_format"] == "verbose_json"


@pytest.mark.slow
def test_job_file_runs_against_the_fake(fake_openai, tmp_path):
    """jobs/openai_librispeech.json unchanged except base_url."""
    source = REPO / "jobs" / "openai_librispeech.json"
    job = json.loads(source.read_text())
    for p in job["providers"]:
        p["base_url"] = fake_openai.base_url
    for d in job["datasets"]:
        d["root"] = str((source.parent / d["root"]).resolve())
    path = tmp_path / "openai_librispeech.json"
    path.write_text(json.dumps(job))
    db = tmp_path / "bench.db"
    result = run_cli("--config", str(path), "--db", f"sqlite:///{db}", "--max-utt", "4", env=_env(fake_openai))
    assert result.returncode == 0, result.stderr
    runs = rows(db, "SELECT status FROM job_run")
    assert len(runs) == len(job["providers"]) and {r["status"] for r in runs} == {"completed"}
    assert rows(db, "SELECT count(*) AS n FROM prediction WHERE status = 'ok'")[0]["n"] == 4 * len(job["providers"])
    assert len(rows(db, "SELECT * FROM cost_summary")) == len(job["providers"])


def test_job_file_is_valid():
    from spectragram_bench.core.config import load_config

    config = load_config(REPO / "jobs" / "openai_librispeech.json")
    assert {p.name for p in config.providers} == {"openai"}
    assert "LibriSpeech" in (config.description or "")
