"""A file named as the table that is not one (the form printed to PDF and renamed
« annexe.xlsx », a web page saved as .xls) is not read as a table: classification goes by
content. When the request is then asked for its table, the mail says what the file sent really
is, so the requester does not send it again (end to end: test_misnamed_table_e2e.py)."""

from __future__ import annotations

from dataclasses import replace
from email.message import EmailMessage

from test_templates import render
from workflows_support import ctx, mail, opened, sent

from mailbot.loop.events import not_tables
from mailbot.mail.parse import parse_message
from workflows import question, subscription

ABO = "ABO-2026-000011"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"


def _parsed(*files: tuple[str, bytes]) -> tuple[str, ...]:
    msg = EmailMessage()
    msg["From"] = "mairie@ville-exemple.fr"
    msg["Subject"] = "Demande d'abonnement"
    msg.set_content("Bonjour,\nVoici notre annexe.")
    for name, data in files:
        msg.add_attachment(data, "application", "octet-stream", filename=name)
    return not_tables(parse_message(msg.as_bytes()))


def test_files_named_as_tables_are_described_by_their_content() -> None:
    html = b"<html><body><table><tr><td>1</td></tr></table></body></html>"
    assert _parsed(("annexe.xlsx", PDF), ("export.XLS", html), ("scan.pdf", PDF)) == (
        "« annexe.xlsx », un document PDF",
        "« export.XLS », une page web (HTML)",
    )


def test_a_real_table_and_a_control_character_in_a_name() -> None:
    csv = "Type;Organisation;SIREN;Nom;Prénom;Courriel\nCollectivité;Sète;213403017;Mercier;Élodie;e@sete.fr\n"
    assert _parsed(("liste.csv", csv.encode())) == ()
    assert _parsed(("annexe\x07.ods", b"\x89PNG\r\n")) == ("« annexe .ods », une image",)


def test_the_request_for_the_table_says_what_the_file_was() -> None:
    event = replace(
        mail("Nous souhaitons un accès."), not_tables=("« annexe.xlsx », un document PDF",)
    )
    (intent,) = sent(subscription.start(event, ctx(), ABO), "subscription_intent")
    _, told, told_html = render("subscription_intent", dict(intent.context), ABO)
    assert (
        "Le fichier joint à votre message n'est pas un tableur : « annexe.xlsx », un document PDF. "
        "La demande ne peut être examinée qu'avec le tableau au format Excel (.xlsx ou .xls)"
    ) in told
    assert "« annexe.xlsx », un document PDF" in told_html
    plain = sent(
        subscription.start(mail("Nous souhaitons un accès."), ctx(), ABO), "subscription_intent"
    )
    assert (
        "n'est pas un tableur" not in render("subscription_intent", dict(plain[0].context), ABO)[1]
    )


def test_a_follow_up_of_an_incomplete_request_says_it_too() -> None:
    first = mail("Nous souhaitons un accès.")
    case = opened(subscription.start(first, ctx(), ABO), first, ABO, "subscription")
    again = replace(
        mail("Voici l'annexe.", message_id="<m2@ville-exemple.fr>"),
        not_tables=("« annexe.xlsx », un document PDF", "« liste.xls », une image"),
    )
    (intent,) = sent(subscription.decide(case, again, ctx()), "subscription_intent")
    _, told, _ = render("subscription_intent", dict(intent.context), ABO)
    assert (
        "Les fichiers joints à votre message ne sont pas des tableurs : « annexe.xlsx », un "
        "document PDF ; « liste.xls », une image."
    ) in told


def test_a_question_carrying_a_misnamed_annex_is_told_how_to_ask_for_access() -> None:
    # « Annexe » as the subject and no wording asking for access: a question, whose
    # acknowledgement says the file was not a table and how to send one
    event = replace(
        mail("Veuillez trouver ci-joint notre annexe."),
        not_tables=("« annexe.xlsx », un document PDF",),
    )
    (ack,) = sent(question.start(event, ctx(), "Q-2026-000012"), "question_ack")
    _, told, told_html = render("question_ack", dict(ack.context), "Q-2026-000012")
    assert (
        "Le fichier joint à votre message n'est pas un tableur : « annexe.xlsx », un document PDF. "
        "S'il s'agit d'une demande d'abonnement au portail, envoyez le tableau de demande"
    ) in told
    assert "pas un tableur : « annexe.xlsx », un document PDF" in told_html
