"""Shared fixtures: real databases (a temporary SQLite file, a throwaway PostgreSQL database)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

#: fake provider servers (tests/fakes): fixtures fake_deepgram, fake_openai
pytest_plugins = ["fakes.fixtures"]

REPO = Path(__file__).resolve().parent.parent
DEMO_ROOT = REPO / "data" / "demo_librispeech" / "LibriSpeech"
PG_ADMIN_URL = os.environ.get("SPECTRAGRAM_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'bench.db'}"


def _pg_admin():
    import psycopg

    return psycopg.connect(PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True, connect_timeout=5)


@pytest.fixture
def pg_url():
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    import psycopg

    name = f"sb_test_{uuid.uuid4().hex[:12]}"
    try:
        with _pg_admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is not reachable: {exc}")
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with _pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path: Path) -> str:
    """Each test using it runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'bench.db'}"
    return request.getfixturevalue("pg_url")


def migrate(conn, step: str, revision: str) -> None:
    """Alembic `step` ("upgrade" or "downgrade") to `revision` on `conn`, with the package's migrations."""
    from importlib.resources import files

    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(files("spectragram_bench") / "migrations"))
    cfg.attributes["connection"] = conn
    getattr(command, step)(cfg, revision)


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 600):
    """Run the real CLI (`python app.py ...`) in a subprocess; returns CompletedProcess."""
    full_env = {k: v for k, v in os.environ.items() if k != "SPECTRAGRAM_DB_URL"}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, str(REPO / "app.py"), *args],
        cwd=str(cwd or REPO),
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
