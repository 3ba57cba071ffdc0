"""`PortalStore`: how `StubPortal` and its parts reach the portal tables — one short
transaction per mutating call, recorded with the call's idempotency key (`PortalCallKey`).

Given an Engine it opens its own sessions (reads never wait for a writer); given a session
factory (transitional: a `Session`'s SAVEPOINTs, see `portal_stub.service`) it uses that.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy import Connection, Engine
from sqlmodel import Session

from mailbot.portal import PortalMailer
from portal_stub.models import PortalAccount, PortalCallKey
from portal_stub.security import DEFAULT_HASHER
from storage.db import read_connection, read_scope, session_scope
from workflows.core import SPACES

SessionFactory = Callable[[], AbstractContextManager[Session]]


class KeyReused(ValueError):
    """An idempotency key already used for another kind of call or another reference."""


def granted_spaces(requested: Sequence[str]) -> list[str]:
    """Accueil always, then the requested known spaces, in the portal's order."""
    wanted = {"accueil", *requested}
    return [s for s in SPACES if s in wanted]


def readable_spaces(account: PortalAccount) -> list[str]:
    """The spaces an account may read: all for admins, else Accueil and the granted ones."""
    return spaces_readable(account.is_admin, account.spaces)


def spaces_readable(is_admin: bool, granted: Sequence[str]) -> list[str]:
    """`readable_spaces` from the account's two columns (a look-up that reads columns)."""
    return list(SPACES) if is_admin else granted_spaces(granted)


class PortalStore:
    def __init__(
        self,
        db: Engine | SessionFactory,
        base_url: str,
        now: Callable[[], datetime] | None = None,
        *,
        hasher: PasswordHasher | None = None,
        mailer: PortalMailer | None = None,
    ) -> None:
        """`mailer` sends the portal's own mail (`reset_account`'s invitation)."""
        self._factory: SessionFactory
        self._read_factory: SessionFactory
        self._engine = db if isinstance(db, Engine) else None
        if isinstance(db, Engine):
            engine = db
            self._factory = lambda: session_scope(engine)
            # Reads never wait for a writer: mailbot reads accounts and publications while its
            # own decision transaction holds SQLite's write lock.
            self._read_factory = lambda: read_scope(engine)
        else:
            self._factory = self._read_factory = db
        self.base_url = base_url.rstrip("/")
        self._now = now or (lambda: datetime.now(UTC))
        self.hasher = hasher or DEFAULT_HASHER
        self.mailer = mailer

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        with self._read_factory() as session:
            yield session

    @contextmanager
    def _read_statements(self) -> Iterator[Connection]:
        """`_reading` for SQL statements only: given an Engine, a connection without a
        session's bookkeeping (`storage.db.read_connection`)."""
        if self._engine is not None:
            with read_connection(self._engine) as connection:
                yield connection
        else:
            with self._read_factory() as session:
                yield session.connection()

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        """One transaction per call: committed when the call returns, rolled back when it
        raises. The portal never joins a transaction of mailbot's."""
        with self._factory() as session:
            yield session

    def _done(self, session: Session, key: str, kind: str, ref: str) -> PortalCallKey | None:
        """The record of an earlier call with `key`, if any (refusing a key of another call)."""
        row = session.get(PortalCallKey, key)
        if row is not None and (row.kind, row.ref) != (kind, ref):
            raise KeyReused(f"key {key!r} was used for {row.kind} {row.ref}, not {kind} {ref}")
        return row

    def _record(
        self, session: Session, key: str, kind: str, ref: str, result: dict[str, Any]
    ) -> None:
        session.add(PortalCallKey(key=key, kind=kind, ref=ref, result=result, at=self._now()))
        session.flush()
