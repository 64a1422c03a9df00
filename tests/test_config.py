"""Job files: strict validation with one-line errors naming the JSON path; the schema command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spectragram_bench.core.config import JobConfig, load_config, parse_config
from spectragram_bench.core.errors import ConfigError
from spectragram_bench.core.redaction import redact
from tests.conftest import REPO, run_cli

JOB_FILES = sorted((REPO / "jobs").glob("*.json"))

MINIMAL = {
    "providers": [{"name": "mock"}],
    "datasets": [{"name": "librispeech", "root": "/tmp"}],
}


@pytest.mark.parametrize("path", JOB_FILES, ids=[p.name for p in JOB_FILES])
def test_every_job_file_validates(path: Path) -> None:
    config = load_config(path)
    assert isinstance(config, JobConfig)
    for ds in config.datasets:
        assert Path(ds.root).is_absolute()


def test_job_files_exist() -> None:
    assert any(p.name == "demo_librispeech.json" for p in JOB_FILES)


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        ({"providers": [{"name": "mock", "colour": 1}]}, "$.providers[0].colour: unknown key"),
        ({"providers": [{"name": "mock", "concurrency": 0}]}, "$.providers[0].concurrency: Input should be greater than or equal to 1"),
        ({"providers": []}, "$.providers: List should have at least 1 item"),
        ({"max_utt": "ten"}, "$.max_utt: Input should be a valid integer"),
        ({"unknown_top": True}, "$.unknown_top: unknown key"),
        ({"datasets": [{"name": "librispeech"}]}, "$.datasets[0].root: Field required"),
    ],
)
def test_schema_violations_are_one_line_with_json_path(patch: dict, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({**MINIMAL, **patch}, "job.json")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("job.json: invalid config: ")
    assert expected in message


def test_relative_roots_resolve_against_the_job_file(tmp_path: Path) -> None:
    (tmp_path / "jobs").mkdir()
    job = tmp_path / "jobs" / "j.json"
    job.write_text(json.dumps({**MINIMAL, "datasets": [{"name": "librispeech", "root": "../data/x"}]}))
    assert load_config(job).datasets[0].root == str((tmp_path / "data" / "x").resolve())


def test_invalid_json_names_line_and_column(tmp_path: Path) -> None:
    job = tmp_path / "bad.json"
    job.write_text('{"providers": [\n  {"name": "mock",}\n]}')
    with pytest.raises(ConfigError, match=r"bad.json:2:\d+: invalid JSON"):
        load_config(job)


def test_redact_hides_secrets_but_keeps_variable_names() -> None:
    stored = redact(
        {
            "providers": [{"api_key_env": "OPENAI_API_KEY", "params": {"api_key": "sk-123", "token": ""}}],
            "database_url": "postgresql://u:hunter2@db/x",
        }
    )
    assert stored["providers"][0]["api_key_env"] == "OPENAI_API_KEY"
    assert stored["providers"][0]["params"]["api_key"] == "***REDACTED***"
    assert "hunter2" not in json.dumps(stored)


def test_schema_command_prints_the_json_schema() -> None:
    proc = run_cli("schema")
    assert proc.returncode == 0, proc.stderr
    schema = json.loads(proc.stdout)
    assert schema["title"] == "JobConfig"
    assert {"providers", "datasets", "evaluation", "database_url"} <= set(schema["properties"])
    assert schema["additionalProperties"] is False
