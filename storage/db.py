"""Sessions: one write transaction (`session_scope`) or a read (`read_scope`). The engines
are `storage.engine`'s, re-exported here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

from sqlalchemy import Connection, Engine
from sqlmodel import Session

from storage.engine import (
    CHECKPOINT_BUSY_MS,
    READ_ONLY_OPTION,
    WriterQueue,
    checkpoint_wal,
    make_engine,
    read_only_engine,
    writer_queue,
)

__all__ = [
    "CHECKPOINT_BUSY_MS",
    "READ_ONLY_OPTION",
    "WriterQueue",
    "checkpoint_wal",
    "make_engine",
    "read_connection",
    "read_scope",
    "session_scope",
    "writer_queue",
]


@contextmanager
def read_scope(engine: Engine) -> Iterator[Session]:
    """A session that only reads: on SQLite its transaction is a deferred BEGIN, so it does not
    wait for (or block) another connection's write transaction; never committed."""
    with Session(read_only_engine(engine)) as session:
        yield session  # closing ends the transaction; the objects read stay usable


@contextmanager
def read_connection(engine: Engine) -> Iterator[Connection]:
    """`read_scope` for SQL statements only: a connection in the same deferred read
    transaction, without a session's bookkeeping (a look-up costs 0.15 ms instead of 0.25)."""
    with read_only_engine(engine).connect() as connection:
        yield connection  # closing rolls the read transaction back


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back when it raises. On SQLite
    the block waits for its turn among the process's writers (`WriterQueue`)."""
    queue = writer_queue(engine)
    with queue.turn() if queue is not None else nullcontext():
        with Session(engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
