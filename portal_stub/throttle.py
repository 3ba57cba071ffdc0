"""The portal's login throttle: `workflows.login_throttle`'s rules, kept in the database.

Rows of `PortalLoginThrottle` are keyed by the identifier typed (lower-case) or by
`ADDRESS_KEY` + the client address, so the state survives a restart and is shared by every
process serving the portal. The client address is the one the ASGI server reports: behind a
reverse proxy, uvicorn takes it from `X-Forwarded-For` only for the proxies it trusts
(`--forwarded-allow-ips`, 127.0.0.1 by default).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session
from starlette.requests import Request

from portal_stub.models import PortalLoginThrottle
from portal_stub.web import PARIS
from workflows.login_throttle import (
    ThrottleState,
    address_failed,
    identifier_failed,
    refused_until,
    seconds_left,
)

ADDRESS_KEY = "ip:"
HOUR_FORMAT = "%H\u00a0h\u00a0%M"
FORGOT = "Si vous avez oublié votre mot de passe, utilisez «\u00a0Mot de passe oublié ?\u00a0»."


@dataclass(frozen=True)
class Refusal:
    """An attempt refused before its password is checked, and the French reason."""

    until: datetime
    message: str

    def retry_after(self, now: datetime) -> str:
        return str(seconds_left(self.until, now))


def client_address(request: Request) -> str:
    return request.client.host if request.client else "inconnue"


def _state(row: PortalLoginThrottle | None) -> ThrottleState | None:
    if row is None:
        return None
    return ThrottleState(row.failures, row.last_failure_at, row.locked_until)


def _store(db: Session, key: str, row: PortalLoginThrottle | None, new: ThrottleState) -> None:
    row = row or PortalLoginThrottle(identifier=key)
    row.failures, row.last_failure_at, row.locked_until = (
        new.failures,
        new.since,
        new.wait_until,
    )
    db.add(row)


def _seconds_fr(seconds: int) -> str:
    return "1\u00a0seconde" if seconds == 1 else f"{seconds}\u00a0secondes"


def identifier_message(until: datetime, now: datetime) -> str:
    return (
        "Plusieurs tentatives de connexion ont échoué pour cet identifiant\u00a0: par "
        f"sécurité, patientez {_seconds_fr(seconds_left(until, now))} avant de réessayer. " + FORGOT
    )


def address_message(until: datetime) -> str:
    return (
        "Trop de tentatives de connexion ont échoué depuis votre réseau\u00a0: par sécurité, "
        "les connexions depuis celui-ci sont suspendues jusqu’à "
        f"{until.astimezone(PARIS).strftime(HOUR_FORMAT)}. " + FORGOT
    )


def refusal(db: Session, identifier: str, address: str, now: datetime) -> Refusal | None:
    """Whether an attempt must wait, before any password is checked."""
    by_address = refused_until(_state(db.get(PortalLoginThrottle, ADDRESS_KEY + address)), now)
    if by_address:
        return Refusal(by_address, address_message(by_address))
    by_identifier = refused_until(_state(db.get(PortalLoginThrottle, identifier)), now)
    if by_identifier:
        return Refusal(by_identifier, identifier_message(by_identifier, now))
    return None


def count_failure(db: Session, identifier: str, address: str, now: datetime) -> Refusal | None:
    """Count a wrong password on both counters; the wait it starts, if any."""
    row = db.get(PortalLoginThrottle, identifier)
    _store(db, identifier, row, identifier_failed(_state(row), now))
    key = ADDRESS_KEY + address
    row = db.get(PortalLoginThrottle, key)
    _store(db, key, row, address_failed(_state(row), now))
    db.flush()
    return refusal(db, identifier, address, now)


def forgive(db: Session, identifier: str) -> None:
    """A successful sign-in or a password reset: the identifier's failures are forgotten (the
    address's are not: one right password must not hide many wrong ones)."""
    row = db.get(PortalLoginThrottle, identifier)
    if row is not None:
        db.delete(row)
