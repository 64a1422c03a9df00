"""A reader that goes away (`schema | head`, `list | head`) ends a command quietly: no traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import REPO


@pytest.mark.parametrize("args", [["schema"], ["--help"], ["list"], ["report", "1"]], ids=lambda a: a[0])
def test_a_closed_pipe_ends_the_command_without_a_traceback(args, tmp_path):
    db = f"sqlite:///{tmp_path / 'bench.db'}"
    extra = ["--db", db] if args[0] in ("list", "report") else []
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "app.py"), *args, *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path,
    )
    proc.stdout.close()  # the reader is gone before the first byte: every write hits EPIPE
    stderr = proc.stderr.read().decode()
    proc.wait(60)
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
