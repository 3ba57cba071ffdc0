"""Threat: Authentication-Results alignment (issue 10, « Reviewer authentication »).

Before, `dmarc=pass header.from=attacker.test` from a trusted server passed although the From
domain differed. End to end on Dovecot + SMTP, with `trusted_authserv_ids` and
`require_pass = true`: the reviewer's genuine reply (token and From) decides nothing when the
trusted pass is for another domain, when the trusted server says fail, or when only an
untrusted server vouches for it; with an aligned trusted pass it approves. The parser and the
alignment rules on their own: tests/test_authres.py."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from harness import Bot, make_bot, person, reply_to
from mailservers import MailEnv
from test_subscription_e2e import can_log_in, invitation_password, notification, request

from mailbot.portal import Portal
from portal_stub.service import StubPortal

pytestmark = pytest.mark.integration
TRUSTED = "mx.example.test"


def accounts(bot: Bot, address: str) -> dict[str, object]:
    portal: Portal = StubPortal(bot.engine, bot.config.portal.base_url)
    return dict(portal.find_accounts([address]))


def test_only_an_aligned_trusted_pass_lets_the_reviewer_decide(mail_env: MailEnv) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-authres-"))
    bot: Bot = make_bot(
        mail_env,
        f"sqlite:///{workdir}/mailbot.db",
        workdir,
        **{
            "authentication_results.trusted_authserv_ids": [TRUSTED],
            "authentication_results.require_pass": True,
        },
    )
    env = bot.env
    people = [person(env, "aligne")]
    request(bot, people)
    notif = notification(bot)
    reviewer = env.reviewers["abonnements"].address
    domain = reviewer.rpartition("@")[2]
    address = people[0]["Courriel"]
    refused = [
        (f"{TRUSTED}; dmarc=pass header.from=attacker.example.org", "auth_results_not_pass"),
        (f"{TRUSTED}; dkim=pass header.d=attacker.example.org", "auth_results_not_pass"),
        (f"{TRUSTED}; dmarc=fail header.from={domain}", "auth_results_fail"),
        (f"mx.attacker.example.org; dmarc=pass header.from={domain}", "auth_results_not_pass"),
    ]
    for count, (authres, reason) in enumerate(refused, start=1):
        reply = reply_to(notif, reviewer, "APPROUVER", headers={"Authentication-Results": authres})
        env.send(reviewer, [env.bot.address], reply.as_bytes())
        bot.run_once()
        assert accounts(bot, address) == {}, authres
        failed = [line for line in bot.log_lines() if "  reviewer_auth_failed  " in line]
        assert len(failed) == count and f"reason={reason}" in failed[-1], (authres, failed)
    aligned = f"{TRUSTED}; dkim=pass header.d={domain}; dmarc=pass header.from={domain}"
    reply = reply_to(notif, reviewer, "APPROUVER", headers={"Authentication-Results": aligned})
    env.send(reviewer, [env.bot.address], reply.as_bytes())
    bot.run_once()
    assert can_log_in(bot, address, invitation_password(bot, address))
