"""Every mail template renders with the contexts the workflows really send: no undefined
variable, no leftover Jinja syntax, user text escaped in HTML, the key facts in the text part."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from workflows_support import (
    ADMINS,
    NOW,
    PARIS,
    XLSX,
    account,
    annex,
    annex_error,
    apply,
    ctx,
    mail,
    opened,
    reply,
    row,
    sent,
    similar,
    table_mail,
)

from mailbot.mail.compose import environment
from workflows import casework, invitation_notice, question, subscription
from workflows.alerts import (
    DatabaseOutage,
    OwnAddressMail,
    Quarantined,
    RefusedMail,
    RefusedReply,
    database_down,
    database_restored,
    delivery_failed_without_case,
    own_address_mail,
    quarantined,
    refuse_reviewer_reply,
    refused_mail,
)
from workflows.core import (
    AccountsProvisioned,
    CaseView,
    Credential,
    Decision,
    DeliveryFailed,
    PortalFailed,
    Published,
    ReviewerAway,
    SendMail,
    TimerFired,
)
from workflows.text.directives import ReviewerCommand
from workflows.text.triage import TriageResult

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
MINE = (
    "subscription_ack",
    "subscription_invalid",
    "subscription_intent",
    "subscription_notify",
    "subscription_requester_note",
    "third_party_note",
    "reviewer_notes_digest",
    "review_taken",
    "reviewer_away",
    "subscription_reminder",
    "subscription_escalation",
    "subscription_needs_info",
    "subscription_refused",
    "subscription_result",
    "review_confirmation",
    "review_help",
    "review_already_decided",
    "invitation",
    "invitation_new_spaces",
    "invitation_reminder",
    "invitation_bounced",
    "question_ack",
    "question_notify",
    "question_answer",
    "question_cerema",
    "question_reminder",
    "question_escalation",
    "question_preview",
    "question_released",
    "question_closed",
    "delivery_failed_alert",
    "reviewer_auth_failed",
    "reviewer_auth_alert",
    "portal_failed_alert",
    "quarantine_alert",
    "mail_refused",
    "own_address_alert",
    "database_down_alert",
    "database_restored_alert",
)
HOSTILE = '<script>alert("x")</script>'
PASSWORD = "Tmp-Zq8r-41wK"
EXPIRES = datetime(2026, 12, 28, 9, 30, tzinfo=PARIS)
ABO = "ABO-2026-000001"
QREF = "Q-2026-000042"


ENV = environment()  # the composer's own environment: what production renders with


def render(template: str, context: dict[str, Any], ref: str | None) -> tuple[str, str, str]:
    full = {
        "case_ref": ref,
        "instance_name": "Espace collectivités — stationnement payant",
        "portal_url": "https://portail.example.gouv.fr",
        "generic_address": "decentralisation-stationnement@demo.test",
        "now": NOW,
        **context,
    }
    return tuple(  # type: ignore[return-value]
        ENV.get_template(f"{template}/{part}").render(full)
        for part in ("subject.txt", "body.txt", "body.html")
    )


# --------------------------------------------------------------------------- scenarios


def _step(case: CaseView, decision: Decision, out: list[tuple[str, SendMail]]) -> CaseView:
    out += [(case.ref, m) for m in sent(decision)]
    return apply(case, decision)


def subscription_mails() -> list[tuple[str, SendMail]]:
    out: list[tuple[str, SendMail]] = []
    rows = [
        row(1, organisation=f"Commune {HOSTILE}"),
        row(2, requester_type="prestataire", on_behalf_of="Commune d'Exemple", email="b@gmail.com"),
        row(3),
    ]
    event = mail(
        f"Notre demande {HOSTILE}",
        sender_name=f"Agnès {HOSTILE}",
        subject=f"Demande {HOSTILE}",
        annex_data=annex(rows, warnings=["Les macros du classeur ont été ignorées."]),
        attachments=(XLSX,),
    )
    context = ctx(
        existing_accounts={"personne1@ville-exemple.fr": account("personne1@ville-exemple.fr")},
        open_requests={"personne3@ville-exemple.fr": "ABO-2026-000007"},
    )
    start = subscription.start(event, context, ABO)
    out += [(ABO, m) for m in sent(start)]
    case = opened(start, event, ABO, "subscription")
    for command in (None, ReviewerCommand("AIDE"), ReviewerCommand("REFUSER")):
        out += [(ABO, m) for m in sent(subscription.decide(case, reply(command=command), ctx()))]
    for written in (f"Refusé mais {HOSTILE}", f"Ok mais il manque {HOSTILE}", "Je ne valide pas"):
        out += [(ABO, m) for m in sent(subscription.decide(case, reply(written), ctx()))]
    bad_numbers = reply(command=ReviewerCommand("APPROUVER", people=(7,)))
    out += [(ABO, m) for m in sent(subscription.decide(case, bad_numbers, ctx()))]
    case = _step(case, subscription.decide(case, TimerFired("reminder", {"round": 1}), ctx()), out)
    case = _step(
        case, subscription.decide(case, TimerFired("escalation", {"round": 1}), ctx()), out
    )
    case = _step(
        case,
        subscription.decide(case, mail(f"Une note {HOSTILE}", message_id="<n1@x>"), ctx()),
        out,
    )
    stranger = mail(
        f"Tableau corrigé {HOSTILE}",
        sender="tiers@exemple.fr",
        sender_name=f"Tiers {HOSTILE}",
        subject=f"RE: [{ABO}] {HOSTILE}",
        message_id="<t1@x>",
        annex_data=annex([row(1)]),
        attachments=(XLSX,),
    )
    case = _step(case, subscription.decide(case, stranger, ctx()), out)
    ask = reply(
        command=ReviewerCommand("COMPLÉTER", text=f"Le SIREN ? {HOSTILE}"), message_id="<c1@x>"
    )
    case = _step(case, subscription.decide(case, ask, ctx()), out)
    case = _step(
        case, subscription.decide(case, mail("Le voici.", message_id="<m2@x>"), ctx()), out
    )
    refused = subscription.decide(
        case, reply(command=ReviewerCommand("REFUSER", text=f"Motif {HOSTILE}")), ctx()
    )
    out += [(ABO, m) for m in sent(refused)]
    approve = reply(command=ReviewerCommand("APPROUVER", people=(1, 3)), message_id="<a1@x>")
    case = _step(case, subscription.decide(case, approve, ctx()), out)
    creds = (
        Credential("personne1@ville-exemple.fr", None, None, ("accueil", "desta"), False),
        Credential("personne3@ville-exemple.fr", PASSWORD, EXPIRES, ("accueil", "desta"), True),
    )
    case = _step(case, subscription.decide(case, AccountsProvisioned(creds), ctx()), out)
    late = reply(command=ReviewerCommand("APPROUVER"), message_id="<a2@x>")
    case = _step(case, subscription.decide(case, late, ctx()), out)
    remind = subscription.decide(
        case, TimerFired("invitation_reminder"), ctx(now=NOW + timedelta(days=7))
    )
    case = _step(case, remind, out)
    failed = DeliveryFailed(
        "personne3@ville-exemple.fr", "invitation", "550 5.1.1 Utilisateur inconnu"
    )
    case = _step(case, subscription.decide(case, failed, ctx()), out)
    # an admin tells the requester (the desk's « Prévenir le demandeur »)
    bounce = invitation_notice.tell_requester(case, ctx(), ADMINS[0], "personne3@ville-exemple.fr")
    out += [(ABO, m) for m in sent(bounce)]
    for annex_data in (
        annex(
            errors=[
                annex_error(5, "siren", "SIREN", "12345678", "n'est pas un numéro SIREN valide")
            ]
        ),
        annex(error="Le fichier est protégé par un mot de passe."),
    ):
        bad = mail(annex_data=annex_data, attachments=(XLSX,))
        out += [
            ("ABO-2026-000002", m) for m in sent(subscription.start(bad, ctx(), "ABO-2026-000002"))
        ]
    intent = mail("Comment obtenir un accès ?")
    out += [
        ("ABO-2026-000003", m) for m in sent(subscription.start(intent, ctx(), "ABO-2026-000003"))
    ]
    return out


def question_mails() -> list[tuple[str, SendMail]]:
    out: list[tuple[str, SendMail]] = []
    text = f"Bonjour,\nQuand l'interface CCSP sera-t-elle publiée ? {HOSTILE}\nCordialement\nJean Dupont"
    event = mail(
        text,
        subject=f"Interface {HOSTILE}",
        sender="jean.dupont@ville.fr",
        sender_name="Jean Dupont",
    )
    guess = TriageResult(
        "desta",
        {"desta": 4.0, "out_of_scope": 2.0},
        {"desta": ["ccsp", "interface"]},
        False,
        ["tarif"],
        alternative="antai",
        model_terms={"desta": ["environnement recette"]},
    )
    start = question.start(event, ctx(triage=guess, similar_answers=similar(2)), QREF)
    case = opened(start, event, QREF, "question")
    out += [(QREF, m) for m in sent(start)]
    stranger = mail(f"Une précision {HOSTILE}", sender="tiers@exemple.fr", sender_name=None)
    out += [(QREF, m) for m in sent(question.decide(case, stranger, ctx()))]
    desta = "relecteur.desta@demo.test"
    for text_, directives in (
        ("", ()),
        ("AIDE", ()),
        ("x", ("TRANSFÉRER: nulle-part",)),
        ("x", ("ESPACE: CCSP",)),
    ):
        out += [
            (QREF, m)
            for m in sent(
                question.decide(case, reply(text_, reviewer=desta, directives=directives), ctx())
            )
        ]
    for directives in (("HORS PÉRIMÈTRE",), ("NE PAS PUBLIER",)):
        decision = question.decide(
            case, reply(f"Réponse {HOSTILE}", reviewer=desta, directives=directives), ctx()
        )
        out += [(QREF, m) for m in sent(decision)]
    case = _step(case, question.decide(case, TimerFired("reminder", {"round": 1}), ctx()), out)
    case = _step(case, question.decide(case, TimerFired("escalation", {"round": 1}), ctx()), out)
    case = _step(
        case,
        question.decide(
            case, mail("Précision.", sender=case.requester, message_id="<q2@x>"), ctx()
        ),
        out,
    )
    transfer = reply(
        "Pour l'ANTAI.", reviewer=desta, directives=("TRANSFÉRER: antai",), message_id="<t1@x>"
    )
    case = _step(case, question.decide(case, transfer, ctx()), out)
    answer = reply(
        f"Bonjour,\nLa réponse {HOSTILE}.",
        reviewer="relecteur.antai@demo.test",
        message_id="<t2@x>",
    )
    case = _step(case, question.decide(case, answer, ctx()), out)
    url = f"https://portail.example.gouv.fr/espaces/antai/questions/{QREF}"
    case = _step(case, question.decide(case, Published(url, 1), ctx()), out)
    case = _step(
        case,
        question.decide(case, reply("Encore", reviewer=desta, message_id="<t3@x>"), ctx()),
        out,
    )
    case = _step(
        case,
        question.decide(
            case, mail("Et ensuite ?", sender=case.requester, message_id="<q3@x>"), ctx()
        ),
        out,
    )
    case = _step(
        case,
        question.decide(case, DeliveryFailed(case.requester, "question_answer", "550"), ctx()),
        out,
    )
    auto = mail("Quel tarif pour nos horodateurs ?", sender="x@ville.fr")
    oos = TriageResult(None, {"out_of_scope": 4.0}, {}, True, ["horodateurs", "tarif"])
    redirected = question.start(
        auto, ctx(triage=oos, auto_redirect_out_of_scope=True), "Q-2026-000043"
    )
    out += [("Q-2026-000043", m) for m in sent(redirected)]
    return out


def alert_mails() -> list[tuple[str | None, SendMail]]:
    """The alerts of mail that belongs to no workflow state (workflows.alerts) and of portal
    operations that failed (casework.portal_failed), as the workflows build them."""
    refused = RefusedReply(
        sender="intrus@example.org",
        reason="wrong_sender",
        subject=f"Re: {HOSTILE}",
        case_ref=ABO,
        message_id="<m1@example.org>",
    )
    unknown = replace(refused, reason="mystery", case_ref=None, message_id="<m2@example.org>")
    out: list[tuple[str | None, SendMail]] = [
        (ABO, m) for m in sent(refuse_reviewer_reply(refused, ("admin@demo.test",), NOW))
    ]
    out += [(None, m) for m in sent(refuse_reviewer_reply(unknown, ("admin@demo.test",), NOW))]
    failure = DeliveryFailed("x@example.org", "portal_publication", f"550 {HOSTILE}", via="smtp")
    out += [(None, m) for m in sent(delivery_failed_without_case(failure, 7, ("admin@demo.test",)))]
    aside = Quarantined(3, "x@example.org", HOSTILE, f"trop imbriqué {HOSTILE}")
    also = Quarantined(5, None, "", "le message pèse 28 Mo, au-delà de la limite de 25 Mo")
    admins = ("admin@demo.test",)
    out += [(None, m) for m in sent(quarantined([aside], admins, "Quarantine", "3"))]
    out += [(None, m) for m in sent(quarantined([aside, also], admins, "Quarantine", "3-5"))]
    refused = RefusedMail(
        5, "x@example.org", HOSTILE, "<big@example.org>", "il pèse 28 Mo", "Allégez-le."
    )
    out += [(None, m) for m in sent(refused_mail(refused))]
    own = OwnAddressMail(4, "generique+tel@demo.test", HOSTILE, "Ignored")
    out += [(None, m) for m in sent(own_address_mail(own, ("admin@demo.test",)))]
    outage = DatabaseOutage(NOW, f"OperationalError: {HOSTILE}", "mailbot.example.test")
    later = NOW + timedelta(minutes=7)
    out += [(None, m) for m in sent(database_down(outage, ("admin@demo.test",), later))]
    out += [(None, m) for m in sent(database_restored(outage, ("admin@demo.test",), later))]
    for kind in ("create_accounts", "publish", "withdraw"):
        failed = PortalFailed(kind=kind, reason=f"ConnectionError: {HOSTILE}")
        out += [(QREF, m) for m in sent(casework.portal_failed(ctx(), failed))]
    return out


def hold_mails() -> list[tuple[str, SendMail]]:
    """Held answers (publish_delay_minutes): previews of each outcome, ANNULER, the end of the
    hold, CORRIGER, RETIRER and CLASSER with messages (workflows.question_hold/_after)."""
    out: list[tuple[str, SendMail]] = []
    event = mail(
        f"Bonjour,\nQuand l'interface CCSP sera-t-elle publiée ? {HOSTILE}\nJean Dupont",
        subject=f"Interface {HOSTILE}",
        sender="jean.dupont@ville.fr",
        sender_name="Jean Dupont",
    )
    held = ctx(publish_delay_minutes=15)
    start = question.start(event, held, QREF)
    case = opened(start, event, QREF, "question")
    desta = "relecteur.desta@demo.test"
    greeting = f"Bonjour Monsieur Dupont,\nLa réponse {HOSTILE}."
    for n, (text_, directives) in enumerate(
        (
            (f"Hors de notre champ {HOSTILE}.", ("HORS PÉRIMÈTRE",)),
            (greeting, ("NE PAS PUBLIER",)),
            (f"CLASSER : Doublon de votre question {HOSTILE}.", ()),
        )
    ):
        answer = reply(text_, reviewer=desta, directives=directives, message_id=f"<h{n}@x>")
        decision = question.decide(case, answer, held)
        out += [(QREF, m) for m in sent(decision)]
        timer = TimerFired("hold", {"seq": 1})
        out += [(QREF, m) for m in sent(question.decide(apply(case, decision), timer, held))]
    case = _step(case, question.decide(case, reply(greeting, reviewer=desta), held), out)
    case = _step(case, question.decide(case, reply("ANNULER", reviewer=desta), held), out)
    answer = reply(greeting, reviewer=desta, message_id="<h9@x>")
    case = _step(case, question.decide(case, answer, held), out)
    case = _step(case, question.decide(case, TimerFired("hold", {"seq": 2}), held), out)
    url = f"https://portail.example.gouv.fr/espaces/desta/questions/{QREF}"
    case = _step(case, question.decide(case, Published(url, 1), held), out)
    fix = reply(f"CORRIGER\nLa bonne réponse {HOSTILE}.", reviewer=desta, message_id="<c1@x>")
    case = _step(case, question.decide(case, fix, held), out)
    case = _step(case, question.decide(case, Published(url, 2), held), out)
    withdraw = reply(f"RETIRER\nRéponse retirée {HOSTILE}.", reviewer=desta, message_id="<c2@x>")
    case = _step(case, question.decide(case, withdraw, held), out)
    fix = reply(f"CORRIGER : Autre {HOSTILE}.", reviewer=desta, message_id="<c3@x>")
    _step(case, question.decide(case, fix, held), out)
    return out


def digest_mails() -> list[tuple[str, SendMail]]:
    """Follow-ups past the hourly cap, then the hour's digest (workflows/followup_cap.py)."""
    out: list[tuple[str, SendMail]] = []
    event = table_mail(2)
    case = opened(subscription.start(event, ctx(), ABO), event, ABO, "subscription")
    busy = ctx(reviewer_notifications_per_case_per_hour=1, forwards_last_hour=1)
    for i, sender in enumerate(("agnes.durand@ville-exemple.fr", "tiers@exemple.fr")):
        note = mail(f"Précision {i} {HOSTILE}", sender=sender, message_id=f"<p{i}@x>",
                    attachments=(XLSX,) if i else ())  # fmt: skip
        case = _step(case, subscription.decide(case, note, busy), out)
    since = NOW.replace(minute=0, second=0, microsecond=0).isoformat()
    _step(case, subscription.decide(case, TimerFired("notes_digest", {"since": since}), ctx()), out)
    # a reviewer's out-of-office reply: the other member asked, then (alone) the admins told
    away = ReviewerAway("relecteur.abonnements@demo.test")
    _step(case, subscription.decide(case, away, ctx()), out)
    alone = ctx(groups={**ctx().groups, "abonnements": ("relecteur.abonnements@demo.test",)})
    _step(case, subscription.decide(case, away, alone), out)
    qevent = mail(f"Question {HOSTILE} ?", sender="jean@ville.fr", subject="Interface CCSP")
    qcase = opened(question.start(qevent, ctx(), QREF), qevent, QREF, "question")
    _step(qcase, question.decide(qcase, ReviewerAway("relecteur.accueil@demo.test"), ctx()), out)
    return out


ALL = subscription_mails() + question_mails() + hold_mails() + alert_mails() + digest_mails()


def _id(item: tuple[str | None, SendMail]) -> str:
    return f"{item[1].template}-{item[1].key}"


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("name", MINE)
def test_every_mail_has_its_three_parts(name: str) -> None:
    for part in ("subject.txt", "body.txt", "body.html"):
        assert (TEMPLATES / name / part).is_file()


def test_every_template_is_exercised_by_a_scenario() -> None:
    assert {m.template for _, m in ALL} == set(MINE)


@pytest.mark.parametrize("item", ALL, ids=[_id(i) for i in ALL])
def test_renders_cleanly(item: tuple[str | None, SendMail]) -> None:
    ref, sendmail = item
    subject, text, html = render(sendmail.template, dict(sendmail.context), ref)
    for part in (subject, text, html):
        assert "{{" not in part and "{%" not in part and "}}" not in part
    assert subject.strip() and "\n" not in subject.strip()
    assert not ref or ref not in subject  # the composer adds the [REF] tag itself
    assert "\n\n\n" not in text
    assert "L'équipe Espace collectivités — Ministère de l'Intérieur" in text
    if ref:
        assert ref in text and ref in html
    assert html.lstrip().startswith("<!DOCTYPE html>")
    assert "<script>" not in html  # user text is escaped, and we never add scripts
    assert not re.search(r"""(?:src|href)=["']?//|<link|@import|src=["']?https?:""", html)


def test_user_text_shown_in_the_text_part_is_escaped_in_the_html_part() -> None:
    shown = 0
    for ref, m in ALL:
        _, text, html = render(m.template, dict(m.context), ref)
        if HOSTILE in text:
            shown += 1
            assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html, m.template
    assert shown > 10


def test_the_password_is_only_in_the_invitation() -> None:
    for ref, m in ALL:
        subject, text, html = render(m.template, dict(m.context), ref)
        if m.template == "invitation":
            assert PASSWORD in text and PASSWORD in html and m.sensitive
        else:
            assert PASSWORD not in subject + text + html, m.template


def _text_of(template: str, key: str = "") -> str:
    """The text part of the first mail of that template whose key starts with `key`."""
    ref, m = next((r, m) for r, m in ALL if m.template == template and m.key.startswith(key))
    return render(template, dict(m.context), ref)[1]


@pytest.mark.parametrize(
    ("template", "facts"),
    [
        (
            "invitation:invite:",
            [
                "https://portail.example.gouv.fr/connexion",
                "Identifiant : personne3@ville-exemple.fr",
                f"Mot de passe temporaire : {PASSWORD}",
                "valable jusqu'au 28 décembre 2026",
                "https://portail.example.gouv.fr/documents/fiches/mot-de-passe",
                "https://portail.example.gouv.fr/documents/fiches/mini-guide",
                "Madame, Monsieur,",
            ],
        ),
        ("invitation_new_spaces:new_spaces:", ["personne1@ville-exemple.fr", "Accueil et DESTA"]),
        (
            "invitation_reminder:invite_reminder:",
            ["personne3@ville-exemple.fr", "28 décembre 2026"],
        ),
        ("subscription_ack:ack", ["ABO-2026-000001", "3 personnes", "b@gmail.com", "La suite"]),
        (
            "subscription_notify:notify:relecteur.abonnements@demo.test:1",
            [
                "1. Agnès Nom1",
                "3. Chloé Nom3",
                "⚠ A déjà un compte",
                "ABO-2026-000007",
                "⚠ Adresse de messagerie personnelle",
                "APPROUVER 1,3",
                "REFUSER <motif>",
                "Les macros du classeur ont été ignorées.",
                "13 novembre 2026",
            ],
        ),
        (
            "subscription_invalid:invalid:",
            ["La ligne 5, colonne « SIREN » : « 12345678 »", "en pièce jointe"],
        ),
        ("subscription_intent:intent:", ["annexe-demande-abonnement.xlsx", "Espace DESTA"]),
        (
            "subscription_result:result:",
            ["Chloé Nom3", "Agnès Nom1", "Bruno Nom2", "28 décembre 2026"],
        ),
        ("subscription_refused:refused:", ["Motif"]),
        ("subscription_needs_info:needs_info:", ["Le SIREN ?"]),
        (
            "subscription_escalation:escalation:",
            ["relecteur.abonnements@demo.test", "5 jours ouvrés"],
        ),
        ("question_ack:ack", ["Q-2026-000042", "Question publiée n° 1 sur les FPS"]),
        (
            "question_notify:notify:relecteur.desta@demo.test:1",
            [
                "Jean Dupont <jean.dupont@ville.fr>",
                "Espace proposé : DESTA",
                "ccsp, interface",
                "⚠ Signes d'une question hors périmètre",
                "TEXTE DE LA QUESTION QUI SERA PUBLIÉ",
                "QUESTION :",
            ],
        ),
        (
            "question_answer:answer:2",
            ["https://portail.example.gouv.fr/espaces/antai/questions/Q-2026-000042"],
        ),
        (
            "question_cerema:cerema:",
            ["http://www.territoires-ville.cerema.fr/nous-contacter-r455.html"],
        ),
        ("reviewer_auth_failed:", ["n'a pas été pris en compte", "adressée à une autre personne"]),
        ("reviewer_auth_alert:authfail", ["intrus@example.org", "wrong_sender"]),
        ("portal_failed_alert:portal_failed:create_accounts", ["création des comptes", QREF]),
        ("portal_failed_alert:portal_failed:publish", ["publication de la réponse"]),
        ("delivery_failed_alert:delivery_failed:outbox-7", ["x@example.org", "550"]),
        ("quarantine_alert:quarantine:3", ["Numéro dans le journal : 3", "« Quarantine »"]),
        (
            "quarantine_alert:quarantine:3-5",
            ["2 messages", "Numéro dans le journal : 5", "(sans objet)", "28 Mo", "inconnu"],
        ),
        ("mail_refused:refused:5", ["n'a pas pu être traité : il pèse 28 Mo.", "Allégez-le."]),
        ("own_address_alert:own_address:4", ["generique+tel@demo.test", "« Ignored »"]),
        (
            "database_down_alert:database_down:" + NOW.isoformat(),
            ["environ 7 min", "mailbot.example.test", "OperationalError", "restent dans la boîte"],
        ),
        ("database_restored_alert:database_restored:" + NOW.isoformat(), ["environ 7 min"]),
    ],
)
def test_text_part_carries_the_key_facts(template: str, facts: list[str]) -> None:
    name, _, key = template.partition(":")
    text = _text_of(name, key)
    for fact in facts:
        assert fact in text, fact


def test_notification_shows_the_scrubbed_text_to_publish() -> None:
    text = _text_of("question_notify", "notify:relecteur.desta@demo.test:1")
    published = text.split("TEXTE DE LA QUESTION QUI SERA PUBLIÉ")[1].split("Vérifiez-le")[0]
    assert "Quand l'interface CCSP sera-t-elle publiée ?" in published
    assert "Dupont" not in published and "Cordialement" not in published


def test_every_help_problem_has_a_sentence() -> None:
    for problem in (
        "unknown_command", "bad_numbers", "missing_reason", "missing_text", "nothing_to_decide",
        "empty_answer", "unknown_group", "unknown_space", "command_on_question",
        "nothing_held", "nothing_published", "held_by_other", "hold_over", "hold_pending",
        "already_closed", "empty_correction",
    ):  # fmt: skip
        context = {
            "kind": "question", "state": "open", "requester": "a@b.fr", "requester_name": None,
            "parse_errors": [], "problem": problem, "value": "x", "numbers": [4, 5],
            "people_count": 3, "groups": ["desta"], "spaces": ["Accueil"], "help_text": "…",
            "written": None, "suggestion": None, "suggested_verb": None, "example": None,
        }  # fmt: skip
        text = render("review_help", context, QREF)[1]
        assert "Voici le mode d'emploi demandé" not in text, problem


def test_help_quotes_the_reply_and_proposes_the_command_meant() -> None:
    helps = [
        render(m.template, dict(m.context), ref)
        for ref, m in ALL
        if m.template == "review_help" and m.context["written"]
    ]
    assert len(helps) == 3
    subject, text, html = helps[1]
    assert subject.strip().endswith("— vouliez-vous écrire COMPLÉTER ?")
    assert f"Vous avez écrit : « Ok mais il manque {HOSTILE} »" in text
    assert f"Vouliez-vous écrire « COMPLÉTER Il manque {HOSTILE} »" in text
    assert "(demander un complément au demandeur)" in text
    assert f"\n    COMPLÉTER Il manque {HOSTILE}\n" in text
    assert "Il manque &lt;script&gt;" in html
    subject, text, _ = helps[2]
    assert "« REFUSER <motif> » (refuser la demande)" in text
    assert "sur la première ligne, par exemple :" in text


def test_the_reason_a_table_is_unusable_reads_as_its_own_sentence() -> None:
    context = {"filename": "liste.xlsx", "error": "Il manque la colonne « SIREN ».", "rows": []}
    _, text, html = render(
        "subscription_invalid",
        {
            **context,
            "error_count": 1,
            "template_attached": False,
            "warnings": [],
            "previous_table_kept": False,
        },
        ABO,
    )
    assert "Le tableau n'a pas pu être utilisé. Il manque la colonne « SIREN »." in text
    assert "utilisé : Il" not in text and "utilisé : Il" not in html


@pytest.mark.parametrize("reason", ["missing_token", "bad_token", "wrong_case", "wrong_sender"])
def test_the_admins_alert_speaks_of_the_sender_not_to_them(reason: str) -> None:
    context = {"sender": "intrus@example.org", "subject": "RE: dossier", "reason": reason}
    subject, text, html = render("reviewer_auth_alert", context, ABO)
    for part in (text, html):
        assert "votre message" not in part and "vous répondez" not in part
    assert reason not in subject and "Alerte : réponse de relecteur refusée" in subject
    _, told, _ = render("reviewer_auth_failed", context, ABO)  # the sender is still told « vous »
    assert "votre message" in told or "vous répondez" in told


def test_the_reviewers_greeting_opens_the_answer_mail_not_its_middle() -> None:
    context = {
        "answer": "Bonjour Madame,\n\nLe délai est d'un mois.",
        "greets": True,
        "corrected": False,
        "question_excerpt": "Quel délai ?",
        "published": False,
        "url": None,
        "version": 1,
        "space_label": "DESTA",
    }
    _, text, html = render("question_answer", context, QREF)
    assert text.startswith("Bonjour Madame,\n\nVoici la réponse à votre question")
    assert text.count("Bonjour") == 1 and "Madame, Monsieur" not in text
    assert html.index("Bonjour Madame,") < html.index("Voici la réponse")
    assert html.count("Bonjour") == 1
    _, plain, _ = render(
        "question_answer", {**context, "greets": False, "answer": "Un mois."}, QREF
    )
    assert plain.startswith("Madame, Monsieur,\n\nVoici la réponse") and "Un mois." in plain


def test_an_approval_on_a_question_is_told_where_it_counts() -> None:
    context = {
        "kind": "question", "state": "open", "requester": "a@b.fr", "requester_name": None,
        "parse_errors": [], "problem": "command_on_question", "value": None, "numbers": [],
        "people_count": 0, "groups": ["desta"], "spaces": ["Accueil"], "help_text": "…",
        "written": None, "suggestion": None, "suggested_verb": None, "example": None,
    }  # fmt: skip
    _, text, html = render("review_help", context, QREF)
    for part in (text, html):
        assert "« Je valide » ne valent qu" in part and "aperçu" in part


def test_an_unreadable_table_is_not_told_about_rows_without_errors() -> None:
    base = {
        "filename": "annexe.xlsx", "template_attached": False, "warnings": [],
        "previous_table_kept": False, "error_count": 1,
    }  # fmt: skip
    unreadable = {**base, "error": "Le fichier est trop volumineux.", "rows": []}
    for part in render("subscription_invalid", unreadable, ABO)[1:]:
        assert "lignes sans erreur" not in part
    row = {"row": 2, "errors": [{"message": "La ligne 2 : SIREN invalide.", "column": "SIREN"}]}
    for part in render("subscription_invalid", {**base, "error": None, "rows": [row]}, ABO)[1:]:
        assert "lignes sans erreur" in part


def test_the_failed_delivery_alert_names_the_mail_in_words_only() -> None:
    context = {"recipient": "x@example.org", "template": "invitation", "reason": "550 inconnu"}
    _, text, html = render("delivery_failed_alert", context, ABO)
    assert "Message : invitation (identifiant et mot de passe temporaire)\n" in text
    assert "(invitation)" not in text and "(invitation)" not in html
