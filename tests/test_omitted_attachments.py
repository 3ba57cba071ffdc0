"""An attachment too large to pass on (`[limits] max_attachment_bytes`) is no longer dropped
silently: the reviewer's notification names it, and the asker's acknowledgement tells them it
did not reach the service and how to send it."""

from __future__ import annotations

from dataclasses import replace
from email.message import EmailMessage

from test_templates import render
from workflows_support import ctx, mail, sent

from mailbot.loop.events import omitted_attachments
from mailbot.mail.mimeparts import ParseLimits
from mailbot.mail.parse import parse_message
from workflows import question

REF = "Q-2026-000042"
OMITTED = "schema.bin (2,0\u00a0Mo)"


def test_the_parser_keeps_the_name_and_size_of_what_it_dropped() -> None:
    msg = EmailMessage()
    msg["From"] = "mairie@ville-exemple.fr"
    msg["Subject"] = "Schéma"
    msg.set_content("Bonjour,\nVoici notre schéma : est-il conforme ?")
    msg.add_attachment(b"x" * (2 * 1_048_576), "application", "octet-stream", filename="schema.bin")
    msg.add_attachment(b"%PDF-1.4 petit", "application", "pdf", filename="petit.pdf")
    limits = replace(ParseLimits.from_config(), max_attachment_bytes=1_048_576)
    parsed = parse_message(msg.as_bytes(), limits)
    assert omitted_attachments(parsed) == (OMITTED,)


def test_the_reviewer_and_the_asker_are_told_of_an_omitted_attachment() -> None:
    event = replace(mail("Voici notre schéma : est-il conforme ?"), omitted=(OMITTED,))
    decision = question.start(event, ctx(), REF)
    (ack,) = sent(decision, "question_ack")
    notifications = sent(decision, "question_notify")
    assert ack.context["omitted"] == [OMITTED] and notifications
    assert all(n.context["omitted"] == [OMITTED] for n in notifications)
    _, told, told_html = render("question_ack", dict(ack.context), REF)
    assert (
        f"Pièce jointe trop volumineuse, qui n'a pas pu être transmise au service : {OMITTED}."
        in told
    )
    assert OMITTED in told_html
    _, notified, _ = render("question_notify", dict(notifications[0].context), REF)
    assert "Pièce jointe trop volumineuse pour vous être transmise" in notified
    assert OMITTED in notified


def test_nothing_is_said_when_every_attachment_went_through() -> None:
    decision = question.start(mail("Quel est le format du fichier ?"), ctx(), REF)
    (ack,) = sent(decision, "question_ack")
    _, told, _ = render("question_ack", dict(ack.context), REF)
    assert "trop volumineuses" not in told
