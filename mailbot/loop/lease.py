"""One active instance, the others standing by.

The row `active` of `instance_lease` names the process that may act: fetch and MOVE mail,
sweep timers, run portal operations and the outbox. It is taken and renewed by conditional
UPDATEs (renewed only by its holder, taken by another only once expired), every comparison on
the database's clock, so two processes never both believe they hold it. The holder renews it
from a heartbeat thread every `lease.renew_seconds`; it lapses `lease.expiry_seconds` after
the last renewal (process killed, machine lost) and a standby, which tries every
`renew_seconds`, takes over. A holder on this very host whose process is gone (a restart after
a crash) is replaced at once. A holder stops acting a renewal period before its lease can
lapse (`check`), so it has stopped before anyone else may start.

On SQLite one daemon only: `single_instance_lock` holds an exclusive `flock` on a file next to
the database for the process's lifetime; a second `mailbot run` (or `run --once`) refuses.
"""

from __future__ import annotations

import fcntl
import logging
import os
import secrets
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import IO, Any

from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col

from mailbot.config import LeaseConfig
from storage.db import session_scope
from storage.models import InstanceLease
from storage.upsert import insert_ignore
from storage.urls import sqlite_path

log = logging.getLogger(__name__)

ACTIVE = "active"
STANDBY = "standby:"
POLL = "poll"  # not a lease: when the active instance last polled the INBOX (`mailbot health`)


class LeaseLost(RuntimeError):
    """This process held the lease and cannot be sure it still does: it stops acting."""


class InstanceBusy(RuntimeError):
    """Another process is the active instance (or holds the SQLite database)."""


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def db_now(session: Session) -> datetime:
    """The database's clock (one clock for every instance), as an aware UTC datetime."""
    value: datetime | str = session.connection().execute(select(func.now())).scalar_one()
    if isinstance(value, str):  # SQLite's CURRENT_TIMESTAMP, when not converted
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def gone_from_this_host(holder: str) -> bool:
    """True when `holder` ran on this host and its process no longer exists."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class Lease:
    def __init__(self, engine: Engine, settings: LeaseConfig, holder: str | None = None) -> None:
        self.engine = engine
        self.settings = settings
        self.holder = holder or holder_id()
        self.seen_holder: str | None = None  # who held it at our last failed attempt
        self._state = "idle"  # idle (never asked) | held | lost
        self._valid_until = 0.0  # time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._told_standby = False

    # ------------------------------------------------------------------ state

    @property
    def active(self) -> bool:
        """This process holds the lease with a renewal period to spare."""
        return self._state == "held" and time.monotonic() < self._valid_until

    def check(self) -> None:
        """Raise `LeaseLost` when this process held the lease and may no longer act."""
        if self._state == "lost" or (self._state == "held" and not self.active):
            self._state = "lost"
            raise LeaseLost(f"instance {self.holder} no longer holds the lease")

    # ------------------------------------------------------------------ database

    def try_acquire(self) -> bool:
        """Take or renew the lease; True when this process holds it."""
        started = time.monotonic()
        with session_scope(self.engine) as session:
            now = db_now(session)
            held = self._renew(session, now) or self._take(session, now)
            if held:
                self._forget_standby(session, now)
            else:
                self._note_standby(session, now)
        if held:
            margin = self.settings.expiry_seconds - self.settings.renew_seconds
            self._valid_until = started + margin
            self._state = "held"
        elif self._state == "held":
            self._state = "lost"
        return held

    def _values(self, now: datetime) -> dict[str, Any]:
        expires = now + timedelta(seconds=self.settings.expiry_seconds)
        return {"holder": self.holder, "heartbeat_at": now, "expires_at": expires}

    def _renew(self, session: Session, now: datetime) -> bool:
        stmt = (
            update(InstanceLease)
            .where(col(InstanceLease.name) == ACTIVE, col(InstanceLease.holder) == self.holder)
            .values(**self._values(now))
        )
        return session.connection().execute(stmt).rowcount == 1

    def _take(self, session: Session, now: datetime) -> bool:
        row = session.get(InstanceLease, ACTIVE)
        if row is None:
            values = {"name": ACTIVE, "acquired_at": now, **self._values(now)}
            if not insert_ignore(session, InstanceLease, values, ["name"]):
                return False  # another process inserted it first: theirs
            log.info("instance %s took the lease (first holder)", self.holder)
            return True
        self.seen_holder = row.holder
        if row.expires_at > now and not gone_from_this_host(row.holder):
            return False
        # Conditional on what we read: if another process renewed or took it meanwhile, the
        # UPDATE matches nothing.
        stmt = (
            update(InstanceLease)
            .where(
                col(InstanceLease.name) == ACTIVE,
                col(InstanceLease.holder) == row.holder,
                col(InstanceLease.heartbeat_at) == row.heartbeat_at,
            )
            .values(acquired_at=now, **self._values(now))
        )
        if session.connection().execute(stmt).rowcount != 1:
            return False
        log.warning(
            "instance %s took the lease over from %s (last heartbeat %s)",
            self.holder,
            row.holder,
            row.heartbeat_at.isoformat(timespec="seconds"),
        )
        return True

    def _note_standby(self, session: Session, now: datetime) -> None:
        name = STANDBY + self.holder
        values = self._values(now)
        stmt = update(InstanceLease).where(col(InstanceLease.name) == name).values(**values)
        if session.connection().execute(stmt).rowcount == 0:
            session.add(InstanceLease(name=name, acquired_at=now, **values))

    def _forget_standby(self, session: Session, now: datetime) -> None:
        stale = now - timedelta(hours=1)
        session.connection().execute(
            delete(InstanceLease).where(
                col(InstanceLease.name).startswith(STANDBY),
                (col(InstanceLease.name) == STANDBY + self.holder)
                | (col(InstanceLease.expires_at) < stale),
            )
        )

    def release(self) -> None:
        """Let the lease lapse now (a clean stop): a standby takes over at its next try."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        self._thread = None
        self._state = "idle"
        self._valid_until = 0.0
        try:
            with session_scope(self.engine) as session:
                now = db_now(session)
                session.connection().execute(
                    update(InstanceLease)
                    .where(
                        col(InstanceLease.name) == ACTIVE,
                        col(InstanceLease.holder) == self.holder,
                    )
                    .values(expires_at=now)
                )
                self._forget_standby(session, now)
        except SQLAlchemyError as err:
            log.warning("could not release the lease (%s): it lapses by itself", err)

    # ------------------------------------------------------------------ waiting, heartbeat

    def acquire_or_raise(self) -> None:
        """For `run --once`: hold the lease (renewed while working) or raise InstanceBusy."""
        if not self.try_acquire():
            raise InstanceBusy(f"instance {self.seen_holder} is active: nothing done")
        self._start_heartbeat()

    def wait_active(self, stop: threading.Event) -> bool:
        """Stand by until this process holds the lease (True) or `stop` is set (False)."""
        while not stop.is_set():
            try:
                held = self.try_acquire()
            except SQLAlchemyError as err:
                log.warning("lease: database unavailable (%s); retrying", err)
                held = False
            if held:
                log.info("instance %s is active", self.holder)
                self._told_standby = False
                self._start_heartbeat()
                return True
            if not self._told_standby:
                log.info(
                    "standby: instance %s is active; %s waits to take over",
                    self.seen_holder,
                    self.holder,
                )
                self._told_standby = True
            stop.wait(self.settings.renew_seconds)
        return False

    def _start_heartbeat(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._beat, name="lease", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.settings.renew_seconds):
            try:
                with session_scope(self.engine) as session:
                    renewed = self._renew(session, db_now(session))
            except SQLAlchemyError as err:  # the lease lapses locally if this lasts
                log.warning("lease renewal failed (%s)", err)
                continue
            if not renewed:
                log.warning("instance %s lost the lease", self.holder)
                self._state = "lost"
                return
            margin = self.settings.expiry_seconds - self.settings.renew_seconds
            self._valid_until = time.monotonic() + margin


def lease_report(session: Session) -> dict[str, Any]:
    """For `mailbot status`: the active instance, its heartbeat age, the standbys."""
    now = db_now(session)
    active: dict[str, Any] | None = None
    standby = []
    for row in session.scalars(select(InstanceLease)).all():
        age = round((now - row.heartbeat_at).total_seconds(), 1)
        entry = {"holder": row.holder, "heartbeat_age_seconds": age}
        if row.name == ACTIVE:
            live = row.expires_at > now
            active = {**entry, "acquired_at": row.acquired_at.isoformat(), "expired": not live}
        elif row.name.startswith(STANDBY) and row.expires_at > now:
            standby.append(entry)
    return {"active": active, "standby": standby}


def record_poll(engine: Engine, holder: str) -> None:
    """Note a successful poll of the INBOX (a row `poll` of `instance_lease`, which is never a
    lease: it expires the moment it is written)."""
    with session_scope(engine) as session:
        now = db_now(session)
        values = {"holder": holder, "acquired_at": now, "heartbeat_at": now, "expires_at": now}
        if not insert_ignore(session, InstanceLease, {"name": POLL, **values}, ["name"]):
            session.execute(
                update(InstanceLease).where(col(InstanceLease.name) == POLL).values(**values)
            )


def last_poll(session: Session) -> tuple[datetime, float] | None:
    """When the INBOX was last polled successfully, and how many seconds ago (database clock)."""
    row = session.get(InstanceLease, POLL)
    if row is None:
        return None
    return row.heartbeat_at, (db_now(session) - row.heartbeat_at).total_seconds()


def single_instance_lock(url: str) -> IO[str] | None:
    """On SQLite, an exclusive lock on `<database>.lock` for the process's lifetime (keep the
    returned file open); raise InstanceBusy naming the holder when another process has it."""
    path = sqlite_path(url)  # the same file whatever the URL's query string
    if path is None:
        return None
    lock_path = path.with_name(path.name + ".lock")
    handle = lock_path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "?"
        handle.close()
        raise InstanceBusy(
            f"another mailbot ({holder}) is running on the SQLite database {path}; "
            "SQLite allows one instance (use PostgreSQL for two)"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{holder_id()} since {datetime.now(UTC).isoformat(timespec='seconds')}\n")
    handle.flush()
    return handle
