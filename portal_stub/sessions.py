"""Server-side sessions: one `PortalSession` row per signed-in browser.

The signed cookie carries a random token (`sid`); the database keeps only its SHA-256, the
account and the expiry. A request is signed in only while its row exists, so:
- logging out deletes the row: a copy of the cookie taken before opens nothing afterwards;
- a password change or reset deletes every row of the account (other browsers are signed out;
  the browser that changed it gets a fresh session);
- a row lives `SESSION_LIFETIME` at most, like the cookie.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, delete

from portal_stub.models import PortalSession
from portal_stub.security import new_token, token_hash

SESSION_LIFETIME = timedelta(hours=8)  # a working day


def open_session(db: Session, account_id: int, now: datetime) -> str:
    """A new session for `account_id`; returns the token for the cookie. Expired rows of the
    account are swept on the way."""
    db.exec(
        delete(PortalSession).where(
            col(PortalSession.account_id) == account_id,
            col(PortalSession.expires_at) <= now,
        )
    )
    token, digest = new_token()
    db.add(
        PortalSession(
            token_hash=digest,
            account_id=account_id,
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    return token


def session_account(db: Session, token: object, now: datetime) -> int | None:
    """The account of a live session token, or None."""
    if not isinstance(token, str) or not token:
        return None
    row = db.get(PortalSession, token_hash(token))
    if row is None or row.expires_at <= now:
        return None
    return row.account_id


def close_session(db: Session, token: object) -> None:
    """End one session (logout)."""
    if isinstance(token, str) and token:
        db.exec(delete(PortalSession).where(col(PortalSession.token_hash) == token_hash(token)))


def close_all_sessions(db: Session, account_id: int) -> None:
    """End every session of an account (password changed or reset, account disabled)."""
    db.exec(delete(PortalSession).where(col(PortalSession.account_id) == account_id))
