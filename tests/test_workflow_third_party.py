"""A follow-up in a case's thread from someone who is not its requester changes nothing: the
reviewers are told « message d'un tiers », with its sender, text and attachments (pure)."""

from __future__ import annotations

from dataclasses import replace

from test_workflow_question import ANSWER, ASKER, DESTA, answered, ask
from test_workflow_subscription import REVIEWERS, under_review
from workflows_support import (
    ADMINS,
    REQUESTER,
    XLSX,
    annex,
    apply,
    ctx,
    log_events,
    mail,
    reply,
    row,
    sent,
    subscription_data,
)

from workflows import question, subscription
from workflows.casework import question_record
from workflows.text.directives import ReviewerCommand

OUTSIDER = "mallory@exemple-malveillant.fr"


def outsider_table() -> object:
    return mail(
        "Tableau corrigé ci-joint.",
        sender=OUTSIDER,
        sender_name="Mallory",
        subject="RE: [ABO-2026-000001] tableau corrigé",
        message_id="<evil@x>",
        annex_data=annex([row(1, email=OUTSIDER, first_name="Mallory")]),
        attachments=(XLSX,),
    )


def test_a_strangers_table_changes_neither_people_nor_state() -> None:
    case, _ = under_review(2)
    before = subscription_data(case.data).people
    decision = subscription.decide(case, outsider_table(), ctx())  # type: ignore[arg-type]
    assert decision.state is None and decision.updates == {}
    data = subscription_data(decision.data)
    assert data.people == before and data.tables == subscription_data(case.data).tables
    assert data.round == subscription_data(case.data).round
    assert data.notes[-1].sender == OUTSIDER
    assert log_events(decision) == ["follow_up_third_party"]
    assert decision.log[0].fields["sender"] == OUTSIDER
    mails = sent(decision)
    assert {m.template for m in mails} == {"third_party_note"}
    assert [m.to for m in mails] == [(r,) for r in REVIEWERS]
    assert REQUESTER not in {a for m in mails for a in m.to}
    assert OUTSIDER not in {a for m in mails for a in m.to}
    note = mails[0]
    assert note.attachments == (XLSX,) and note.context["sender"] == OUTSIDER
    assert note.context["attachments"] == [XLSX.filename]
    assert [p["email"] for p in note.context["people"]] == [p.email for p in before]


def test_a_stranger_answering_a_complete_does_not_resume_the_review() -> None:
    case, _ = under_review()
    command = ReviewerCommand("COMPLÉTER", text="Merci d'indiquer le SIREN.")
    case = apply(case, subscription.decide(case, reply(command=command), ctx()))
    assert case.state == "needs_info"
    decision = subscription.decide(
        case, mail("Le SIREN est 243100518.", sender=OUTSIDER, message_id="<o2@x>"), ctx()
    )
    assert decision.state is None
    assert not sent(decision, "subscription_notify") and not sent(decision, "subscription_ack")
    assert [m.template for m in sent(decision)] == ["third_party_note"] * len(REVIEWERS)
    # The requester's own answer still resumes it.
    case = apply(case, decision)
    own = subscription.decide(case, mail("Le SIREN : 243100518.", message_id="<m3@x>"), ctx())
    assert own.state == "under_review"


def test_the_requester_is_recognised_whatever_the_case_of_the_address() -> None:
    case, _ = under_review()
    case = replace(case, requester=REQUESTER.upper())
    decision = subscription.decide(case, mail("Une précision.", message_id="<m4@x>"), ctx())
    assert "follow_up_third_party" not in log_events(decision)


def test_without_reviewers_the_admins_are_told_without_a_token() -> None:
    case, _ = under_review()
    case = replace(case, group=None)
    decision = subscription.decide(case, outsider_table(), ctx(groups={}, handles={}))  # type: ignore[arg-type]
    (note,) = sent(decision)
    assert note.template == "third_party_note" and note.to == ADMINS and note.reviewer is None


def test_a_stranger_does_not_reopen_an_answered_question() -> None:
    case, _ = ask()
    case, _ = answered(case)
    follow = mail(
        "Et pour l'interface ANTAI ?",
        sender=OUTSIDER,
        message_id="<q9@x>",
        references=("<q1@ville-exemple.fr>",),
        attachments=(XLSX,),
    )
    decision = question.decide(case, follow, ctx())
    assert decision.state is None and decision.closed is True
    data = question_record(apply(case, decision))
    assert data.followups == question_record(case).followups
    assert data.answers[-1].text == ANSWER or data.answers == question_record(case).answers
    assert not sent(decision, "question_ack") and not sent(decision, "question_notify")
    (note,) = sent(decision)
    assert note.template == "third_party_note" and note.to == (DESTA,)
    assert note.context["sender"] == OUTSIDER and note.attachments == (XLSX,)
    assert note.context["requester"] == ASKER
    assert log_events(decision) == ["follow_up_third_party"]


def test_a_strangers_follow_up_on_an_open_question_is_not_the_askers() -> None:
    case, _ = ask()
    decision = question.decide(
        case, mail("Le demandeur précise : c'est urgent.", sender=OUTSIDER), ctx()
    )
    assert decision.state is None
    assert not sent(decision, "question_notify")
    assert question_record(apply(case, decision)).followups == ()
    (note,) = sent(decision)
    assert note.template == "third_party_note" and note.context["kind"] == "question"
