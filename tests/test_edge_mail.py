"""Mail at the edges, on real servers: a replay of a processed mail (refused, then forced
without a second case or acknowledgement), a multipart nested 3,000 deep (quarantined with
its sender and subject, the admins told), and Outlook's folded Message-ID (journaled, so a
quarantined mail can be refiled)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from harness import Bot, body_text, compose, make_bot
from mailservers import MailEnv, count_folder
from sqlmodel import Session, select

from mailbot.mail.rawheaders import quick_message_id
from storage.models import Case, InboundMessage, OutboxMail

pytestmark = pytest.mark.integration


def new_bot(env: MailEnv) -> Bot:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-edge-"))
    return make_bot(env, f"sqlite:///{workdir}/mailbot.db", workdir)


def count(env: MailEnv, folder: str) -> int:
    """Messages in one of the bot's folders, without parsing them (the test's own parser
    recurses on the 3,000-deep mail like any other)."""
    return count_folder(env.dovecot, env.bot.address, env.bot.password, folder)


def raw_send(env: MailEnv, raw: bytes) -> None:
    env.send(env.requesters[0].address, [env.bot.address], raw)


def deep_multipart(sender: str, to: str, depth: int) -> bytes:
    head = (
        f"From: Alice Martin <{sender}>\r\nTo: {to}\r\nSubject: Poupées russes\r\n"
        "Message-ID: <deep-3000@mairie.example.test>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b0"\r\n\r\n'
    )
    opening = "".join(
        f'--b{i}\r\nContent-Type: multipart/mixed; boundary="b{i + 1}"\r\n\r\n'
        for i in range(depth)
    )
    inner = f"--b{depth}\r\nContent-Type: text/plain\r\n\r\nBonjour\r\n--b{depth}--\r\n"
    closing = "".join(f"--b{i}--\r\n" for i in range(depth - 1, -1, -1))
    return (head + opening + inner + closing).encode()


def test_a_processed_mail_is_replayed_only_when_forced_and_never_twice(
    mail_env: MailEnv,
) -> None:
    bot = new_bot(mail_env)
    alice = mail_env.requesters[0]
    raw_send(
        mail_env,
        compose(alice.address, mail_env.bot.address, "Flux", "Bonjour, une question ?").as_bytes(),
    )
    bot.run_once()
    assert len(mail_env.wait_for(alice)) == 1
    refused = bot.cli("replay", "1")
    assert refused.returncode == 1 and "--force" in refused.stderr
    forced = bot.cli("replay", "1", "--force")
    assert forced.returncode == 0, forced.stderr
    assert "traité" in forced.stdout and "Q-2026-000001" in forced.stdout
    bot.run_once()
    with Session(bot.engine) as s:
        assert [c.ref for c in s.exec(select(Case))] == ["Q-2026-000001"]
        acks = s.exec(select(OutboxMail).where(OutboxMail.template == "question_ack")).all()
        assert len(acks) == 1
    assert len(mail_env.fetch(alice)) == 1  # one acknowledgement in the requester's INBOX
    assert any("already_opened" in line for line in bot.log_lines())


def test_a_3000_deep_multipart_is_quarantined_with_its_headers_and_reported(
    mail_env: MailEnv,
) -> None:
    bot = new_bot(mail_env)
    alice = mail_env.requesters[0]
    raw_send(mail_env, deep_multipart(alice.address, mail_env.bot.address, 3000))
    stats = bot.run_once()
    assert stats["messages"] == 1
    assert (count(mail_env, "Quarantine"), count(mail_env, "Ignored")) == (1, 0)
    with Session(bot.engine) as s:
        [row] = s.exec(select(InboundMessage)).all()
        assert (row.fate, row.sender, row.subject) == (
            "quarantined",
            alice.address.lower(),
            "Poupées russes",
        )
        assert row.message_id == "<deep-3000@mairie.example.test>"
    bot.run_once()  # the alert queued with the quarantine goes out
    [alert] = mail_env.wait_for(mail_env.admin)
    text = body_text(alert)
    assert "quarantaine" in str(alert["Subject"])
    assert alice.address.lower() in text and "Poupées russes" in text
    assert "trop imbriqué" in text and "Numéro dans le journal : 1" in text
    assert "mailbot replay" in text
    # The sender is told, in French, that the mail could not be read (refused for its form).
    [answer] = mail_env.wait_for(alice)
    assert "« Poupées russes » n'a pas pu être traité : il est trop imbriqué" in body_text(answer)
    assert "depuis votre messagerie habituelle" in body_text(answer)


def test_a_folded_message_id_is_journaled_and_a_quarantined_mail_is_refiled(
    mail_env: MailEnv,
) -> None:
    mid = "<AM9PR07MB7186E3A0D3B54F5E8C1B2B5D9F0A2@AM9PR07MB7186.eurprd07.prod.outlook.com>"
    alice = mail_env.requesters[0]
    raw = (
        f"From: {alice.address}\r\nTo: {mail_env.bot.address}\r\nSubject: Plié\r\n"
        f"Message-ID:\r\n {mid}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "Bonjour, une question sur le décret ?\r\n"
    ).encode()
    assert quick_message_id(raw) == mid
    bot = new_bot(mail_env)
    original = bot.ingest._process_row

    def broken(*_args, **_kwargs):  # type: ignore[no-untyped-def]  # an injected fault
        raise RuntimeError("injected failure")

    bot.ingest._process_row = broken  # type: ignore[method-assign]
    raw_send(mail_env, raw)
    bot.run_once()
    bot.ingest._process_row = original  # type: ignore[method-assign]
    with Session(bot.engine) as s:
        [row] = s.exec(select(InboundMessage)).all()
        assert (row.fate, row.message_id) == ("quarantined", mid)
    replayed = bot.cli("replay", "--quarantine")
    assert replayed.returncode == 0, replayed.stderr
    assert mail_env.fetch(mail_env.bot, "Quarantine") == []
    assert len(mail_env.fetch(mail_env.bot, "Processed")) == 1
