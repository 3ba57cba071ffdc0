"""The outbox sender's batches on real servers: a batch dealt to LANES connections a chunk at
a time, rows claimed a chunk at a time with leases that cover each send, an accepted mail
recorded at once unless ingestion holds SQLite's writer lock (then once it can write), and the
rest of a chunk put back to `pending` when the connection breaks (`mailbot.loop.delivery`)."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timedelta

import pytest
from harness import Bot
from sqlmodel import Session
from test_delivery import LEASE, queue, relayed_ids, rows
from test_delivery import bot as delivery_bot  # noqa: F401 - a fixture, used below

from mailbot.loop.delivery import (
    CLAIM_CHUNK,
    LANES,
    ClaimHook,
    DeliveryReport,
    _lanes,
    deliver_pending,
)
from storage.engine import writer_queue
from storage.models import OutboxMail

pytestmark = pytest.mark.integration

TIMEOUT = 2.0  # smtp.timeout_seconds of the `bot` fixture (tests/test_delivery.py)


@pytest.fixture
def bot(delivery_bot: Bot) -> Bot:  # noqa: F811 - the fixture of tests/test_delivery.py
    return delivery_bot


def states(bot: Bot) -> list[str]:
    return [r.state for r in rows(bot)]


def deliver(bot: Bot, on_claimed: ClaimHook) -> DeliveryReport:
    return asyncio.run(deliver_pending(bot.engine, bot.config, on_claimed=on_claimed))


def test_a_batch_is_dealt_to_the_connections_a_chunk_at_a_time() -> None:
    assert LANES > 1
    ids = list(range(100, 100 + LANES * CLAIM_CHUNK + 3))
    lanes = _lanes(ids)
    assert len(lanes) == LANES
    assert lanes[0] == ids[:CLAIM_CHUNK] + ids[LANES * CLAIM_CHUNK :]  # chunks 1 and LANES + 1
    for k in range(1, LANES):
        assert lanes[k] == ids[k * CLAIM_CHUNK : (k + 1) * CLAIM_CHUNK]
    two = ids[: CLAIM_CHUNK + 1]  # two chunks: two connections
    assert _lanes(two) == [two[:CLAIM_CHUNK], two[CLAIM_CHUNK:]]
    assert _lanes(ids[:CLAIM_CHUNK]) == [ids[:CLAIM_CHUNK]]  # one chunk: one connection
    assert _lanes([]) == []


def test_each_lane_claims_a_chunk_at_a_time_with_leases_that_cover_each_send(bot: Bot) -> None:
    count = LANES * CLAIM_CHUNK + 2  # lane 1: chunks 1 and LANES + 1; the others one each
    ids = [queue(bot, n, tag="chunk") for n in range(count)]
    seen: dict[int, list[str]] = {}
    leases: list[float] = []

    def claimed(row: OutboxMail) -> None:
        assert row.id is not None
        seen[row.id] = states(bot)
        if row.id == ids[0]:
            with Session(bot.engine) as session:
                for other in ids[:CLAIM_CHUNK]:
                    fresh = session.get(OutboxMail, other)
                    assert fresh is not None
                    now = datetime.now(fresh.next_attempt_at.tzinfo)
                    leases.append((fresh.next_attempt_at - now).total_seconds())

    report = deliver(bot, claimed)
    # The first chunk is claimed together; the last one only once the first lane is done
    # with its first.
    first = seen[ids[0]]
    assert first[:CLAIM_CHUNK] == ["sending"] * CLAIM_CHUNK
    assert first[LANES * CLAIM_CHUNK :] == ["pending"] * 2
    # Row i of a chunk waits for the i before it, each within the send timeout: its lease is
    # that much longer, so it cannot run out while the row waits its turn.
    for rank, left in enumerate(leases):
        assert LEASE + rank * TIMEOUT - 1.5 < left <= LEASE + rank * TIMEOUT, (rank, leases)
    # Each row's turn comes after those before it in its chunk were sent: they are `sent`, or
    # still `sending` when another lane was writing then (their record waits for this lane's
    # next write).
    for rank in range(1, CLAIM_CHUNK):
        assert set(seen[ids[rank]][:rank]) <= {"sent", "sending"}, (rank, seen[ids[rank]])
    assert report.sent == count
    final = rows(bot)
    assert {(r.state, r.attempts) for r in final} == {("sent", 1)}
    assert sorted(relayed_ids(bot)) == sorted(r.message_id for r in final)


def test_an_accepted_mail_is_recorded_at_once_when_nothing_else_writes(bot: Bot) -> None:
    ids = [queue(bot, n, tag="alone") for n in range(CLAIM_CHUNK)]  # one chunk, one lane
    seen: dict[int, list[str]] = {}

    def claimed(row: OutboxMail) -> None:
        assert row.id is not None
        seen[row.id] = states(bot)

    assert deliver(bot, claimed).sent == CLAIM_CHUNK
    # The lane records each accepted mail before it sends the next one.
    for rank in range(1, CLAIM_CHUNK):
        assert seen[ids[rank]][:rank] == ["sent"] * rank, (rank, seen[ids[rank]])


def test_accepted_mails_are_recorded_later_while_ingestion_writes(bot: Bot) -> None:
    ids = [queue(bot, n, tag="busy") for n in range(CLAIM_CHUNK)]  # one chunk, one lane
    queue_ = writer_queue(bot.engine)
    assert queue_ is not None  # SQLite
    holding, release = threading.Event(), threading.Event()

    def ingestion() -> None:  # a long transaction of the mailbox loop, as it holds the lock
        with queue_.turn():
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=ingestion)
    seen: dict[int, list[str]] = {}

    def claimed(row: OutboxMail) -> None:
        assert row.id is not None
        if row.id == ids[0]:
            holder.start()
            assert holding.wait(5)
        seen[row.id] = states(bot)
        if row.id == ids[-1]:
            release.set()

    deliver(bot, claimed)
    holder.join(5)
    # While ingestion held the lock the sender went on sending, its records kept back...
    assert seen[ids[-1]][:-1] == ["sending"] * (CLAIM_CHUNK - 1), seen[ids[-1]]
    assert len(relayed_ids(bot)) == CLAIM_CHUNK
    # ...and written once it could write.
    final = rows(bot)
    assert {(r.state, r.attempts, r.last_error) for r in final} == {("sent", 1, None)}
    # Each row keeps the time the relay accepted it, in the order they were sent.
    sent_at = [r.sent_at for r in final]
    assert all(a is not None for a in sent_at)
    assert sent_at == sorted(sent_at)  # type: ignore[type-var]


def test_rows_claimed_after_an_interrupted_send_go_back_to_pending(bot: Bot) -> None:
    count = CLAIM_CHUNK  # one chunk, one lane
    ids = [queue(bot, n, tag="cut") for n in range(count)]

    def claimed(row: OutboxMail) -> None:
        if row.id == ids[2]:
            bot.env.smtp.stop()  # the session is cut before this mail is sent

    try:
        report = deliver(bot, claimed)
    finally:
        bot.env.smtp.start()
    assert report.sent == 2 and report.interrupted == 1
    after = rows(bot)
    assert [r.state for r in after[:2]] == ["sent", "sent"]
    # The interrupted one is due again, counted; the rest of its chunk was never handed to
    # the server: pending, due at once, the claim not counted as an attempt.
    cut = after[2]
    assert (cut.state, cut.attempts) == ("pending", 1)
    assert (cut.last_error or "").startswith("[envois interrompus : 1]")
    for row in after[3:CLAIM_CHUNK]:
        assert (row.state, row.attempts, row.last_error) == ("pending", 0, None)
        assert row.next_attempt_at <= datetime.now(row.next_attempt_at.tzinfo) + timedelta(0)
    # The next drain sends every one of them, each once.
    again = asyncio.run(deliver_pending(bot.engine, bot.config))
    assert again.sent == count - 2
    assert {r.state for r in rows(bot)} == {"sent"}
    assert sorted(relayed_ids(bot)) == sorted(r.message_id for r in rows(bot))
