"""`list` in a real terminal: a table when it fits, else one block per benchmark, never a cut
name (at 100 columns the table cut every cell to `benchma…`, `pockets…`, `comple…`)."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios

from tests.conftest import REPO, run_cli
from tests.test_run_end_summary import mock_job


def in_terminal(columns: int, *args: str) -> str:
    """The CLI's output on a pseudo-terminal `columns` wide."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("SPECTRAGRAM_DB_URL", "COLUMNS", "LINES")}
    proc = subprocess.Popen([sys.executable, str(REPO / "app.py"), *args], stdin=follower, stdout=follower,
                            stderr=follower, cwd=REPO, env=env, close_fds=True)
    os.close(follower)
    out = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    assert proc.wait(timeout=60) == 0, out.decode(errors="replace")
    os.close(leader)
    return re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", out.decode(errors="replace")).replace("\r", "")


def test_list_fits_a_100_column_terminal_without_cutting_names(tmp_path, sqlite_url):
    assert run_cli("run", "--config", str(mock_job(tmp_path)), "--db", sqlite_url, "--no-report").returncode == 0
    narrow = in_terminal(100, "list", "--db", sqlite_url)
    assert "\u2026" not in narrow, narrow
    assert "job run 1  mock/m1  completed" in narrow and " eval v" in narrow
    assert "\u2503" not in narrow  # the table (116 columns here) does not fit: blocks
    wide = in_terminal(250, "list", "--db", sqlite_url)
    assert "\u2503 benchmark \u2503" in wide and "\u2026" not in wide, wide  # the table, every cell whole
    forced = in_terminal(100, "list", "--wide", "--db", sqlite_url)
    assert "\u2503" in forced  # --wide: the table whatever the width
