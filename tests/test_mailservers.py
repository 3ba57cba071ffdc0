"""The mail-server fixtures themselves: Dovecot over IMAP/LMTP and the SMTP relay."""

from __future__ import annotations

import imaplib
import smtplib
import threading
from typing import Literal

import pytest
from mailservers import MailEnv

pytestmark = pytest.mark.integration


def _raw(sender: str, to: str, subject: str, message_id: str) -> bytes:
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Message-ID: {message_id}\r\nDate: Mon, 02 Mar 2026 10:00:00 +0100\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        "Bonjour,\r\nVoici ma question.\r\n"
    ).encode()


def test_smtp_message_to_a_user_arrives_in_its_inbox(mail_env: MailEnv) -> None:
    alice, bot = mail_env.requesters[0], mail_env.bot
    mail_env.send(
        alice.address, [bot.address], _raw(alice.address, bot.address, "Question", "<q1@a>")
    )

    (message,) = mail_env.fetch(bot)  # delivered before SMTP said 250: no polling

    assert message["Subject"] == "Question"
    assert message["Message-ID"] == "<q1@a>"
    assert message["Return-Path"] == f"<{alice.address}>"
    assert mail_env.fetch(alice) == []


def test_sub_address_goes_to_the_base_mailbox_and_the_envelope_is_recorded(
    mail_env: MailEnv,
) -> None:
    bot, bob = mail_env.bot, mail_env.requesters[1]
    local, domain = bot.address.split("@")
    bounce_sender = f"{local}+b-xyz@{domain}"
    mail_env.send(bounce_sender, [bob.address], _raw(bot.address, bob.address, "Réponse", "<r@m>"))
    mail_env.send(bob.address, [bounce_sender], _raw(bob.address, bounce_sender, "Retour", "<b@x>"))

    (to_bob,) = mail_env.fetch(bob)
    (to_bot,) = mail_env.fetch(bot)
    envelopes = mail_env.relayed()

    assert to_bob["Return-Path"] == f"<{bounce_sender}>"
    assert to_bot["Message-ID"] == "<b@x>"
    assert [(e.mail_from, e.rcpt_tos) for e in envelopes] == [
        (bounce_sender, [bob.address]),
        (bob.address, [bounce_sender]),
    ]
    assert envelopes[1].message()["Subject"] == "Retour"


def test_unknown_recipient_is_refused_at_rcpt(mail_env: MailEnv) -> None:
    unknown = f"nobody-{mail_env.number}@{mail_env.domain}"

    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        mail_env.send(mail_env.admin.address, [unknown], _raw("a@b", unknown, "x", "<u@x>"))

    assert refused.value.recipients[unknown][0] == 550
    assert mail_env.relayed() == []


@pytest.mark.parametrize(
    ("code", "text", "stage", "error"),
    [
        (451, "4.3.0 Try again later", "DATA", smtplib.SMTPDataError),
        (554, "5.6.0 Content refused", "DATA", smtplib.SMTPDataError),
        (452, "4.2.2 Mailbox full", "RCPT", smtplib.SMTPRecipientsRefused),
    ],
)
def test_injected_failure_hits_once_then_delivery_works(
    mail_env: MailEnv, code: int, text: str, stage: Literal["RCPT", "DATA"], error: type[Exception]
) -> None:
    alice, bot = mail_env.requesters[0], mail_env.bot
    raw = _raw(alice.address, bot.address, "Encore", "<again@a>")
    mail_env.smtp.fail_next(code, text, at=stage)

    with pytest.raises(error) as failed:
        mail_env.send(alice.address, [bot.address], raw)
    assert str(code) in str(failed.value)
    mail_env.send(alice.address, [bot.address], raw)

    assert len(mail_env.fetch(bot)) == 1


def test_restart_drops_the_imap_connection_and_a_new_login_works(mail_env: MailEnv) -> None:
    bot = mail_env.bot
    mail_env.append(bot, _raw("a@b", bot.address, "Avant", "<before@a>"))
    client = mail_env.login(bot)
    client.select_folder("INBOX")
    client.idle()

    mail_env.dovecot.restart()

    # imapclient's idle_check() swallows EOF; the next command meets the closed socket.
    client.idle_check(timeout=5)
    with pytest.raises((imaplib.IMAP4.abort, OSError)):
        client.idle_done()
    client.shutdown()
    (message,) = mail_env.fetch(bot)
    assert message["Subject"] == "Avant"


def test_idle_sees_an_append_from_another_connection(mail_env: MailEnv) -> None:
    bot = mail_env.bot
    with mail_env.login(bot) as client:
        client.select_folder("INBOX")
        client.idle()
        uid = mail_env.append(bot, _raw("a@b", bot.address, "Nouveau", "<new@a>"))
        responses = client.idle_check(timeout=10)
        client.idle_done()

    assert uid == 1
    assert (1, b"EXISTS") in responses


def test_wait_for_messages_waits_for_a_folder_created_later(mail_env: MailEnv) -> None:
    bot = mail_env.bot

    def file_later() -> None:
        with mail_env.login(bot) as client:
            client.create_folder("Processed")
        mail_env.append(bot, _raw("a@b", bot.address, "Traité", "<done@a>"), folder="Processed")

    timer = threading.Timer(0.3, file_later)
    timer.start()
    (message,) = mail_env.wait_for(bot, "Processed", 1, timeout=10)
    timer.join()

    assert message["Subject"] == "Traité"
    with pytest.raises(TimeoutError):
        mail_env.wait_for(bot, "Quarantine", 1, timeout=0.2)
