"""The sender thread's SMTP connections kept between drains (`mailbot.loop.smtp_pool`), on the
real relay: one session for successive drains, a session the relay dropped meanwhile replaced
before any row is claimed (no send counted as interrupted), a session closed once it carried a
batch's worth of mails, idle sessions closed."""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import Bot, make_bot
from mailservers import MailEnv
from test_delivery import LEASE, queue, relayed_ids, rows
from test_delivery import bot as delivery_bot  # noqa: F401 - a fixture, used below

from mailbot.loop.delivery import DeliveryReport, deliver_pending
from mailbot.loop.sender import OutboxSender
from mailbot.loop.smtp_health import SmtpHealth
from mailbot.loop.smtp_pool import SendLoop, current, kept_connections

pytestmark = pytest.mark.integration


@pytest.fixture
def bot(delivery_bot: Bot) -> Bot:  # noqa: F811 - the fixture of tests/test_delivery.py
    return delivery_bot


def drain(bot: Bot, kept: SendLoop, health: SmtpHealth | None = None) -> DeliveryReport:
    return kept.run(deliver_pending(bot.engine, bot.config, health=health, pool=kept.pool))


def test_successive_drains_of_the_sender_thread_share_one_session(bot: Bot) -> None:
    relay = bot.env.smtp
    before = relay.sessions_greeted
    with kept_connections() as kept:
        assert current() is kept
        for n in range(3):
            queue(bot, n, tag="kept")
        assert drain(bot, kept).sent == 3
        assert len(kept.pool) == 1  # the session stays open, idle
        for n in range(3, 6):
            queue(bot, n, tag="kept")
        assert drain(bot, kept).sent == 3
        assert relay.sessions_greeted == before + 1
    assert current() is None
    assert len(kept.pool) == 0  # closed with the block
    final = rows(bot)
    assert {(r.state, r.attempts) for r in final} == {("sent", 1)}
    assert sorted(relayed_ids(bot)) == sorted(r.message_id for r in final)


def test_a_session_the_relay_dropped_is_replaced_before_a_row_is_claimed(bot: Bot) -> None:
    relay = bot.env.smtp
    health = SmtpHealth(1, 10)
    with kept_connections() as kept:
        queue(bot, 0, tag="dropped")
        assert drain(bot, kept, health).sent == 1
        relay.stop()  # the relay restarts: the idle session is cut
        relay.start()
        before = relay.sessions_greeted
        queue(bot, 1, tag="dropped")
        report = drain(bot, kept, health)
    assert (report.sent, report.interrupted, report.retried, report.smtp_down) == (1, 0, 0, False)
    assert not health.down
    assert relay.sessions_greeted == before + 1  # a new session, after NOOP found the old dead
    # Nothing was counted against the mail: one attempt, no error.
    assert [(r.state, r.attempts, r.last_error) for r in rows(bot)] == [("sent", 1, None)] * 2


@pytest.fixture
def small_batches(mail_env: MailEnv) -> Iterator[Bot]:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-pool-"))
    overrides = {"smtp.timeout_seconds": 2, "smtp.send_lease_seconds": LEASE, "smtp.batch_size": 4}
    b = make_bot(mail_env, f"sqlite:///{workdir}/mailbot.db", workdir, **overrides)
    yield b
    b.engine.dispose()


def test_a_session_is_closed_once_it_carried_a_batch(small_batches: Bot) -> None:
    """A session carries at most `[smtp] batch_size` mails (4 here), as before sessions were
    kept: a relay's limit of mails per session is never met mid-drain."""
    bot = small_batches
    relay = bot.env.smtp
    before = relay.sessions_greeted
    with kept_connections() as kept:
        for n in range(3):
            queue(bot, n, tag="carried")
        assert drain(bot, kept).sent == 3
        assert len(kept.pool) == 1  # one short of the limit: kept
        queue(bot, 3, tag="carried")
        assert drain(bot, kept).sent == 1
        assert len(kept.pool) == 0  # the limit reached: closed
        queue(bot, 4, tag="carried")
        assert drain(bot, kept).sent == 1
    assert relay.sessions_greeted == before + 2
    assert {(r.state, r.attempts) for r in rows(bot)} == {("sent", 1)}


def test_idle_sessions_are_closed(bot: Bot) -> None:
    relay = bot.env.smtp
    with kept_connections(keep_seconds=0.2) as kept:
        queue(bot, 0, tag="idle")
        before = relay.sessions_greeted
        assert drain(bot, kept).sent == 1
        assert len(kept.pool) == 1
        time.sleep(0.4)
        kept.expire()
        assert len(kept.pool) == 0
        queue(bot, 1, tag="idle")
        assert drain(bot, kept).sent == 1
    assert relay.sessions_greeted == before + 2


def test_the_outbox_sender_thread_drains_with_its_kept_connections() -> None:
    seen: list[SendLoop | None] = []
    stop = threading.Event()

    def record() -> None:
        seen.append(current())
        stop.set()

    sender = OutboxSender(record, lambda: 0.05, stop)
    sender.start()
    sender.join(10)
    assert len(seen) == 1 and isinstance(seen[0], SendLoop)
    assert current() is None  # only in the sender's thread
