"""Durable portal operations (`mailbot.loop.portal_ops`) on real databases: keys derived once
per decision, retries with backoff, failure reported to the workflow, a crash between the
portal call and the done-commit, and two workers racing on PostgreSQL."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from mailbot.loop.portal_ops import enqueue_operation, run_pending
from portal_stub.service import StubPortal
from portal_stub.testing import Clock, cheap_hasher, migrated_sqlite, postgres_database
from storage.db import make_engine, session_scope
from storage.models import CaseEvent, PortalOperation
from workflows.core import (
    AccountsProvisioned,
    Credential,
    Event,
    PersonRequest,
    PortalFailed,
    ProvisionAccounts,
    Publish,
    Published,
    Withdraw,
    Withdrawn,
)

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
EXPIRES = NOW + timedelta(days=30)
REF = "ABO-2026-000001"
QREF = "Q-2026-000001"
PEOPLE = (
    PersonRequest("a@ville.fr", "Anne", "Martin", "Ville", ("desta",)),
    PersonRequest("b@ville.fr", "Bruno", "Petit", "Ville", ()),
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        eng = make_engine(migrated_sqlite(tmp_path / "ops.db"))
        yield eng
        eng.dispose()
    else:
        with postgres_database("mailbot_ops_test") as eng:
            yield eng


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def portal(engine: Engine, clock: Clock) -> StubPortal:
    return StubPortal(engine, "http://portail.test", clock, hasher=cheap_hasher())


class Results:
    """`on_result`: keeps the events (passwords included, in memory) and writes a case event
    in the done-transaction, to show both commit together."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Event]] = []

    def __call__(self, session: Session, case_ref: str, event: Event) -> None:
        session.add(CaseEvent(case_ref=case_ref, event=type(event).__name__, at=NOW))
        self.events.append((case_ref, event))


class Flaky:
    """A `Portal` that raises `failures` times before each call goes through (`after`: the
    call goes through, then the answer is lost: raised afterwards)."""

    def __init__(self, portal: StubPortal, failures: int, *, after: bool = False) -> None:
        self.portal, self.failures, self.after = portal, failures, after
        self.calls: Counter[str] = Counter()

    def _maybe_fail(self, key: str) -> None:
        self.calls[key] += 1
        if self.calls[key] <= self.failures:
            raise ConnectionError(f"portail injoignable ({self.calls[key]})")

    def create_accounts(
        self, request_ref: str, people: Sequence[PersonRequest], expires_at: datetime, key: str
    ) -> list[Credential]:
        if not self.after:
            self._maybe_fail(key)
        creds = self.portal.create_accounts(request_ref, people, expires_at, key)
        if self.after:
            self._maybe_fail(key)
        return creds

    def publish(
        self, space: str, question: str, answer: str, case_ref: str, key: str
    ) -> tuple[str, int]:
        if not self.after:
            self._maybe_fail(key)
        result = self.portal.publish(space, question, answer, case_ref, key)
        if self.after:
            self._maybe_fail(key)
        return result

    def withdraw(self, case_ref: str, key: str) -> None:
        self._maybe_fail(key)
        self.portal.withdraw(case_ref, key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.portal, name)


def enqueue(engine: Engine, case_ref: str, *effects: Any) -> list[str]:
    with session_scope(engine) as session:
        return [enqueue_operation(session, case_ref, e, NOW).idempotency_key for e in effects]


def operations(engine: Engine) -> list[PortalOperation]:
    with session_scope(engine) as session:
        return list(session.exec(select(PortalOperation).order_by(col(PortalOperation.id))))


def case_events(engine: Engine) -> list[str]:
    with session_scope(engine) as session:
        return [e.event for e in session.exec(select(CaseEvent).order_by(col(CaseEvent.id)))]


# ----------------------------------------------------------------------------- enqueue


def test_keys_are_derived_once_per_decision(engine: Engine) -> None:
    publish = Publish("desta", "Question ?", "Réponse.")
    with session_scope(engine) as session:
        first = enqueue_operation(session, QREF, publish, NOW)
        again = enqueue_operation(session, QREF, publish, NOW)  # the same decision replayed
        assert again.id == first.id
        session.rollback()  # the decision's transaction rolled back: replayed from scratch
    [key] = enqueue(engine, QREF, publish)
    assert key.startswith(f"{QREF}:publish:1:")
    assert enqueue(engine, QREF, publish) == [key]  # still pending: the same operation
    # A correction (another answer) and a withdrawal are operations of their own.
    [v2, withdraw] = enqueue(engine, QREF, Publish("desta", "Question ?", "Réponse 2."), Withdraw())
    assert v2.startswith(f"{QREF}:publish:2:") and withdraw.startswith(f"{QREF}:withdraw:1:")
    assert len({key, v2, withdraw}) == 3 == len(operations(engine))


# ------------------------------------------------------------------------------ worker


def test_worker_retries_with_backoff_then_reports_the_result(
    engine: Engine, portal: StubPortal, clock: Clock
) -> None:
    enqueue(engine, QREF, Publish("desta", "Question ?", "Réponse."))
    flaky, results = Flaky(portal, failures=2), Results()

    def run() -> Any:
        return run_pending(engine, flaky, results, now=clock, max_attempts=5, retry_base_seconds=10)

    report = run()
    assert (report.done, report.retried) == (0, 1)
    [op] = operations(engine)
    assert (op.state, op.attempts, op.next_attempt_at) == (
        "pending",
        1,
        NOW + timedelta(seconds=10),
    )
    assert "portail injoignable" in (op.last_error or "")
    assert run().retried == 0  # not due yet
    clock.advance(seconds=10)
    assert run().retried == 1
    assert operations(engine)[0].next_attempt_at == clock() + timedelta(seconds=20)  # doubled
    clock.advance(seconds=20)
    assert run().done == 1
    [op] = operations(engine)
    assert (op.state, op.attempts, op.last_error, op.done_at) == ("done", 3, None, clock())
    assert op.result == {
        "url": "http://portail.test/espaces/desta/questions/Q-2026-000001",
        "version": 1,
    }
    assert results.events == [(QREF, Published(op.result["url"], 1, "desta", "Question ?"))]
    assert case_events(engine) == ["Published"]
    assert run().done == 0  # done once


def test_worker_gives_up_after_max_attempts_and_tells_the_workflow(
    engine: Engine, portal: StubPortal, clock: Clock
) -> None:
    enqueue(engine, QREF, Withdraw())
    flaky, results = Flaky(portal, failures=99), Results()
    for _ in range(3):
        run_pending(engine, flaky, results, now=clock, max_attempts=3, retry_base_seconds=1)
        clock.advance(hours=1)
    [op] = operations(engine)
    assert (op.state, op.attempts) == ("failed", 3)
    [(ref, event)] = results.events
    assert ref == QREF and isinstance(event, PortalFailed)
    assert event.kind == "withdraw" and "portail injoignable (3)" in event.reason
    assert case_events(engine) == ["PortalFailed"]
    assert run_pending(engine, flaky, results, now=clock).failed == 0


def test_lost_answer_is_retried_with_the_same_key_same_accounts_fresh_passwords(
    engine: Engine, portal: StubPortal, clock: Clock
) -> None:
    """The portal did the work, the answer was lost: the retry (same key) gets the same
    accounts; the first temporary passwords are not kept, so fresh ones come back."""
    enqueue(engine, REF, ProvisionAccounts(PEOPLE, EXPIRES))
    flaky, results = Flaky(portal, failures=1, after=True), Results()
    assert run_pending(engine, flaky, results, now=clock, retry_base_seconds=5).retried == 1
    assert len(portal.find_accounts(["a@ville.fr", "b@ville.fr"])) == 2
    clock.advance(seconds=5)
    assert run_pending(engine, flaky, results, now=clock).done == 1
    [(_, event)] = results.events
    assert isinstance(event, AccountsProvisioned)
    assert [(c.email, c.created, c.reissued) for c in event.credentials] == [
        ("a@ville.fr", True, True),
        ("b@ville.fr", True, True),
    ]
    for cred in event.credentials:
        assert cred.temporary_password and portal.check_login(cred.email, cred.temporary_password)
    [op] = operations(engine)
    stored = json.dumps(op.result) + json.dumps(op.payload)
    for cred in event.credentials:
        assert cred.temporary_password not in stored
    assert op.result and op.result["accounts"][0]["password_issued"] is True


class Crash(BaseException):
    """The process dies (not an error the worker handles)."""


def test_crash_between_the_portal_call_and_the_done_commit(
    engine: Engine, portal: StubPortal, clock: Clock
) -> None:
    enqueue(engine, QREF, Publish("accueil", "Question ?", "Réponse."))
    enqueue(engine, REF, ProvisionAccounts(PEOPLE[:1], EXPIRES))
    results = Results()

    def crash(_session: Session, _case_ref: str, _event: Event) -> None:
        raise Crash()

    for _ in range(2):
        with pytest.raises(Crash):
            run_pending(engine, portal, crash, now=clock, lease_seconds=60)
    assert [o.state for o in operations(engine)] == ["running", "running"]
    assert run_pending(engine, portal, results, now=clock).done == 0  # leases still held
    clock.advance(seconds=61)
    assert run_pending(engine, portal, results, now=clock).done == 2
    published, provisioned = (e for _, e in results.events)
    assert published == Published(
        "http://portail.test/espaces/accueil/questions/Q-2026-000001", 1, "accueil", "Question ?"
    )
    assert isinstance(provisioned, AccountsProvisioned)
    [cred] = provisioned.credentials
    assert cred.reissued and portal.check_login("a@ville.fr", cred.temporary_password or "")
    assert [(o.state, o.attempts) for o in operations(engine)] == [("done", 2), ("done", 2)]
    assert portal.search("question") and len(portal.find_accounts(["a@ville.fr"])) == 1
    assert case_events(engine) == ["Published", "AccountsProvisioned"]


def test_a_failing_result_handler_rolls_back_the_done_mark_and_is_retried(
    engine: Engine, portal: StubPortal, clock: Clock
) -> None:
    enqueue(engine, QREF, Withdraw())
    results, calls = Results(), [0]

    def once_broken(session: Session, case_ref: str, event: Event) -> None:
        calls[0] += 1
        if calls[0] == 1:
            session.add(CaseEvent(case_ref=case_ref, event="lost", at=NOW))
            raise RuntimeError("workflow bug")
        results(session, case_ref, event)

    assert run_pending(engine, portal, once_broken, now=clock, retry_base_seconds=1).retried == 1
    assert case_events(engine) == []
    clock.advance(seconds=1)
    assert run_pending(engine, portal, once_broken, now=clock).done == 1
    assert results.events == [(QREF, Withdrawn())]


# ------------------------------------------------------------------------- two workers


@pytest.mark.postgres
def test_two_workers_on_postgresql_run_each_operation_once() -> None:
    with postgres_database("mailbot_ops_race") as engine:
        refs = [f"Q-2026-{n:06d}" for n in range(1, 25)]
        for ref in refs:
            enqueue(engine, ref, Publish("accueil", f"Question {ref} ?", "Réponse."))
        portal = StubPortal(engine, "http://portail.test", hasher=cheap_hasher())
        calls: Counter[str] = Counter()
        lock = threading.Lock()

        class Counting(Flaky):
            def publish(
                self, space: str, question: str, answer: str, case_ref: str, key: str
            ) -> tuple[str, int]:
                with lock:
                    calls[key] += 1
                return self.portal.publish(space, question, answer, case_ref, key)

        results = Results()
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def worker() -> None:
            try:
                barrier.wait()
                run_pending(engine, Counting(portal, 0), results, now=lambda: NOW)
            except BaseException as err:
                errors.append(err)

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert sorted(calls.values()) == [1] * len(refs)
        assert [o.state for o in operations(engine)] == ["done"] * len(refs)
        assert sorted(ref for ref, _ in results.events) == refs
        assert len(case_events(engine)) == len(refs)
