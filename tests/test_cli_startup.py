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


def test_one_malloc_arena_where_glibc_allows_it():
    """core/allocator.py caps glibc's arenas (per-thread arenas kept each phase's freed memory);
    an explicit MALLOC_ARENA_MAX is left to the user."""
    import ctypes
    import os
    import sys

    from spectragram_bench.core import allocator

    try:
        expect = sys.platform.startswith("linux") and hasattr(ctypes.CDLL("libc.so.6"), "gnu_get_libc_version")
    except OSError:
        expect = False
    old = os.environ.pop("MALLOC_ARENA_MAX", None)
    try:
        if expect:
            assert allocator.limit_arenas() is True
        os.environ["MALLOC_ARENA_MAX"] = "4"
        assert allocator.limit_arenas() is False
    finally:
        os.environ.pop("MALLOC_ARENA_MAX", None)
        if old is not None:
            os.environ["MALLOC_ARENA_MAX"] = old
