"""The stand-in's side of an admin's « Renvoyer l'invitation » and « Révoquer » (the `Portal`
methods `reissue_invitation` and `revoke_invitation`): only an account nobody has used yet is
touched; its temporary password is kept hashed, so a new one is issued each time."""

from __future__ import annotations

import secrets
from datetime import datetime

from argon2 import PasswordHasher
from sqlmodel import Session, select

from portal_stub.models import PortalAccount
from portal_stub.security import temporary_password
from workflows.core import Credential


def _unused(session: Session, email: str) -> PortalAccount | None:
    account = session.exec(
        select(PortalAccount).where(PortalAccount.email == email.strip().lower())
    ).first()
    if account is None:
        return None
    unused = (
        account.must_change_password
        and account.last_login_at is None
        and account.password_changed_at is None
    )
    return account if unused else None


def reissue(
    session: Session, hasher: PasswordHasher, email: str, expires_at: datetime
) -> Credential:
    """A fresh temporary password for the unused account `email`, valid until `expires_at`."""
    account = _unused(session, email)
    email = email.strip().lower()
    if account is None:
        return Credential(email, None, None, (), False)
    password = temporary_password()
    account.password_hash = hasher.hash(password)
    account.temp_password_expires_at = expires_at
    session.add(account)
    session.flush()
    return Credential(email, password, expires_at, tuple(account.spaces), False, reissued=True)


def revoke(session: Session, hasher: PasswordHasher, email: str, now: datetime) -> None:
    """The unused account's temporary password no longer opens (replaced by a random one,
    expired at once)."""
    account = _unused(session, email)
    if account is None:
        return
    account.password_hash = hasher.hash(secrets.token_urlsafe(32))
    account.temp_password_expires_at = now
    session.add(account)
    session.flush()
