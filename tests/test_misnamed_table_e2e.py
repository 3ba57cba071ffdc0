"""End to end on Dovecot and SMTP: a request whose « annexe.xlsx » is a PDF is asked for its
table with a line saying what the file was; the case waits for the table (`incomplete`) and
no reviewer is disturbed."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from harness import Bot, body_text, compose, make_bot, submit
from mailservers import MailEnv
from sqlmodel import Session, select

from storage.models import Case, OutboxMail

pytestmark = pytest.mark.integration
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n% annexe imprimee\n%%EOF\n"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_a_pdf_named_annexe_xlsx_is_answered_with_what_it_is(mail_env: MailEnv) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-mal-nomme-"))
    bot: Bot = make_bot(mail_env, f"sqlite:///{workdir}/mailbot.db", workdir)
    env = bot.env
    alice = env.requesters[0]
    submit(
        env,
        compose(
            alice.address,
            env.bot.address,
            "Demande d'abonnement au portail",
            "Bonjour,\n\nVeuillez trouver ci-joint notre annexe remplie.\n\nCordialement,\nAlice",
            attachments=[("annexe.xlsx", XLSX, PDF)],
        ),
    )
    bot.run_once()

    with Session(bot.engine) as s:
        case = s.exec(select(Case)).one()
        assert (case.kind, case.state) == ("subscription", "incomplete")
        assert not s.exec(
            select(OutboxMail).where(OutboxMail.template == "subscription_notify")
        ).all()
    [answer] = env.wait_for(alice)
    told = body_text(answer)
    assert (
        "Le fichier joint à votre message n'est pas un tableur : « annexe.xlsx », un document PDF."
        in told
    )
    assert "un tableau imprimé, scanné ou enregistré en PDF ne peut pas être lu" in told
    names = [part.get_filename() for part in answer.iter_attachments()]
    assert names == ["annexe-demande-abonnement.xlsx"]  # the blank table to fill in
