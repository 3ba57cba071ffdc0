"""An attachment too large to pass on (`[limits] max_attachment_bytes`) is no longer dropped
silently: the reviewer's notification names it, and the asker's acknowledgement tells them it
did not reach the service and how to send it; for questions and subscription requests alike
(end to end: test_omitted_attachments_e2e.py)."""

from __future__ import annotations

from dataclasses import replace
from email.message import EmailMessage

from test_templates import render
from workflows_support import annex_error, ctx, mail, opened, sent, table_mail

from mailbot.loop.events import omitted_attachments
from mailbot.mail.mimeparts import ParseLimits
from mailbot.mail.parse import parse_message
from workflows import question, subscription
from workflows.core import MailReceived

REF = "Q-2026-000042"
ABO = "ABO-2026-000007"
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


def _omitting(event: MailReceived) -> MailReceived:
    return replace(event, omitted=(OMITTED,))


def test_a_subscription_s_acknowledgement_and_notification_name_the_omitted_file() -> None:
    decision = subscription.start(_omitting(table_mail()), ctx(), ABO)
    (ack,) = sent(decision, "subscription_ack")
    _, told, told_html = render("subscription_ack", dict(ack.context), ABO)
    assert (
        f"Pièce jointe trop volumineuse, qui n'a pas pu être transmise au service : {OMITTED}. "
        "Si elle est utile à l'examen de votre demande, envoyez-la sous une forme plus légère"
    ) in told
    assert OMITTED in told_html
    notifications = sent(decision, "subscription_notify")
    assert notifications
    for notification in notifications:
        _, notified, notified_html = render("subscription_notify", dict(notification.context), ABO)
        assert "Pièce jointe trop volumineuse pour vous être transmise" in notified
        assert OMITTED in notified and OMITTED in notified_html
    _, plain, _ = render(
        "subscription_ack",
        dict(sent(subscription.start(table_mail(), ctx(), ABO), "subscription_ack")[0].context),
        ABO,
    )
    assert "trop volumineuse" not in plain


def test_a_table_too_large_to_be_received_is_named_when_the_table_is_asked_for() -> None:
    # the annex itself was over the limit: no table was read, the mail asks for access
    decision = subscription.start(
        _omitting(mail("Nous souhaitons un accès au portail.")), ctx(), ABO
    )
    (intent,) = sent(decision, "subscription_intent")
    _, told, told_html = render("subscription_intent", dict(intent.context), ABO)
    assert (
        f"Pièce jointe trop volumineuse, qui n'a pas pu être reçue par le service : {OMITTED}. "
        "S'il s'agit du tableau de demande, renvoyez-le"
    ) in told
    assert OMITTED in told_html


def test_an_invalid_table_s_report_names_the_omitted_file() -> None:
    event = _omitting(table_mail())
    event = replace(
        event,
        annex={
            "rows": [],
            "errors": [annex_error(2, "email", "Courriel", "x", "n'est pas une adresse")],
        },
    )
    (report,) = sent(subscription.start(event, ctx(), ABO), "subscription_invalid")
    _, told, _ = render("subscription_invalid", dict(report.context), ABO)
    assert f"qui n'a pas pu être reçue par le service : {OMITTED}" in told


def test_a_follow_up_with_only_an_omitted_file_still_reaches_the_reviewers() -> None:
    first = table_mail()
    case = opened(subscription.start(first, ctx(), ABO), first, ABO, "subscription")
    event = _omitting(mail("", message_id="<m2@ville-exemple.fr>"))
    decision = subscription.decide(case, event, ctx())
    forwarded = sent(decision, "subscription_requester_note")
    assert forwarded, "a mail whose only attachment was too large was dropped as empty"
    _, notified, _ = render("subscription_requester_note", dict(forwarded[0].context), ABO)
    assert (
        f"(l'original reste dans le journal du service ; le demandeur n'en a pas été averti) : {OMITTED}"
        in notified
    )


def test_a_question_s_follow_up_with_only_an_omitted_file_reaches_the_reviewers() -> None:
    first = mail("Quel est le format du fichier des FPS ?")
    case = opened(question.start(first, ctx(), REF), first, REF, "question")
    decision = question.decide(case, _omitting(mail("", message_id="<m2@ville-exemple.fr>")), ctx())
    forwarded = sent(decision, "question_notify")
    assert forwarded, "a follow-up whose only attachment was too large was dropped as empty"
    context = dict(forwarded[0].context)
    assert context["followup_text"] == (
        f"(message sans texte, pièces jointes : {OMITTED}, trop volumineuse pour être transmise)"
    )
    _, notified, _ = render("question_notify", context, REF)
    # the asker got no acknowledgement of a follow-up: the reviewers are not told otherwise
    assert (
        f"(l'original reste dans le journal du service ; le demandeur n'en a pas été averti) : {OMITTED}"
        in notified
    )
