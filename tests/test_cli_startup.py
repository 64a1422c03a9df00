"""Start-up: `--help` (top level and per command) imports nothing heavy, so the CLI answers at once."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import REPO

HEAVY = ("sqlalchemy", "numpy", "rich", "pydantic", "httpx", "scipy", "soundfile")


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["report", "--help"], ["worker", "--help"], ["export", "--help"]])
def test_help_imports_nothing_heavy(argv):
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", str(REPO / "app.py"), *argv],
        capture_output=True, text=True, cwd=REPO, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "usage:" in proc.stdout
    imported = {line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert not imported & set(HEAVY), sorted(imported & set(HEAVY))
