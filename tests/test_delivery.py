"""Outgoing mail at least once, with a stable Message-ID, on real servers: the SMTP relay
stopped mid-drain (for 10 s, then for 60 s of the daemon's clock), a `mailbot run` killed
after claiming a mail, sends interrupted again and again, and what `mailbot status` shows."""

from __future__ import annotations

import json
import logging
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from harness import Bot, make_bot
from sqlmodel import Session, col, select

from mailbot.loop.daemon import Daemon
from storage.models import OutboxMail

pytestmark = pytest.mark.integration

LEASE = 6.0  # smtp.send_lease_seconds in these tests (at least twice the 2 s timeout)


@pytest.fixture
def bot(mail_env) -> Iterator[Bot]:  # type: ignore[no-untyped-def]
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-delivery-"))
    b = make_bot(
        mail_env,
        f"sqlite:///{workdir}/mailbot.db",
        workdir,
        **{"smtp.timeout_seconds": 2, "smtp.send_lease_seconds": LEASE},
    )
    yield b
    b.engine.dispose()


def queue(bot: Bot, n: int, *, tag: str, created_ago: float = 0.0, due_in: float = 0.0) -> int:
    """A pending mail to the first requester, written as the outbox writes one."""
    to = bot.env.requesters[0].address
    mid = f"<{tag}-{n}@{bot.config.instance.domain}>"
    raw = (
        f"From: {bot.config.instance.generic_address}\r\nTo: {to}\r\n"
        f"Subject: Envoi {tag} {n}\r\nMessage-ID: {mid}\r\n"
        "Auto-Submitted: auto-generated\r\n\r\nBonjour,\r\n"
    ).encode("ascii")
    now = datetime.now(UTC)
    row = OutboxMail(
        idempotency_key=f"-:{tag}-{n}",
        template="test",
        recipients=[to],
        recipient=to,
        envelope_from=bot.config.instance.generic_address,
        bounce_token=f"{tag}-{n}",
        message_id=mid,
        raw=raw,
        created_at=now - timedelta(seconds=created_ago),
        next_attempt_at=now + timedelta(seconds=due_in),
    )
    with Session(bot.engine) as session:
        session.add(row)
        session.commit()
        assert row.id is not None
        return row.id


def rows(bot: Bot) -> list[OutboxMail]:
    with Session(bot.engine) as session:
        return list(session.exec(select(OutboxMail).order_by(col(OutboxMail.id))).all())


def relayed_ids(bot: Bot) -> list[str]:
    return [str(m.message()["Message-ID"]) for m in bot.env.relayed()]


def wait_until(check: Callable[[], bool], timeout: float, step: float = 0.02) -> float:
    """Seconds it took `check` to hold (fails after `timeout`)."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            pytest.fail(f"not within {timeout} s")
        time.sleep(step)
    return time.monotonic() - start


def outage(
    bot: Bot, tag: str, count: int, real: float, simulated: float, skew: list[float]
) -> float:
    """Queue `count` mails, stop the relay once some went out, keep it down `real` seconds
    (`simulated` on the daemon's clock), start it again; returns the seconds until every
    mail was sent."""
    relay = bot.env.smtp
    ids = [queue(bot, n, tag=tag) for n in range(count)]
    before = len(bot.env.relayed())
    wait_until(lambda: len(bot.env.relayed()) >= before + 3, timeout=10, step=0.002)
    relay.stop()
    try:
        time.sleep(real / 2)
        skew[0] += simulated - real  # the daemon's clock jumps: the outage lasts `simulated`
        time.sleep(real / 2)
        waiting = [r for r in rows(bot) if r.id in ids and r.state != "sent"]
        assert waiting, "the relay stopped after the drain: queue more mails"
        # A refused connection postpones no mail: those waiting are due, not pushed back.
        now = datetime.now(UTC) + timedelta(seconds=skew[0])
        assert all(r.state == "pending" and r.next_attempt_at <= now for r in waiting)
    finally:
        relay.start()
    return wait_until(
        lambda: all(r.state == "sent" for r in rows(bot) if r.id in ids), timeout=60, step=0.05
    )


def test_relay_outages_lose_nothing_and_deliver_soon_after_return(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="mailbot.loop.smtp_health")
    skew = [0.0]
    daemon = Daemon(
        bot.config,
        bot.engine,
        bot.ingest,
        clock=lambda: datetime.now(UTC) + timedelta(seconds=skew[0]),
    )
    thread = threading.Thread(target=daemon.run_forever, daemon=True)
    thread.start()
    try:
        # 10 s down: probed every ~2 s, so back within a few seconds.
        first = outage(bot, "a", 150, real=10, simulated=10, skew=skew)
        # 60 s down on the daemon's clock: the probes are at most a quarter of the downtime
        # apart (15 s), so everything is sent within that of the relay's return.
        second = outage(bot, "b", 150, real=4, simulated=60, skew=skew)
    finally:
        daemon.stop()
        thread.join(timeout=30)
    assert first < 8, f"10 s outage: {first:.1f} s to deliver after the relay returned"
    assert second < 20, f"60 s outage: {second:.1f} s to deliver after the relay returned"
    # Nothing lost, nothing failed; a mail in flight when the relay stopped may have arrived
    # twice (same Message-ID): at most one per outage.
    assert {r.state for r in rows(bot)} == {"sent"}
    seen = relayed_ids(bot)
    assert {r.message_id for r in rows(bot)} == set(seen)
    assert len(seen) - len(set(seen)) <= 2
    # One line when delivery stops, one when it resumes, per outage, in both logs.
    wflog = bot.log_lines()
    downs = [line for line in wflog if "smtp_down" in line]
    ups = [line for line in wflog if "smtp_up" in line]
    assert len(downs) == len(ups) == 2, wflog
    assert "downtime_seconds=1" in ups[0] and "downtime_seconds=6" in ups[1], ups
    python_log = [r.getMessage() for r in caplog.records]
    assert sum(m.startswith("smtp_down") for m in python_log) == 2
    assert sum(m.startswith("smtp_up") for m in python_log) == 2


def test_mail_claimed_by_a_killed_process_is_sent_again_after_its_lease(bot: Bot) -> None:
    row_id = queue(bot, 1, tag="crash")
    later = queue(bot, 2, tag="later", created_ago=300, due_in=3600)
    crashed = bot.cli("run", "--once", MAILBOT_FAULT="after_claim_before_send")
    assert crashed.returncode == 70, crashed.stderr
    [row, _] = rows(bot)
    assert (row.state, row.attempts) == ("sending", 1)
    claimed = time.monotonic()
    # Within its lease the mail is still someone's: another run leaves it alone.
    assert bot.cli("run", "--once").returncode == 0
    assert rows(bot)[0].state == "sending"
    assert relayed_ids(bot) == []
    # `mailbot status` shows the backlog and the mail in flight.
    status = bot.cli("status", "--json")
    assert status.returncode == 0, status.stderr
    backlog = json.loads(status.stdout)["outbox_backlog"]
    assert backlog["pending"] == 1 and backlog["sending"] == 1
    assert backlog["oldest_pending_age_seconds"] >= 300
    text = bot.cli("status")
    assert "file d’attente : 1 en attente, le plus ancien depuis 5 min" in text.stdout, text.stdout
    time.sleep(max(0.0, claimed + LEASE - time.monotonic()))
    status = json.loads(bot.cli("status", "--json").stdout)["outbox_backlog"]
    assert status["sending_lease_expired"] == 1
    again = bot.cli("run", "--once")
    assert again.returncode == 0, again.stderr
    [row, waiting] = rows(bot)
    assert (row.id, row.state, row.attempts, row.last_error) == (row_id, "sent", 2, None)
    assert waiting.id == later and waiting.state == "pending"
    # Sent exactly once more, with the very bytes (so the Message-ID) written at first.
    [relayed] = bot.env.relayed()
    assert relayed.raw == row.raw
    [received] = bot.env.wait_for(bot.env.requesters[0])
    assert received["Message-ID"] == row.message_id


def test_mail_interrupted_too_often_fails_and_alerts_the_admins(bot: Bot) -> None:
    assert bot.config.smtp.max_interrupted_sends == 3
    queue(bot, 1, tag="poison")
    for _ in range(3):
        crashed = bot.cli("run", "--once", MAILBOT_FAULT="after_claim_before_send")
        assert crashed.returncode == 70, crashed.stderr
        time.sleep(LEASE - 1)  # the next run's start-up takes the rest
        wait_until(lambda: rows(bot)[0].next_attempt_at <= datetime.now(UTC), timeout=5)
    final = bot.cli("run", "--once")
    assert final.returncode == 0, final.stderr
    row = rows(bot)[0]
    assert row.state == "failed" and row.attempts == 3
    assert (row.last_error or "").startswith("[envois interrompus : 3]")
    assert bot.env.fetch(bot.env.requesters[0]) == []
    # The same path as a 5xx: DeliveryFailed, and the admins get the alert.
    [alert] = bot.env.wait_for(bot.env.admin)
    assert row.message_id not in str(alert["Message-ID"])
    assert any("delivery_failed" in line or "échec" in line for line in bot.log_lines())


def test_rows_of_an_older_version_left_unknown_are_sent_again(bot: Bot) -> None:
    row_id = queue(bot, 1, tag="legacy")
    with Session(bot.engine) as session:
        row = session.get(OutboxMail, row_id)
        assert row is not None
        row.state, row.attempts = "unknown", 1
        session.add(row)
        session.commit()
    bot.run_once()
    [row] = rows(bot)
    assert row.state == "sent"
    assert relayed_ids(bot) == [row.message_id]
