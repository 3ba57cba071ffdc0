"""Engines: SQLite's pragmas and transactions, the WAL checkpoint (`storage.db` adds the
sessions). SQLAlchemy Core only, so that a one-shot command reading with plain SELECTs
(`mailbot status`) does not load the ORM.

SQLite runs in WAL mode with a busy timeout (one daemon, a CLI and the portal may share the
file), and with `secure_delete` on every connection: deleted or overwritten content (a redacted
mail, a spent token) is zeroed in the page instead of left in a free block. `checkpoint_wal`
then empties the -wal file, which still holds the pages as they were before the change.
PostgreSQL is the same code with another URL.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import Engine, create_engine, event

from storage.urls import SQLITE_PREFIX, sqlite_path

READ_ONLY_OPTION = "mailbot_read_only"


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith(SQLITE_PREFIX):
        path = sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            # No pre-ping: a SQLite connection is a file handle that does not go stale, and its
            # `SELECT 1` on every checkout cost more than some of the queries it preceded.
            **kwargs,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy's transaction start be a real BEGIN IMMEDIATE so that two writers
            # serialise instead of failing on a lock upgrade.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA secure_delete=ON")  # secrets are zeroed, not just unlinked
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # `read_scope` asks for a deferred BEGIN: a reader never waits for a writer (WAL).
            deferred = conn.get_execution_options().get(READ_ONLY_OPTION, False)
            conn.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def read_only_engine(engine: Engine) -> Engine:
    """`engine` with the read option (`READ_ONLY_OPTION`: on SQLite a deferred BEGIN), made
    once per engine (making it costs as much as a look-up). It shares the engine's pool, so
    it follows the engine's `dispose`."""
    found = engine.__dict__.get("_mailbot_read_only")
    if found is None:
        found = engine.__dict__["_mailbot_read_only"] = engine.execution_options(
            **{READ_ONLY_OPTION: True}
        )
    return cast(Engine, found)


CHECKPOINT_BUSY_MS = 2000


def checkpoint_wal(engine: Engine) -> bool:
    """Copy the SQLite write-ahead log into the database and truncate it to zero bytes, so that
    pages from before a redaction leave the disk. True when the log was emptied; False when a
    reader still needed it (it is emptied by a later checkpoint) or on PostgreSQL (nothing to do:
    its own WAL is recycled by the server)."""
    if engine.dialect.name != "sqlite":
        return False
    # The DB-API connection in autocommit: a checkpoint cannot run inside a transaction.
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        # Wait briefly for readers, never the long busy timeout of ordinary writes.
        cur.execute(f"PRAGMA busy_timeout={CHECKPOINT_BUSY_MS}")
        busy, _log, _done = cur.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()
    finally:
        raw.close()
    return int(busy) == 0


# As SQLite's busy timeout (`PRAGMA busy_timeout=30000`).
TURN_TIMEOUT_SECONDS = 30.0


class WriterQueue:
    """A process's SQLite writers served in their order of arrival (re-entrant per thread).

    SQLite has one writer lock, and a connection that finds it taken retries from its busy
    handler after sleeps of up to 100 ms. A thread that writes back to back (ingestion:
    journal, decision, one message after the other) takes the lock again the moment it
    released it, and another thread of the process (the outbox sender) waits until the first
    one stops. Here a writer that arrives while another writes gets the next turn, so the two
    alternate. Other processes still meet SQLite's busy handler."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: deque[int] = deque()  # thread idents, in their order of arrival
        self._owner: int | None = None
        self._depth = 0

    def idle(self) -> bool:
        """No writer holds or waits for a turn now (a hint: one may arrive the next instant)."""
        with self._cond:
            return self._owner is None and not self._queue

    @contextmanager
    def turn(self, timeout: float = TURN_TIMEOUT_SECONDS) -> Iterator[None]:
        """Wait for this thread's turn (at most `timeout`: then the write goes ahead and meets
        SQLite's own busy timeout, as it did without the queue)."""
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                self._depth += 1
                owned = True
            else:
                self._queue.append(me)
                owned = self._cond.wait_for(
                    lambda: self._owner is None and self._queue[0] == me, timeout
                )
                self._queue.remove(me)
                if owned:
                    self._owner, self._depth = me, 1
                else:
                    self._cond.notify_all()  # the head of the queue may have changed
        try:
            yield
        finally:
            if owned:
                with self._cond:
                    self._depth -= 1
                    if self._depth == 0:
                        self._owner = None
                        self._cond.notify_all()


_writer_queues: dict[str, WriterQueue] = {}
_writer_queues_lock = threading.Lock()


def writer_queue(engine: Engine) -> WriterQueue | None:
    """The queue of this SQLite database's writers in this process; None on PostgreSQL."""
    if engine.dialect.name != "sqlite":
        return None
    key = str(engine.url)
    with _writer_queues_lock:
        return _writer_queues.setdefault(key, WriterQueue())
