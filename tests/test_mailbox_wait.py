"""The IDLE wait of the mailbox (real Dovecot): mail that arrived while the daemon was busy is
not waited for. Dovecot announces it in the answer to the next command (imaplib keeps that
EXISTS aside), not again once IDLE starts, so without a look first it would wait a full IDLE
period (up to 30 s in the daemon)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest
from harness import compose, make_bot
from mailservers import MailEnv

from mailbot.loop.mailbox import Mailbox


@pytest.mark.timeout(60)
def test_mail_announced_during_a_turn_ends_the_idle_wait_at_once(mail_env: MailEnv) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-test-"))
    bot = make_bot(mail_env, f"sqlite:///{workdir}/mailbot.db", workdir)
    mailbox = Mailbox(bot.config)
    mailbox.connect()
    try:
        assert mailbox.has_idle and mailbox.inbox_uids() == []
        alice = mail_env.requesters[0].address
        mail_env.append(mail_env.bot, compose(alice, mail_env.bot.address, "Q", "?").as_bytes())
        assert mailbox.client is not None
        mailbox.client.noop()  # a command of the turn: its answer carries the EXISTS
        start = time.monotonic()
        assert mailbox.wait(10) is True
        assert time.monotonic() - start < 5
        assert len(mailbox.inbox_uids()) == 1
    finally:
        mailbox.close()
        bot.engine.dispose()
