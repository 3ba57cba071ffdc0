"""One active instance: the lease (taken, renewed, lapsed, taken over), two `mailbot run` on one
PostgreSQL database and one Dovecot mailbox with the active one SIGKILLed mid-batch, the
journal race, and the SQLite single-instance rule."""

from __future__ import annotations

import json
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from daemons import (
    Daemon,
    check_acks,
    check_folders,
    final_journal,
    kill_quietly,
    lease_holder_pid,
    mixed_mails,
    outbox_idle,
    sending_ids,
    submit_all,
    wait_until,
)
from harness import Bot, compose, make_bot
from mailservers import MailEnv
from pgutil import postgres_database
from sqlmodel import Session, select

from mailbot.config import LeaseConfig
from mailbot.loop.lease import (
    ACTIVE,
    InstanceBusy,
    Lease,
    LeaseLost,
    lease_report,
    single_instance_lock,
)
from storage.db import make_engine, session_scope
from storage.migrate import upgrade
from storage.models import InboundMessage, InstanceLease

FAST = LeaseConfig(expiry_seconds=4, renew_seconds=1)


def _plant(url: str, holder: str, expires_in: float) -> None:
    engine = make_engine(url)
    now = datetime.now(UTC)
    with session_scope(engine) as s:
        row = s.get(InstanceLease, ACTIVE) or InstanceLease(name=ACTIVE, holder=holder)
        row.holder, row.heartbeat_at = holder, now
        row.expires_at = now + timedelta(seconds=expires_in)
        s.add(row)
    engine.dispose()


@pytest.mark.postgres
def test_lease_is_held_by_one_and_taken_over_when_it_lapses() -> None:
    with postgres_database() as url:
        upgrade(url)
        engine = make_engine(url)
        one, two = Lease(engine, FAST), Lease(engine, FAST)
        assert one.try_acquire() and one.active
        assert not two.try_acquire() and two.seen_holder == one.holder
        assert one.try_acquire()  # renewed
        # A holder on another machine that stopped renewing: waited for until it lapses.
        _plant(url, "elsewhere.example:4242:abcd", expires_in=2)
        assert not two.try_acquire()
        assert not one.try_acquire()  # taken from it: it stops acting
        with pytest.raises(LeaseLost):
            one.check()
        time.sleep(2.5)
        assert two.try_acquire() and two.active
        with session_scope(engine) as s:
            report = lease_report(s)
        assert report["active"]["holder"] == two.holder
        assert report["active"]["heartbeat_age_seconds"] < 2
        assert [e["holder"] for e in report["standby"]] == [one.holder]
        two.release()
        assert one.try_acquire()  # released: taken at once
        one.release()
        engine.dispose()


def test_lease_holder_gone_from_this_host_is_replaced_at_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/lease.db"
    upgrade(url)
    engine = make_engine(url)
    import socket  # noqa: PLC0415 - only this test needs the host name

    _plant(url, f"{socket.gethostname()}:999999:dead", expires_in=60)  # no such pid
    lease = Lease(engine, FAST)
    assert lease.try_acquire()
    lease.release()
    engine.dispose()


def test_heartbeat_keeps_the_lease_and_run_once_refuses_while_held(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/lease.db"
    upgrade(url)
    engine = make_engine(url)
    holder, other = Lease(engine, FAST), Lease(engine, FAST)
    stop = threading.Event()
    assert holder.wait_active(stop)
    time.sleep(FAST.expiry_seconds + 1)  # longer than the expiry: the heartbeat renewed it
    holder.check()
    with pytest.raises(InstanceBusy, match=holder.holder):
        other.acquire_or_raise()
    holder.release()
    other.acquire_or_raise()
    other.release()
    engine.dispose()


def test_one_sqlite_file_takes_one_daemon_whatever_the_urls_query_string(tmp_path: Path) -> None:
    """The lock is `<file>.lock` for the file the URL names: `?timeout=5` is the same file, so a
    second daemon started with it is refused, naming the first."""
    url = f"sqlite:///{tmp_path}/m.db"
    lock = single_instance_lock(url)
    assert lock is not None and (tmp_path / "m.db.lock").is_file()
    with pytest.raises(InstanceBusy, match="SQLite allows one instance"):
        single_instance_lock(f"{url}?timeout=5")
    lock.close()
    again = single_instance_lock(f"{url}?timeout=5")
    assert again is not None
    again.close()
    assert not list(tmp_path.glob("*timeout*"))


def _journal_race(
    bots: list[Bot], raw: bytes
) -> tuple[list[tuple[int, bool]], list[BaseException]]:
    """Both bots journal the same bytes at the same moment, from two threads."""
    barrier = threading.Barrier(len(bots))
    results: list[tuple[int, bool]] = []
    errors: list[BaseException] = []

    def journal(bot: Bot) -> None:
        barrier.wait()
        try:
            results.append(bot.ingest.journal(raw, 1, 7))
        except BaseException as err:  # the test reports it
            errors.append(err)

    threads = [threading.Thread(target=journal, args=(b,)) for b in bots]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results, errors


@pytest.mark.postgres
def test_journal_race_keeps_one_row_and_raises_nothing(mail_env: MailEnv) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-inst-"))
    with postgres_database() as url:
        bots = [make_bot(mail_env, url, workdir) for _ in range(2)]
        for attempt in range(5):
            raw = compose("a@example.test", "b@example.test", f"Race {attempt}", "x").as_bytes()
            results, errors = _journal_race(bots, raw)
            assert not errors, errors
            assert len(results) == 2 and results[0] == results[1]
        with Session(bots[0].engine) as s:
            assert len(s.exec(select(InboundMessage)).all()) == 5
        for bot in bots:
            bot.engine.dispose()


def test_sqlite_second_run_refuses_at_once(mail_env: MailEnv) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-inst-"))
    bot = make_bot(mail_env, f"sqlite:///{workdir}/mailbot.db", workdir)
    first = Daemon(bot, "first")
    try:
        first.wait_log("connected to")
        started = time.monotonic()
        second = bot.cli("run")
        assert time.monotonic() - started < 15
        assert second.returncode == 3
        [line] = second.stderr.strip().splitlines()
        assert "another mailbot" in line and f":{first.proc.pid}:" in line
        once = bot.cli("run", "--once")
        assert once.returncode == 3 and "another mailbot" in once.stderr
        status = bot.cli("status", "--json")
        active = json.loads(status.stdout)["instance"]["active"]
        assert f":{first.proc.pid}:" in active["holder"]
    finally:
        first.stop()
    assert first.proc.returncode == 0, first.stderr[-2000:]
    again = bot.cli("run", "--once")
    assert again.returncode == 0, again.stderr


@pytest.mark.postgres
def test_two_daemons_one_killed_mid_batch_the_standby_takes_over(mail_env: MailEnv) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-inst-"))
    overrides = {
        "limits.auto_replies_per_address_per_day": 1000,
        "limits.auto_replies_ceiling_per_address_per_day": 1001,
        "smtp.timeout_seconds": 2,
        "smtp.send_lease_seconds": 4,  # a row the kill left `sending` is resent by `two`
    }
    with postgres_database() as url:
        bot = make_bot(mail_env, url, workdir, **overrides)
        one = Daemon(bot, "one")
        two: Daemon | None = None
        try:
            one.wait_log("connected to")
            two = Daemon(bot, "two")
            two.wait_log("standby: instance")
            mails = mixed_mails(mail_env, 30)
            submit_all(mail_env, mails)
            wait_until(lambda: final_journal(bot) >= 4, 60, "the first mails")
            one.kill()
            killed_at = time.monotonic()
            interrupted = sending_ids(bot)
            done_at_kill = final_journal(bot)
            wait_until(lambda: lease_holder_pid(bot) == two.proc.pid, 40, "the takeover")
            takeover = time.monotonic() - killed_at
            assert takeover < 30, f"takeover after {takeover:.1f} s"
            wait_until(lambda: final_journal(bot) == len(mails), 90, "every mail processed")
            wait_until(lambda: not mail_env.fetch(mail_env.bot), 30, "an empty INBOX")
            wait_until(lambda: outbox_idle(bot), 60, "the outbox drained")
            check_folders(mail_env, mails)
            check_acks(bot, interrupted)
            assert "Traceback" not in two.stderr, two.stderr[-4000:]
            assert "took the lease over" in two.stderr
            print(f"killed after {done_at_kill} mails, takeover {takeover:.1f} s")
        finally:
            kill_quietly([d for d in (one, two) if d is not None])
            bot.engine.dispose()
