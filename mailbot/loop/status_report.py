"""What `mailbot status` shows, read with SQLAlchemy Core only.

The ORM models (`storage.models`, SQLModel) cost a one-shot command about 0.12 s of imports;
`status` reads five tables with plain SELECTs instead, in one read-only transaction (on SQLite a
deferred BEGIN: it never waits for the daemon's writes). `mailbot health` reads its figures
with the same queries. The figures are those of the ORM functions
`mailbot.loop.lease.lease_report` and `mailbot.loop.sending.backlog`, which no command uses any
more; `tests/test_status_report.py` checks that both give the same report.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, DateTime, Engine, bindparam, text

from storage.engine import READ_ONLY_OPTION

ACTIVE = "active"  # as mailbot.loop.lease
STANDBY = "standby:"
POLL = "poll"

_AT = DateTime()


def _utc(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite's CURRENT_TIMESTAMP, when not converted
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _counts(conn: Connection, sql: str) -> dict[str, int]:
    return {str(row[0]): int(row[1]) for row in conn.execute(text(sql))}


def _db_now(conn: Connection) -> datetime:
    now = _utc(conn.execute(text("SELECT CURRENT_TIMESTAMP")).scalar_one())
    assert now is not None
    return now


def _lease(conn: Connection) -> dict[str, Any]:
    now = _db_now(conn)
    active: dict[str, Any] | None = None
    standby = []
    rows = conn.execute(
        text(
            "SELECT name, holder, acquired_at, heartbeat_at, expires_at FROM instance_lease"
        ).columns(acquired_at=_AT, heartbeat_at=_AT, expires_at=_AT)
    )
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


def _backlog(conn: Connection, outbox: dict[str, int], now: datetime) -> dict[str, Any]:
    oldest = _utc(
        conn.execute(
            text(
                "SELECT min(created_at) AS oldest FROM outbox_mail WHERE state = 'pending'"
            ).columns(oldest=_AT)
        ).scalar_one()
    )
    expired = conn.execute(
        text(
            "SELECT count(*) FROM outbox_mail WHERE state = 'sending' AND next_attempt_at <= :now"
        ).bindparams(bindparam("now", type_=_AT)),
        {"now": now.astimezone(UTC).replace(tzinfo=None)},
    ).scalar_one()
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
    return engine.execution_options(**{READ_ONLY_OPTION: True}).connect()


def db_now(conn: Connection) -> datetime:
    """The database's clock, as `mailbot.loop.lease.db_now`."""
    return _db_now(conn)


def lease(conn: Connection) -> dict[str, Any]:
    """As `mailbot.loop.lease.lease_report`."""
    return _lease(conn)


def backlog(conn: Connection, now: datetime) -> dict[str, Any]:
    """As `mailbot.loop.sending.backlog`."""
    return _backlog(conn, _counts(conn, _OUTBOX_STATES), now)


def last_poll(conn: Connection) -> tuple[datetime, float] | None:
    """As `mailbot.loop.lease.last_poll`: when the INBOX was last polled successfully, and how
    many seconds ago (database clock)."""
    row = conn.execute(
        text("SELECT heartbeat_at FROM instance_lease WHERE name = :name").columns(
            heartbeat_at=_AT
        ),
        {"name": POLL},
    ).first()
    if row is None:
        return None
    at = _utc(row[0])
    assert at is not None
    return at, (_db_now(conn) - at).total_seconds()


def quarantined(conn: Connection) -> int:
    return int(
        conn.execute(
            text("SELECT count(*) FROM inbound_message WHERE fate = 'quarantined'")
        ).scalar_one()
    )


_OUTBOX_STATES = "SELECT state, count(*) FROM outbox_mail GROUP BY state"


def status_report(engine: Engine, now: datetime) -> dict[str, Any]:
    """The report of `mailbot status --json`."""
    with read_only(engine) as conn:
        cases = {
            f"{kind}:{state}": int(n)
            for kind, state, n in conn.execute(
                text("SELECT kind, state, count(*) FROM mail_case GROUP BY kind, state")
            )
        }
        outbox = _counts(conn, _OUTBOX_STATES)
        journal = _counts(conn, "SELECT fate, count(*) FROM inbound_message GROUP BY fate")
        instance = _lease(conn)
        waiting = _backlog(conn, outbox, now)
        conn.rollback()
    return {
        "cases": cases,
        "outbox": outbox,
        "outbox_backlog": waiting,
        "journal": journal,
        "instance": instance,
    }
