"""The desk's server-side sessions, in this process's memory (the desk runs in one process
beside the daemon; a restart signs every admin out, which is safe).

The signed cookie carries a random token (`sid`) besides the admin's address; a request is
signed in only while the registry knows that token for that address and it has not expired.
Logging out forgets the token, so a copy of the cookie opens nothing afterwards.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

SESSION_LIFETIME = timedelta(hours=8)  # a working day, like the cookie


@dataclass(frozen=True)
class _Entry:
    email: str
    expires_at: datetime


class DeskSessions:
    """Live desk sessions by token (thread-safe: handlers run in worker threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_token: dict[str, _Entry] = {}

    def open(self, email: str, now: datetime) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._by_token = {t: e for t, e in self._by_token.items() if e.expires_at > now}
            self._by_token[token] = _Entry(email, now + SESSION_LIFETIME)
        return token

    def email(self, cookie: Mapping[str, object], now: datetime) -> str | None:
        """The address of the live session the cookie names, or None."""
        token, email = cookie.get("sid"), cookie.get("admin")
        if not isinstance(token, str) or not isinstance(email, str):
            return None
        with self._lock:
            entry = self._by_token.get(token)
        if entry is None or entry.email != email or entry.expires_at <= now:
            return None
        return email

    def close(self, cookie: Mapping[str, object]) -> None:
        token = cookie.get("sid")
        if isinstance(token, str):
            with self._lock:
                self._by_token.pop(token, None)

    def close_all(self, email: str) -> None:
        """End every session of one admin (for an admin removed or a password changed)."""
        with self._lock:
            self._by_token = {t: e for t, e in self._by_token.items() if e.email != email}
