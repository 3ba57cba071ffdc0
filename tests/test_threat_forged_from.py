"""Threat: a forged From (issue 10, « Reviewer authentication »).

Before, an unquoted display name that looks like an address (`From: relecteur@… <evil@…>`) was
read as the reviewer. End to end on Dovecot + SMTP: replies to the genuine notification, with
its token in In-Reply-To/References, whose From is one of the usual forgeries, decide nothing
(`wrong_sender`, or ignored when no single sender can be read; no account); the genuine reply then approves. The From parser on its own:
tests/test_reviewer_forgery.py."""

from __future__ import annotations

import re
import tempfile
from email.message import EmailMessage
from pathlib import Path

import pytest
from harness import Bot, make_bot, person, reply_to
from mailservers import MailEnv
from test_subscription_e2e import can_log_in, invitation_password, notification, request

from mailbot.portal import Portal
from portal_stub.service import StubPortal

pytestmark = pytest.mark.integration
EVIL = "evil@attacker.example.org"

# (From field(s) as written, with {r} the reviewer's address; an extra header line or "")
FORGERIES = {
    "display-name": ("From: {r} <" + EVIL + ">", ""),
    "comment": ("From: ({r}) " + EVIL, ""),
    "two-angle-addrs": ('From: "x" <{r}> <' + EVIL + ">", ""),
    "two-mailboxes": ("From: {r}, " + EVIL, ""),
    "group": ("From: Relecteurs: {r};", ""),
    "encoded-word": ("From: =?utf-8?q?{q}?= <" + EVIL + ">", ""),
    "sender-header": ("From: <" + EVIL + ">", "Sender: {r}"),
    "two-from-fields": ("From: Relecteur <{r}>", "From: " + EVIL),
}


def with_from(reply: EmailMessage, reviewer: str, from_line: str, extra: str) -> bytes:
    raw = reply.as_bytes()
    sep = "\r\n" if b"\r\n" in raw else "\n"
    q = "".join(c if c.isalnum() else f"={ord(c):02X}" for c in f"<{reviewer}>")
    lines = from_line.format(r=reviewer, q=q)
    if extra:
        lines += sep + extra.format(r=reviewer)
    return re.sub(rb"(?m)^From: [^\r\n]*", lambda _m: lines.encode(), raw, count=1)


def accounts(bot: Bot, address: str) -> dict[str, object]:
    portal: Portal = StubPortal(bot.engine, bot.config.portal.base_url)
    return dict(portal.find_accounts([address]))


def test_forged_from_variants_decide_nothing_and_the_genuine_reply_approves(
    mail_env: MailEnv,
) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-from-"))
    bot = make_bot(mail_env, f"sqlite:///{workdir}/mailbot.db", workdir)
    env = bot.env
    people = [person(env, "forge")]
    request(bot, people)
    notif = notification(bot)
    reviewer = env.reviewers["abonnements"].address
    address = people[0]["Courriel"]
    for name, (from_line, extra) in FORGERIES.items():
        seen = len(bot.log_lines())
        raw = with_from(reply_to(notif, reviewer, "APPROUVER"), reviewer, from_line, extra)
        env.send(EVIL, [env.bot.address], raw)
        bot.run_once()
        assert accounts(bot, address) == {}, name
        # refused as the attacker's, or, when no single sender can be read, ignored unanswered
        new = bot.log_lines()[seen:]
        refused = [line for line in new if "  reviewer_auth_failed  " in line]
        ignored = [line for line in new if "  ignored  " in line and "reason=no_sender" in line]
        assert [EVIL in line and "reason=wrong_sender" in line for line in refused] == [True] or (
            ignored and not refused
        ), (name, new)
    env.send(reviewer, [env.bot.address], reply_to(notif, reviewer, "APPROUVER").as_bytes())
    bot.run_once()
    assert can_log_in(bot, address, invitation_password(bot, address))
