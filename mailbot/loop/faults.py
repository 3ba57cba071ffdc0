"""Whose fault is an exception: the infrastructure's (wait and try again) or the mail's
(quarantine it).

*Infrastructure*: the database went away, is restarting, is locked, is full or read-only, a
transaction lost a serialization race or a deadlock, the disk is full or read-only, an IMAP
or SMTP connection dropped. Nothing is wrong with the mail: it stays in the INBOX and is
processed again once the fault is over.

*The mail's fault*: everything else (a parser, a workflow or an annex that fails on this
mail). The mail is quarantined and the admins are told.

`is_database_fault` is wider: any error raised by the database layer (a unique-key race
between two instances included). The daemon waits those out instead of stopping.
"""

from __future__ import annotations

import errno
import imaplib
import socket
import sqlite3
import sys

import aiosmtplib
from sqlalchemy import exc as sa_exc

# SQLite's transient conditions (sqlite3.OperationalError carries them only as text).
SQLITE_TRANSIENT = (
    "database is locked",
    "database table is locked",
    "disk i/o error",
    "database or disk is full",
    "attempt to write a readonly database",
    "unable to open database file",
)
# PostgreSQL SQLSTATE classes: connection exception, transaction rollback (serialization
# failure, deadlock), insufficient resources (disk full), operator intervention (shutdown,
# "terminating connection"), system error (I/O).
PG_TRANSIENT_CLASSES = ("08", "40", "53", "57", "58")
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EIO})

SA_INFRASTRUCTURE: tuple[type[BaseException], ...] = (
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,  # no connection free in the pool
    sa_exc.PendingRollbackError,  # a connection invalidated under a session
)
CONNECTION: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    socket.timeout,
    imaplib.IMAP4.abort,
    aiosmtplib.SMTPConnectError,
    aiosmtplib.SMTPServerDisconnected,
    aiosmtplib.SMTPTimeoutError,
)


class InfrastructureDown(RuntimeError):
    """Processing stopped on an infrastructure fault: everything was rolled back, the mail is
    neither quarantined nor moved, and it is processed again when the fault is over."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(describe(cause))
        self.cause = cause


def describe(err: BaseException) -> str:
    """One line naming the fault (no traceback, no SQL statement)."""
    if isinstance(err, InfrastructureDown):
        return str(err)
    inner = err.orig if isinstance(err, sa_exc.DBAPIError) and err.orig is not None else err
    text = " ".join(str(inner).split())
    return f"{type(inner).__name__}: {text}"[:300]


def _chain(err: BaseException) -> list[BaseException]:
    """The exception, the DBAPI error it wraps and its explicit causes (`raise … from`)."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [err]
    while todo:
        current = todo.pop()
        if current is None or any(current is s for s in seen) or len(seen) > 10:
            continue
        seen.append(current)
        todo.append(current.__cause__)
        if isinstance(current, sa_exc.DBAPIError):
            todo.append(current.orig)
        if isinstance(current, InfrastructureDown):
            todo.append(current.cause)
    return seen


def _is_psycopg_error(err: BaseException) -> bool:
    """An error of psycopg. psycopg is not imported for it: an error of psycopg exists only
    once SQLAlchemy loaded psycopg for a PostgreSQL URL, and a SQLite process is spared its
    import (0.1 s of start-up)."""
    pg = sys.modules.get("psycopg")
    return pg is not None and isinstance(err, pg.Error)


def _one_is_infrastructure(err: BaseException) -> bool:
    if isinstance(err, InfrastructureDown | sa_exc.DisconnectionError):
        return True
    if isinstance(err, sa_exc.DBAPIError) and err.connection_invalidated:
        return True
    if isinstance(err, SA_INFRASTRUCTURE):
        return True
    if isinstance(err, sqlite3.OperationalError):
        message = str(err).lower()
        return any(m in message for m in SQLITE_TRANSIENT)
    if _is_psycopg_error(err):
        state = err.sqlstate or ""  # type: ignore[attr-defined]
        pg = sys.modules["psycopg"]
        return isinstance(err, pg.OperationalError) or state[:2] in PG_TRANSIENT_CLASSES
    if isinstance(err, OSError) and err.errno in STORAGE_ERRNOS:
        return True
    return isinstance(err, CONNECTION)


def is_infrastructure(err: BaseException) -> bool:
    """True when `err` (or what it wraps) is an infrastructure fault, not the mail's."""
    return any(_one_is_infrastructure(e) for e in _chain(err))


def is_database_fault(err: BaseException) -> bool:
    """Any error of the database layer, or a storage fault: the daemon waits it out."""
    if is_infrastructure(err) and not isinstance(err, CONNECTION):
        return True
    return any(
        isinstance(e, sa_exc.SQLAlchemyError | sqlite3.Error) or _is_psycopg_error(e)
        for e in _chain(err)
    )
