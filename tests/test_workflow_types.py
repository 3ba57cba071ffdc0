"""The typed seams of the workflows: states, the registry, decisions composed with `then`."""

from __future__ import annotations

import pytest
from workflows_support import NOW, apply, ctx, mail, opened

from workflows import question, subscription
from workflows.core import Decision, LogLine, Withdraw
from workflows.registry import WORKFLOWS, Workflow
from workflows.states import (
    QUESTION_CLOSED,
    SUBSCRIPTION_CLOSED,
    CaseKind,
    QuestionState,
    SubscriptionState,
    state_of,
)


def test_states_are_the_stored_strings() -> None:
    assert SubscriptionState.UNDER_REVIEW == "under_review"
    assert f"{QuestionState.ANSWERED}" == "answered"
    assert [s.value for s in SubscriptionState] == [
        "new", "received", "incomplete", "under_review", "needs_info", "approved", "invited",
        "refused", "closed",
    ]  # fmt: skip
    assert [s.value for s in QuestionState] == [
        "new", "received", "open", "held", "publishing", "answered"
    ]  # fmt: skip
    assert SUBSCRIPTION_CLOSED == {"refused", "closed"} and QUESTION_CLOSED == {"answered"}
    assert state_of("subscription", "needs_info") is SubscriptionState.NEEDS_INFO
    assert state_of(CaseKind.QUESTION, "open") is QuestionState.OPEN
    with pytest.raises(ValueError):
        state_of("question", "under_review")


def test_registry_by_kind_and_by_stored_string() -> None:
    assert WORKFLOWS[CaseKind.QUESTION] is question
    assert WORKFLOWS["subscription"] is subscription
    assert set(WORKFLOWS) == {CaseKind.QUESTION, CaseKind.SUBSCRIPTION} and len(WORKFLOWS) == 2
    with pytest.raises(KeyError):
        WORKFLOWS["unknown"]
    workflow: Workflow = WORKFLOWS["question"]
    event = mail("Bonjour,\nComment contester un FPS ?", subject="FPS")
    decision = workflow.start(event, ctx(), "Q-2026-000001")
    case = opened(decision, event, "Q-2026-000001", "question")
    assert case.state == QuestionState.OPEN and case.created_at == NOW
    assert apply(case, Decision()).state == QuestionState.OPEN


def test_then_appends_effects_and_log_lines_only() -> None:
    first = Decision(state=QuestionState.ANSWERED, log=(LogLine("a"),), closed=True)
    more = Decision(effects=(Withdraw(),), log=(LogLine("b"),))
    both = first.then(more)
    assert both.state == QuestionState.ANSWERED and both.closed
    assert both.effects == (Withdraw(),) and [line.event for line in both.log] == ["a", "b"]
    with pytest.raises(ValueError):
        first.then(Decision(state=QuestionState.OPEN))
    with pytest.raises(ValueError):
        first.then(Decision(updates={"group": "desta"}))
