"""What the workflows do with a follow-up's attachments and a replacement table (pure: no
server): nothing the requester sends is dropped, and the reviewers see what a new table
changed. End to end: test_followup_attachments_e2e.py."""

from __future__ import annotations

from workflows_support import (
    GROUPS,
    REQUESTER,
    XLSX,
    annex,
    apply,
    ctx,
    mail,
    opened,
    reply,
    row,
    sent,
    subscription_data,
    table_mail,
)

from workflows import question, subscription
from workflows.core import Attachment, CaseView
from workflows.text.directives import ReviewerCommand

REF = "ABO-2026-000001"
PDF = Attachment("deliberation.pdf", "application/pdf", b"%PDF-1.4 deliberation")


def under_review(rows: int = 2) -> CaseView:
    event = table_mail(rows)
    return opened(subscription.start(event, ctx(), REF), event, REF, "subscription")


def test_a_reply_to_complete_forwards_its_pdf_and_the_case_keeps_a_reference() -> None:
    case = under_review()
    command = ReviewerCommand("COMPLÉTER", text="Merci de joindre la délibération.")
    case = apply(case, subscription.decide(case, reply(command=command), ctx()))
    answer = mail("Je vous la transmets en pièce jointe.", message_id="<m2@x>", attachments=(PDF,))
    decision = subscription.decide(case, answer, ctx())
    assert decision.state == "under_review"
    notes = sent(decision, "subscription_notify")
    assert [n.to for n in notes] == [(m,) for m in GROUPS["abonnements"]]
    assert all(n.attachments == (PDF,) for n in notes)
    assert notes[0].context["attachments"] == ["deliberation.pdf"]
    note = subscription_data(decision.data).notes[-1]
    assert note.message_id == "<m2@x>"
    assert [(a.filename, a.size) for a in note.attachments] == [("deliberation.pdf", 21)]


def test_attachments_without_text_are_not_dropped() -> None:
    case = under_review()
    decision = subscription.decide(case, mail("", message_id="<m2@x>", attachments=(PDF,)), ctx())
    forwarded = sent(decision, "subscription_requester_note")
    assert forwarded and all(m.attachments == (PDF,) for m in forwarded)
    assert subscription_data(decision.data).notes[-1].attachments[0].filename == PDF.filename


def test_a_replacement_table_tells_the_reviewers_what_changed() -> None:
    case = under_review(2)
    new = annex([row(1, job_title="DGS"), row(3)])
    event = mail("Tableau corrigé.", message_id="<m2@x>", annex_data=new, attachments=(XLSX,))
    decision = subscription.decide(case, event, ctx())
    (first, *_) = sent(decision, "subscription_notify")
    assert first.context["stage"] == "updated"
    assert first.context["changes"] == [
        "modifiée : Agnès Nom1 <personne1@ville-exemple.fr> (fonction)",
        "ajoutée : Chloé Nom3 <personne3@ville-exemple.fr>",
        "retirée : Bruno Nom2 <personne2@ville-exemple.fr>",
    ]
    assert first.attachments == (XLSX,)
    assert (
        sent(subscription.start(table_mail(), ctx(), REF), "subscription_notify")[0].context[
            "changes"
        ]
        is None
    )
    assert sent(decision, "subscription_ack")[0].to == (REQUESTER,)


def test_a_question_follow_up_with_only_an_attachment_reaches_the_reviewers() -> None:
    event = mail("Comment déclarer un FPS dans l'interface CCSP ?", message_id="<q1@x>")
    case = opened(question.start(event, ctx(), "Q-2026-000001"), event, "Q-2026-000001", "question")
    decision = question.decide(case, mail("", message_id="<q2@x>", attachments=(PDF,)), ctx())
    forwarded = sent(decision, "question_notify")
    assert forwarded and all(m.attachments == (PDF,) for m in forwarded)
    assert "« deliberation.pdf »" in forwarded[0].context["followup_text"]
