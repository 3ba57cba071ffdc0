"""Triage end to end on Dovecot: a question the keyword list missed lands in the right group's
mailbox with the words that decided; an out-of-scope question is flagged with its words; and
the reviewers' TRANSFÉRER replies teach the triage, so that after the daily retraining a
question of the same kind goes straight to the new space."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from harness import Bot, body_text, compose, make_bot, reply_to, submit
from mailservers import MailEnv, count_folder
from sqlmodel import Session, select

from mailbot.loop.triage_model import retrain
from storage.models import Case, TriageExample
from workflows.records import QuestionRecord

pytestmark = pytest.mark.integration

TAUGHT = (
    "La vidéoverbalisation des véhicules garés est-elle compatible avec la réforme ?",
    "Peut-on utiliser la vidéoverbalisation pour le stationnement payant ?",
    "Un constat établi par vidéoverbalisation suffit-il ?",
)
SAME_KIND = "Quelles règles s'appliquent à la vidéoverbalisation des véhicules ?"


@pytest.fixture
def bot(mail_env: MailEnv) -> Bot:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-triage-"))
    return make_bot(mail_env, f"sqlite:///{workdir}/mailbot.db", workdir)


def ask(bot: Bot, subject: str, body: str, who: int = 0) -> Case:
    env = bot.env
    asker = env.requesters[who]
    submit(env, compose(asker.address, env.bot.address, subject, f"Bonjour,\n\n{body}\n"))
    bot.run_once()
    with Session(bot.engine) as s:
        return s.exec(select(Case).order_by(Case.id.desc())).first()  # type: ignore[union-attr]


def test_a_question_the_keywords_missed_lands_with_the_desta_reviewers(bot: Bot) -> None:
    env = bot.env
    case = ask(
        bot,
        "Recette",
        "Existe-t-il un environnement de recette pour tester les échanges avec la juridiction ?",
    )
    assert case.group == "desta" and case.space == "desta"
    [notif] = env.wait_for(env.reviewers["desta"])
    text = body_text(notif)
    assert case.ref in notif["Subject"]
    assert "Espace proposé : DESTA" in text
    [reason] = [line for line in text.splitlines() if line.startswith("  - DESTA (score")]
    assert "juridiction" in reason and "recette" in reason  # the words that decided
    accueil = env.reviewers["accueil"]
    assert count_folder(env.dovecot, accueil.address, accueil.password) == 0


def test_an_out_of_scope_question_is_flagged_with_its_words(bot: Bot) -> None:
    env = bot.env
    case = ask(
        bot, "Signalisation", "Quels panneaux faut-il installer à l'entrée d'une zone payante ?"
    )
    triage = QuestionRecord.from_json(case.data or {}).triage
    assert triage is not None and triage.out_of_scope and "panneaux" in triage.out_of_scope_terms
    [notif] = env.wait_for(env.reviewers[case.group or "accueil"])
    text = body_text(notif)
    assert "hors périmètre, qui l'emportent : panneaux" in text
    assert "répondez HORS PÉRIMÈTRE" in text


def test_reviewers_transfers_teach_the_triage(bot: Bot) -> None:
    env = bot.env
    accueil = env.reviewers["accueil"]
    for i, question in enumerate(TAUGHT):
        case = ask(bot, f"Vidéoverbalisation {i + 1}", question, who=i % 2)
        assert case.group == "accueil", "before any teaching, not ANTAI's"
        notif = env.wait_for(accueil, count=i + 1)[-1]
        assert case.ref in notif["Subject"]
        submit(env, reply_to(notif, accueil.address, "TRANSFÉRER: antai"))
        bot.run_once()
    with Session(bot.engine) as s:
        examples = s.exec(select(TriageExample)).all()
    assert [(e.label, e.source) for e in examples] == [("antai", "transferred")] * 3
    assert all(e.by == accueil.address for e in examples)

    model = retrain(bot.engine, bot.config)  # what the scheduler runs daily and at start-up
    assert model is not None and model.examples["antai"] > 3

    case = ask(bot, "Vidéoverbalisation", SAME_KIND, who=1)
    assert case.group == "antai" and case.space == "antai"
    antai = env.wait_for(env.reviewers["antai"], count=4)  # three transfers, then this one
    text = body_text(antai[-1])
    assert case.ref in antai[-1]["Subject"]
    assert "mots décisifs appris : vidéoverbalisation" in text
