"""Whose fault is an exception: the infrastructure's (the mail waits in the INBOX) or the
mail's (quarantine). Real exceptions, raised by the real drivers where it is cheap to do so."""

from __future__ import annotations

import errno
import imaplib
import sqlite3

import aiosmtplib
import psycopg
import pytest
from psycopg import errors as pg_errors
from sqlalchemy import create_engine, text
from sqlalchemy import exc as sa_exc

from mailbot.annex.reader import AnnexError
from mailbot.loop.faults import (
    InfrastructureDown,
    describe,
    is_database_fault,
    is_infrastructure,
)


def wrapped(
    orig: BaseException, cls: type[sa_exc.DBAPIError] = sa_exc.OperationalError
) -> Exception:
    return cls("SELECT 1", {}, orig)  # type: ignore[arg-type]


INFRASTRUCTURE = {
    "sa-operational-psycopg": wrapped(psycopg.OperationalError("terminating connection")),
    "pg-admin-shutdown": wrapped(pg_errors.AdminShutdown("terminating connection")),
    "pg-serialization": wrapped(pg_errors.SerializationFailure("could not serialize")),
    "pg-deadlock": wrapped(pg_errors.DeadlockDetected("deadlock detected")),
    "pg-disk-full": wrapped(pg_errors.DiskFull("could not extend file")),
    "sa-interface": wrapped(psycopg.InterfaceError("connection closed"), sa_exc.InterfaceError),
    "sa-disconnection": sa_exc.DisconnectionError("gone"),
    "sa-pool-timeout": sa_exc.TimeoutError("QueuePool limit"),
    "sqlite-locked": wrapped(sqlite3.OperationalError("database is locked")),
    "sqlite-io": wrapped(sqlite3.OperationalError("disk I/O error")),
    "sqlite-full": wrapped(sqlite3.OperationalError("database or disk is full")),
    "sqlite-readonly": wrapped(sqlite3.OperationalError("attempt to write a readonly database")),
    "raw-sqlite-locked": sqlite3.OperationalError("database is locked"),
    "raw-psycopg": psycopg.OperationalError("connection refused"),
    "enospc": OSError(errno.ENOSPC, "No space left on device"),
    "erofs": OSError(errno.EROFS, "Read-only file system"),
    "imap-abort": imaplib.IMAP4.abort("socket error: EOF"),
    "smtp-disconnected": aiosmtplib.SMTPServerDisconnected("gone"),
    "connection-reset": ConnectionResetError(errno.ECONNRESET, "reset"),
    "already-wrapped": InfrastructureDown(sqlite3.OperationalError("disk I/O error")),
}
MAILS_FAULT = {
    "value-error": ValueError("bad date"),
    "key-error": KeyError("x"),
    "annex": AnnexError("empty", "Le fichier est vide.", "empty file"),
    "sqlite-syntax": wrapped(sqlite3.OperationalError('near "SELEC": syntax error')),
    "integrity": wrapped(sqlite3.IntegrityError("UNIQUE constraint failed"), sa_exc.IntegrityError),
    "file-not-found": FileNotFoundError(errno.ENOENT, "nope"),
    "unicode": UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
}


@pytest.mark.parametrize("name", INFRASTRUCTURE)
def test_infrastructure_faults(name: str) -> None:
    assert is_infrastructure(INFRASTRUCTURE[name])


@pytest.mark.parametrize("name", MAILS_FAULT)
def test_the_mails_fault(name: str) -> None:
    assert not is_infrastructure(MAILS_FAULT[name])


def test_invalidated_connection_is_infrastructure_whatever_the_error() -> None:
    err = sa_exc.DBAPIError("SELECT 1", {}, Exception("odd"), connection_invalidated=True)
    assert is_infrastructure(err)


def test_cause_chain_is_followed() -> None:
    try:
        try:
            raise wrapped(sqlite3.OperationalError("disk I/O error"))
        except sa_exc.OperationalError as inner:
            raise RuntimeError("while saving the case") from inner
    except RuntimeError as err:
        assert is_infrastructure(err)


def test_real_sqlite_readonly_database_is_infrastructure(tmp_path) -> None:
    path = tmp_path / "ro.db"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.commit()
    engine = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    with pytest.raises(sa_exc.OperationalError) as raised, engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
    assert is_infrastructure(raised.value)
    engine.dispose()


def test_real_postgres_refused_connection_is_infrastructure() -> None:
    engine = create_engine("postgresql+psycopg://postgres@127.0.0.1:1/postgres")
    with pytest.raises(sa_exc.OperationalError) as raised:
        engine.connect()
    assert is_infrastructure(raised.value) and is_database_fault(raised.value)
    engine.dispose()


def test_database_faults_include_races_but_not_mail_or_mailbox_errors() -> None:
    race = wrapped(sqlite3.IntegrityError("UNIQUE constraint failed"), sa_exc.IntegrityError)
    assert is_database_fault(race)
    assert is_database_fault(OSError(errno.ENOSPC, "No space left on device"))
    assert is_database_fault(InfrastructureDown(ValueError("x")))
    assert not is_database_fault(ValueError("bad date"))
    assert not is_database_fault(imaplib.IMAP4.abort("EOF"))
    assert not is_database_fault(ConnectionResetError(errno.ECONNRESET, "reset"))


def test_describe_is_one_short_line_without_sql() -> None:
    err = wrapped(psycopg.OperationalError("terminating connection\ndue to administrator command"))
    line = describe(err)
    assert line == "OperationalError: terminating connection due to administrator command"
    assert str(InfrastructureDown(err)) == line
