"""End to end on Dovecot and SMTP: an attachment over `[limits] max_attachment_bytes` is never
dropped in silence on a subscription request.

- A valid table with an oversized PDF: the requester's acknowledgement and the reviewer's
  notification both name the PDF and its size.
- The table itself over the limit: the mail asks for access, so the requester is sent the blank
  table, with a line saying that the file they attached could not be received.
- A question's follow-up whose only content was an oversized file still reaches the reviewers,
  who are told the file was too large and the asker was not told.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
from harness import Bot, annex_xlsx, body_text, compose, make_bot, person, reply_to, submit
from mailservers import MailEnv
from sqlmodel import Session, select

from storage.models import Case

pytestmark = pytest.mark.integration
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LIMIT = 64 * 1024


def bot_with_limit(env: MailEnv, limit: int) -> Bot:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-volumineux-"))
    return make_bot(
        env, f"sqlite:///{workdir}/mailbot.db", workdir, **{"limits.max_attachment_bytes": limit}
    )


def test_an_oversized_pdf_beside_the_table_is_named_to_both_sides(mail_env: MailEnv) -> None:
    bot = bot_with_limit(mail_env, LIMIT)
    env = bot.env
    alice, reviewers = env.requesters[0], env.reviewers["abonnements"]
    table = annex_xlsx([person(env, "durand")])
    assert len(table) < LIMIT
    msg = compose(
        alice.address,
        env.bot.address,
        "Demande d'abonnement au portail",
        "Bonjour,\n\nVeuillez trouver notre tableau et la délibération.\n\nCordialement,\nAlice",
        attachments=[
            ("annexe.xlsx", XLSX, table),
            ("délibération.pdf", "application/pdf", b"%PDF-1.4\n" + b"0" * (2 * LIMIT)),
        ],
    )
    submit(env, msg)
    bot.run_once()

    [ack] = env.wait_for(alice)
    told = body_text(ack)
    assert "Nous avons bien reçu votre demande d'abonnement" in told
    assert "Pièce jointe trop volumineuse, qui n'a pas pu être transmise au service" in told
    assert "délibération.pdf (128\u00a0Ko)" in told
    [notification] = env.wait_for(reviewers)
    notified = body_text(notification)
    assert "Pièce jointe trop volumineuse pour vous être transmise" in notified
    assert "délibération.pdf (128\u00a0Ko)" in notified
    names = [part.get_filename() for part in notification.iter_attachments()]
    assert "délibération.pdf" not in names  # it was too large: named, not carried


def test_a_table_over_the_limit_is_named_when_the_table_is_asked_for(
    mail_env: MailEnv,
) -> None:
    table = annex_xlsx([person(mail_env, "durand")])
    bot = bot_with_limit(mail_env, len(table) // 2)
    env = bot.env
    alice = env.requesters[0]
    msg = compose(
        alice.address,
        env.bot.address,
        "Demande d'abonnement au portail",
        "Bonjour,\n\nNous souhaitons un accès au portail : voici notre tableau.\n\nAlice",
        attachments=[("annexe.xlsx", XLSX, table)],
    )
    submit(env, msg)
    bot.run_once()

    [answer] = env.wait_for(alice)
    told = body_text(answer)
    assert "nous avons besoin du tableau de demande d'abonnement" in told
    assert "Pièce jointe trop volumineuse, qui n'a pas pu être reçue par le service" in told
    assert re.search(r"annexe\.xlsx \(\d+\u00a0Ko\)", told), told
    assert "S'il s'agit du tableau de demande, renvoyez-le" in told


def test_a_question_s_follow_up_with_only_an_oversized_file_reaches_the_reviewers(
    mail_env: MailEnv,
) -> None:
    bot = bot_with_limit(mail_env, LIMIT)
    env = bot.env
    alice = env.requesters[0]
    submit(
        env,
        compose(
            alice.address,
            env.bot.address,
            "Transmission des FPS",
            "Bonjour,\n\nQuel est le format du fichier des FPS transmis à l'ANTAI ?\n\nAlice",
        ),
    )
    bot.run_once()
    [ack] = env.wait_for(alice)
    with Session(bot.engine) as s:
        group = s.exec(select(Case)).one().group
    reviewers = env.reviewers[group or "accueil"]
    env.wait_for(reviewers)  # the question's notification

    follow_up = reply_to(ack, alice.address, "")
    follow_up.add_attachment(
        b"%PDF-1.4\n" + b"0" * (2 * LIMIT),
        maintype="application",
        subtype="pdf",
        filename="fps.pdf",
    )
    submit(env, follow_up)
    bot.run_once()

    *_, forwarded = env.wait_for(reviewers, count=2)
    text = body_text(forwarded)
    assert "fps.pdf (128\u00a0Ko), trop volumineuse pour être transmise" in text
    assert "le demandeur n'en a pas été averti" in text
