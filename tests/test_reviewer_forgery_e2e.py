"""On Dovecot: a reviewer's approval whose In-Reply-To the mail library RFC 2047-encoded and
folded (no References) is authenticated; the same with a From whose display name is the
reviewer's address, or with a trusted DMARC pass for another domain, decides nothing."""

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
INTRUDER = "intrus@example.test"


def _q(text: str) -> str:
    return "=?utf-8?q?" + "".join(c if c.isalnum() else f"={ord(c):02X}" for c in text) + "?="


def _encoded_reply(notif: EmailMessage, reviewer: str, authres: str, from_line: str) -> bytes:
    """An approval with an encoded, folded In-Reply-To and no References, `from_line` as is."""
    msg = reply_to(notif, reviewer, "APPROUVER", headers={"Authentication-Results": authres})
    del msg["In-Reply-To"]
    del msg["References"]
    raw = msg.as_bytes()
    sep = b"\r\n" if b"\r\n" in raw else b"\n"
    mid = str(notif["Message-ID"]).strip()
    folded = f"In-Reply-To: {_q(mid[:25])}{sep.decode()} {_q(mid[25:])}".encode()
    raw = re.sub(rb"(?m)^From: [^\r\n]*", lambda _m: from_line.encode(), raw, count=1)
    return folded + sep + raw


def _bot(mail_env: MailEnv) -> Bot:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-forge-"))
    return make_bot(
        mail_env,
        f"sqlite:///{workdir}/mailbot.db",
        workdir,
        **{
            "authentication_results.trusted_authserv_ids": ["mx.example.test"],
            "authentication_results.require_pass": True,
        },
    )


def _accounts(bot: Bot, address: str) -> dict[str, object]:
    portal: Portal = StubPortal(bot.engine, bot.config.portal.base_url)
    return dict(portal.find_accounts([address]))


def test_encoded_in_reply_to_approves_and_forgeries_do_not(mail_env: MailEnv) -> None:
    bot = _bot(mail_env)
    env = bot.env
    people = [person(env, "encode")]
    request(bot, people)
    notif = notification(bot)
    reviewer = env.reviewers["abonnements"].address
    domain = reviewer.rpartition("@")[2]
    address = people[0]["Courriel"]
    if not env.dovecot.has_user(INTRUDER):  # the Dovecot is shared by the session
        env.dovecot.add_user(INTRUDER, "pw-intrus")
    forgeries = [
        # The display name is the reviewer's address; the attacker's own domain passes DMARC.
        (
            INTRUDER,
            f"From: {reviewer} <{INTRUDER}>",
            "mx.example.test; dmarc=pass header.from=example.test",
            "wrong_sender",
        ),
        # The reviewer's From, but the trusted pass is for another domain.
        (
            reviewer,
            f"From: {reviewer}",
            "mx.example.test; dmarc=pass header.from=attacker.example.org",
            "auth_results_not_pass",
        ),
    ]
    for envelope, from_line, authres, reason in forgeries:
        env.send(envelope, [env.bot.address], _encoded_reply(notif, reviewer, authres, from_line))
        bot.run_once()
        assert _accounts(bot, address) == {}
        failed = [line for line in bot.log_lines() if "reviewer_auth_failed" in line]
        assert any(reason in line for line in failed), (reason, failed)
    genuine = _encoded_reply(
        notif, reviewer, f"mx.example.test; dmarc=pass header.from={domain}", f"From: {reviewer}"
    )
    env.send(reviewer, [env.bot.address], genuine)
    bot.run_once()
    assert can_log_in(bot, address, invitation_password(bot, address))
