"""`run --once` delivers while it ingests (real Dovecot, SMTP relay, SQLite and PostgreSQL):
the run returns only when every mail it caused was accepted by the relay, and the messages are
committed and MOVEd in batches. On PostgreSQL acknowledgements leave before the last message is
decided. On SQLite they do not: its single writer lock, taken back to back by ingestion, starves
the sender's claims (docs/benchmarks.md), so there the test checks the end state only."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import Bot, compose, make_bot, postgres_database
from mailservers import MailEnv, count_folder
from sqlmodel import Session, select

from storage.models import InboundMessage, OutboxMail

pytestmark = pytest.mark.integration

MAILS = 60
CAPS = {"limits.auto_replies_per_address_per_day": 1000}


@pytest.fixture(params=["sqlite", "postgresql"])
def bot(request: pytest.FixtureRequest, mail_env: MailEnv) -> Iterator[Bot]:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-test-"))
    if request.param == "sqlite":
        b = make_bot(mail_env, f"sqlite:///{workdir}/mailbot.db", workdir, **CAPS)
        yield b
        b.engine.dispose()
    else:
        with postgres_database() as url:
            b = make_bot(mail_env, url, workdir, **CAPS)
            yield b
            b.engine.dispose()


@pytest.mark.timeout(300)
def test_run_once_sends_while_ingesting_and_ends_with_the_last_ack(bot: Bot) -> None:
    env = bot.env
    alice = env.requesters[0].address
    for i in range(MAILS):
        question = f"Bonjour, quand le schéma des flux n° {i} sera-t-il publié ?"
        env.append(env.bot, compose(alice, env.bot.address, f"Q{i}", question).as_bytes())
    relayed_before = len(env.relayed())

    stats = bot.run_once()

    assert stats["messages"] == MAILS and stats["failed"] == 0
    assert stats["sent"] == 2 * MAILS  # an acknowledgement and a reviewer notification each
    assert len(env.relayed()) - relayed_before == 2 * MAILS  # all accepted on return
    with Session(bot.engine) as session:
        outbox = session.exec(select(OutboxMail)).all()
        journal = session.exec(select(InboundMessage)).all()
    assert {row.state for row in outbox} == {"sent"}
    assert all(row.moved and row.fate == "processed" for row in journal)
    user, password = env.bot.address, env.bot.password
    assert count_folder(env.dovecot, user, password, "Processed") == MAILS
    assert count_folder(env.dovecot, user, password) == 0
    if bot.config.database.url.startswith("postgresql"):
        first_sent = min(row.sent_at for row in outbox if row.sent_at is not None)
        last_decided = max(row.processed_at for row in journal if row.processed_at is not None)
        assert first_sent < last_decided, "nothing was delivered before the last message"
