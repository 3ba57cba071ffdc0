"""Threat: hijacking a case by its tag, its thread or its annex (issue 10, « Case hijack »).

Case numbers are sequential, so anyone can write `RE: [ABO-2026-000004] tableau corrigé`, and
anyone who got a copy of a mail of ours can reply in its thread. Before, such a follow-up was
credited to the requester: an outsider's table replaced the one under review and was approved,
and a question got « Le demandeur a ajouté une précision… ». End to end on Dovecot + SMTP: an
outsider's mail (by tag with an annex listing herself; by thread on a question) changes nothing
of the case; the reviewer is told « message d'un tiers » naming her, and an approval creates
accounts only for the people the requester asked for. (The pure rules:
tests/test_workflow_third_party.py.)"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from harness import Bot, annex_xlsx, body_text, compose, make_bot, person, reply_to, submit
from mailservers import MailEnv
from sqlmodel import Session, select

from portal_stub.service import StubPortal
from storage.models import Case

pytestmark = pytest.mark.integration
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def bot(mail_env: MailEnv) -> Bot:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-tiers-"))
    return make_bot(mail_env, f"sqlite:///{workdir}/mailbot.db", workdir)


def case_of(bot: Bot) -> Case:
    with Session(bot.engine) as s:
        return s.exec(select(Case)).one()


def test_hijack_by_tag_and_annex_forwards_the_table_and_changes_nothing(bot: Bot) -> None:
    env = bot.env
    alice, outsider = env.requesters
    people = [person(env, "durand"), person(env, "lefevre")]
    for p in people:
        if not env.dovecot.has_user(p["Courriel"]):
            env.dovecot.add_user(p["Courriel"], "pw-invitee")
    submit(
        env,
        compose(
            alice.address,
            env.bot.address,
            "Demande d'abonnement au portail",
            "Bonjour,\n\nVeuillez trouver ci-joint notre tableau.\n\nCordialement,\nAlice",
            attachments=[("annexe.xlsx", XLSX, annex_xlsx(people))],
        ),
    )
    bot.run_once()
    case = case_of(bot)
    ref, before = case.ref, case.data["people"]
    reviewers = env.reviewers["abonnements"]
    [notif] = env.wait_for(reviewers)

    herself = person(env, "intruse", **{"Courriel": outsider.address})
    submit(
        env,
        compose(
            outsider.address,
            env.bot.address,
            f"RE: [{ref}] tableau corrigé",
            "Bonjour,\n\nVoici le tableau corrigé.\n\nCordialement",
            sender_name="Mallory",
            attachments=[("annexe-corrigee.xlsx", XLSX, annex_xlsx([herself]))],
        ),
    )
    bot.run_once()
    case = case_of(bot)
    assert case.state == "under_review" and case.data["people"] == before
    assert case.data["notes"][-1]["from"] == outsider.address
    _, told = env.wait_for(reviewers, count=2)
    assert "message d'un tiers" in told["Subject"]
    text = body_text(told)
    assert outsider.address in text and "n'a rien modifié au dossier" in text
    # a spreadsheet goes out only as its values-only copy (test_threat_formulas.py)
    assert any(p.get_filename() == "annexe-corrigee-valeurs.xlsx" for p in told.iter_attachments())
    assert len(env.wait_for(alice)) == 1  # the requester's acknowledgement only
    assert "follow_up_third_party" in "\n".join(bot.log_lines())

    submit(env, reply_to(notif, reviewers.address, "APPROUVER"))
    bot.run_once()
    portal = StubPortal(bot.engine, bot.config.portal.base_url)
    assert set(portal.find_accounts([p["Courriel"] for p in people])) == {
        p["Courriel"] for p in people
    }
    assert portal.find_accounts([outsider.address]) == {}


def test_hijack_by_thread_of_a_question_is_a_third_partys_message(bot: Bot) -> None:
    env = bot.env
    alice, outsider = env.requesters
    question = compose(
        alice.address,
        env.bot.address,
        "Avis de paiement en cycle complet",
        "Bonjour,\n\nQui envoie l'avis de paiement du FPS dans le cycle complet ANTAI ?",
    )
    submit(env, question)
    bot.run_once()
    [ack] = env.wait_for(alice)
    case = case_of(bot)
    reviewers = env.reviewers[case.group or "antai"]
    env.wait_for(reviewers)
    notes_before = list(case.data.get("notes") or [])
    # The outsider replies in the thread of the acknowledgement, without the tag.
    hijack = compose(
        outsider.address,
        env.bot.address,
        "Précision",
        "Bonjour,\n\nJe précise : merci de répondre plutôt à mon adresse.",
        in_reply_to=str(ack["Message-ID"]),
        references=[str(question["Message-ID"]), str(ack["Message-ID"])],
    )
    submit(env, hijack)
    bot.run_once()
    after = case_of(bot)
    assert after.state == case.state and after.requester == alice.address
    assert after.data["question"] == case.data["question"]
    assert after.data["notes"][len(notes_before) :][0]["from"] == outsider.address
    _, told = env.wait_for(reviewers, count=2)
    assert "message d'un tiers" in told["Subject"]
    text = body_text(told)
    assert outsider.address in text and "Le demandeur a ajouté" not in text
    assert len(env.wait_for(alice)) == 1 and env.fetch(outsider) == []
    assert "follow_up_third_party" in "\n".join(bot.log_lines())
