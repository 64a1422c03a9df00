"""Database access: URL resolution, engine set-up and migration, the batched upsert of results
(its single writer thread is core/result_writer.py), and the outage budget (core/db_retry.py).

Inference runs concurrently, but only one thread writes: workers `submit` results to a
queue, and the writer thread owns its session and commits in batches. On SQLite (WAL mode)
this avoids lock contention; on PostgreSQL it keeps round trips per utterance low. Writes are
upserts keyed on the seed's unique keys, so a duplicate is absorbed, never a second row.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from spectragram_bench.core.config import DB_URL_ENV, DEFAULT_DB_DIR, DEFAULT_DB_FILE
from spectragram_bench.core.db_retry import DEFAULT_DB_RETRY_S, retrying
from spectragram_bench.core.errors import DatabaseError
from spectragram_bench.core.models import LatencySample, Prediction
from spectragram_bench.core.records import PredictionResult
from spectragram_bench.core.redaction import redact_url
from spectragram_bench.core.statuses import PredictionStatus

log = logging.getLogger(__name__)

SUPPORTED_BACKENDS = ("sqlite", "postgresql")


def resolve_db_url(cli_url: str | None, config_url: str | None) -> str:
    """--db, then $SPECTRAGRAM_DB_URL, then the job file's database_url, then ./runs/spectragram.db."""
    for candidate in (cli_url, os.environ.get(DB_URL_ENV), config_url):
        if candidate:
            return candidate
    return f"sqlite:///{Path(DEFAULT_DB_DIR) / DEFAULT_DB_FILE}"


def normalise_url(url: str) -> str:
    """Validate a database URL and pick the driver we ship (psycopg 3 for PostgreSQL)."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise DatabaseError(f"invalid database URL {redact_url(url)!r}: expected e.g. sqlite:///runs/x.db or postgresql://user@host/db") from None
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED_BACKENDS:
        raise DatabaseError(f"unsupported database {backend!r} in URL {redact_url(url)!r}: use sqlite or postgresql")
    if backend == "postgresql" and parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite" and parsed.database not in (None, "", ":memory:"):
        check_sqlite_location(Path(parsed.database).expanduser())
    return parsed.render_as_string(hide_password=False)


def check_sqlite_location(path: Path) -> None:
    """The SQLite file's folder, created if missing; one line when it cannot be written (SQLite
    itself only says "unable to open database file")."""
    folder = path.parent
    hint = "pass --db sqlite:///<a writable folder>/<name>.db (or set $SPECTRAGRAM_DB_URL)"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabaseError(f"cannot create the database folder {folder}: {exc.strerror or exc}; {hint}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DatabaseError(f"the database folder {folder} is read-only: SQLite writes {path.name} and its "
                            f"-wal/-shm journal files there; {hint}")
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise DatabaseError(f"the database file {path} is not writable by this user; {hint}")


#: SQLite's own wait for a lock, at most: longer waits are retried by core/db_retry.py
MAX_SQLITE_BUSY_S = 30.0

T = TypeVar("T")


def _sqlite_pragmas(busy_s: Callable[[], float]):
    def on_connect(dbapi_conn, _record) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_s() * 1000)}")
        cur.close()

    return on_connect


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (creates it on an empty database)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(files("spectragram_bench") / "migrations"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


@dataclass
class Database:
    url: str
    engine: Engine
    #: how long one operation rides out a database outage (job config `db_retry_s`)
    retry_s: float = DEFAULT_DB_RETRY_S
    #: this process's turn at SQLite's single write lock (see `write_turn`)
    _write_turn: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def set_retry_s(self, seconds: float) -> None:
        """Change the outage budget; SQLite's busy wait follows it (new connections)."""
        if seconds != self.retry_s:
            self.retry_s = seconds
            self.engine.dispose()

    def retrying(self, fn: Callable[..., T], *args: Any, what: str, **kwargs: Any) -> T:
        """`fn(*args)` with transient database errors retried for up to `retry_s` (blocking)."""
        return retrying(fn, *args, budget_s=self.retry_s, what=what, **kwargs)

    @property
    def display_url(self) -> str:
        return redact_url(self.url)

    @property
    def location(self) -> str:
        """A file path for SQLite, the redacted URL otherwise."""
        parsed = make_url(self.url)
        if parsed.get_backend_name() == "sqlite" and parsed.database:
            return str(Path(parsed.database).resolve())
        return self.display_url

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    @contextmanager
    def write_turn(self) -> Iterator[None]:
        """Around a write transaction on SQLite: this process's threads take turns here, not
        inside SQLite. SQLite makes a writer that finds the lock taken poll it, sleeping 1, 2,
        5 ... 100 ms between looks (the lease thread and the result writer slept 6.9 s of a
        10k run waiting for each other's commits); a thread waiting here is woken the moment
        the lock is given back. Other processes
        (workers) still meet in SQLite's own wait; a turn not had within its busy timeout goes
        on without it (SQLite then waits, as before), so this never deadlocks."""
        if self.engine.dialect.name != "sqlite":
            yield
            return
        had = self._write_turn.acquire(timeout=min(MAX_SQLITE_BUSY_S, self.retry_s))  # SQLite's busy timeout
        try:
            yield
        finally:
            if had:
                self._write_turn.release()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self.write_turn(), self.session() as s, s.begin():
            yield s

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """`engine.begin()` for a write, in this process's turn (`write_turn`)."""
        with self.write_turn(), self.engine.begin() as conn:
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(url: str, *, upgrade: bool = True) -> Database:
    """Connect, check the connection, and migrate; any failure is one DatabaseError line."""
    full = normalise_url(url)
    kwargs = {"future": True}
    if full.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_engine(full, **kwargs)
    db = Database(full, engine)
    if full.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas(lambda: min(MAX_SQLITE_BUSY_S, db.retry_s)))
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        if upgrade:
            migrate(engine)
    except OperationalError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise DatabaseError(f"cannot open database {redact_url(full)}: {reason}") from None
    except SQLAlchemyError as exc:
        engine.dispose()
        raise DatabaseError(f"cannot use database {redact_url(full)}: {exc}") from None
    return db


def insert_for(dialect: str):
    """The dialect's INSERT construct (both have ON CONFLICT)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def upsert(session: Session, table, values: dict[str, Any], keys: Sequence[str], update: Sequence[str] = ()):
    """Insert a row keyed by `keys` (updating `update` columns if it exists) and return it."""
    insert = insert_for(session.bind.dialect.name)
    stmt = insert(table).values(**values)
    if update:
        stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_={k: stmt.excluded[k] for k in update})
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
    session.execute(stmt)
    return session.execute(select(table).filter_by(**{k: values[k] for k in keys})).scalar_one()


def write_results(session: Session, results: list[PredictionResult]) -> None:
    """Upsert a batch: a success replaces an earlier failure; nothing replaces a success."""
    if not results:
        return
    insert = insert_for(session.bind.dialect.name)
    pred_rows = [
        {
            "job_run_id": r.job_run_id,
            "utt_id": r.utt_id,
            "status": PredictionStatus.OK if r.ok else PredictionStatus.FAILED,
            "hyp_text": r.hyp_text,
            "words_json": r.words,
            "usage_json": r.usage,
            "error_kind": r.error_kind,
            "error_text": r.error_text,
            "attempts": r.attempts,
            "sent_sha256": r.sent_sha256,
            "reused_from": r.reused_from,
        }
        for r in results
    ]
    # one cached statement run as executemany: compiling a multi-row VALUES per batch cost
    # more CPU than the database's work (0.6 ms per result on SQLite)
    stmt = insert(Prediction)
    excluded = stmt.excluded
    stmt = stmt.on_conflict_do_update(
        index_elements=["job_run_id", "utt_id"],
        set_={
            "status": excluded.status,
            "hyp_text": excluded.hyp_text,
            "words_json": excluded.words_json,
            "usage_json": excluded.usage_json,
            "error_kind": excluded.error_kind,
            "error_text": excluded.error_text,
            "attempts": Prediction.attempts + excluded.attempts,
            "sent_sha256": excluded.sent_sha256,
            "reused_from": excluded.reused_from,
        },
        where=Prediction.status != PredictionStatus.OK,
    )
    session.connection().execute(stmt, pred_rows)
    lat_rows = [
        {
            "job_run_id": r.job_run_id,
            "utt_id": r.utt_id,
            "api_time_ms": r.api_time_ms,
            "queue_ms": r.queue_ms,
            "total_time_ms": r.total_time_ms,
            "rtf": r.rtf,
            "meta_json": {**r.latency_meta, "attempts": r.attempts, **({"billed_seconds": r.billed_seconds} if r.billed_seconds is not None else {})},
        }
        for r in results
        if r.ok and r.reused_from is None  # a reused prediction took no time: latency figures leave it out
    ]
    if lat_rows:
        lat = insert(LatencySample).on_conflict_do_nothing(index_elements=["job_run_id", "utt_id"])
        session.connection().execute(lat, lat_rows)


def existing_predictions(session: Session, job_run_id: int) -> set[int]:
    """utt_ids that already have a successful prediction in this job run (skipped on resume)."""
    rows = session.execute(
        select(Prediction.utt_id).where(Prediction.job_run_id == job_run_id, Prediction.status == PredictionStatus.OK)
    )
    return {r[0] for r in rows}
