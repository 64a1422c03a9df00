"""Each fatal bad input gives exactly one `error:` line on stderr and a non-zero exit."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests.conftest import DEMO_ROOT, run_cli


def job_file(tmp_path: Path, **overrides) -> Path:
    job = {
        "providers": [{"name": "mock"}],
        "datasets": [{"name": "librispeech", "root": str(DEMO_ROOT)}],
        "evaluation": {"normalizer": "basic"},
        **overrides,
    }
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job))
    return path


def assert_one_line_error(proc, *fragments: str) -> None:
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert "Traceback" not in proc.stderr


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_missing_config(tmp_path: Path, sqlite_url: str) -> None:
    assert_one_line_error(run_cli("--config", str(tmp_path / "nope.json"), "--db", sqlite_url), "config file not found", "nope.json")


def test_unreadable_config(tmp_path: Path, sqlite_url: str) -> None:
    assert_one_line_error(run_cli("--config", str(tmp_path), "--db", sqlite_url), "cannot read config")


def test_invalid_json(tmp_path: Path, sqlite_url: str) -> None:
    path = tmp_path / "job.json"
    path.write_text("{ not json")
    assert_one_line_error(run_cli("--config", str(path), "--db", sqlite_url), "job.json:1:", "invalid JSON")


def test_schema_violation(tmp_path: Path, sqlite_url: str) -> None:
    path = job_file(tmp_path, providers=[{"name": "mock", "concurency": 3}])
    assert_one_line_error(run_cli("--config", str(path), "--db", sqlite_url), "$.providers[0].concurency: unknown key")


def test_unknown_provider_lists_known_names(tmp_path: Path, sqlite_url: str) -> None:
    path = job_file(tmp_path, providers=[{"name": "whisperx"}])
    assert_one_line_error(run_cli("--config", str(path), "--db", sqlite_url), "unknown provider 'whisperx'", "mock", "pocketsphinx")


def test_unknown_dataset_lists_known_names(tmp_path: Path, sqlite_url: str) -> None:
    path = job_file(tmp_path, datasets=[{"name": "timit", "root": str(DEMO_ROOT)}])
    assert_one_line_error(run_cli("--config", str(path), "--db", sqlite_url), "unknown dataset 'timit'", "librispeech")


def test_missing_dataset_root(tmp_path: Path, sqlite_url: str) -> None:
    path = job_file(tmp_path, datasets=[{"name": "librispeech", "root": str(tmp_path / "gone")}])
    assert_one_line_error(run_cli("--config", str(path), "--db", sqlite_url), "gone", "does not exist")


def test_missing_subset(tmp_path: Path, sqlite_url: str) -> None:
    path = job_file(tmp_path, datasets=[{"name": "librispeech", "root": str(DEMO_ROOT), "subsets": ["test-clean"]}])
    assert_one_line_error(run_cli("--config", str(path), "--db", sqlite_url), "test-clean", "demo-clean")


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("mysql://root@localhost/x", "unsupported database 'mysql'"),
        ("not a url", "invalid database URL"),
        (f"postgresql://postgres@127.0.0.1:{closed_port()}/test", "cannot open database"),
        ("postgresql://postgres:s3cret@127.0.0.1:5432/no_such_db_here", "cannot open database"),
    ],
)
def test_bad_database_url(tmp_path: Path, url: str, fragment: str) -> None:
    proc = run_cli("--config", str(job_file(tmp_path)), "--db", url)
    assert_one_line_error(proc, fragment)
    assert "s3cret" not in proc.stderr


def test_bad_numeric_flag(tmp_path: Path, sqlite_url: str) -> None:
    assert_one_line_error(run_cli("--config", str(job_file(tmp_path)), "--db", sqlite_url, "--max-utt", "0"), "--max-utt")


def test_database_url_from_environment(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'env.db'}"
    proc = run_cli("--config", str(job_file(tmp_path)), "--max-utt", "3", env={"SPECTRAGRAM_DB_URL": url})
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "env.db").exists()
