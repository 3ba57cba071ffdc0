"""Engines, sessions and the schema check.

SQLite runs in WAL mode with a busy timeout (one daemon, a CLI and the portal may share the
file), and with `secure_delete` on every connection: deleted or overwritten content (a redacted
mail, a spent token) is zeroed in the page instead of left in a free block. `checkpoint_wal`
then empties the -wal file, which still holds the pages as they were before the change.
PostgreSQL is the same code with another URL.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlmodel import Session, create_engine

READ_ONLY_OPTION = "mailbot_read_only"


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_pre_ping=True,  # a connection broken by a fault is replaced, not used
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


@contextmanager
def read_scope(engine: Engine) -> Iterator[Session]:
    """A session that only reads: on SQLite its transaction is a deferred BEGIN, so it does not
    wait for (or block) another connection's write transaction; never committed."""
    with Session(engine.execution_options(**{READ_ONLY_OPTION: True})) as session:
        yield session  # closing ends the transaction; the objects read stay usable


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back when it raises."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
