"""The cap on reviewer notifications per case per hour, pure (workflows/followup_cap.py): past
the cap a follow-up is kept in the case without a mail and the hour's digest timer is set; the
digest lists every follow-up of that hour to the case's reviewers (end to end with the real
mailboxes: tests/test_threat_starving_cap.py covers answers to requesters; this module the
reviewers' side)."""

from __future__ import annotations

from datetime import timedelta

from test_workflow_question import ASKER, ask
from test_workflow_subscription import REVIEWERS, under_review
from workflows_support import (
    NOW,
    REQUESTER,
    apply,
    ctx,
    effects_of,
    log_events,
    mail,
    sent,
)

from workflows import followup_cap, question, subscription
from workflows.core import SetTimer, TimerFired

CAP = 3


def test_under_the_cap_a_follow_up_is_passed_on_at_once() -> None:
    case, _ = under_review()
    note = mail("Une précision.", message_id="<n1@x>", subject="RE: [ABO-2026-000001]")
    decision = subscription.decide(
        case, note, ctx(reviewer_notifications_per_case_per_hour=CAP, forwards_last_hour=CAP - 1)
    )
    assert {m.to[0] for m in sent(decision)} == set(REVIEWERS)
    assert log_events(decision) == ["requester_note"]
    assert effects_of(decision, SetTimer) == []


def test_past_the_cap_the_follow_up_is_kept_and_the_digest_is_set() -> None:
    case, _ = under_review()
    busy = ctx(reviewer_notifications_per_case_per_hour=CAP, forwards_last_hour=CAP)
    decision = subscription.decide(case, mail("Encore.", message_id="<n4@x>"), busy)
    assert sent(decision) == []
    assert log_events(decision) == ["follow_up_held"]
    [timer] = effects_of(decision, SetTimer)
    hour = NOW.replace(minute=0, second=0, microsecond=0)
    assert timer.kind == followup_cap.DIGEST_TIMER and timer.due_at == hour + timedelta(hours=1)
    case = apply(case, decision)
    assert case.data.notes[-1].text == "Encore."  # type: ignore[attr-defined]
    # a third party's follow-up past the cap is held too, and sets the same timer
    stranger = mail("Je suis le DGS.", sender="dgs@ville.fr", message_id="<n5@x>")
    held = subscription.decide(case, stranger, busy)
    assert sent(held) == [] and [t.name for t in effects_of(held, SetTimer)] == [timer.name]


def test_no_cap_when_zero() -> None:
    case, _ = under_review()
    free = ctx(reviewer_notifications_per_case_per_hour=0, forwards_last_hour=500)
    decision = subscription.decide(case, mail("Note.", message_id="<n@x>"), free)
    assert len(sent(decision)) == len(REVIEWERS)


def test_the_digest_lists_the_hours_follow_ups_with_their_senders() -> None:
    case, _ = under_review()
    busy = ctx(reviewer_notifications_per_case_per_hour=1, forwards_last_hour=1)
    for i, sender in enumerate((REQUESTER, "dgs@ville.fr", REQUESTER)):
        event = mail(f"Message {i}.", sender=sender, message_id=f"<d{i}@x>")
        case = apply(case, subscription.decide(case, event, busy))
    [timer] = effects_of(subscription.decide(case, mail("x", message_id="<z@x>"), busy), SetTimer)
    fired = subscription.decide(case, TimerFired(timer.kind, dict(timer.data)), ctx())
    mails = sent(fired, followup_cap.DIGEST_TEMPLATE)
    assert {m.to[0] for m in mails} == set(REVIEWERS)
    items = mails[0].context["items"]
    assert [i["text"] for i in items] == ["Message 0.", "Message 1.", "Message 2."]
    assert [i["sender"] for i in items] == [None, "dgs@ville.fr", None]
    assert all(m.reviewer for m in mails)  # a reply to the digest is a command, as usual
    assert log_events(fired) == ["follow_up_digest"]
    # an hour without a follow-up sends nothing
    later = {"since": (NOW + timedelta(hours=5)).isoformat()}
    assert sent(subscription.decide(case, TimerFired(timer.kind, later), ctx())) == []


def test_a_question_s_follow_ups_are_capped_and_digested_too() -> None:
    case, _ = ask()
    busy = ctx(reviewer_notifications_per_case_per_hour=1, forwards_last_hour=1)
    event = mail("Et pour les FPS ?", sender=ASKER, message_id="<f1@x>")
    decision = question.decide(case, event, busy)
    assert sent(decision) == [] and log_events(decision) == ["follow_up_held"]
    case = apply(case, decision)
    [timer] = effects_of(decision, SetTimer)
    fired = question.decide(case, TimerFired(timer.kind, dict(timer.data)), ctx())
    [digest] = sent(fired, followup_cap.DIGEST_TEMPLATE)
    assert any("Et pour les FPS ?" in i["text"] for i in digest.context["items"])
