"""End to end on Dovecot and SMTP: nothing a requester sends is dropped (issue 10).

- COMPLÉTER → the requester replies with the délibération PDF → the reviewer's mail carries it,
  byte for byte, and the case record references it (the bytes stay in the journal).
- A replacement table in the requester's thread → the reviewer's new notification says who
  was added, removed and changed (and which fields), and carries the new table's
  values-only copy.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from harness import Bot, annex_xlsx, body_text, compose, make_bot, person, reply_to, submit
from mailservers import MailEnv
from sqlmodel import Session, select

from storage.models import Case

pytestmark = pytest.mark.integration
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n% deliberation du conseil\n%%EOF\n"


@pytest.fixture
def bot(mail_env: MailEnv) -> Bot:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-suivi-"))
    return make_bot(mail_env, f"sqlite:///{workdir}/mailbot.db", workdir)


def case_of(bot: Bot) -> Case:
    with Session(bot.engine) as s:
        return s.exec(select(Case)).one()


def open_case(bot: Bot, people: list[dict[str, str]]) -> None:
    env = bot.env
    submit(
        env,
        compose(
            env.requesters[0].address,
            env.bot.address,
            "Demande d'abonnement au portail",
            "Bonjour,\n\nVeuillez trouver ci-joint notre tableau.\n\nCordialement,\nAlice",
            attachments=[("annexe.xlsx", XLSX, annex_xlsx(people))],
        ),
    )
    bot.run_once()


def test_a_pdf_sent_after_complete_reaches_the_reviewer(bot: Bot) -> None:
    env = bot.env
    alice, reviewers = env.requesters[0], env.reviewers["abonnements"]
    open_case(bot, [person(env, "durand")])
    [notif] = env.wait_for(reviewers)
    submit(
        env,
        reply_to(notif, reviewers.address, "COMPLÉTER Merci de joindre la délibération."),
    )
    bot.run_once()
    assert case_of(bot).state == "needs_info"
    [_, question] = env.wait_for(alice, count=2)
    assert "délibération" in body_text(question)

    answer = reply_to(question, alice.address, "Je vous la transmets en pièce jointe.")
    answer.add_attachment(PDF, maintype="application", subtype="pdf", filename="délibération.pdf")
    submit(env, answer)
    bot.run_once()

    case = case_of(bot)
    assert case.state == "under_review"
    note = case.data["notes"][-1]
    assert note["text"] == "Je vous la transmets en pièce jointe."
    assert note["attachments"] == [
        {"filename": "délibération.pdf", "content_type": "application/pdf", "size": len(PDF)}
    ]
    assert note["message_id"] == str(answer["Message-ID"])
    *_, resumed = env.wait_for(reviewers, count=3)  # notification, confirmation, resumed
    attached = {p.get_filename(): p.get_content() for p in resumed.iter_attachments()}
    assert attached == {"délibération.pdf": PDF}
    text = body_text(resumed)
    assert "Le demandeur a répondu à la demande de complément" in text
    assert "Pièces jointes transmises : « délibération.pdf »" in text
    assert "Je vous la transmets en pièce jointe." in text


def test_a_replacement_table_shows_the_reviewer_what_changed(bot: Bot) -> None:
    env = bot.env
    alice, reviewers = env.requesters[0], env.reviewers["abonnements"]
    durand, lefevre = person(env, "durand"), person(env, "lefevre")
    open_case(bot, [durand, lefevre])
    [ack] = env.wait_for(alice)
    [first] = env.wait_for(reviewers)
    assert "Changements par rapport" not in body_text(first)

    moreau = person(env, "moreau", Prénom="Élodie")
    durand_dgs = {**durand, "Fonction": "Directrice générale des services", "Espace ANTAI": "Oui"}
    corrected = reply_to(ack, alice.address, "Voici le tableau corrigé.", style="gmail")
    corrected.add_attachment(
        annex_xlsx([durand_dgs, moreau]),
        maintype="application",
        subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        filename="annexe-v2.xlsx",
    )
    submit(env, corrected)
    bot.run_once()

    assert [p["email"] for p in case_of(bot).data["people"]] == [
        durand["Courriel"],
        moreau["Courriel"],
    ]
    _, second = env.wait_for(reviewers, count=2)
    text = body_text(second)
    assert "Changements par rapport au tableau précédent :" in text
    assert f"  - modifiée : Camille Durand <{durand['Courriel']}> (fonction, espaces demandés)" in (
        text
    )
    assert f"  - ajoutée : Élodie Moreau <{moreau['Courriel']}>" in text
    assert f"  - retirée : Camille Lefevre <{lefevre['Courriel']}>" in text
    assert [p.get_filename() for p in second.iter_attachments()] == ["annexe-v2-valeurs.xlsx"]
