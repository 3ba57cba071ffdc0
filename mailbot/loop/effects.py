"""The one place that applies a workflow `Decision`: case changes, outbox rows, timers, portal
operations, case events and workflow-log lines, all inside the caller's transaction.

`Decider` asks a workflow for its decision (building the `Context` it may read) and applies it;
portal operations are written as rows (`mailbot.loop.portal_ops`), carried out after commit,
and their results come back as events (`Decider.on_portal_result`);
`apply_decision` writes a decision about a case, `apply_outside_case` one that concerns no case
of ours (a refused reviewer reply about an unknown case, the alert for a mail without a case).
Log lines are kept in `Pending` and written after the commit, so the log never tells of a
transaction that was rolled back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, insert
from sqlmodel import Session, col, func, select
from sqlmodel.sql.expression import SelectOfScalar

from mailbot.config import Config
from mailbot.loop import cases
from mailbot.loop.case_people import record_people
from mailbot.loop.context import build_context
from mailbot.loop.notices import notify_publication, record_publication, record_withdrawal
from mailbot.loop.outbox import enqueue_mail
from mailbot.loop.portal_ops import enqueue_operation
from mailbot.loop.triage_model import record_examples
from mailbot.portal import Portal
from mailbot.wflog import WorkflowLog
from storage.models import Case, CaseEvent, Timer
from storage.upsert import upsert
from workflows.core import (
    CancelTimers,
    Context,
    Decision,
    Event,
    MailReceived,
    PortalEffect,
    Published,
    SendMail,
    SetTimer,
    Withdrawn,
)
from workflows.records import CaseRecord, SubscriptionRecord
from workflows.registry import WORKFLOWS


@dataclass
class Pending:
    """Workflow-log lines to write once the transaction has committed."""

    lines: list[tuple[str | None, str, dict[str, Any]]] = field(default_factory=list)

    def add(self, ref: str | None, event: str, **fields: Any) -> None:
        self.lines.append((ref, event, fields))

    def flush(self, wflog: WorkflowLog, at: datetime) -> None:
        for ref, event, fields in self.lines:
            wflog.write(ref, event, fields, at=at)
        self.lines.clear()


# --------------------------------------------------------------------------- applying


def apply_decision(
    session: Session,
    config: Config,
    case: Case,
    decision: Decision,
    now: datetime,
    pending: Pending,
    secret: bytes | None = None,
    *,
    new_case: bool = False,
) -> list[PortalEffect]:
    """Write the decision's case changes and effects in `session` (no commit here); returns
    the portal operations the decision asks for. `new_case`: the case has just been opened,
    so it has no timer but the ones this decision sets."""
    events: list[dict[str, Any]] = []  # the case's events, written together (`_add_events`)
    if decision.state is not None and decision.state != case.state:
        state_change = {"from": case.state, "to": str(decision.state)}
        events.append(_event(case.ref, now, "state", state_change))
        case.state = str(decision.state)
    for key, value in decision.updates.items():
        if key not in ("group", "assignee", "space", "requester_name", "subject"):
            raise ValueError(f"a decision may not update {key!r}")
        setattr(case, key, value)
    if decision.data is not None:
        _write_record(session, case, decision.data)
    if decision.closed and case.closed_at is None:
        case.closed_at = now
    elif not decision.closed and case.closed_at is not None and decision.state is not None:
        case.closed_at = None  # reopened
    case.updated_at = now
    portal_ops, timers_set = _apply_effects(
        session, config, case.ref, decision, now, pending, secret, new_case
    )
    for line in decision.log:
        events.append(_event(case.ref, now, line.event, jsonable(line.fields)))
        pending.add(case.ref, line.event, **dict(line.fields))
    _add_events(session, events)
    record_examples(session, config, case, decision, now)  # what the triage learns
    if timers_set is None:
        case.due_at = _next_due(session, case.ref)
    else:  # a new case's timers are the ones just set: no query
        case.due_at = min(timers_set.values(), default=None)
    cases.write(session, case)  # a new case's one INSERT, with the state decided
    return portal_ops


def _apply_effects(
    session: Session,
    config: Config,
    ref: str,
    decision: Decision,
    now: datetime,
    pending: Pending,
    secret: bytes | None,
    new_case: bool,
) -> tuple[list[PortalEffect], dict[str, datetime] | None]:
    """The decision's mails and timers written; returns its portal operations and, for a new
    case, the due dates of the timers set, by name (None: the table must be read)."""
    portal_ops: list[PortalEffect] = []
    timers_set: dict[str, datetime] | None = {} if new_case else None
    for effect in decision.effects:
        if isinstance(effect, SendMail):
            _send(session, config, effect, ref, now, pending, secret)
        elif isinstance(effect, SetTimer):
            set_timer(session, ref, effect)
            if timers_set is not None:
                timers_set[effect.name] = effect.due_at
        elif isinstance(effect, CancelTimers):
            cancel_timers(session, ref, effect.prefixes, now)
            timers_set = None
        else:
            portal_ops.append(effect)
    return portal_ops, timers_set


def _write_record(session: Session, case: Case, record: CaseRecord) -> None:
    """The case's record, and the index of a subscription's people kept with it."""
    case.data = record.to_json()
    if isinstance(record, SubscriptionRecord):
        record_people(session, case.ref, record)


def apply_outside_case(
    session: Session,
    config: Config,
    ref: str | None,
    decision: Decision,
    now: datetime,
    pending: Pending,
    secret: bytes | None = None,
) -> None:
    """A decision about no case of ours: only mails and log lines (a case event too when
    `ref` names a case we know)."""
    known = ref is not None and cases.get_case(session, ref) is not None
    for effect in decision.effects:
        if not isinstance(effect, SendMail):
            raise TypeError(f"{type(effect).__name__} needs a case")
        _send(session, config, effect, ref, now, pending, secret)
    events = []
    for line in decision.log:
        if known and ref is not None:
            events.append(_event(ref, now, line.event, jsonable(line.fields)))
        pending.add(ref, line.event, **dict(line.fields))
    _add_events(session, events)


def _event(ref: str, at: datetime, event: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"case_ref": ref, "at": at, "event": event, "actor": None, "data": data}


def _add_events(session: Session, events: list[dict[str, Any]]) -> None:
    """Case events in their order, with one statement (executemany), not through the unit of
    work: nothing of the transaction reads them as objects, and their ids keep the order."""
    if events:
        session.connection().execute(_event_insert(), events)


@cache
def _event_insert() -> Any:
    return insert(CaseEvent.__table__)  # type: ignore[attr-defined]


def _send(
    session: Session,
    config: Config,
    mail: SendMail,
    ref: str | None,
    now: datetime,
    pending: Pending,
    secret: bytes | None,
) -> None:
    if enqueue_mail(session, config, mail, ref, now=now, secret=secret) is None:
        pending.add(ref, "auto_reply_suppressed", to=",".join(mail.to))


def jsonable(fields: Mapping[str, Any]) -> dict[str, Any]:
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


# --------------------------------------------------------------------------- timers


def set_timer(session: Session, case_ref: str, effect: SetTimer) -> None:
    """Set (or set again) the case's timer `effect.name`: one upsert on its key."""
    key = f"{case_ref}:{effect.name}"
    values = {
        "kind": effect.kind,
        "due_at": effect.due_at,
        "data": jsonable(effect.data),
        "fired_at": None,
        "cancelled_at": None,
    }
    upsert(session, Timer, {"key": key, "case_ref": case_ref, **values}, ["key"], list(values))
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Timer) and obj.key == key:
            session.expire(obj)  # loaded earlier in this transaction: read again if used


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
    """The case's earliest live timer (one aggregate: no Timer row is loaded). Timers are
    written by SQL statements (`set_timer`) or flushed where they change (`cancel_timers`,
    `claim_due_timers`): no flush here, so that the case's own changes are written once, at
    the commit."""
    stmt = _next_due_query()
    due: datetime | None = session.connection().execute(stmt, {"case_ref": case_ref}).scalar()
    return due  # None when no timer is live (MIN of no row)


@cache
def _next_due_query() -> SelectOfScalar[datetime]:
    """Built once: building a statement costs more than running it on SQLite."""
    return select(func.min(Timer.due_at)).where(
        Timer.case_ref == bindparam("case_ref"),
        col(Timer.fired_at).is_(None),
        col(Timer.cancelled_at).is_(None),
    )


# --------------------------------------------------------------------------- deciding


class Decider:
    """Asks the case's workflow for a decision and applies it; portal operations are only
    written here, and their results come back through `on_portal_result`."""

    def __init__(
        self,
        config: Config,
        portal: Portal,
        clock: Callable[[], datetime],
        secret: bytes | None,
    ) -> None:
        self.config = config
        self.portal = portal
        self.clock = clock
        self.secret = secret
        self.handles = {h: name for name, g in config.reviewers.groups.items() for h in g.handles}

    def _context(self, session: Session, case: Case, event: Event, opened: bool = False) -> Context:
        return build_context(
            self.config,
            session,
            self.portal,
            case.kind,
            event,
            case,
            self.clock(),
            self.handles,
            opened=opened,
        )

    def start(self, session: Session, case: Case, event: MailReceived, pending: Pending) -> None:
        """The first decision of a case just opened by `event`."""
        ctx = self._context(session, case, event, opened=True)
        decision = WORKFLOWS[case.kind].start(event, ctx, case.ref)
        self.apply(session, case, decision, pending, new_case=True)

    def decide(self, session: Session, case: Case, event: Event, pending: Pending) -> None:
        ctx = self._context(session, case, event)
        decision = WORKFLOWS[case.kind].decide(cases.view(case), event, ctx)
        self.apply(session, case, decision, pending)

    def apply(
        self,
        session: Session,
        case: Case,
        decision: Decision,
        pending: Pending,
        *,
        new_case: bool = False,
    ) -> None:
        now = self.clock()
        ops = apply_decision(
            session, self.config, case, decision, now, pending, self.secret, new_case=new_case
        )
        for op in ops:
            row = enqueue_operation(session, case.ref, op, now)
            pending.add(case.ref, "portal_queued", kind=row.kind, operation=row.id)

    def on_portal_result(
        self, session: Session, case_ref: str, event: Event, pending: Pending
    ) -> None:
        """A portal operation's result, in the transaction that marks it done: mailbot's
        record of publications and the notices first, then the case's workflow."""
        now = self.clock()
        if isinstance(event, Published):
            record_publication(
                session, case_ref, event.space, event.question, event.url, event.version, now
            )
            notify_publication(session, self.config, self.portal, case_ref, now)
        elif isinstance(event, Withdrawn):
            record_withdrawal(session, case_ref, now)
        case = cases.get_case(session, case_ref, for_update=True)
        if case is not None:
            self.decide(session, case, event, pending)

    def outside_case(
        self, session: Session, ref: str | None, decision: Decision, pending: Pending
    ) -> None:
        apply_outside_case(session, self.config, ref, decision, self.clock(), pending, self.secret)
