"""The journal (`mailbot.loop.journal`) on a real SQLite database: a group of fetched mails is
stored in one transaction, each answered in order with its row and whether it was already
decided; a mail journaled before keeps its row; a failure stores none of the group."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from harness import Bot, compose, make_bot
from mailservers import MailEnv
from sqlmodel import Session, col, select

from storage.models import InboundMessage

pytestmark = pytest.mark.integration


@pytest.fixture
def bot(mail_env: MailEnv) -> Bot:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-journal-"))
    return make_bot(mail_env, f"sqlite:///{workdir}/mailbot.db", workdir)


def mail(n: int) -> bytes:
    message = compose(f"agent{n}@ville.fr", "contact@extranet.test", f"Question {n}", "Bonjour.")
    return message.as_bytes()


def journal_rows(bot: Bot) -> list[tuple[int | None, int | None, str | None]]:
    with Session(bot.engine) as session:
        stmt = select(InboundMessage).order_by(col(InboundMessage.id))
        return [(r.id, r.uid, r.fate) for r in session.exec(stmt)]


def test_a_group_is_journaled_in_order_and_known_mails_keep_their_row(bot: Bot) -> None:
    a, b, c = mail(0), mail(1), mail(2)
    first = bot.ingest.journal_many([(a, 9, 1), (b, 9, 2)])
    assert [final for _, final in first] == [False, False]
    assert [uid for _, uid, _ in journal_rows(bot)] == [1, 2]
    assert [i for i, _ in first] == [i for i, _, _ in journal_rows(bot)]
    # b again (a second fetch of the same bytes) and a new one: b keeps its row.
    again = bot.ingest.journal_many([(b, 9, 2), (c, 9, 3)])
    assert again[0] == (first[1][0], False)
    assert len(journal_rows(bot)) == 3
    # Once decided, a mail journaled again is reported final (the drain only moves it).
    bot.ingest.process(first[0][0])
    assert bot.ingest.journal_many([(a, 9, 1)]) == [(first[0][0], True)]


def test_a_failure_stores_none_of_the_group(bot: Bot) -> None:
    with pytest.raises(TypeError):
        bot.ingest.journal_many([(mail(0), 9, 1), (None, 9, 2)])  # type: ignore[list-item]
    assert journal_rows(bot) == []
