"""Daemon start-up (issue 13): `mailbot run` connects and fetches before it learns the triage
model (the start-up retraining waits for the first turn instead of sharing the CPU with it),
and a question waiting in the INBOX at start is still triaged and acknowledged."""

from __future__ import annotations

from pathlib import Path

import pytest
from daemons import Daemon, wait_until
from harness import compose, make_bot
from mailservers import MailEnv
from sqlmodel import Session, select

from storage.models import Case, OutboxMail

pytestmark = pytest.mark.integration


def test_the_first_fetch_comes_before_the_start_up_retraining(
    mail_env: MailEnv, tmp_path: Path
) -> None:
    bot = make_bot(mail_env, f"sqlite:///{tmp_path}/m.db", tmp_path)
    asker = mail_env.requesters[0].address
    question = compose(asker, mail_env.bot.address, "Contestation", "Qui envoie le FPS ?")
    mail_env.send(asker, [mail_env.bot.address], question.as_bytes())
    daemon = Daemon(bot, "startup")
    try:
        daemon.wait_log("triage model retrained")
        log = daemon.stderr
        assert log.index("connected to") < log.index("triage model retrained")

        def acknowledged() -> bool:
            with Session(bot.engine) as s:
                return bool(
                    s.exec(select(OutboxMail).where(OutboxMail.template == "question_ack")).all()
                )

        wait_until(acknowledged, 30, "the acknowledgement of the question waiting at start")
        with Session(bot.engine) as s:
            (case,) = s.exec(select(Case)).all()
        assert case.kind == "question" and case.requester == asker
        assert case.space is not None  # triaged (the model learnt on first use if need be)
    finally:
        daemon.stop()
        bot.engine.dispose()
