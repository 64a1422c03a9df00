"""faster-whisper is an optional extra (not installed in CI): its failures must be one clear line."""

from __future__ import annotations

import importlib.util
import json

import pytest
from conftest import DEMO_ROOT, run_cli
from fakes.harness import write_job

from spectragram_bench.core.config import ProviderConfig
from spectragram_bench.core.errors import ConfigError
from spectragram_bench.core.registry import PROVIDERS
from spectragram_bench.providers.faster_whisper_provider import FasterWhisperProvider, directory_checksum

INSTALLED = importlib.util.find_spec("faster_whisper") is not None


def make(params: dict) -> FasterWhisperProvider:
    return PROVIDERS.get("faster_whisper")(ProviderConfig(name="faster_whisper", model="small", params=params))


def test_model_dir_is_required():
    with pytest.raises(ConfigError, match="set params.model_dir"):
        make({})


def test_missing_model_dir_is_one_line(tmp_path):
    p = make({"model_dir": str(tmp_path / "nowhere")})
    with pytest.raises(ConfigError) as info:
        p.check_ready()
    assert str(info.value) == (
        f"provider 'faster_whisper/small': params.model_dir {tmp_path / 'nowhere'} does not exist "
        "(a CTranslate2 Whisper model directory)"
    )


def test_a_directory_without_model_bin_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="has no model.bin"):
        make({"model_dir": str(tmp_path)}).check_ready()


@pytest.mark.skipif(INSTALLED, reason="faster-whisper is installed here")
def test_not_installed_is_one_line_with_the_install_command(tmp_path):
    (tmp_path / "model.bin").write_bytes(b"weights")
    with pytest.raises(ConfigError) as info:
        make({"model_dir": str(tmp_path)}).check_ready()
    assert str(info.value) == (
        "provider 'faster_whisper/small': the optional package faster-whisper is not installed; "
        "pip install -e '.[faster-whisper]'"
    )


@pytest.mark.slow
@pytest.mark.skipif(INSTALLED, reason="faster-whisper is installed here")
def test_cli_says_so_before_any_work(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.bin").write_bytes(b"weights")
    job = write_job(tmp_path / "job.json", [{"name": "faster_whisper", "model": "small", "params": {"model_dir": str(model)}}], DEMO_ROOT)
    result = run_cli("--config", str(job), "--db", f"sqlite:///{tmp_path / 'b.db'}")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: $.providers[0]: provider 'faster_whisper/small': the optional package faster-whisper is not installed; "
        "pip install -e '.[faster-whisper]'"
    ]


def test_model_params_record_the_weights_and_every_decoding_option(tmp_path):
    (tmp_path / "model.bin").write_bytes(b"weights")
    (tmp_path / "config.json").write_text(json.dumps({"a": 1}))
    p = make({"model_dir": str(tmp_path), "beam_size": 1, "language": "en", "compute_type": "int8"})
    params = p.model_params()
    assert params["model_dir"] == str(tmp_path) and params["model_sha256"] == directory_checksum(tmp_path)
    assert params["beam_size"] == 1 and params["language"] == "en" and params["compute_type"] == "int8"
    assert params["word_timestamps"] is True and params["temperature"] == 0.0 and params["device"] == "cpu"
    (tmp_path / "model.bin").write_bytes(b"other weights")
    assert directory_checksum(tmp_path) != params["model_sha256"]
