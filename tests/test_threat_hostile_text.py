"""Threat: hostile text — markup, bidi controls and invisible characters (issue 10).

A From display name holding `<b>` made composing the acknowledgement crash (the mail was
quarantined, the sender never heard back), and the right-to-left override U+202E survived into
notifications and published text. End to end on Dovecot + SMTP: the acknowledgement and the
reviewer's notification are clean, and so are the answer mailed and the published Q&A."""

from __future__ import annotations

import tempfile
from email.message import EmailMessage
from pathlib import Path

import pytest
from harness import Bot, body_text, compose, make_bot, reply_to, submit
from mailservers import MailEnv
from sqlmodel import Session, select

from portal_stub.models import PortalPublication as Publication
from storage.models import Case

pytestmark = pytest.mark.integration

BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
INVISIBLE = "\u200b\u200e\u200f\u2060\ufeff"
QUESTION = (
    "Bonjour,\n\nDans le cycle complet proposé par l'ANTAI, qui envoie l'avis de paiement du FPS "
    "à l'usager ?\n\nCordialement,\nSophie Bernard\n"
)


@pytest.fixture
def bot(mail_env: MailEnv) -> Bot:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-hostile-"))
    return make_bot(mail_env, f"sqlite:///{workdir}/mailbot.db", workdir)


def the_case(bot: Bot) -> Case:
    with Session(bot.engine) as s:
        return s.exec(select(Case)).one()


def shown_text(msg: EmailMessage) -> str:
    """Everything a reader sees of a mail: decoded headers and every text part."""
    headers = "\n".join(f"{name}: {value}" for name, value in msg.items())
    parts = [p.get_content() for p in msg.walk() if p.get_content_maintype() == "text"]
    return headers + "\n" + "\n".join(parts)


def assert_clean(text: str) -> None:
    assert not any(c in text for c in BIDI + INVISIBLE), [c for c in text if c in BIDI]
    assert "<b>" not in text and "<script" not in text


def test_hostile_display_name_and_subject_are_acknowledged_clean(bot: Bot) -> None:
    env = bot.env
    alice = env.requesters[0]
    msg = compose(
        alice.address,
        env.bot.address,
        "Avis de paiement \u202e en cycle complet",
        QUESTION,
        sender_name="<b>Jean</b> \u202eDupont",
    )
    # not `submit`: `parseaddr` reads this From as the address `b`
    env.send(alice.address, [env.bot.address], msg.as_bytes())
    bot.run_once()
    [ack] = env.wait_for(alice)
    assert ack["In-Reply-To"] == msg["Message-ID"]
    [notif] = env.wait_for(env.reviewers["antai"])
    case = the_case(bot)
    assert case.state != "quarantined"
    assert case.requester_name == "Jean Dupont"
    assert case.subject == "Avis de paiement en cycle complet"
    for mail in (ack, notif):
        assert_clean(shown_text(mail))
    assert "Jean Dupont" in body_text(notif)


def test_bidi_and_invisible_characters_never_reach_notification_answer_or_portal(
    bot: Bot,
) -> None:
    env = bot.env
    alice = env.requesters[0]
    hostile = QUESTION.replace("l'usager", "l'usa\u202eger\u200b").replace("FPS", "F\u2066P\u2069S")
    question = compose(
        alice.address,
        env.bot.address,
        "<script>alert(1)</script>Avis \u2067de paiement\u2069",
        hostile,
        sender_name="Sophie\u200f Bernard",
    )
    submit(env, question)
    bot.run_once()
    [ack] = env.wait_for(alice)
    [notif] = env.wait_for(env.reviewers["antai"])
    for mail in (ack, notif):
        assert_clean(shown_text(mail))
    answer = "L'ANTAI\u202e édite et envoie l'avis\u200b de paiement à l'usager."
    submit(env, reply_to(notif, env.reviewers["antai"].address, answer))
    bot.run_once()
    _, mailed = env.wait_for(alice, count=2)
    assert_clean(shown_text(mailed))
    assert "L'ANTAI édite et envoie l'avis de paiement à l'usager." in body_text(mailed)
    with Session(bot.engine) as s:
        [pub] = s.exec(select(Publication)).all()
    assert_clean(pub.question + pub.answer)
    assert "édite et envoie l'avis de paiement" in pub.answer
