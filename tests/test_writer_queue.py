"""SQLite writers of one process take turns in their order of arrival (`storage.db.WriterQueue`),
on the real engine: a thread that writes back to back no longer starves another writer."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import text

from storage.db import WriterQueue, make_engine, session_scope, writer_queue


def test_a_waiting_writer_gets_the_next_turn_and_turns_nest() -> None:
    queue = WriterQueue()
    order: list[str] = []
    holding = threading.Event()

    def greedy() -> None:
        for i in range(5):
            with queue.turn():
                with queue.turn():  # re-entrant in its own thread
                    order.append(f"greedy{i}")
                    holding.set()
                    time.sleep(0.02)

    def other() -> None:
        holding.wait()
        with queue.turn():
            order.append("other")

    threads = [threading.Thread(target=greedy), threading.Thread(target=other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert order.index("other") <= 2, order  # served after at most one more greedy turn


def test_session_scope_queues_sqlite_writers_only(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/q.db")
    queue = writer_queue(engine)
    assert queue is not None and writer_queue(make_engine(f"sqlite:///{tmp_path}/q.db")) is queue
    with session_scope(engine) as session:
        session.execute(text("CREATE TABLE t (n INTEGER)"))
    done: list[int] = []

    def writer(n: int) -> None:
        for _ in range(20):
            with session_scope(engine) as session:
                session.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
        done.append(n)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    with session_scope(engine) as session:
        assert session.execute(text("SELECT count(*) FROM t")).scalar_one() == 60
    assert sorted(done) == [0, 1, 2]
    engine.dispose()
    assert writer_queue(make_engine("postgresql+psycopg://u@127.0.0.1:1/x")) is None


def test_a_writer_kept_waiting_too_long_goes_ahead_as_before() -> None:
    """After the timeout a writer no longer waits for its turn: SQLite's own busy timeout
    decides, as without the queue (a stuck writer does not block the others for ever)."""
    queue = WriterQueue()
    holding, release = threading.Event(), threading.Event()

    def stuck() -> None:
        with queue.turn():
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=stuck)
    thread.start()
    holding.wait(5)
    started = time.monotonic()
    with queue.turn(timeout=0.2):
        waited = time.monotonic() - started
    assert 0.15 < waited < 5
    release.set()
    thread.join(5)
    with queue.turn(timeout=1):  # the queue is left consistent
        pass
