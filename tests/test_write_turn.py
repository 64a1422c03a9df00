"""Write transactions of one process take turns in Python on SQLite (core/persistence.py
`Database.write_turn`), not in SQLite's sleeping busy wait; PostgreSQL is left to its row locks."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from spectragram_bench.core import persistence
from spectragram_bench.core.persistence import open_database


def _writer_waits_for_turn(db) -> list[str]:
    """Thread A holds a write transaction until told; thread B starts one meanwhile. The order
    in which they pass says whether B waited for A's turn."""
    order: list[str] = []
    a_inside, b_trying, release_a = threading.Event(), threading.Event(), threading.Event()

    def a() -> None:
        with db.transaction() as s:
            s.execute(text("INSERT INTO t VALUES (1)"))
            a_inside.set()
            b_trying.wait(5)
            # B is blocked now if turns are taken; give it a chance to get ahead if they are not
            release_a.wait(0.3)
            order.append("a done")

    def b() -> None:
        a_inside.wait(5)
        b_trying.set()
        with db.begin() as conn:
            order.append("b inside")
            conn.execute(text("INSERT INTO t VALUES (2)"))

    with db.transaction() as s:
        s.execute(text("CREATE TABLE t (x INTEGER)"))
    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    with db.session() as s:
        assert sorted(s.execute(text("SELECT x FROM t")).scalars()) == [1, 2]
    return order


def test_sqlite_write_transactions_of_one_process_take_turns(sqlite_url):
    db = open_database(sqlite_url)
    try:
        assert _writer_waits_for_turn(db) == ["a done", "b inside"]
    finally:
        db.dispose()


def test_a_turn_not_had_in_time_goes_on_without_it(sqlite_url, monkeypatch):
    """Never a deadlock: past the busy timeout the transaction goes ahead (SQLite then waits)."""
    db = open_database(sqlite_url)
    monkeypatch.setattr(persistence, "MAX_SQLITE_BUSY_S", 0.05)
    held = threading.Event()
    done = threading.Event()

    def hold() -> None:
        with db.write_turn():  # the turn only, no SQLite lock: the other's write can go on
            held.set()
            done.wait(5)

    t = threading.Thread(target=hold)
    t.start()
    try:
        held.wait(5)
        with db.transaction() as s:
            s.execute(text("CREATE TABLE u (x INTEGER)"))
            s.execute(text("INSERT INTO u VALUES (1)"))
        with db.session() as s:
            assert s.execute(text("SELECT count(*) FROM u")).scalar_one() == 1
    finally:
        done.set()
        t.join(5)
        db.dispose()


@pytest.mark.postgres
def test_postgresql_takes_no_process_turn(pg_url):
    """Row locks decide there: a second writer of other rows goes ahead while the first is open."""
    db = open_database(pg_url)
    try:
        assert _writer_waits_for_turn(db) == ["b inside", "a done"]
    finally:
        db.dispose()
