"""What `mailbot status` shows, read with plain SQL.

The ORM models (`storage.models`, SQLModel) cost a one-shot command about 0.12 s of imports, and
SQLAlchemy itself as much again or more: `status` reads five tables with plain SELECTs, in one
read-only transaction (on SQLite a deferred BEGIN: it never waits for the daemon's writes).
A SQLite file is read with the standard library's `sqlite3` (`file_reader`), any other
database through an engine (`engine_reader`); `mailbot health` reads its figures with the same
queries on the same readers. The figures are those of the ORM functions
`mailbot.loop.lease.lease_report` and `mailbot.loop.sending.backlog`, which no command uses any
more; `tests/test_status_report.py` checks that the three give the same report.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from storage.schema import VERSION_TABLE, check_revision, check_schema, revision_of
from storage.urls import sqlite_path

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

ACTIVE = "active"  # as mailbot.loop.lease
STANDBY = "standby:"
POLL = "poll"


class Reader(Protocol):
    """Rows of a SELECT, on whichever connection."""

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]: ...

    def at(self, value: datetime) -> Any:
        """`value` as the database stores a UTC column (to compare with one)."""
        ...


def _sqlite_text(value: datetime) -> str:
    """A UTC datetime as SQLAlchemy writes it in SQLite (naive, microseconds always)."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


class _EngineReader:
    def __init__(self, conn: Connection) -> None:
        from sqlalchemy import text  # noqa: PLC0415 - loaded with the engine already

        self._text = text
        self.conn = conn

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.conn.execute(self._text(sql), dict(params or {}))]

    def at(self, value: datetime) -> Any:
        if self.conn.dialect.name == "sqlite":
            return _sqlite_text(value)
        return value.astimezone(UTC).replace(tzinfo=None)


class _SqliteReader:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.conn.execute(sql, dict(params or {}))]

    def at(self, value: datetime) -> Any:
        return _sqlite_text(value)


def _utc(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite keeps text
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _one(db: Reader, sql: str, params: Mapping[str, Any] | None = None) -> Any:
    rows = db.rows(sql, params)
    return rows[0][0] if rows else None


def _counts(db: Reader, sql: str) -> dict[str, int]:
    return {str(row[0]): int(row[1]) for row in db.rows(sql)}


def db_now(db: Reader) -> datetime:
    """The database's clock, as `mailbot.loop.lease.db_now`."""
    now = _utc(_one(db, "SELECT CURRENT_TIMESTAMP"))
    assert now is not None
    return now


def lease(db: Reader) -> dict[str, Any]:
    """As `mailbot.loop.lease.lease_report`."""
    now = db_now(db)
    active: dict[str, Any] | None = None
    standby = []
    rows = db.rows("SELECT name, holder, acquired_at, heartbeat_at, expires_at FROM instance_lease")
    for name, holder, acquired_at, heartbeat_at, expires_at in rows:
        heartbeat, expires = _utc(heartbeat_at), _utc(expires_at)
        assert heartbeat is not None and expires is not None
        entry = {
            "holder": holder,
            "heartbeat_age_seconds": round((now - heartbeat).total_seconds(), 1),
        }
        if name == ACTIVE:
            acquired = _utc(acquired_at)
            assert acquired is not None
            active = {**entry, "acquired_at": acquired.isoformat(), "expired": not expires > now}
        elif name.startswith(STANDBY) and expires > now:
            standby.append(entry)
    return {"active": active, "standby": standby}


def _backlog(db: Reader, outbox: dict[str, int], now: datetime) -> dict[str, Any]:
    oldest = _utc(_one(db, "SELECT min(created_at) FROM outbox_mail WHERE state = 'pending'"))
    expired = _one(
        db,
        "SELECT count(*) FROM outbox_mail WHERE state = 'sending' AND next_attempt_at <= :now",
        {"now": db.at(now)},
    )
    return {
        "pending": outbox.get("pending", 0),
        "oldest_pending_at": oldest.isoformat() if oldest is not None else None,
        "oldest_pending_age_seconds": (
            round((now - oldest).total_seconds()) if oldest is not None else None
        ),
        "sending": outbox.get("sending", 0),
        "sending_lease_expired": int(expired),
        "failed": outbox.get("failed", 0),
    }


def read_only(engine: Engine) -> Connection:
    """A connection for reading only (on SQLite a deferred BEGIN)."""
    from storage.engine import read_only_engine  # noqa: PLC0415 - SQLAlchemy's, as the engine

    return read_only_engine(engine).connect()


@contextmanager
def engine_reader(engine: Engine) -> Iterator[Reader]:
    """The database behind `engine`, read in one read-only transaction (its schema checked)."""
    check_schema(engine)
    with read_only(engine) as conn:
        yield _EngineReader(conn)
        conn.rollback()


@contextmanager
def file_reader(path: Path) -> Iterator[Reader]:
    """A SQLite file read with `sqlite3` in one deferred read transaction, after the schema
    check every command makes (`storage.schema`; `SchemaOutdated`)."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        conn.execute("BEGIN")  # one snapshot for every figure; never waits for a writer (WAL)
        db = _SqliteReader(conn)
        exists = "SELECT name FROM sqlite_master WHERE type = 'table' AND name = :table"
        rows = (
            db.rows(f"SELECT version_num FROM {VERSION_TABLE}")
            if db.rows(exists, {"table": VERSION_TABLE})
            else []
        )
        check_revision(revision_of([r[0] for r in rows]))
        yield db
        conn.rollback()
    finally:
        conn.close()


def backlog(db: Reader, now: datetime) -> dict[str, Any]:
    """As `mailbot.loop.sending.backlog`."""
    return _backlog(db, _counts(db, _OUTBOX_STATES), now)


def last_poll(db: Reader) -> tuple[datetime, float] | None:
    """As `mailbot.loop.lease.last_poll`: when the INBOX was last polled successfully, and how
    many seconds ago (database clock)."""
    at = _utc(
        _one(db, "SELECT heartbeat_at FROM instance_lease WHERE name = :name", {"name": POLL})
    )
    if at is None:
        return None
    return at, (db_now(db) - at).total_seconds()


def quarantined(db: Reader) -> int:
    return int(_one(db, "SELECT count(*) FROM inbound_message WHERE fate = 'quarantined'"))


_OUTBOX_STATES = "SELECT state, count(*) FROM outbox_mail GROUP BY state"


def _report(db: Reader, now: datetime) -> dict[str, Any]:
    cases = {
        f"{kind}:{state}": int(n)
        for kind, state, n in db.rows(
            "SELECT kind, state, count(*) FROM mail_case GROUP BY kind, state"
        )
    }
    outbox = _counts(db, _OUTBOX_STATES)
    return {
        "cases": cases,
        "outbox": outbox,
        "outbox_backlog": _backlog(db, outbox, now),
        "journal": _counts(db, "SELECT fate, count(*) FROM inbound_message GROUP BY fate"),
        "instance": lease(db),
    }


def status_report(engine: Engine, now: datetime) -> dict[str, Any]:
    """The report of `mailbot status --json`, through an engine."""
    with engine_reader(engine) as db:
        return _report(db, now)


def sqlite_file(url: str) -> Path | None:
    """The existing file of a plain `sqlite:///path` URL (no query string), else None."""
    if "?" in url:  # options sqlite3 would not apply: the engine reads it
        return None
    path = sqlite_path(url)
    return path if path is not None and path.is_file() else None


def status_from_file(path: Path, now: datetime) -> dict[str, Any]:
    """`status_report` of a SQLite file, read with `sqlite3` (`file_reader`)."""
    with file_reader(path) as db:
        return _report(db, now)
