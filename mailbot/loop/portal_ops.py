"""Durable portal operations: the outbox pattern for `Portal`'s mutating calls.

- `enqueue_operation` is called by the effects applier, in the decision's transaction, for
  `ProvisionAccounts`, `Publish` and `Withdraw`: it writes a `portal_operation` row whose
  idempotency key is derived from the case, the kind, the operation's rank for that case and
  kind, and the payload; applying the same decision again in that transaction returns the row
  already written instead of a second one.
- `run_pending` is the worker, run after commit: it claims due rows (PostgreSQL: `FOR UPDATE
  SKIP LOCKED`; SQLite serialises writers), calls the portal with the row's key, then in ONE
  transaction marks the row done, stores a result without any password, and hands the workflow
  event to `on_result`. An error is retried with exponential backoff; after `max_attempts` the
  row is `failed` and `on_result` gets `PortalFailed`.
- A claim is a lease: a worker that dies after the portal call leaves the row `running`; once
  the lease has run out another run claims it again and calls the portal with the same key,
  which returns what the first call did (a fresh temporary password when it cannot return the
  first one, `Credential.reissued`). A worker whose lease was taken over does not finish.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from mailbot.portal import Portal
from storage.db import session_scope
from storage.models import PortalOperation
from workflows.core import (
    AccountsProvisioned,
    Event,
    InvitationReissued,
    InvitationRevoked,
    PersonRequest,
    PortalEffect,
    PortalFailed,
    ProvisionAccounts,
    Publish,
    Published,
    ReissueInvitation,
    RevokeInvitation,
    Withdraw,
    Withdrawn,
)

log = logging.getLogger(__name__)

# Called in the transaction that marks an operation done or failed: (session, case ref, event).
OnResult = Callable[[Session, str, Event], None]

MAX_DELAY_SECONDS = 6 * 3600
DEFAULT_LEASE_SECONDS = 300


@dataclass
class OperationReport:
    done: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- enqueue


def kind_of(effect: PortalEffect) -> str:
    if isinstance(effect, ProvisionAccounts):
        return "create_accounts"
    if isinstance(effect, Publish):
        return "publish"
    if isinstance(effect, Withdraw):
        return "withdraw"
    if isinstance(effect, ReissueInvitation):
        return "reissue_invitation"
    if isinstance(effect, RevokeInvitation):
        return "revoke_invitation"
    raise TypeError(f"not a portal effect: {effect!r}")


def payload_of(effect: PortalEffect) -> dict[str, Any]:
    """The call's arguments as JSON (nothing secret: passwords are made by the portal)."""
    if isinstance(effect, ProvisionAccounts):
        return {
            "people": [asdict(p) for p in effect.people],
            "expires_at": effect.expires_at.astimezone(UTC).isoformat(),
        }
    if isinstance(effect, Publish):
        return {"space": effect.space, "question": effect.question, "answer": effect.answer}
    if isinstance(effect, ReissueInvitation):
        return {"email": effect.email, "expires_at": effect.expires_at.astimezone(UTC).isoformat()}
    if isinstance(effect, RevokeInvitation):
        return {"email": effect.email}
    return {}


def _digest(payload: dict[str, Any]) -> str:
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def enqueue_operation(
    session: Session, case_ref: str, effect: PortalEffect, now: datetime
) -> PortalOperation:
    """Write the portal operation `effect` asks for, in the caller's transaction.

    Key: `<case ref>:<kind>:<rank>:<payload digest>`, the rank counting this case's operations
    of that kind (the case row is locked by the decision, so ranks do not race). The same
    effect again while its operation is still pending returns that operation."""
    kind = kind_of(effect)
    payload = payload_of(effect)
    digest = _digest(payload)
    earlier = session.exec(
        select(PortalOperation)
        .where(PortalOperation.case_ref == case_ref, PortalOperation.kind == kind)
        .order_by(col(PortalOperation.id))
    ).all()
    for op in earlier:
        if op.state == "pending" and op.idempotency_key.endswith(f":{digest}"):
            return op
    key = f"{case_ref}:{kind}:{len(earlier) + 1}:{digest}"
    op = PortalOperation(
        idempotency_key=key,
        case_ref=case_ref,
        kind=kind,
        payload=payload,
        created_at=now,
        next_attempt_at=now,
    )
    session.add(op)
    session.flush()
    return op


# --------------------------------------------------------------------------- worker


@dataclass(frozen=True)
class _Claim:
    id: int
    key: str
    case_ref: str
    kind: str
    payload: dict[str, Any]
    attempts: int


def _claim(engine: Engine, now: datetime, lease: timedelta) -> _Claim | None:
    """Take one due operation (pending, or running with its lease run out) and commit it as
    `running` with a new lease."""
    with session_scope(engine) as session:
        stmt = (
            select(PortalOperation)
            .where(
                col(PortalOperation.state).in_(("pending", "running")),
                PortalOperation.next_attempt_at <= now,
            )
            .order_by(col(PortalOperation.next_attempt_at), col(PortalOperation.id))
            .limit(1)
        )
        if engine.dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        row = session.exec(stmt).first()
        if row is None:
            return None
        if row.state == "running":
            log.warning("portal operation %s: lease expired, taken over", row.idempotency_key)
        row.state = "running"
        row.attempts += 1
        row.next_attempt_at = now + lease
        session.add(row)
        session.flush()
        assert row.id is not None
        return _Claim(
            row.id, row.idempotency_key, row.case_ref, row.kind, row.payload, row.attempts
        )


def _call(portal: Portal, op: _Claim) -> tuple[Event, dict[str, Any]]:
    """Call the portal; the workflow event (passwords in memory only) and the stored result."""
    p = op.payload
    if op.kind == "create_accounts":
        people = [PersonRequest(**{**d, "spaces": tuple(d["spaces"])}) for d in p["people"]]
        expires_at = datetime.fromisoformat(p["expires_at"])
        creds = portal.create_accounts(op.case_ref, people, expires_at, op.key)
        accounts = [
            {
                "email": c.email,
                "created": c.created,
                "reissued": c.reissued,
                "password_issued": c.temporary_password is not None,
                "spaces": list(c.spaces),
                "expires_at": c.expires_at.isoformat() if c.expires_at else None,
            }
            for c in creds
        ]
        return AccountsProvisioned(tuple(creds)), {"accounts": accounts}
    if op.kind == "publish":
        url, version = portal.publish(p["space"], p["question"], p["answer"], op.case_ref, op.key)
        event = Published(url=url, version=version, space=p["space"], question=p["question"])
        return event, {"url": url, "version": version}
    if op.kind == "withdraw":
        portal.withdraw(op.case_ref, op.key)
        return Withdrawn(), {}
    if op.kind == "reissue_invitation":
        expires_at = datetime.fromisoformat(p["expires_at"])
        cred = portal.reissue_invitation(op.case_ref, p["email"], expires_at, op.key)
        return InvitationReissued(cred), {"password_issued": cred.temporary_password is not None}
    if op.kind == "revoke_invitation":
        portal.revoke_invitation(op.case_ref, p["email"], op.key)
        return InvitationRevoked(p["email"]), {}
    raise ValueError(f"unknown portal operation kind {op.kind!r}")


def _owned(session: Session, op: _Claim) -> PortalOperation | None:
    """The row, locked, if this worker's claim still holds it."""
    row = session.get(PortalOperation, op.id, with_for_update=True)
    if row is None or row.state != "running" or row.attempts != op.attempts:
        log.warning("portal operation %s: claim lost, result dropped", op.key)
        return None
    return row


def _complete(
    engine: Engine,
    op: _Claim,
    event: Event,
    result: dict[str, Any],
    now: datetime,
    on_result: OnResult,
) -> bool:
    with session_scope(engine) as session:
        row = _owned(session, op)
        if row is None:
            return False
        row.state = "done"
        row.done_at = now
        row.last_error = None
        row.result = result
        session.add(row)
        session.flush()
        on_result(session, op.case_ref, event)
    return True


def _retry_or_fail(
    engine: Engine,
    op: _Claim,
    error: str,
    now: datetime,
    on_result: OnResult,
    max_attempts: int,
    retry_base_seconds: float,
) -> str:
    """`retried`, `failed`, or `lost` (another worker holds the operation now)."""
    for with_callback in (True, False):
        try:
            with session_scope(engine) as session:
                row = _owned(session, op)
                if row is None:
                    return "lost"
                row.last_error = error[:2000]
                if row.attempts < max_attempts:
                    delay = retry_base_seconds * (2 ** (row.attempts - 1))
                    row.state = "pending"
                    row.next_attempt_at = now + timedelta(seconds=min(delay, MAX_DELAY_SECONDS))
                    session.add(row)
                    return "retried"
                row.state = "failed"
                row.done_at = now
                session.add(row)
                session.flush()
                if with_callback:
                    on_result(session, op.case_ref, PortalFailed(kind=op.kind, reason=error[:500]))
                return "failed"
        except Exception:
            if not with_callback:
                raise
            log.exception("portal operation %s: the failure could not be reported", op.key)
    raise AssertionError("unreachable")


def run_pending(
    engine: Engine,
    portal: Portal,
    on_result: OnResult,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    max_attempts: int = 8,
    retry_base_seconds: float = 60,
    limit: int = 100,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
) -> OperationReport:
    """Carry out up to `limit` due portal operations, one at a time (operations that
    `on_result` enqueues are picked up by the same run when due)."""
    report = OperationReport()
    lease = timedelta(seconds=lease_seconds)
    for _ in range(limit):
        op = _claim(engine, now(), lease)
        if op is None:
            break
        try:
            event, result = _call(portal, op)
            if _complete(engine, op, event, result, now(), on_result):
                report.done += 1
            continue
        except Exception as err:  # any failure is retried, then reported
            error = f"{type(err).__name__}: {err}"
            log.warning("portal operation %s failed (attempt %d): %s", op.key, op.attempts, error)
        outcome = _retry_or_fail(
            engine, op, error, now(), on_result, max_attempts, retry_base_seconds
        )
        report.errors.append(error)
        if outcome == "retried":
            report.retried += 1
        elif outcome == "failed":
            report.failed += 1
    return report
