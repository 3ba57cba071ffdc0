"""Reviewers in a group, pure (workflows/group_review.py): « pris en charge par X » to the
other members when one decides, answers or holds an answer; a reviewer's out-of-office reply
makes the others (or the admins) take the case at once. End to end on Dovecot:
tests/test_group_review_e2e.py."""

from __future__ import annotations

from test_workflow_question import DESTA, ask
from test_workflow_subscription import under_review
from workflows_support import ADMINS, apply, ctx, log_events, reply, sent

from workflows import group_review, question, subscription
from workflows.core import ReviewerAway
from workflows.text.directives import ReviewerCommand

FIRST, SECOND = "relecteur.abonnements@demo.test", "second.abonnements@demo.test"
ALONE = ctx(groups={**ctx().groups, "abonnements": (FIRST,)})


def test_a_refusal_tells_the_other_member_once_per_round() -> None:
    case, _ = under_review()
    decision = subscription.decide(
        case, reply(command=ReviewerCommand("REFUSER", text="hors champ")), ctx()
    )
    (taken,) = sent(decision, group_review.TAKEN_TEMPLATE)
    assert taken.to == (SECOND,) and taken.context == {
        "kind": "subscription",
        "by": FIRST,
        "action": "refuse",
        "subject": case.subject,
    }
    assert taken.thread_notification and taken.reviewer is None and not taken.auto
    assert taken.key == f"taken:{case.data.round}:{SECOND}"


def test_a_reviewer_alone_in_the_group_tells_nobody() -> None:
    case, _ = under_review(**{"groups": ALONE.groups})
    decision = subscription.decide(case, reply(command=ReviewerCommand("APPROUVER")), ALONE)
    assert sent(decision, group_review.TAKEN_TEMPLATE) == []


def test_an_answer_sent_at_once_tells_the_other_members() -> None:
    two = ctx(groups={**ctx().groups, "desta": (DESTA, "autre.desta@demo.test")})
    case, _ = ask(**{"groups": two.groups})
    answer = reply("Elle sera publiée en décembre.", reviewer=DESTA)
    decision = question.decide(case, answer, two)  # publish_delay_minutes = 0
    (taken,) = sent(decision, group_review.TAKEN_TEMPLATE)
    assert taken.to == ("autre.desta@demo.test",) and taken.context["action"] == "answer"


def test_an_out_of_office_reply_asks_the_other_members_with_their_tokens() -> None:
    case, _ = under_review()
    decision = subscription.decide(case, ReviewerAway(FIRST, "<ooo@x>"), ctx())
    (mail,) = sent(decision)
    assert mail.template == group_review.AWAY_TEMPLATE and mail.to == (SECOND,)
    assert mail.reviewer == SECOND  # a reply to it is a command
    assert mail.context["away"] == FIRST and not mail.context["to_admins"]
    assert FIRST not in [m.to[0] for m in sent(decision)]  # never answered
    assert log_events(decision) == ["reviewer_away"] and decision.state is None


def test_an_out_of_office_reply_of_a_lone_reviewer_alerts_the_admins() -> None:
    case, _ = under_review(**{"groups": ALONE.groups})
    decision = subscription.decide(case, ReviewerAway(FIRST), ALONE)
    (mail,) = sent(decision)
    assert mail.to == ADMINS and mail.reviewer is None and mail.context["to_admins"]


def test_an_out_of_office_reply_after_the_decision_changes_nothing() -> None:
    case, _ = under_review()
    case = apply(
        case, subscription.decide(case, reply(command=ReviewerCommand("APPROUVER")), ctx())
    )
    decision = subscription.decide(case, ReviewerAway(SECOND), ctx())
    assert sent(decision) == [] and log_events(decision) == ["reviewer_away"]


def test_a_question_reviewers_out_of_office_reply_alerts_the_admins() -> None:
    case, _ = ask()
    decision = question.decide(case, ReviewerAway(DESTA), ctx())
    (mail,) = sent(decision)
    assert mail.to == ADMINS and mail.context["kind"] == "question"
