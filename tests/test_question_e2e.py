"""Questions end to end on Dovecot: acknowledged, routed to the reviewer of the guessed space,
answered by reply (Outlook and Gmail quoting), the clean answer mailed to the asker and the Q&A
published in the right space without personal data; HORS PÉRIMÈTRE, NE PAS PUBLIER (also
below the answer), and a reply from someone who is not a reviewer of that group. (Hostile display
names and subjects: tests/test_threat_hostile_text.py.)"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from harness import Bot, body_text, compose, make_bot, reply_to, submit
from mailservers import MailEnv
from sqlmodel import Session, select

from portal_stub.models import PortalPublication as Publication
from storage.models import Case

pytestmark = pytest.mark.integration

QUESTION = (
    "Bonjour,\n\nDans le cycle complet proposé par l'ANTAI, qui envoie l'avis de paiement du FPS "
    "à l'usager ? Vous pouvez me joindre au 06 12 34 56 78.\n\nCordialement,\nSophie Bernard\n"
    "Mairie de Testville\n"
)
ANSWER = (
    "Dans le cycle complet, l'ANTAI édite et envoie l'avis de paiement à l'usager pour le compte "
    "de la collectivité."
)


@pytest.fixture
def bot(mail_env: MailEnv) -> Bot:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-q-"))
    return make_bot(mail_env, f"sqlite:///{workdir}/mailbot.db", workdir)


def ask(bot: Bot, body: str = QUESTION, subject: str = "Avis de paiement en cycle complet"):
    env = bot.env
    alice = env.requesters[0]
    msg = compose(alice.address, env.bot.address, subject, body, sender_name="Sophie Bernard")
    submit(env, msg)
    bot.run_once()
    return msg


def the_case(bot: Bot) -> Case:
    with Session(bot.engine) as s:
        return s.exec(select(Case)).one()


def publications(bot: Bot) -> list[Publication]:
    with Session(bot.engine) as s:
        return list(s.exec(select(Publication)).all())


@pytest.mark.parametrize("style", ["outlook", "gmail"])
def test_answer_by_reply_is_mailed_clean_and_published_without_personal_data(
    bot: Bot, style: str
) -> None:
    env = bot.env
    question = ask(bot)
    [ack] = env.wait_for(env.requesters[0])
    assert ack["In-Reply-To"] == question["Message-ID"]
    case = the_case(bot)
    assert case.space == "antai" and case.group == "antai"
    [notif] = env.wait_for(env.reviewers["antai"])
    assert case.ref in notif["Subject"]
    notif_text = body_text(notif)
    assert "06 12 34 56 78" not in notif_text.split("LA QUESTION")[-1].split("PUBLI")[-1]
    reviewer = env.reviewers["antai"].address
    reply = reply_to(
        notif,
        reviewer,
        f"{ANSWER}\n\nCordialement,\nLe relecteur ANTAI\n01 40 00 00 00",
        style=style,
    )
    submit(env, reply)
    bot.run_once()
    mails = env.wait_for(env.requesters[0], count=2)
    answer = mails[-1]
    text = body_text(answer)
    assert ANSWER in text
    assert "De :" not in text and "a écrit" not in text and "Le relecteur ANTAI" not in text
    assert answer["In-Reply-To"] == question["Message-ID"]
    [pub] = publications(bot)
    assert pub.space == "antai" and pub.case_ref == case.ref
    assert ANSWER in pub.answer
    for personal in ("Sophie", "Bernard", "06 12 34 56 78", env.requesters[0].address):
        assert personal not in pub.question
    assert f"/espaces/antai/questions/{case.ref}" in text
    assert the_case(bot).state == "answered"


def test_hors_perimetre_redirects_to_cerema_and_publishes_nothing(bot: Bot) -> None:
    env = bot.env
    ask(bot, "Bonjour, quel modèle d'horodateur nous conseillez-vous d'acheter ?", "Horodateurs")
    case = the_case(bot)
    members = env.reviewers[case.group or "accueil"]
    [notif] = env.wait_for(members)
    submit(env, reply_to(notif, members.address, "HORS PÉRIMÈTRE"))
    bot.run_once()
    mails = env.wait_for(env.requesters[0], count=2)
    assert bot.config.questions.cerema_url in body_text(mails[-1])
    assert publications(bot) == []


def test_ne_pas_publier_below_the_answer_answers_the_asker_only(bot: Bot) -> None:
    env = bot.env
    ask(bot)
    [notif] = env.wait_for(env.reviewers["antai"])
    reviewer = env.reviewers["antai"].address
    submit(env, reply_to(notif, reviewer, f"{ANSWER}\n\nNE PAS PUBLIER", style="gmail"))
    bot.run_once()
    mails = env.wait_for(env.requesters[0], count=2)
    text = body_text(mails[-1])
    assert ANSWER in text and "NE PAS PUBLIER" not in text
    assert publications(bot) == []


def test_question_directive_rewords_the_publication_and_espace_overrides(bot: Bot) -> None:
    env = bot.env
    ask(bot)
    [notif] = env.wait_for(env.reviewers["antai"])
    reviewer = env.reviewers["antai"].address
    body = (
        f"ESPACE : DESTA\nQUESTION : Qui envoie l'avis de paiement en cycle complet ?\n\n{ANSWER}"
    )
    submit(env, reply_to(notif, reviewer, body))
    bot.run_once()
    [pub] = publications(bot)
    assert pub.space == "desta"
    assert pub.question == "Qui envoie l'avis de paiement en cycle complet ?"
    assert "ESPACE" not in pub.answer and "QUESTION" not in pub.answer


def test_reply_from_someone_not_reviewer_of_that_group_publishes_nothing(bot: Bot) -> None:
    env = bot.env
    ask(bot)
    [notif] = env.wait_for(env.reviewers["antai"])
    other = env.reviewers["desta"].address  # a reviewer, but of another group
    submit(env, reply_to(notif, other, ANSWER))
    outsider = env.requesters[1].address  # not a reviewer at all
    submit(env, reply_to(notif, outsider, ANSWER))
    bot.run_once()
    assert publications(bot) == []
    assert the_case(bot).state == "open"
    assert sum("reviewer_auth_failed" in line for line in bot.log_lines()) == 2
    assert len(env.fetch(env.requesters[0])) == 1  # only the acknowledgement


def test_asker_follow_up_reopens_and_new_answer_makes_a_new_version(bot: Bot) -> None:
    env = bot.env
    ask(bot)
    [notif] = env.wait_for(env.reviewers["antai"])
    reviewer = env.reviewers["antai"].address
    submit(env, reply_to(notif, reviewer, ANSWER))
    bot.run_once()
    answer = env.wait_for(env.requesters[0], count=2)[-1]
    alice = env.requesters[0].address
    follow = reply_to(
        answer, alice, "Merci. Et en cycle partiel, qui envoie l'avis de paiement ?", style="gmail"
    )
    submit(env, follow)
    bot.run_once()
    assert the_case(bot).state == "open"
    notifs = env.wait_for(env.reviewers["antai"], count=3)  # notification, confirmation, new round
    second = notifs[-1]
    assert "cycle partiel" in body_text(second)
    submit(env, reply_to(second, reviewer, "En cycle partiel, la collectivité envoie l'avis."))
    bot.run_once()
    versions = sorted(publications(bot), key=lambda p: p.version)
    assert [p.version for p in versions] == [1, 2]
    assert "cycle partiel" in versions[-1].answer and ANSWER in versions[0].answer
    assert the_case(bot).state == "answered"
    last = env.wait_for(env.requesters[0], count=4)[-1]
    assert "la collectivité envoie l'avis" in body_text(last)


def test_acknowledgement_links_similar_published_answers(bot: Bot) -> None:
    env = bot.env
    ask(bot)
    [notif] = env.wait_for(env.reviewers["antai"])
    reviewer = env.reviewers["antai"].address
    submit(env, reply_to(notif, reviewer, ANSWER))
    bot.run_once()
    first_ref = the_case_refs(bot)[0]
    bob = env.requesters[1]
    again = compose(
        bob.address,
        env.bot.address,
        "Envoi des avis de paiement",
        "Bonjour, en cycle complet, l'avis de paiement du FPS est-il envoyé par l'ANTAI ?",
    )
    submit(env, again)
    bot.run_once()
    [ack] = env.wait_for(bob)
    assert f"/espaces/antai/questions/{first_ref}" in body_text(ack)


def the_case_refs(bot: Bot) -> list[str]:
    with Session(bot.engine) as s:
        return sorted(c.ref for c in s.exec(select(Case)).all())
