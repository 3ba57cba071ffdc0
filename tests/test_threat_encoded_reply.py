"""Threat: an encoded In-Reply-To (issue 10, « Reviewer authentication »).

Some mail libraries RFC 2047-encode and fold In-Reply-To/References. Before, such a genuine
reviewer reply failed authentication (its token was not found). End to end on Dovecot + SMTP:
an approval whose In-Reply-To is encoded and folded (no References) is authenticated and
creates the accounts; decoding accepts nothing new — the same encoding around a forged token
(`bad_token`) or sent from another address (`wrong_sender`) decides nothing."""

from __future__ import annotations

import re
import tempfile
from email.message import EmailMessage
from pathlib import Path

import pytest
from harness import INSTANCE_DOMAIN, Bot, make_bot, person, reply_to
from mailservers import MailEnv
from test_subscription_e2e import can_log_in, invitation_password, notification, request

from mailbot.mail import tokens
from mailbot.portal import Portal
from portal_stub.service import StubPortal

pytestmark = pytest.mark.integration
INTRUDER = "intrus@example.test"


def q_encoded(text: str) -> str:
    return "=?utf-8?q?" + "".join(c if c.isalnum() else f"={ord(c):02X}" for c in text) + "?="


def encoded_reply(
    notif: EmailMessage, reviewer: str, from_line: str, mid: str | None = None, authres: str = ""
) -> bytes:
    """An approval whose In-Reply-To (`mid`, else the notification's) is RFC 2047-encoded in
    two encoded-words on two lines; no References; `from_line` as is."""
    headers = {"Authentication-Results": authres} if authres else None
    msg = reply_to(notif, reviewer, "APPROUVER", headers=headers)
    del msg["In-Reply-To"]
    del msg["References"]
    raw = msg.as_bytes()
    sep = b"\r\n" if b"\r\n" in raw else b"\n"
    mid = mid or str(notif["Message-ID"]).strip()
    folded = f"In-Reply-To: {q_encoded(mid[:25])}{sep.decode()} {q_encoded(mid[25:])}".encode()
    raw = re.sub(rb"(?m)^From: [^\r\n]*", lambda _m: from_line.encode(), raw, count=1)
    return folded + sep + raw


def accounts(bot: Bot, address: str) -> dict[str, object]:
    portal: Portal = StubPortal(bot.engine, bot.config.portal.base_url)
    return dict(portal.find_accounts([address]))


def refusals(bot: Bot) -> list[str]:
    return [line for line in bot.log_lines() if "  reviewer_auth_failed  " in line]


def test_encoded_in_reply_to_approves_and_encoded_forgeries_do_not(mail_env: MailEnv) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-encoded-"))
    bot = make_bot(mail_env, f"sqlite:///{workdir}/mailbot.db", workdir)
    env = bot.env
    people = [person(env, "encode")]
    request(bot, people)
    notif = notification(bot)
    reviewer = env.reviewers["abonnements"].address
    address = people[0]["Courriel"]
    ref = re.search(r"\[(ABO-\d{4}-\d{6})\]", str(notif["Subject"]))
    assert ref is not None
    if not env.dovecot.has_user(INTRUDER):  # the Dovecot is shared by the session
        env.dovecot.add_user(INTRUDER, "pw-intrus")
    forged_mid = tokens.reviewer_message_id(INSTANCE_DOMAIN, ref.group(1), reviewer, b"guess")
    forgeries = [
        # a token the attacker made up, encoded like a genuine one
        (reviewer, f"From: {reviewer}", forged_mid, "bad_token"),
        # the genuine notification's Message-ID, but sent by someone else
        (INTRUDER, f"From: {INTRUDER}", None, "wrong_sender"),
    ]
    for envelope, from_line, mid, reason in forgeries:
        env.send(envelope, [env.bot.address], encoded_reply(notif, reviewer, from_line, mid))
        bot.run_once()
        assert accounts(bot, address) == {}
        assert any(f"reason={reason}" in line for line in refusals(bot)), refusals(bot)
    before = len(refusals(bot))
    env.send(reviewer, [env.bot.address], encoded_reply(notif, reviewer, f"From: {reviewer}"))
    bot.run_once()
    assert len(refusals(bot)) == before
    assert can_log_in(bot, address, invitation_password(bot, address))
