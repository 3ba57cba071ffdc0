"""What admins operate with, on real servers: status, the log filtered by case, timers fired by
the sweep (reminder and escalation in business days), the IMAP MOVE fallback, polling when
IDLE is off, and a UIDVALIDITY change that reprocesses nothing."""

from __future__ import annotations

import json
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from harness import Bot, body_text, compose, make_bot
from mailservers import MailEnv
from pgutil import postgres_database
from sqlmodel import Session, select

from mailbot.loop.daemon import Daemon
from storage.models import Case, InboundMessage, OutboxMail, Timer

pytestmark = pytest.mark.integration


def new_bot(env: MailEnv, **overrides: object) -> Bot:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-ops-"))
    return make_bot(env, f"sqlite:///{workdir}/mailbot.db", workdir, **overrides)


def ask(
    env: MailEnv,
    subject: str = "Flux CCSP",
    body: str = "Bonjour, où trouver le schéma des flux CCSP ?",
) -> None:
    alice = env.requesters[0]
    env.send(
        alice.address,
        [env.bot.address],
        compose(alice.address, env.bot.address, subject, body).as_bytes(),
    )


def test_status_counts_cases_outbox_and_journal(mail_env: MailEnv) -> None:
    bot = new_bot(mail_env)
    ask(mail_env)
    bot.run_once()
    result = bot.cli("status", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["cases"] == {"question:open": 1}
    assert report["outbox"] == {"sent": 2}
    assert report["journal"] == {"processed": 1}


def test_log_shows_one_case_only(mail_env: MailEnv) -> None:
    bot = new_bot(mail_env)
    ask(mail_env)
    ask(mail_env, "Décret", "Bonjour, quel décret s'applique au FPS ?")
    bot.run_once()
    with Session(bot.engine) as s:
        refs = sorted(c.ref for c in s.exec(select(Case)).all())
    result = bot.cli("log", "--case", refs[0])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines and all(f"  {refs[0]}  " in line for line in lines)
    assert any("case_opened" in line for line in lines)


def test_reminder_after_two_business_days_then_escalation_after_five(mail_env: MailEnv) -> None:
    bot = new_bot(mail_env)
    # Friday 27 November 2026, 10:00 in Paris: two business days later is Tuesday 1 December.
    now = [datetime(2026, 11, 27, 9, 0, tzinfo=UTC)]
    bot.ingest.clock = lambda: now[0]
    bot.daemon.clock = lambda: now[0]
    ask(mail_env)
    bot.run_once()
    with Session(bot.engine) as s:
        [case] = s.exec(select(Case)).all()
        due = {t.kind: t.due_at for t in s.exec(select(Timer)).all()}
    assert due["reminder"].date().isoformat() == "2026-12-01"
    assert case.due_at == due["reminder"]
    now[0] = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # Monday: nothing due yet
    assert bot.ingest.sweep_timers() == 0
    now[0] = due["reminder"] + timedelta(minutes=1)
    assert bot.ingest.sweep_timers() == 1
    assert bot.ingest.sweep_timers() == 0  # fired once only
    bot.run_once()
    reviewer = mail_env.reviewers[case.group or "desta"]
    mails = mail_env.wait_for(reviewer, count=2)
    assert "rappel" in str(mails[-1]["Subject"]).lower()
    now[0] = due["escalation"] + timedelta(minutes=1)
    assert bot.ingest.sweep_timers() == 1
    bot.run_once()
    # The admins also get the weekly summary of Monday 30 November (a recurring job the moved
    # clock passed): the escalation is the alert naming the case.
    deadline = time.monotonic() + 10
    while not (
        alerts := [m for m in mail_env.fetch(mail_env.admin) if case.ref in str(m["Subject"])]
    ):
        assert time.monotonic() < deadline, "no escalation alert for the admins"
        time.sleep(0.1)
    [alert] = alerts
    assert "sans réponse depuis 5 jours ouvrés" in str(alert["Subject"])
    assert any(" timer " in f" {line} " or "  timer  " in line for line in bot.log_lines())


def test_move_falls_back_to_copy_and_expunge_without_move(mail_env: MailEnv) -> None:
    bot = new_bot(mail_env)
    ask(mail_env)
    original = bot.daemon.mailbox.connect

    def connect_without_move() -> None:
        original()
        client = bot.daemon.mailbox.client
        assert client is not None
        caps = tuple(c for c in client.capabilities() if c != b"MOVE")
        client._cached_capabilities = caps  # the server now "lacks" MOVE (RFC 6851)
        real_copy = client.copy

        def copy(*args, **kwargs):  # type: ignore[no-untyped-def]
            copies.append(args)
            return real_copy(*args, **kwargs)

        client.copy = copy  # type: ignore[method-assign]

    copies: list[tuple] = []
    bot.daemon.mailbox.connect = connect_without_move  # type: ignore[method-assign]
    bot.run_once()
    assert copies, "the COPY + EXPUNGE fallback was not used"
    assert mail_env.fetch(mail_env.bot) == []
    assert len(mail_env.fetch(mail_env.bot, "Processed")) == 1


def test_polling_when_idle_is_off(mail_env: MailEnv) -> None:
    bot = new_bot(mail_env, **{"mailbox.idle": False, "mailbox.poll_interval_seconds": 1})
    daemon: Daemon = bot.daemon
    thread = threading.Thread(target=daemon.run_forever, daemon=True)
    thread.start()
    try:
        ask(mail_env)
        [ack] = mail_env.wait_for(mail_env.requesters[0], timeout=20)
        assert "Q-" in body_text(ack)
    finally:
        daemon.stop()
        thread.join(timeout=30)
    assert not thread.is_alive()


def test_uidvalidity_change_reprocesses_nothing(mail_env: MailEnv) -> None:
    bot = new_bot(mail_env)
    ask(mail_env)
    crashed = bot.cli("run", "--once", MAILBOT_FAULT="after_commit_before_move")
    assert crashed.returncode == 70, crashed.stderr
    with Session(bot.engine) as s:
        [row] = s.exec(select(InboundMessage)).all()
        first_validity = row.uidvalidity
    # The server forgets its UIDs (a restored or rebuilt mailbox): new UIDVALIDITY. Dovecot
    # draws it from the clock in seconds: a rebuild within the same second would keep it.
    while first_validity is not None and time.time() < first_validity + 1.5:
        time.sleep(0.1)
    maildir = mail_env.dovecot.maildir(mail_env.bot.address)
    for path in maildir.iterdir():
        if path.name.startswith("dovecot"):
            path.unlink()
    with mail_env.login(mail_env.bot) as client:
        assert client.select_folder("INBOX")[b"UIDVALIDITY"] != first_validity
    again = bot.cli("run", "--once")
    assert again.returncode == 0, again.stderr
    assert mail_env.fetch(mail_env.bot) == []
    with Session(bot.engine) as s:
        assert len(s.exec(select(InboundMessage)).all()) == 1
        assert len(s.exec(select(Case)).all()) == 1
        acks = s.exec(select(OutboxMail).where(OutboxMail.template == "question_ack")).all()
        assert len(acks) == 1
    assert len(mail_env.wait_for(mail_env.requesters[0])) == 1


def test_replay_asked_from_the_admin_view_runs_on_the_next_turn(mail_env: MailEnv) -> None:
    bot = new_bot(mail_env)
    ask(mail_env)
    original = bot.ingest._process_row

    def broken(*_args, **_kwargs):  # type: ignore[no-untyped-def]  # an injected fault
        raise RuntimeError("injected failure")

    bot.ingest._process_row = broken  # type: ignore[method-assign]
    bot.run_once()
    bot.ingest._process_row = original  # type: ignore[method-assign]
    with Session(bot.engine) as s:
        [row] = s.exec(select(InboundMessage)).all()
        assert row.fate == "quarantined"
        row.fate = "replay"  # what the « Rejouer » button of /admin writes
        s.add(row)
        s.commit()
    stats = bot.run_once()
    assert stats["replayed"] == 1
    assert mail_env.fetch(mail_env.bot, "Quarantine") == []
    assert len(mail_env.fetch(mail_env.bot, "Processed")) == 1
    assert len(mail_env.wait_for(mail_env.requesters[0])) == 1


def test_automatic_answers_are_rate_limited_per_address(mail_env: MailEnv) -> None:
    # new cases' acknowledgements are essential: only the ceiling limits them
    overrides = {
        "limits.auto_replies_per_address_per_day": 1,
        "limits.auto_replies_ceiling_per_address_per_day": 2,
    }
    bot = new_bot(mail_env, **overrides)
    for i in range(3):
        ask(mail_env, f"Question {i}", f"Bonjour, question numéro {i} sur le décret.")
    bot.run_once()
    with Session(bot.engine) as s:
        assert len(s.exec(select(Case)).all()) == 3  # every question is still handled
        acks = s.exec(select(OutboxMail).where(OutboxMail.template == "question_ack")).all()
        assert len(acks) == 2
    assert len(mail_env.wait_for(mail_env.requesters[0], count=2)) == 2
    assert any("auto_reply_suppressed" in line for line in bot.log_lines())


@pytest.mark.postgres
def test_two_instances_sweeping_timers_fire_each_once(mail_env: MailEnv) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-ops-"))
    with postgres_database() as url:
        one = make_bot(mail_env, url, workdir)
        two = make_bot(mail_env, url, workdir)
        for i in range(4):
            ask(mail_env, f"Question {i}", "Bonjour, une question sur les flux CCSP.")
        one.run_once()
        later = datetime.now(UTC) + timedelta(days=10)
        one.ingest.clock = two.ingest.clock = lambda: later
        fired: list[int] = []
        threads = [
            threading.Thread(target=lambda r=r: fired.append(r.ingest.sweep_timers()))
            for r in (one, two)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        with Session(one.engine) as s:
            timers = s.exec(select(Timer)).all()
            reminders = s.exec(
                select(OutboxMail).where(OutboxMail.template == "question_reminder")
            ).all()
        assert sum(fired) == len(timers) == 8  # reminder + escalation for each question
        assert all(t.fired_at is not None for t in timers)
        assert len(reminders) == 4
        one.engine.dispose()
        two.engine.dispose()
