"""Cases in the database: gap-free references, snapshots for the workflows, and applying a
decision (case changes, outbox mails, timers, events and log lines) inside one transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlmodel import Session, col, select

from mailbot.config import Config
from mailbot.loop.outbox import enqueue_mail
from storage.models import Case, CaseEvent, Timer
from workflows.core import (
    CancelTimers,
    CaseView,
    Decision,
    Effect,
    ProvisionAccounts,
    Publish,
    SendMail,
    SetTimer,
    Withdraw,
)
from workflows.records import record_from_json
from workflows.states import CaseKind, state_of

PREFIXES = {"question": "Q", "subscription": "ABO"}


def next_ref(session: Session, kind: str, year: int) -> str:
    """The next reference of the year, without gaps.

    The counter row is incremented inside the caller's transaction: PostgreSQL's row lock
    (and SQLite's BEGIN IMMEDIATE) make a second instance wait for our commit, and a
    rollback gives the number back, so two instances never take the same number or skip one.
    """
    prefix = PREFIXES[kind]
    params = {"p": prefix, "y": year}
    session.execute(
        text(
            "INSERT INTO case_counter (prefix, year, last) VALUES (:p, :y, 0) "
            "ON CONFLICT (prefix, year) DO NOTHING"
        ),
        params,
    )
    number = session.execute(
        text(
            "UPDATE case_counter SET last = last + 1 WHERE prefix = :p AND year = :y RETURNING last"
        ),
        params,
    ).scalar_one()
    return f"{prefix}-{year}-{number:06d}"


def view(case: Case) -> CaseView:
    return CaseView(
        ref=case.ref,
        kind=CaseKind(case.kind),
        state=state_of(case.kind, case.state),
        requester=case.requester,
        requester_name=case.requester_name,
        subject=case.subject,
        group=case.group,
        assignee=case.assignee,
        space=case.space,
        origin_message_id=case.origin_message_id,
        created_at=case.created_at,
        data=record_from_json(case.kind, case.data),
    )


def get_case(session: Session, ref: str, *, for_update: bool = False) -> Case | None:
    stmt = select(Case).where(Case.ref == ref)
    if for_update:
        stmt = stmt.with_for_update()
    return session.exec(stmt).first()


@dataclass
class Applied:
    """What applying a decision produced, for the log and the follow-up events."""

    log: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    follow_ups: list[Effect] = field(default_factory=list)


def apply_decision(
    session: Session,
    config: Config,
    case: Case,
    decision: Decision,
    now: datetime,
    applied: Applied,
    secret: bytes | None = None,
) -> None:
    """Write the decision's case changes and effects in `session` (no commit here)."""
    if decision.state is not None and decision.state != case.state:
        session.add(
            CaseEvent(
                case_ref=case.ref,
                at=now,
                event="state",
                data={"from": case.state, "to": decision.state},
            )
        )
        case.state = decision.state
    for key, value in decision.updates.items():
        if key not in ("group", "assignee", "space", "requester_name", "subject"):
            raise ValueError(f"a decision may not update {key!r}")
        setattr(case, key, value)
    if decision.data is not None:
        case.data = decision.data.to_json()
    if decision.closed and case.closed_at is None:
        case.closed_at = now
    elif not decision.closed and case.closed_at is not None and decision.state is not None:
        case.closed_at = None  # reopened
    case.updated_at = now
    for effect in decision.effects:
        if isinstance(effect, SendMail):
            row = enqueue_mail(session, config, effect, case.ref, now=now, secret=secret)
            if row is None:
                applied.log.append(("auto_reply_suppressed", {"to": ",".join(effect.to)}))
        elif isinstance(effect, SetTimer):
            set_timer(session, case.ref, effect, now)
        elif isinstance(effect, CancelTimers):
            cancel_timers(session, case.ref, effect.prefixes, now)
        elif isinstance(effect, ProvisionAccounts | Publish | Withdraw):
            applied.follow_ups.append(effect)
        else:  # pragma: no cover - a new effect type without a handler
            raise TypeError(f"unknown effect {effect!r}")
    for line in decision.log:
        session.add(
            CaseEvent(case_ref=case.ref, at=now, event=line.event, data=_jsonable(line.fields))
        )
        applied.log.append((line.event, dict(line.fields)))
    case.due_at = _next_due(session, case.ref)
    session.add(case)


def _jsonable(fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in dict(fields).items():
        if isinstance(v, datetime):
            out[k] = v.isoformat()
        elif isinstance(v, str | int | float | bool | type(None)):
            out[k] = v
        elif isinstance(v, list | tuple):
            out[k] = [str(x) for x in v]
        else:
            out[k] = str(v)
    return out


def set_timer(session: Session, case_ref: str, effect: SetTimer, now: datetime) -> None:
    key = f"{case_ref}:{effect.name}"
    timer = session.exec(select(Timer).where(Timer.key == key)).first()
    if timer is None:
        timer = Timer(key=key, case_ref=case_ref, kind=effect.kind, due_at=effect.due_at)
    timer.kind = effect.kind
    timer.due_at = effect.due_at
    timer.data = _jsonable(effect.data)
    timer.fired_at = None
    timer.cancelled_at = None
    session.add(timer)
    session.flush()


def cancel_timers(
    session: Session, case_ref: str, prefixes: tuple[str, ...], now: datetime
) -> None:
    timers = session.exec(
        select(Timer).where(
            Timer.case_ref == case_ref,
            col(Timer.fired_at).is_(None),
            col(Timer.cancelled_at).is_(None),
        )
    ).all()
    for timer in timers:
        name = timer.key.split(":", 1)[1]
        if not prefixes or any(name.startswith(p) for p in prefixes):
            timer.cancelled_at = now
            session.add(timer)
    session.flush()


def _next_due(session: Session, case_ref: str) -> datetime | None:
    session.flush()
    timer = session.exec(
        select(Timer)
        .where(
            Timer.case_ref == case_ref,
            col(Timer.fired_at).is_(None),
            col(Timer.cancelled_at).is_(None),
        )
        .order_by(col(Timer.due_at))
    ).first()
    return timer.due_at if timer else None


def claim_due_timers(session: Session, now: datetime, limit: int = 100) -> list[Timer]:
    """Due timers, claimed in this transaction (fired_at set). With PostgreSQL, SKIP LOCKED
    lets two instances sweep at once without double-firing."""
    stmt = (
        select(Timer)
        .where(
            Timer.due_at <= now,
            col(Timer.fired_at).is_(None),
            col(Timer.cancelled_at).is_(None),
        )
        .order_by(col(Timer.due_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    timers = list(session.exec(stmt))
    for timer in timers:
        timer.fired_at = now
        session.add(timer)
    session.flush()
    return timers
