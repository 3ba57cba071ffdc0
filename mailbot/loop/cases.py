"""Cases in the database: gap-free references, the snapshot a workflow sees, and claiming due
timers (applying a decision is `mailbot.loop.effects`)."""

from __future__ import annotations

from datetime import datetime
from functools import cache

from sqlalchemy import Insert, TextClause, bindparam, insert, inspect, text
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from storage.models import Case, Timer
from workflows.core import CaseView
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
    number = session.connection().execute(_take_number(), {"p": prefix, "y": year}).scalar_one()
    return f"{prefix}-{year}-{number:06d}"


@cache
def _take_number() -> TextClause:
    """The year's first number, or the counter's next one: one statement (an upsert)."""
    return text(
        "INSERT INTO case_counter (prefix, year, last) VALUES (:p, :y, 1) "
        "ON CONFLICT (prefix, year) DO UPDATE SET last = case_counter.last + 1 "
        "RETURNING last"
    )


def write(session: Session, case: Case) -> None:
    """Save `case` in `session`'s transaction. A case not yet in the session (one a mail has
    just opened, its first decision applied) is written with one INSERT, not through the unit
    of work: its flush at the commit was a twentieth of the drain's main thread. It is given
    its id, and stays outside the session (what reads it later reads the row)."""
    if not inspect(case).transient:
        session.add(case)
        return
    values = {name: getattr(case, name) for name in _case_columns()}
    inserted = session.connection().execute(_insert_case(), values).inserted_primary_key
    case.id = inserted[0] if inserted else None


@cache
def _case_columns() -> tuple[str, ...]:
    return tuple(c.key for c in Case.__table__.columns if c.key != "id")  # type: ignore[attr-defined]


@cache
def _insert_case() -> Insert:
    return insert(Case.__table__)  # type: ignore[attr-defined]


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
    return session.exec(_case_query(for_update=for_update), params={"ref": ref}).first()


@cache
def _case_query(*, for_update: bool) -> SelectOfScalar[Case]:
    """Built once: building a statement costs more than running it on SQLite."""
    stmt = select(Case).where(Case.ref == bindparam("ref"))
    return stmt.with_for_update() if for_update else stmt


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


def opened_before(session: Session, journal_ref: str | None, message_id: str | None) -> str | None:
    """The case a mail already opened (a replay, or the same mail delivered twice): the one its
    journal entry names, or the one whose first mail has its Message-ID."""
    if journal_ref:
        case = get_case(session, journal_ref)
        if case is not None and case.origin_message_id == message_id:
            return case.ref
    if message_id:
        return session.connection().execute(_opened_by(), {"mid": message_id}).scalar()
    return None


@cache
def _opened_by() -> SelectOfScalar[str]:
    return select(Case.ref).where(Case.origin_message_id == bindparam("mid")).limit(1)
