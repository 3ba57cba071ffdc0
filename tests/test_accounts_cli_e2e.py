"""`mailbot accounts …` and `mailbot replay --json` as subprocesses, on a database filled by
the real workflows (a subscription mailed to Dovecot and approved by reply): list/show with
`--json`, disable/enable/spaces/reset with `--as`, the reset invitation delivered and working;
the progress bar on a terminal only."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from harness import Bot, annex_xlsx, body_text, compose, make_bot, person, reply_to, submit
from mailservers import MailEnv, wait_for_messages

from portal_stub.service import StubPortal

pytestmark = pytest.mark.integration
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def bot(mail_env: MailEnv) -> Bot:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-accounts-"))
    return make_bot(mail_env, f"sqlite:///{workdir}/mailbot.db", workdir)


def invite(bot: Bot) -> tuple[str, str]:
    """A subscription approved by reply: (the invitee's address, their temporary password)."""
    env = bot.env
    invitee = person(env, "durand")
    address = invitee["Courriel"]
    env.dovecot.add_user(address, "pw-invitee")
    msg = compose(
        env.requesters[0].address,
        env.bot.address,
        "Demande d'abonnement au portail",
        "Bonjour,\n\nNotre tableau est joint.\n\nCordialement,\nAlice",
        attachments=[("annexe.xlsx", XLSX, annex_xlsx([invitee]))],
    )
    submit(env, msg)
    bot.run_once()
    [notif] = env.wait_for(env.reviewers["abonnements"])
    submit(env, reply_to(notif, env.reviewers["abonnements"].address, "APPROUVER"))
    bot.run_once()
    return address, passwords(bot, address, 1)[-1]


def passwords(bot: Bot, address: str, count: int) -> list[str]:
    mails = wait_for_messages(bot.env.dovecot, address, "pw-invitee", "INBOX", count)
    found = [re.search(r"Mot de passe temporaire : (\S+)", body_text(m)) for m in mails]
    return [m.group(1) for m in found if m]


def can_log_in(bot: Bot, address: str, password: str) -> bool:
    return StubPortal(bot.engine, bot.config.portal.base_url).check_login(address, password)


def test_accounts_commands_on_accounts_made_by_the_workflow(bot: Bot) -> None:
    address, password = invite(bot)
    admin = bot.env.admin.address
    listing = bot.cli("accounts", "list", "--json")
    assert listing.returncode == 0, listing.stderr
    [account] = json.loads(listing.stdout)["accounts"]
    assert account["email"] == address and account["state"] == "invited"
    assert account["last_login_at"] is None and account["spaces"][0] == "accueil"
    assert account["created_for_request"].startswith("ABO-")
    shown = json.loads(bot.cli("accounts", "show", address.upper(), "--json").stdout)
    assert shown["email"] == address

    refused = bot.cli("accounts", "disable", address, "--as", "intrus@ailleurs.fr")
    assert refused.returncode == 2 and "n’est pas une adresse de [admins]" in refused.stderr
    assert bot.cli("accounts", "disable", "personne@nulle.part", "--as", admin).returncode == 1

    done = bot.cli("accounts", "disable", address, "--as", admin)
    assert done.returncode == 0 and "désactivé" in done.stdout
    assert not can_log_in(bot, address, password)
    assert bot.cli("accounts", "enable", address, "--as", admin).returncode == 0
    assert can_log_in(bot, address, password)

    spaces = bot.cli("accounts", "spaces", address, "antai", "--as", admin)
    assert spaces.returncode == 0 and f"{address}  accueil,antai" in spaces.stdout
    assert bot.cli("accounts", "spaces", address, "mairie", "--as", admin).returncode == 2

    no_secret = bot.cli("accounts", "reset", address, "--as", admin, MAILBOT_TEST_SECRET="")
    assert no_secret.returncode == 2 and "MAILBOT_TEST_SECRET" in no_secret.stderr
    assert can_log_in(bot, address, password)  # nothing changed
    reset = bot.cli("accounts", "reset", address, "--as", admin)
    assert reset.returncode == 0, reset.stderr
    bot.run_once()  # the outbox sends the invitation again
    new = passwords(bot, address, 2)[-1]
    assert new != password and can_log_in(bot, address, new)
    assert not can_log_in(bot, address, password)
    log = "\n".join(bot.log_lines())
    for event in ("account_disable", "account_enable", "account_spaces", "account_reset"):
        assert re.search(rf"{event}  account={re.escape(address)}.* by={re.escape(admin)}", log), (
            event
        )
    assert new not in log and password not in log

    human = bot.cli("accounts", "list", "durand")
    assert human.returncode == 0 and "invitation en attente" in human.stdout
    assert "\x1b[" not in human.stdout


def test_replay_json_is_one_document_and_the_bar_shows_only_on_a_terminal(bot: Bot) -> None:
    piped = bot.cli("replay", "999998", "999999", "--json")
    assert piped.returncode == 1
    report = json.loads(piped.stdout)
    assert [r["journal"] for r in report["replayed"]] == [999998, 999999]
    assert all("error" in r for r in report["replayed"])
    quiet = bot.cli("replay", "999998", "999999")
    assert "Courriels rejoués" not in quiet.stdout + quiet.stderr
    assert quiet.stderr.startswith("999998 : aucun courriel n° 999998 dans le journal\n")

    main, secondary = os.openpty()
    cmd = [sys.executable, "-m", "mailbot", "replay", "999998", "999999"]
    cmd += ["--config", str(bot.config_path)]
    env = {**bot.subprocess_env(), "TERM": "xterm", "COLUMNS": "100"}
    proc = subprocess.Popen(  # noqa: S603 - our own command, fixed arguments
        cmd, stdout=secondary, stderr=secondary, env=env, cwd=bot.workdir
    )
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the other end closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=60)
    os.close(main)
    shown = b"".join(chunks).decode("utf-8", "replace")
    assert "Courriels rejoués" in shown and "999999" in shown
