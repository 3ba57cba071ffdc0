"""Database faults on real servers: the mail waits in the INBOX, nothing is quarantined, the
daemon survives and tells the admins when the database stays away.

The database is never mocked: SQLite really fails at the DBAPI level (a SQLAlchemy hook
raises sqlite3's own "disk I/O error" for chosen statements), and PostgreSQL is a private
cluster really stopped and started under the running daemon."""

from __future__ import annotations

import logging
import re
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from harness import Bot, compose, make_bot, submit
from mailservers import MailEnv
from pgcluster import PrivateCluster
from sqlalchemy import Engine, create_engine, event
from sqlmodel import Session, col, select

from mailbot.loop.faults import InfrastructureDown
from mailbot.loop.scheduler import guarded
from storage.models import Case, InboundMessage

pytestmark = pytest.mark.integration

DOWN = "database unavailable"
BACK = "database available again"


class DiskFault:
    """sqlite3.OperationalError("disk I/O error") raised by the driver's cursor for the next
    `count` statements containing `match` (or every statement while `always`)."""

    def __init__(self, engine: Engine) -> None:
        self.count = 0
        self.match = ""
        self.always = False
        self.raised = 0
        event.listen(engine, "before_cursor_execute", self._hook)

    def arm(self, count: int, match: str = "") -> None:
        self.count, self.match = count, match

    def _hook(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if self.always or (self.count > 0 and self.match in statement):
            self.count -= 0 if self.always else 1
            self.raised += 1
            raise sqlite3.OperationalError("disk I/O error")


@pytest.fixture
def sqlite_bot(mail_env: MailEnv) -> Bot:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-test-"))
    return make_bot(
        mail_env,
        f"sqlite:///{workdir}/mailbot.db",
        workdir,
        **{"database.retry_max_seconds": 0.5, "database.alert_after_seconds": 2},
    )


@contextmanager
def daemon_thread(bot: Bot) -> Iterator[list[BaseException]]:
    """`run_forever` in a thread; what it raised, if anything, is in the yielded list."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            bot.daemon.run_forever()
        except BaseException as err:
            errors.append(err)
            raise

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    try:
        yield errors
    finally:
        bot.daemon.stop()
        thread.join(timeout=60)
    assert not thread.is_alive()


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout:.0f} s for {what}")
        time.sleep(0.2)


def question(env: MailEnv, number: int) -> None:
    sender = env.requesters[number % 2].address
    body = f"Bonjour, question n° {number} sur l'arrêté du stationnement payant."
    submit(env, compose(sender, env.bot.address, f"Question {number:02d}", body))


def journal(engine: Engine) -> list[InboundMessage]:
    with Session(engine) as session:
        return list(session.exec(select(InboundMessage).order_by(col(InboundMessage.id))))


def case_numbers(engine: Engine) -> dict[str, int]:
    """Case number by the Message-ID of the mail that opened it."""
    with Session(engine) as session:
        return {
            c.origin_message_id or "": int(c.ref.rsplit("-", 1)[1])
            for c in session.exec(select(Case))
        }


def lines(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if text in r.getMessage()]


# --------------------------------------------------------------------------- SQLite, in-process


def test_fault_during_processing_leaves_the_mail_in_the_inbox_for_the_next_turn(
    sqlite_bot: Bot,
) -> None:
    bot, env = sqlite_bot, sqlite_bot.env
    fault = DiskFault(bot.engine)
    question(env, 1)
    question(env, 2)
    # The case counter is taken inside process(): its statement fails once, mid-transaction.
    fault.arm(1, "case_counter")
    with pytest.raises(InfrastructureDown, match="disk I/O error"):
        bot.run_once()
    assert fault.raised == 1
    # Both journaled together, the first one's decision rolled back: neither quarantined nor
    # moved, the second not decided at all.
    journaled = journal(bot.engine)
    assert len(journaled) == 2
    for row in journaled:
        assert row.fate == "received" and not row.moved and row.error is None
    assert len(env.fetch(env.bot)) == 2 and env.fetch(env.bot, "Quarantine") == []
    stats = bot.run_once()
    assert stats["messages"] == 2
    rows = journal(bot.engine)
    assert [r.fate for r in rows] == ["processed", "processed"] and all(r.moved for r in rows)
    assert len(env.fetch(env.bot, "Processed")) == 2 and env.fetch(env.bot) == []
    # The counter was rolled back with the transaction: numbers gapless, in arrival order.
    numbers = case_numbers(bot.engine)
    assert [numbers[r.message_id or ""] for r in rows] == [1, 2]


def test_daemon_waits_out_a_fault_with_one_warning_and_one_recovery_line(
    sqlite_bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    bot, env = sqlite_bot, sqlite_bot.env
    caplog.set_level(logging.INFO, logger="mailbot")
    fault = DiskFault(bot.engine)
    with daemon_thread(bot) as errors:
        time.sleep(1.0)  # connected, in IDLE
        fault.arm(4)  # four statements in a row fail: several turns back off
        question(env, 1)
        env.wait_for(env.bot, "Processed", timeout=30)
    assert not errors
    assert fault.raised == 4
    assert len(lines(caplog, DOWN)) == 1 and len(lines(caplog, BACK)) == 1
    assert not [r for r in caplog.records if r.exc_info]  # no traceback for a fault
    [row] = journal(bot.engine)
    assert row.fate == "processed"


def test_admins_are_alerted_directly_once_per_outage_and_told_of_the_end(
    sqlite_bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    bot, env = sqlite_bot, sqlite_bot.env
    caplog.set_level(logging.INFO, logger="mailbot")
    fault = DiskFault(bot.engine)
    with daemon_thread(bot) as errors:
        time.sleep(1.0)
        fault.always = True  # the database is gone: the outbox cannot be used
        question(env, 1)
        [alert] = env.wait_for(env.admin, timeout=20)
        time.sleep(2.0)  # more failed turns: still one alert
        assert len(env.fetch(env.admin)) == 1
        assert env.fetch(env.bot, "Quarantine") == [] and len(env.fetch(env.bot)) == 1
        fault.always = False
        env.wait_for(env.admin, count=2, timeout=20)
        env.wait_for(env.bot, "Processed", timeout=20)
    assert not errors
    assert "base de données" in alert["Subject"] and "injoignable" in alert["Subject"]
    assert alert["Auto-Submitted"] == "auto-generated"
    assert alert["X-Mailbot-Instance"] == bot.config.instance.domain
    body = alert.get_body(preferencelist=("plain",))
    assert body is not None and "disk I/O error" in body.get_content()
    restored = env.fetch(env.admin)[1]
    assert "répond de nouveau" in restored["Subject"]
    assert len(lines(caplog, DOWN)) == 1 and len(lines(caplog, "alert sent to")) == 1
    assert len(lines(caplog, BACK)) == 1


def test_scheduler_jobs_report_faults_to_the_outage_without_a_traceback(
    sqlite_bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    bot = sqlite_bot
    caplog.set_level(logging.INFO, logger="mailbot")
    fault = DiskFault(bot.engine)
    fault.always = True
    guarded(bot.daemon, bot.ingest.sweep_timers)()
    guarded(bot.daemon, bot.daemon.drain_outbox)()
    assert bot.daemon.outage.down and fault.raised >= 2
    assert len(lines(caplog, DOWN)) == 1
    with pytest.raises(ZeroDivisionError):  # a bug is not a fault: it is still raised
        guarded(bot.daemon, lambda: 1 / 0)()
    fault.always = False
    bot.daemon.mailbox.connect()
    try:
        assert bot.daemon.guarded_turn() is None
    finally:
        bot.daemon.mailbox.close()
    assert not bot.daemon.outage.down and len(lines(caplog, BACK)) == 1


# --------------------------------------------------------------------------- PostgreSQL restart


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    pg = PrivateCluster()
    try:
        yield pg
    finally:
        pg.cleanup()


def processed_count(url: str) -> int:
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            rows = session.exec(select(InboundMessage).where(InboundMessage.moved)).all()
            return len(rows)
    except Exception:
        return -1
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_daemon_survives_a_postgresql_restart_mid_drain(
    mail_env: MailEnv, cluster: PrivateCluster, caplog: pytest.LogCaptureFixture
) -> None:
    env = mail_env
    caplog.set_level(logging.INFO, logger="mailbot")
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-test-"))
    bot = make_bot(env, cluster.url(), workdir, **{"database.retry_max_seconds": 1})
    for number in range(1, 13):
        question(env, number)
    with daemon_thread(bot) as errors:
        wait_until(lambda: processed_count(cluster.url()) >= 2, 30, "the drain to start")
        cluster.stop()
        for number in range(13, 21):  # mail keeps arriving while the database is down
            question(env, number)
        time.sleep(1.5)
        cluster.start()
        env.wait_for(env.bot, "Processed", count=20, timeout=40)
        wait_until(lambda: processed_count(cluster.url()) == 20, 10, "every mail moved")
    bot.engine.dispose()
    assert not errors
    assert env.fetch(env.bot) == [] and env.fetch(env.bot, "Quarantine") == []
    assert env.fetch(env.bot, "Ignored") == []
    processed = env.fetch(env.bot, "Processed")
    subjects = sorted(str(m["Subject"]) for m in processed)
    assert subjects == [f"Question {n:02d}" for n in range(1, 21)]  # each once, one folder
    rows = journal(create_engine(cluster.url()))
    assert len(rows) == 20 and {r.fate for r in rows} == {"processed"}
    numbers = case_numbers(create_engine(cluster.url()))
    assert [numbers[r.message_id or ""] for r in rows] == list(range(1, 21))  # arrival order
    assert len(lines(caplog, DOWN)) == 1 and len(lines(caplog, BACK)) == 1
    assert re.search(r"\d+ s down", lines(caplog, BACK)[0])


@pytest.mark.postgres
def test_run_once_with_the_database_down_exits_75_with_one_line(
    mail_env: MailEnv, cluster: PrivateCluster
) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-test-"))
    bot = make_bot(mail_env, cluster.url(), workdir)
    bot.engine.dispose()
    question(mail_env, 1)
    cluster.stop()
    result = bot.cli("run", "--once")
    assert result.returncode == 75, result.stderr
    assert "Traceback" not in result.stderr
    [line] = [x for x in result.stderr.splitlines() if "Database unavailable" in x]
    assert "OperationalError" in line and "nothing lost" in line
    assert len(mail_env.fetch(mail_env.bot)) == 1  # still in the INBOX
