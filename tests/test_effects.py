"""The effects applier on its own (`mailbot.loop.effects`), on a real SQLite database: a
decision's case changes, outbox rows, timers, portal operations, case events and log lines are
written in the caller's transaction and nowhere else."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, event
from sqlmodel import Session, select

from mailbot.config import Config, load_config
from mailbot.loop.effects import Pending, apply_decision, apply_outside_case
from storage.db import make_engine
from storage.migrate import upgrade
from storage.models import Case, CaseEvent, OutboxMail, Timer
from workflows.core import (
    CancelTimers,
    Decision,
    LogLine,
    Publish,
    SendMail,
    SetTimer,
)

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
SECRET = b"effects-test-secret-0123456789abcdef"


@pytest.fixture
def config() -> Config:
    return load_config(ROOT / "config.toml")


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path}/effects.db"
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def new_case(session: Session, ref: str = "Q-2026-000001", *, saved: bool = True) -> Case:
    """A question case; `saved`: added to `session` and flushed, else not yet in it (as the
    mail that opens a case builds it)."""
    case = Case(
        ref=ref,
        kind="question",
        state="received",
        requester="alice@mairie.example.fr",
        requester_name="Alice",
        subject="Une question",
        created_at=NOW,
        updated_at=NOW,
    )
    if saved:
        session.add(case)
        session.flush()
    return case


def mail(key: str, *, auto: bool = False, to: str = "alice@mairie.example.fr") -> SendMail:
    return SendMail(
        template="delivery_failed_alert",
        to=(to,),
        context={"recipient": "x@example.fr", "template": "t", "reason": "r", "ref": None},
        key=key,
        auto=auto,
    )


def test_a_decision_is_written_whole_in_the_callers_transaction(
    config: Config, engine: Engine
) -> None:
    pending = Pending()
    due = NOW + timedelta(days=2)
    decision = Decision(
        state="open",
        updates={"group": "accueil", "space": "accueil"},
        effects=(
            mail("ack"),
            SetTimer(name="reminder", kind="reviewer_reminder", due_at=due, data={"round": 1}),
            SetTimer(name="escalation", kind="escalation", due_at=due + timedelta(days=3)),
            Publish(space="accueil", question="Q ?", answer="R."),
        ),
        log=(LogLine("routed", {"group": "accueil", "at": NOW}),),
    )
    with Session(engine) as session:
        case = new_case(session)
        ops = apply_decision(session, config, case, decision, NOW, pending, SECRET)
        # Portal operations are handed back to the caller, never carried out here.
        assert ops == [Publish(space="accueil", question="Q ?", answer="R.")]
        session.rollback()  # nothing was committed by the applier
    with Session(engine) as session:
        assert session.exec(select(Case)).all() == []
        assert session.exec(select(OutboxMail)).all() == []
        assert session.exec(select(Timer)).all() == []
    assert [line[1] for line in pending.lines] == ["routed"]

    with Session(engine) as session:
        case = new_case(session)
        apply_decision(session, config, case, decision, NOW, Pending(), SECRET)
        session.commit()
    with Session(engine) as session:
        case = session.exec(select(Case)).one()
        assert (case.state, case.group, case.space) == ("open", "accueil", "accueil")
        assert case.due_at is not None and case.due_at.replace(tzinfo=UTC) == due
        events = [(e.event, e.data) for e in session.exec(select(CaseEvent))]
        assert ("state", {"from": "received", "to": "open"}) in events
        assert ("routed", {"group": "accueil", "at": NOW.isoformat()}) in events
        [row] = session.exec(select(OutboxMail)).all()
        assert row.idempotency_key == "Q-2026-000001:ack" and row.state == "pending"
        assert {t.key for t in session.exec(select(Timer))} == {
            "Q-2026-000001:reminder",
            "Q-2026-000001:escalation",
        }


def test_cancelled_timers_move_the_due_date_and_closing_sets_closed_at(
    config: Config, engine: Engine
) -> None:
    with Session(engine) as session:
        case = new_case(session)
        first = Decision(
            state="open",
            effects=(
                SetTimer(name="reminder", kind="reviewer_reminder", due_at=NOW + timedelta(1)),
                SetTimer(name="escalation", kind="escalation", due_at=NOW + timedelta(5)),
            ),
        )
        apply_decision(session, config, case, first, NOW, Pending(), SECRET)
        second = Decision(state="answered", effects=(CancelTimers(("reminder",)),), closed=True)
        apply_decision(session, config, case, second, NOW, Pending(), SECRET)
        assert case.closed_at == NOW
        assert case.due_at == NOW + timedelta(5)
        third = Decision(effects=(CancelTimers(),), closed=True)
        apply_decision(session, config, case, third, NOW, Pending(), SECRET)
        assert case.due_at is None
        # Reopened: a state change with closed=False clears closed_at.
        apply_decision(session, config, case, Decision(state="open"), NOW, Pending(), SECRET)
        assert case.closed_at is None


def test_a_decision_may_not_touch_other_columns(config: Config, engine: Engine) -> None:
    with Session(engine) as session:
        case = new_case(session)
        with pytest.raises(ValueError, match="requester"):
            apply_decision(
                session,
                config,
                case,
                Decision(updates={"requester": "evil@attacker.test"}),
                NOW,
                Pending(),
                SECRET,
            )


def test_the_same_mail_key_is_queued_once_and_auto_replies_are_rate_limited(
    config: Config, engine: Engine
) -> None:
    limit = config.limits.auto_replies_per_case_per_day  # ordinary answers of one case
    pending = Pending()
    with Session(engine) as session:
        case = new_case(session)
        twice = Decision(effects=(mail("ack"), mail("ack")))
        apply_decision(session, config, case, twice, NOW, pending, SECRET)
        autos = Decision(effects=tuple(mail(f"auto-{i}", auto=True) for i in range(limit + 1)))
        apply_decision(session, config, case, autos, NOW, pending, SECRET)
        rows = session.exec(select(OutboxMail)).all()
        assert len(rows) == 1 + limit
    assert [line[1] for line in pending.lines] == ["auto_reply_suppressed"]


def test_a_decision_outside_any_case_sends_mail_and_logs_only(
    config: Config, engine: Engine
) -> None:
    pending = Pending()
    decision = Decision(effects=(mail("alert", to="admin@example.fr"),), log=(LogLine("x"),))
    with Session(engine) as session:
        apply_outside_case(session, config, "Q-2026-000099", decision, NOW, pending, SECRET)
        [row] = session.exec(select(OutboxMail)).all()
        assert row.case_ref == "Q-2026-000099" and row.recipients == ["admin@example.fr"]
        assert session.exec(select(CaseEvent)).all() == []  # no such case: no case event
        case = new_case(session)
        apply_outside_case(session, config, case.ref, decision, NOW, pending, SECRET)
        assert [e.event for e in session.exec(select(CaseEvent))] == ["x"]
        with pytest.raises(TypeError, match="needs a case"):
            apply_outside_case(
                session,
                config,
                None,
                Decision(effects=(SetTimer("t", "k", NOW),)),
                NOW,
                pending,
                SECRET,
            )
    assert [(ref, event) for ref, event, _ in pending.lines] == [
        ("Q-2026-000099", "x"),
        ("Q-2026-000001", "x"),
    ]


def test_a_new_cases_due_date_comes_from_the_timers_its_first_decision_sets(
    config: Config, engine: Engine
) -> None:
    """`new_case`: no query for the due date, the same one the timer table gives (a timer set
    twice counts once, with its last due date; a cancellation reads the table back)."""
    decision = Decision(
        state="open",
        effects=(
            SetTimer(name="reminder", kind="reviewer_reminder", due_at=NOW + timedelta(1)),
            SetTimer(name="escalation", kind="escalation", due_at=NOW + timedelta(5)),
            SetTimer(name="reminder", kind="reviewer_reminder", due_at=NOW + timedelta(3)),
        ),
    )
    with Session(engine) as session:
        case = new_case(session)
        apply_decision(session, config, case, decision, NOW, Pending(), SECRET, new_case=True)
        assert case.due_at == NOW + timedelta(3)
        session.commit()
    with Session(engine) as session:
        case = new_case(session, "Q-2026-000002")
        apply_decision(session, config, case, decision, NOW, Pending(), SECRET)
        assert case.due_at is not None and case.due_at.replace(tzinfo=UTC) == NOW + timedelta(3)
        quiet = Decision(state="open")
        other = new_case(session, "Q-2026-000003")
        apply_decision(session, config, other, quiet, NOW, Pending(), SECRET, new_case=True)
        assert other.due_at is None
        cancelled = Decision(
            state="open",
            effects=(
                SetTimer(name="reminder", kind="reviewer_reminder", due_at=NOW + timedelta(1)),
                SetTimer(name="escalation", kind="escalation", due_at=NOW + timedelta(5)),
                CancelTimers(("reminder",)),
            ),
        )
        third = new_case(session, "Q-2026-000004")
        apply_decision(session, config, third, cancelled, NOW, Pending(), SECRET, new_case=True)
        assert third.due_at is not None
        assert third.due_at.replace(tzinfo=UTC) == NOW + timedelta(5)


def test_a_case_just_opened_is_written_once_with_its_first_decision(
    config: Config, engine: Engine
) -> None:
    """A case a mail has just opened (not yet in the session) is written by its first
    decision: one INSERT with the decided state, record and due date, nothing left for the
    commit's flush; a case already in the session is still updated through it."""
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(" ".join(statement.split()[:3]))

    decision = Decision(
        state="open",
        updates={"space": "desta"},
        effects=(SetTimer(name="reminder", kind="reviewer_reminder", due_at=NOW + timedelta(2)),),
    )
    with Session(engine) as session:
        case = new_case(session, "Q-2026-000010", saved=False)
        event.listen(engine, "before_cursor_execute", seen)
        apply_decision(session, config, case, decision, NOW, Pending(), SECRET, new_case=True)
        event.remove(engine, "before_cursor_execute", seen)
        assert statements.count("INSERT INTO mail_case") == 1
        assert case.id is not None and case not in session and not session.new
        second = new_case(session, "Q-2026-000011")
        closing = Decision(state="closed", closed=True)
        apply_decision(session, config, second, closing, NOW, Pending(), SECRET)
        session.commit()
    with Session(engine) as session:
        rows = {c.ref: c for c in session.exec(select(Case)).all()}
    first = rows["Q-2026-000010"]
    assert (first.id, first.state, first.space) == (case.id, "open", "desta")
    assert first.due_at is not None and first.due_at.replace(tzinfo=UTC) == NOW + timedelta(2)
    assert (rows["Q-2026-000011"].state, rows["Q-2026-000011"].closed_at) == ("closed", NOW)
