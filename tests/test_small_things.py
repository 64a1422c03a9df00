"""Issue 17's small things: a read-only database folder is one clear line; `list | head` and
`report | head` over a real benchmark end without a traceback; the Parquet hint names the
README's install command; the parquet extra brings pandas for the README's snippet."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import pytest

from spectragram_bench.reporting.export import PARQUET_INSTALL
from tests.conftest import DEMO_ROOT, REPO, run_cli

APP = [sys.executable, str(REPO / "app.py")]
NOBODY = 65534


def as_other_user() -> list[str]:
    """A prefix running a command as a user without write access (root ignores permissions)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: cannot take write permission away")
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


@pytest.mark.parametrize("where", ["folder", "subfolder"])
def test_a_read_only_database_folder_is_one_clear_line(tmp_path, where):
    top = Path(tempfile.mkdtemp(prefix="sb-ro-"))  # under /tmp: the other user can reach it (pytest's tmp is 0700)
    top.chmod(0o755)
    folder = top / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    path = folder / "x.db" if where == "folder" else folder / "sub" / "x.db"
    try:
        proc = subprocess.run([*as_other_user(), *APP, "list", "--db", f"sqlite:///{path}"],
                              capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False)
    finally:
        folder.chmod(0o755)
        shutil.rmtree(top)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    expected = f"the database folder {folder} is read-only" if where == "folder" else f"cannot create the database folder {path.parent}"
    assert lines[0].startswith(f"error: {expected}") and "--db sqlite:///" in lines[0], lines[0]


def test_list_and_report_into_a_closed_pipe_end_quietly(tmp_path, sqlite_url):
    job = tmp_path / "job.json"
    job.write_text(json.dumps({
        "providers": [{"name": "mock"}],
        "datasets": [{"name": "librispeech", "root": str(DEMO_ROOT), "subsets": ["demo-clean"]}],
        "evaluation": {"normalizer": "basic", "bootstrap_iterations": 0},
    }))
    assert run_cli("run", "--config", str(job), "--db", sqlite_url, "--no-report").returncode == 0
    for args in (["list"], ["report", "1", "--out", str(tmp_path / "r.html")]):
        # as `cmd | head -1`: the reader takes one line and goes away
        proc = subprocess.Popen([*APP, *args, "--db", sqlite_url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
        assert proc.stdout.readline()
        proc.stdout.close()
        stderr = proc.stderr.read().decode()
        code = proc.wait(120)
        assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
        assert code in (0, 141), (args, code, stderr)  # 0: all of it fit in the pipe's buffer


def test_the_parquet_hint_is_the_readmes_install_command(tmp_path, sqlite_url):
    assert f"`{PARQUET_INSTALL}`" in (REPO / "README.md").read_text()
    code = ("import sys; sys.modules['pyarrow'] = None; from spectragram_bench.app import main; "
            f"sys.exit(main(['export', '1', '--format', 'parquet', '--out', {str(tmp_path / 'out')!r}, '--db', {sqlite_url!r}]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120, check=False)
    assert proc.returncode == 2 and f"Parquet export needs pyarrow: {PARQUET_INSTALL}" in proc.stderr, proc.stderr


def test_the_parquet_extra_brings_pandas():
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(dep.startswith("pandas") for dep in extras["parquet"]) and any(dep.startswith("pyarrow") for dep in extras["parquet"])


def test_help_of_run_names_reuse_and_dry_run(tmp_path):
    out = run_cli("run", "--help").stdout
    assert "--reuse" in out and "--dry-run" in out


@pytest.fixture(autouse=True)
def _no_env_db(monkeypatch):
    monkeypatch.delenv("SPECTRAGRAM_DB_URL", raising=False)


def test_default_database_in_a_read_only_cwd(tmp_path):
    cwd = tmp_path / "ro_cwd"
    cwd.mkdir()
    cwd.chmod(0o555)
    try:
        proc = subprocess.run([*as_other_user(), *APP, "list"], capture_output=True, text=True, cwd=cwd, timeout=120,
                              check=False, env={k: v for k, v in os.environ.items() if k != "SPECTRAGRAM_DB_URL"})
    finally:
        cwd.chmod(0o755)
    assert proc.returncode == 2 and proc.stderr.startswith(f"error: cannot create the database folder {Path('runs')}"), proc.stderr
