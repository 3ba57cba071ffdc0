"""The mail loop on real servers: Dovecot over IMAP, SMTP through a relay into Dovecot, and
SQLite or PostgreSQL. Each test gets fresh mailboxes and its own database."""

from __future__ import annotations

import re
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import Bot, body_text, compose, make_bot, postgres_database, submit
from mailservers import MailEnv
from sqlmodel import Session, select

from storage.models import Case, InboundMessage, OutboxMail

pytestmark = pytest.mark.integration

REF = re.compile(r"\[(Q|ABO)-\d{4}-\d{6}\]")


@pytest.fixture(params=["sqlite", "postgresql"])
def bot(request: pytest.FixtureRequest, mail_env: MailEnv) -> Iterator[Bot]:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-test-"))
    if request.param == "sqlite":
        yield make_bot(mail_env, f"sqlite:///{workdir}/mailbot.db", workdir)
    else:
        with postgres_database() as url:
            b = make_bot(mail_env, url, workdir)
            yield b
            b.engine.dispose()


@pytest.fixture
def sqlite_bot(mail_env: MailEnv) -> Bot:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-test-"))
    return make_bot(mail_env, f"sqlite:///{workdir}/mailbot.db", workdir)


def send_question(env: MailEnv, body: str = "Bonjour, quand le schéma des flux sera-t-il publié ?"):
    alice = env.requesters[0]
    msg = compose(
        alice.address,
        env.bot.address,
        "Question sur les flux CCSP",
        body,
        sender_name="Alice Martin",
    )
    submit(env, msg)
    return msg


def test_question_gets_threaded_acknowledgement_with_case_tag(bot: Bot) -> None:
    env = bot.env
    question = send_question(env)
    stats = bot.run_once()
    assert stats["messages"] == 1
    [ack] = env.wait_for(env.requesters[0])
    assert ack["In-Reply-To"] == question["Message-ID"]
    assert REF.search(ack["Subject"])
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["X-Mailbot-Instance"] == bot.config.instance.domain
    assert "Q-" in body_text(ack)
    # The question left the INBOX for Processed; nothing was deleted.
    assert env.fetch(env.bot) == []
    assert len(env.fetch(env.bot, "Processed")) == 1
    with Session(bot.engine) as s:
        [row] = s.exec(select(InboundMessage)).all()
        assert row.fate == "processed" and row.kind == "question" and row.moved
        [case] = s.exec(select(Case)).all()
        assert case.ref.startswith("Q-") and case.requester == env.requesters[0].address
    # The reviewer of the routed group was notified (DESTA: "flux", "CCSP").
    [notification] = env.wait_for(env.reviewers["desta"])
    assert case.ref in notification["Subject"]


def test_auto_reply_and_bounce_are_ignored_without_answer(bot: Bot) -> None:
    env = bot.env
    alice = env.requesters[0]
    ooo = compose(
        alice.address,
        env.bot.address,
        "Réponse automatique : absent du bureau",
        "Je suis absente jusqu'au 3 décembre.",
        headers={"Auto-Submitted": "auto-replied"},
    )
    submit(env, ooo)
    bounce = compose(
        "MAILER-DAEMON@example.test",
        env.bot.address,
        "Undelivered Mail Returned to Sender",
        "This is the mail system at host example.test.\n\n"
        "I'm sorry to have to inform you that your message could not\n"
        "be delivered to one or more recipients.\n",
    )
    env.send("", [env.bot.address], bounce.as_bytes())
    stats = bot.run_once()
    assert stats["messages"] == 2
    assert len(env.fetch(env.bot, "Ignored")) == 2
    assert env.fetch(env.bot, "Processed") == []
    time.sleep(0.2)
    assert env.fetch(alice) == []
    log = "\n".join(bot.log_lines())
    assert re.search(r"ignored\s+.*kind=auto_reply rule=\w+", log)
    assert re.search(r"ignored\s+.*kind=bounce rule=\w+", log)
    with Session(bot.engine) as s:
        assert s.exec(select(Case)).all() == []


def test_bounce_of_our_mail_finds_its_outbox_entry(bot: Bot) -> None:
    env = bot.env
    send_question(env)
    bot.run_once()
    with Session(bot.engine) as s:
        ack_row = s.exec(select(OutboxMail).where(OutboxMail.template == "question_ack")).one()
    # The relay saw our envelope sender: generic+b-TOKEN@domain.
    relayed = [r for r in env.relayed() if env.requesters[0].address in r.rcpt_tos]
    assert relayed and relayed[0].mail_from == ack_row.envelope_from
    assert "+b-" in ack_row.envelope_from
    dsn = (
        f"From: MAILER-DAEMON@example.test\r\nTo: {ack_row.envelope_from}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn1@example.test>\r\n"
        "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; example.test\r\n\r\n"
        f"Final-Recipient: rfc822; {env.requesters[0].address}\r\nAction: failed\r\n"
        "Status: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\r\n"
        "--B--\r\n"
    ).encode()
    env.send("", [ack_row.envelope_from], dsn)
    bot.run_once()
    with Session(bot.engine) as s:
        row = s.get(OutboxMail, ack_row.id)
        assert row is not None and row.state == "bounced"
        assert "5.1.1" in (row.last_error or "")
    assert any("bounce_matched" in line for line in bot.log_lines())


def test_crash_between_commit_and_move_sends_no_second_acknowledgement(bot: Bot) -> None:
    env = bot.env
    send_question(env)
    crashed = bot.cli("run", "--once", MAILBOT_FAULT="after_commit_before_move")
    assert crashed.returncode == 70, crashed.stderr
    assert len(env.fetch(env.bot)) == 1  # still in the INBOX: the MOVE never happened
    again = bot.cli("run", "--once")
    assert again.returncode == 0, again.stderr
    assert env.fetch(env.bot) == []
    assert len(env.fetch(env.bot, "Processed")) == 1
    acks = env.wait_for(env.requesters[0])
    time.sleep(0.3)
    assert len(env.fetch(env.requesters[0])) == len(acks) == 1
    with Session(bot.engine) as s:
        assert len(s.exec(select(Case)).all()) == 1
        assert (
            len(s.exec(select(OutboxMail).where(OutboxMail.template == "question_ack")).all()) == 1
        )


def test_message_that_raises_goes_to_quarantine_and_replays(sqlite_bot: Bot) -> None:
    bot = sqlite_bot
    env = bot.env
    send_question(env)
    original = bot.ingest._process_row

    def broken(*_args, **_kwargs):  # an injected fault
        raise RuntimeError("injected failure")

    bot.ingest._process_row = broken  # type: ignore[method-assign]
    bot.run_once()
    assert len(env.fetch(env.bot, "Quarantine")) == 1
    with Session(bot.engine) as s:
        [row] = s.exec(select(InboundMessage)).all()
        assert row.fate == "quarantined" and "injected failure" in (row.error or "")
    assert any("quarantined" in line for line in bot.log_lines())
    bot.ingest._process_row = original  # type: ignore[method-assign]
    result = bot.cli("replay", "--quarantine")
    assert result.returncode == 0, result.stderr
    with Session(bot.engine) as s:
        [row] = s.exec(select(InboundMessage)).all()
        assert row.fate == "processed" and row.replays == 1
    # The replayed message left the Quarantine folder for Processed.
    assert env.fetch(env.bot, "Quarantine") == []
    assert len(env.fetch(env.bot, "Processed")) == 1
    bot.run_once()  # delivers the acknowledgement written by the replay
    assert len(env.wait_for(env.requesters[0])) == 1


def test_smtp_temporary_failure_is_retried_and_permanent_failure_alerts(sqlite_bot: Bot) -> None:
    bot = sqlite_bot
    env = bot.env
    send_question(env)
    env.smtp.fail_next(451, "4.3.0 try again later")
    stats = bot.run_once()
    assert stats["retried"] >= 1
    with Session(bot.engine) as s:
        pending = s.exec(select(OutboxMail).where(OutboxMail.state == "pending")).all()
        assert pending and all(r.attempts >= 1 for r in pending)
    time.sleep(1.2)  # retry_base_seconds = 1 in the test configuration
    bot.run_once()
    assert len(env.wait_for(env.requesters[0])) == 1
    # A 5xx on the next mail: failed at once, the admins are alerted.
    bob = env.requesters[1]
    msg = compose(
        bob.address, env.bot.address, "Une question", "Bonjour, une question sur le décret."
    )
    submit(env, msg)
    env.smtp.fail_next(550, "5.7.1 refused")
    bot.run_once()
    with Session(bot.engine) as s:
        failed = s.exec(select(OutboxMail).where(OutboxMail.state == "failed")).all()
        assert len(failed) == 1 and "550" in (failed[0].last_error or "")
    bot.run_once()
    alerts = env.wait_for(env.admin)
    assert any(
        "remise" in (a["Subject"] or "").lower() or "échec" in (a["Subject"] or "").lower()
        for a in alerts
    )


def test_daemon_survives_imap_server_restart_during_idle(sqlite_bot: Bot) -> None:
    bot = sqlite_bot
    env = bot.env
    thread = threading.Thread(target=bot.daemon.run_forever, daemon=True)
    thread.start()
    try:
        time.sleep(1.0)  # connected and in IDLE
        env.dovecot.restart()
        send_question(env)
        acks = env.wait_for(env.requesters[0], timeout=30)
        assert len(acks) == 1
    finally:
        bot.daemon.stop()
        thread.join(timeout=60)
    assert not thread.is_alive()


def test_same_message_twice_in_inbox_is_processed_once(bot: Bot) -> None:
    env = bot.env
    alice = env.requesters[0]
    raw = compose(
        alice.address, env.bot.address, "Question", "Bonjour, une question sur l'arrêté."
    ).as_bytes()
    env.append(env.bot, raw)
    env.append(env.bot, raw)
    bot.run_once()
    assert env.fetch(env.bot) == []
    with Session(bot.engine) as s:
        assert len(s.exec(select(Case)).all()) == 1


def test_mail_from_the_generic_address_is_ignored_and_the_admins_alerted(bot: Bot) -> None:
    """A forwarding rule, an agent writing from the shared mailbox, or a spoof: no case, no
    acknowledgement (that would loop), but the admins are told."""
    env = bot.env
    local, _, domain = env.bot.address.partition("@")
    forwarded = compose(
        f"{local.upper()}+telephone@{domain}",
        env.bot.address,
        "TR: demande d'accès reçue par téléphone",
        "Bonjour, la mairie de Lyon demande un accès au portail pour un agent.",
    )
    submit(env, forwarded)
    stats = bot.run_once()
    assert stats["messages"] == 1
    assert len(env.fetch(env.bot, "Ignored")) == 1
    assert env.fetch(env.bot, "Processed") == []
    bot.run_once()
    alerts = env.wait_for(env.admin)
    assert len(alerts) == 1
    assert "adresse générique" in (alerts[0]["Subject"] or "")
    assert "téléphone" in body_text(alerts[0])
    log = "\n".join(bot.log_lines())
    assert re.search(r"ignored\s+.*kind=own_mail rule=own_generic_address", log)
    assert "own_address_alert" in log
    with Session(bot.engine) as s:
        assert s.exec(select(Case)).all() == []
        sent = s.exec(select(OutboxMail)).all()
        assert [r.template for r in sent] == ["own_address_alert"]
    bot.run_once()  # the alert itself, if it came back, would not be alerted on again
    time.sleep(0.2)
    assert len(env.fetch(env.admin)) == 1
